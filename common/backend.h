/* backend: the server side of gateway links, shared by lobbyd and gamed.
 *
 * Listens for gateways, authenticates each link (link.h), decodes every REQUEST through the
 * daemon's route table (type -> protobuf descriptor -> handler) within a byte budget, and
 * sends responses and pushes back. Registers the daemon in Redis (registry.h) and drains on
 * SIGTERM/SIGINT: status 3, DRAINING to every gateway, in-flight requests answered, then
 * deregistration (ServerOff) and exit. */
#ifndef CLUSTER_BACKEND_H
#define CLUSTER_BACKEND_H

#include <protobuf-c/protobuf-c.h>
#include <stdint.h>
#include <uv.h>

#include "cluster.pb-c.h"
#include "admin.h"
#include "config.h"
#include "metrics.h"
#include "rconn.h"

typedef struct backend backend_t;

/* One request being served. Handlers may copy it and answer later (asynchronously): the
 * link is named by id, so a link that closed meanwhile is detected and the answer dropped. */
typedef struct backend_req {
    uint32_t link_id;
    uint32_t gw_id;   /* registry id of the gateway that holds the client */
    uint32_t rid;
    uint64_t session;
    uint64_t user; /* the gateway's binding; 0 when not authenticated. Never from a payload. */
    uint16_t type;
    uint32_t seq;
    uint8_t src[16]; /* the client's source address (link REQUEST_SRC), all zeros when absent */
} backend_req_t;

/* Handles a decoded request. Must answer it exactly once, now or later, with backend_reply or
 * backend_error. msg lives until the handler returns. */
typedef void (*backend_handler_fn)(backend_t *be, const backend_req_t *req,
                                   const ProtobufCMessage *msg, void *ud);

/* One row of a daemon's dispatch table. */
typedef struct backend_route {
    uint16_t type;
    const ProtobufCMessageDescriptor *desc;
    backend_handler_fn fn;
} backend_route_t;

typedef struct backend_opts {
    int peer_type;              /* PEER_LOBBY or PEER_GAME */
    const char *redis_prefix;   /* REDIS_PREFIX, for the daemon's own keys */
    const backend_route_t *routes;
    int nroutes;
    int64_t drain_timeout_ms;
    int64_t link_dead_ms;       /* a gateway link silent this long is closed */
    size_t msg_budget;          /* bytes one request may take to unpack */
    /* Optional: returns non-zero while the daemon has work that must finish before it
     * deregisters (running matches); polled during drain. */
    int (*busy)(void *ud);
    /* Optional: an authenticated session closed on gateway gw_id. */
    void (*on_session_closed)(backend_t *be, uint32_t gw_id, uint64_t session, uint64_t user,
                              void *ud);
    /* Optional: a gateway lost its link to game daemon game_id (it may be dead). */
    void (*on_game_lost)(backend_t *be, uint32_t gw_id, uint32_t game_id, void *ud);
    /* Optional: the Redis connection came up (at start and after every reconnect, a
     * Sentinel failover included). */
    void (*on_redis_up)(backend_t *be, void *ud);
    /* Optional: the drain timed out while busy: wrap up now (abort what runs, record it). */
    void (*on_drain_timeout)(void *ud);
    /* Optional: the drain is over; close the daemon's own handles so the loop can end. */
    void (*on_stop)(void *ud);
    void *ud;
} backend_opts_t;

/* Binds LISTEN_ADDR and starts the daemon shell (shell.h: Redis, registry, stop signals,
 * admin endpoint) with the options of cfg. Returns NULL (after logging why) when the address can't be bound or an option is bad. */
backend_t *backend_new(uv_loop_t *loop, const config_t *cfg, const backend_opts_t *opts);

void backend_reply(backend_t *be, const backend_req_t *req, uint16_t type,
                   const ProtobufCMessage *msg);
void backend_error(backend_t *be, const backend_req_t *req, ErrorCode code, const char *message);
/* As backend_error, telling the client not to retry within retry_after_ms. */
void backend_error_retry(backend_t *be, const backend_req_t *req, ErrorCode code,
                         const char *message, uint32_t retry_after_ms);

/* Ends a one-way request (MATCH_DATA_SEND) without a reply to the client: a response of type
 * PACKET_NONE, which the gateway takes as "answered, nothing to deliver". */
void backend_ack(backend_t *be, const backend_req_t *req);

/* The ECHO_REQUEST handler every backend serves: returns the payload and this daemon's id. */
void backend_echo(backend_t *be, const backend_req_t *req, const ProtobufCMessage *msg, void *ud);

uint32_t backend_id(const backend_t *be);
/* The daemon's Redis connection (shared with its registry entry). */
rconn_t *backend_redis(const backend_t *be);
const char *backend_prefix(const backend_t *be);

/* Tells the request's gateway that the session is now `user` (0: unbound). Sent on the same
 * link before the response, so the binding is in place when the client sees the response. */
void backend_bind(backend_t *be, const backend_req_t *req, uint64_t user);
/* 1 while this daemon has a live link from gateway gw_id. */
int backend_gateway_linked(backend_t *be, uint32_t gw_id);
/* The gateways whose links to this daemon are up and heard from within LINK_DEAD_MS (a cut
 * link stays open up to 3x that): up to max distinct ids into ids. Returns how many. */
size_t backend_gateways_live(backend_t *be, uint32_t *ids, size_t max);
/* Pushes a message (seq 0) to a session on gateway gw_id. Returns 0, or -1 when this daemon
 * has no live link to that gateway. */
int backend_push(backend_t *be, uint32_t gw_id, uint64_t session, uint16_t type,
                 const ProtobufCMessage *msg);
/* Binds (game_id != 0) or unbinds the session's game packets to a game daemon, on gateway gw_id. */
int backend_bind_game(backend_t *be, uint32_t gw_id, uint64_t session, uint32_t game_id,
                      uint64_t match_id);
/* As backend_push, with the message already packed (to send one encoding to many sessions). */
int backend_push_packed(backend_t *be, uint32_t gw_id, uint64_t session, uint16_t type,
                        const uint8_t *payload, size_t len);
/* Tells every gateway linked to this daemon that `user` is now logged in at (gw_id, session):
 * each kicks any other session it holds for that user (ALREADY_AUTHENTICATED). One live
 * session per user even when Redis no longer knows the older one. */
void backend_user_online(backend_t *be, uint64_t user, uint32_t gw_id, uint64_t session);
/* Has gateway gw_id push KICKED(code, reason) to the session and close it. */
int backend_kick(backend_t *be, uint32_t gw_id, uint64_t session, ErrorCode code, const char *reason);
int backend_draining(const backend_t *be);
/* Smooth (0) or congested (1): registry status 1 or 2 (unless draining), logged when it changes
 * (why says what the daemon measured), metric cluster_congested. Placement and the gateways
 * prefer smooth daemons (docs/operations.md, "Congestion"). */
void backend_set_congested(backend_t *be, int on, const char *why);
int backend_congested(const backend_t *be);
void backend_set_load(backend_t *be, int games, int players);
/* A field of the daemon's registry hash, published with every registration and heartbeat
 * (registry_set_field). Returns 0 or -1 (too many fields). */
int backend_set_field(backend_t *be, const char *name, const char *value);
/* Serves POST path on the admin endpoint (admin_add_reload); returns 0 at once without one. */
int backend_add_reload(backend_t *be, const char *path, admin_reload_work_fn work,
                       admin_reload_apply_fn apply, void *ud) __attribute__((warn_unused_result));
/* The daemon's metrics (exported on the admin endpoint); the daemon adds its own series and
 * collectors. */
metrics_t *backend_metrics(const backend_t *be);
/* Readiness beyond Redis and the registry (PostgreSQL up: pg_ready_hook): ready(arg, ...)
 * returns 1 when ready, else 0 with a short reason in why. Called on the loop. */
void backend_set_ready(backend_t *be, int (*ready)(void *arg, char *why, size_t n), void *arg);
/* Sets the ud passed to handlers and hooks (for state created after backend_new). */
void backend_set_ud(backend_t *be, void *ud);

/* Starts the graceful stop (as SIGTERM does). When it completes every handle is closed and
 * uv_run returns; then call backend_free. */
void backend_drain(backend_t *be);
void backend_free(backend_t *be);

#endif
