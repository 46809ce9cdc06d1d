/* gateway: the gateway daemon's shared context: its settings, loop and the modules' owners. */
#ifndef GATEWAY_GATEWAY_H
#define GATEWAY_GATEWAY_H

#include <stdint.h>
#include <uv.h>

#include "conn.h"
#include "link.h"
#include "metrics.h"
#include "pb.h"
#include "rconn.h"
#include "registry.h"

typedef struct sessions sessions_t;
typedef struct upstreams upstreams_t;

typedef struct gw_settings {
    uint32_t max_frame;
    int64_t idle_timeout_ms;
    size_t write_queue_max;
    int64_t rate_limit;      /* packets per second per session */
    int64_t rate_burst;
    int64_t rate_kick_after; /* refused packets in a row before the session is closed */
    int64_t link_ping_ms;
    int64_t link_dead_ms;
    int64_t match_link_grace_ms; /* a lost game link keeps its sessions bound this long */
    int64_t reconnect_max_ms;
    int64_t request_timeout_ms;
    int64_t sweep_ms;
    int64_t max_sessions;
    int64_t drain_timeout_ms;
    const char *prefix;
} gw_settings_t;

typedef struct gw_stats {
    uint64_t frames_in, frames_out, errors_sent, forwarded, responses, timeouts;
    uint64_t dropped_slow, dropped_idle, dropped_flood, dropped_bad_frame;
    /* exported on /metrics (admin.h): per packet type and ErrorCode, slot metrics_enum_slot() */
    uint64_t accepted, refused, bytes_in, bytes_out;
    /* closes of logged-in sessions that found no lobby up: queued, reported later, or lost
     * (the queue is bounded: the oldest are dropped past UNREPORTED_MAX) */
    uint64_t closes_queued, closes_lost;
    /* link messages refused as a stale daemon's (bind_fenced): BIND_GAME that no longer
     * concerns the session's binding, KICK from a game daemon the session is not bound to */
    uint64_t binds_fenced;
    uint64_t packets_in[METRICS_ENUM_SLOTS], packets_out[METRICS_ENUM_SLOTS];
    uint64_t errors_out[METRICS_ENUM_SLOTS];
} gw_stats_t;

typedef struct gw {
    uv_loop_t *loop;
    conn_loop_t *cl;
    gw_settings_t s;
    gw_stats_t stats;
    pb_arena_t arena;
    uint8_t key[LINK_KEY_LEN];
    rconn_t *redis;     /* commands: registry and discovery */
    rconn_t *redis_sub; /* SUBSCRIBE ServerOn/ServerOff */
    registry_t *reg;
    sessions_t *sessions;
    upstreams_t *ups;
    int draining;
} gw_t;

#endif
