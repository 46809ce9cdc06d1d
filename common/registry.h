/* registry: a daemon's own entry in the Redis registry (DESIGN.md, fixed names):
 * id from INCR, registration in one MULTI/EXEC with PUBLISH ServerOn, a heartbeat every second
 * that keeps the hash alive (5 s expiry), status, and deregistration with ServerOff.
 * Also the shared key names and the sweep that removes expired ids from the lists. */
#ifndef CLUSTER_REGISTRY_H
#define CLUSTER_REGISTRY_H

#include <stdint.h>

#include "rconn.h"

#define REG_STATUS_SMOOTH 1
#define REG_STATUS_CONGESTED 2
#define REG_STATUS_DRAINING 3

#define REG_HEARTBEAT_MS 1000
#define REG_EXPIRE_MS 5000

typedef struct registry registry_t;

/* Called when the daemon is (re-)registered, with its id (stable across Redis restarts unless
 * it collides with another daemon's). */
typedef void (*registry_cb)(registry_t *g, uint32_t id, void *ud);

/* type is "Gateway", "Lobby" or "Game". Registration starts when registry_redis_up is called. */
registry_t *registry_new(uv_loop_t *loop, rconn_t *rc, const char *prefix, const char *type,
                         const char *address, int port, const char *version, registry_cb cb,
                         void *ud);
/* The owner calls this from its rconn event callback. */
void registry_redis_event(registry_t *g, int up);

uint32_t registry_id(const registry_t *g);
int registry_registered(const registry_t *g);
/* Load figures published with the next heartbeat. */
void registry_set_load(registry_t *g, int games, int players);
/* The daemon's admin endpoint (admin.h), published as fields admin_address and admin_port of
 * the hash with every registration. */
void registry_set_admin(registry_t *g, const char *address, int port);
/* A field of the daemon's own (e.g. gamed's modes and mode_limits), written with every
 * registration and heartbeat, and at once when registered. Returns 0, or -1 when the daemon
 * already has the most fields a registry entry keeps (8). */
int registry_set_field(registry_t *g, const char *name, const char *value);
/* Sets status and writes it to the hash at once. */
void registry_set_status(registry_t *g, int status);

/* Removes the entry (LREM + DEL + PUBLISH ServerOff in one MULTI/EXEC) and stops the heartbeat.
 * done is called once Redis answered, or at once if Redis is not reachable. */
void registry_deregister(registry_t *g, void (*done)(void *ud), void *ud);
/* Stops the heartbeat and closes the timer: from then on the entry answers its id and ignores
 * every change. registry_free, once the loop has run the close, frees it. */
void registry_close(registry_t *g);
void registry_free(registry_t *g);

/* Key names with the prefix: "<prefix>Server:<type>", "<prefix>Server:<type>:<id>". */
void registry_list_key(char *out, size_t n, const char *prefix, const char *type);
void registry_hash_key(char *out, size_t n, const char *prefix, const char *type, uint32_t id);
void registry_channel(char *out, size_t n, const char *prefix, int on);

/* Atomically removes id from its list if its hash no longer exists (the expiry sweep).
 * Fire and forget. */
void registry_sweep_id(rconn_t *rc, const char *prefix, const char *type, uint32_t id);

#endif
