/* upstream: the gateway's authenticated links to every live lobby and game daemon:
 * discovery from the Redis registry (lists at start and after every Redis reconnect, ServerOn /
 * ServerOff, a periodic sweep), reconnect with capped exponential backoff, pings and the dead
 * link rule, and the requests in flight on each link. */
#ifndef GATEWAY_UPSTREAM_H
#define GATEWAY_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "cluster.pb-c.h"
#include "gateway.h"

/* How upstream reaches the sessions: callbacks the session layer registers (wired in main),
 * so this module never calls into session.c. Every callback names a session by id; an
 * unknown or stale id is ignored by the receiver. Called on the loop thread. */
typedef struct upstream_hooks {
    /* A frame from a backend for the session (a response with the client's seq, or a push). */
    void (*deliver)(void *ud, uint64_t session, uint16_t type, uint32_t seq, const uint8_t *payload,
                    size_t len);
    /* Answers the session's request seq with ERROR_RESPONSE. */
    void (*deliver_error)(void *ud, uint64_t session, uint32_t seq, uint16_t request_type,
                          ErrorCode code, const char *message);
    void (*bind_user)(void *ud, uint64_t session, uint64_t user);
    /* BIND_GAME from a backend: from_game is the id of the game daemon that sent it, 0 when a
     * lobby did. The receiver fences it (applies it only while it still concerns the session's
     * current binding); returns 1 if applied, 0 if refused as stale. */
    int (*bind_game)(void *ud, uint64_t session, uint32_t game_id, uint64_t match_id,
                     uint32_t from_game);
    /* The game daemon the session is bound to, 0 if none. */
    uint32_t (*game_of)(void *ud, uint64_t session);
    /* The match the session is bound to, 0 if none. */
    uint64_t (*match_of)(void *ud, uint64_t session);
    /* Game daemon game_id is lost: abort the matches of the sessions bound to it; how many. */
    size_t (*game_lost)(void *ud, uint32_t game_id);
    /* The link to game daemon game_id came back within MATCH_LINK_GRACE_MS: the sessions bound
     * to it are still in their matches; resync them (upstream_resync each); how many. */
    size_t (*game_back)(void *ud, uint32_t game_id);
    void (*kick)(void *ud, uint64_t session, ErrorCode code, const char *reason);
    /* A lobby logged user in elsewhere: close the user's other sessions (keep: the new
     * session's id when it is on this gateway, else 0). */
    void (*user_online)(void *ud, uint64_t user, uint64_t keep);
    void *ud;
} upstream_hooks_t;

upstreams_t *upstreams_new(gw_t *gw);
/* Registers the session layer's callbacks; before the first link comes up. */
void upstreams_set_hooks(upstreams_t *u, const upstream_hooks_t *h);

/* Sends a client request to a live, non-draining backend of peer_type, spreading requests
 * across them. Returns 0, or the ErrorCode to answer the client with. */
ErrorCode upstream_forward(upstreams_t *u, int peer_type, uint64_t session, uint64_t user,
                           uint16_t type, uint32_t seq, const uint8_t *payload, size_t len);
/* As upstream_forward, passing the client's source address (link REQUEST_SRC, srcaddr.h
 * format; NULL: none) for the backend's per-address limits. */
ErrorCode upstream_forward_src(upstreams_t *u, int peer_type, const uint8_t *src, uint64_t session,
                               uint64_t user, uint16_t type, uint32_t seq, const uint8_t *payload,
                               size_t len);
/* Sends a client request to one daemon: the game daemon `server_id` running the session's
 * match. Returns 0, or SERVICE_UNAVAILABLE when its link is not up. */
ErrorCode upstream_forward_to(upstreams_t *u, int peer_type, uint32_t server_id, uint64_t session,
                              uint64_t user, uint16_t type, uint32_t seq, const uint8_t *payload,
                              size_t len);

/* Asks game daemon server_id for a fresh snapshot of the session's match on the session's
 * behalf (GAME_SNAPSHOT_REQUEST, seq 0): its answer reaches the client as a push
 * (GAME_SNAPSHOT_RESPONSE, seq 0); a refusal (a mode without snapshots) is dropped, not sent.
 * Returns 0 or SERVICE_UNAVAILABLE. */
ErrorCode upstream_resync(upstreams_t *u, uint32_t server_id, uint64_t session, uint64_t user);

/* Tells a live lobby daemon that an authenticated session closed (for presence and the
 * resume grace period). Dropped when no lobby is up. */
void upstream_session_closed(upstreams_t *u, uint64_t session, uint64_t user);

/* Redis connection events (from main's rconn callbacks). */
void upstreams_redis_event(upstreams_t *u, int up);
void upstreams_sub_event(upstreams_t *u, int up);
/* Periodic work: pings, dead links, reconnects, request timeouts, registry sweep. */
void upstreams_tick(upstreams_t *u);

/* Links up (authenticated) of a type, and requests in flight over all links. */
int upstreams_up_count(const upstreams_t *u, int peer_type);
size_t upstreams_pending(const upstreams_t *u);

/* Sets the per-link gauges (cluster_link_up, _draining, _pending_requests) of every link the
 * registry lists; from the metrics collector. */
void upstreams_collect(const upstreams_t *u, metrics_t *m);

/* Closes every link (pending requests get SERVICE_UNAVAILABLE). */
void upstreams_close(upstreams_t *u);
/* Frees, once the loop has run every close callback. */
void upstreams_free(upstreams_t *u);

#endif
