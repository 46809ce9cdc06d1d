/* session: one session per client connection: framing, checks, rate limit, idle timeout,
 * and delivery of responses and pushes by session id. The only owner of client conns. */
#ifndef GATEWAY_SESSION_H
#define GATEWAY_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "cluster.pb-c.h"
#include "gateway.h"
#include "upstream.h"

sessions_t *sessions_new(gw_t *gw);
/* The callbacks through which upstream.c delivers to sessions (main registers them with
 * upstreams_set_hooks). */
upstream_hooks_t sessions_upstream_hooks(sessions_t *ss);
/* Accepts a pending client connection of the listener, speaking transport x (NULL: TCP). */
void sessions_accept(sessions_t *ss, uv_stream_t *listener, xport_t *x);
/* Closes idle sessions; called periodically. */
void sessions_sweep(sessions_t *ss);
size_t sessions_count(const sessions_t *ss);

/* Delivers a frame from a backend to the session with that id (a stale or unknown id is
 * dropped: the client is gone). */
void session_deliver(sessions_t *ss, uint64_t session_id, uint16_t type, uint32_t seq,
                     const uint8_t *payload, size_t len);
/* Answers the session's request seq with ERROR_RESPONSE. */
void session_deliver_error(sessions_t *ss, uint64_t session_id, uint32_t seq,
                           uint16_t request_type, ErrorCode code, const char *message);

/* Binds the session to a user (0: unbinds), as the lobby says after LOGIN/RESUME/LOGOUT. */
void session_bind_user(sessions_t *ss, uint64_t session_id, uint64_t user);
/* Binds the session's game packets to game daemon game_id running match_id (game_id 0:
 * unbinds from match_id). from_game is the game daemon that asked (0: a lobby, whose word,
 * read from Redis, is taken as is). A game daemon's request is fenced: it may bind a session
 * only to itself and only to a match not older than the one the session is bound to now
 * (match ids only grow), and unbind it only from the very match it is bound to on that daemon;
 * anything else is a stale daemon's word (e.g. one that was stopped and came back) and is
 * refused (logged as bind_fenced, counted in stats.binds_fenced). Returns 1 if applied, else 0. */
int session_bind_game(sessions_t *ss, uint64_t session_id, uint32_t game_id, uint64_t match_id,
                      uint32_t from_game);
/* The game daemon the session is bound to, 0 if none (or no such session). */
uint32_t session_game(sessions_t *ss, uint64_t session_id);
/* The match the session is bound to, 0 if none (or no such session). */
uint64_t session_match(sessions_t *ss, uint64_t session_id);
/* The link to game daemon game_id died: every session bound to it gets MATCH_ABORTED and is
 * unbound. Returns how many. */
size_t sessions_game_lost(sessions_t *ss, uint32_t game_id);
/* The link to game daemon game_id is back within its grace: every session bound to it gets a
 * fresh snapshot of its match (upstream_resync). Returns how many were asked for. */
size_t sessions_game_back(sessions_t *ss, uint32_t game_id);
/* Pushes KICKED(code, reason) to the session and closes it once written. */
void session_kick(sessions_t *ss, uint64_t session_id, ErrorCode code, const char *reason);

/* An operator's kick (admin /kick): pushes KICKED(OK, reason) and closes the session once
 * written; the close is reported to a lobby as usual. Returns 0, or -1 when there is no such
 * open session. */
int session_kick_operator(sessions_t *ss, uint64_t session_id, const char *reason);

/* A lobby says `user` just logged in at session `keep` of this gateway (0: at another
 * gateway): every other session bound to that user gets KICKED(ALREADY_AUTHENTICATED) and is
 * closed. Returns how many. */
size_t sessions_user_online(sessions_t *ss, uint64_t user, uint64_t keep);

/* Redis lost its data (epoch.h): every logged-in session is unknown to the lobby now. Each
 * gets KICKED(SESSION_LOST: log in again) and is closed once it is written. Returns how many. */
size_t sessions_lost(sessions_t *ss);

/* Pushes SERVER_CLOSING to every client and closes them after it is written. */
void sessions_close_all(sessions_t *ss);
void sessions_free(sessions_t *ss);

#endif
