/* epoch: notices that Redis lost its data. A random id under <prefix>cluster:epoch is created
 * by whichever daemon finds it missing; every daemon reads it after each (re)connect and
 * remembers it. A different id than the one remembered means the data this daemon relied on
 * (sessions, rooms, the registry) is gone: Redis restarted empty, was flushed, or a server
 * without the cluster's data took over. A Sentinel failover to a replica keeps the id. */
#ifndef CLUSTER_EPOCH_H
#define CLUSTER_EPOCH_H

#include <stdint.h>

#include "rconn.h"

typedef struct epoch epoch_t;

/* Called when the id changed since the last check (not at the first one). */
typedef void (*epoch_lost_cb)(void *ud);

epoch_t *epoch_new(rconn_t *rc, const char *prefix, epoch_lost_cb cb, void *ud);
/* Checks the id; call from the rconn's event callback when it comes up. */
void epoch_redis_up(epoch_t *e);
/* Times the data was found lost. */
uint64_t epoch_losses(const epoch_t *e);
/* Frees; call after the rconn is closed (its pending callbacks have run). */
void epoch_free(epoch_t *e);

#endif
