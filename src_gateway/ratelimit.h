/* ratelimit: the per-session token bucket. A session may send `rate` packets per second on
 * average and `burst` at once; it starts full. Pure: the caller passes its loop's clock. */
#ifndef CLUSTER_RATELIMIT_H
#define CLUSTER_RATELIMIT_H

#include <stdint.h>

typedef struct tbucket {
    int64_t milli;  /* tokens x 1000: whole numbers, so 1 ms steps at any rate add up exactly */
    uint64_t at_ms; /* when it was last refilled */
} tbucket_t;

/* A full bucket at now_ms. */
void tbucket_init(tbucket_t *b, int64_t burst, uint64_t now_ms);

/* Refills for the time since the last call (a clock that went back adds nothing), then takes
 * one token: returns 1, or 0 when none is left (the packet is refused). */
int tbucket_take(tbucket_t *b, int64_t rate, int64_t burst, uint64_t now_ms);

#endif
