/* inflight: the requests in flight on one gateway link. A link numbers its requests with
 * consecutive rids, so those in flight sit in a ring indexed by rid (slot rid & (cap - 1))
 * between the oldest, `head`, and the newest, `next_rid`: a response finds its request with
 * one index and compare, and nothing is allocated or hashed per request (uthash's Jenkins
 * hash, its bucket chains and two linked lists cost about 190 of the gateway's 1,900
 * instructions per ECHO). Every request on a link has the same timeout, so rid order is
 * deadline order and the oldest is always at head. The ring doubles when the span from head
 * to the newest outgrows it (a slow request overtaken by many fast ones) up to
 * INFLIGHT_RING_MAX; a request overtaken by that many later ones is dropped (the caller
 * answers it TIMEOUT). rid 0 is never used: after 2^32 - 1 comes 1. Pure: no I/O, no clock. */
#ifndef GATEWAY_INFLIGHT_H
#define GATEWAY_INFLIGHT_H

#include <stddef.h>
#include <stdint.h>

#define INFLIGHT_RING_MIN 256u
#define INFLIGHT_RING_MAX (1u << 20)

typedef struct pending {
    uint32_t rid;
    uint16_t type;
    uint8_t live;
    uint8_t quiet;        /* the gateway's own request (upstream_resync): errors are dropped */
    uint32_t cseq;
    uint64_t session;
    uint64_t deadline_ms;
} pending_t;

typedef struct inflight {
    uint32_t next_rid; /* the newest rid taken (0: none yet) */
    uint32_t head;     /* the oldest rid that may be in flight; next_rid + 1 when none is */
    pending_t *ring;   /* cap slots (a power of two), NULL before the first request */
    uint32_t cap;
    size_t n;          /* requests in flight */
} inflight_t;

/* A request dropped to make room: called before it is released. */
typedef void (*inflight_drop_fn)(void *ud, const pending_t *p);

/* The rid the next request gets. */
uint32_t inflight_next(const inflight_t *f);
/* Takes rid (inflight_next's) into the ring, dropping through drop the requests it overtakes by
 * INFLIGHT_RING_MAX; returns its slot, live with rid set and the rest zero, for the caller. */
pending_t *inflight_add(inflight_t *f, uint32_t rid, inflight_drop_fn drop, void *ud);
/* The request in flight with this rid, or NULL (answered, dropped, or never taken). */
pending_t *inflight_find(const inflight_t *f, uint32_t rid);
/* The oldest request in flight, or NULL. */
pending_t *inflight_oldest(const inflight_t *f);
/* The request is answered or timed out: its slot is free. */
void inflight_release(inflight_t *f, pending_t *p);
void inflight_free(inflight_t *f);

#endif
