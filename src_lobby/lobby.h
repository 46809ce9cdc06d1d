/* lobby: the lobby daemon's state and the pieces its handlers share. Rooms, sessions and the
 * queue live in Redis and accounts in PostgreSQL: nothing here matters if the process dies. */
#ifndef LOBBY_LOBBY_H
#define LOBBY_LOBBY_H

#include <hiredis/hiredis.h>
#include <stdint.h>
#include <uv.h>

#include "backend.h"
#include "congestion.h"
#include "cluster.pb-c.h"
#include "pb.h"
#include "pg_metrics.h"
#include "pwhash.h"
#include "room_view.h"

typedef struct lobby {
    backend_t *be;
    uv_loop_t *loop;
    pg_pool_t *pg;
    pwhash_t *pwhash;
    uv_timer_t timer;
    char script_sha[41];
    int script_loading;
    char dummy_hash[256]; /* verified against for unknown users, so both paths cost the same */
    /* settings read at start only (main.c's options land here, CFG_AT) */
    struct {
        const char *database_url;
        int32_t pg_pool_size, smooth_after_s;
        int32_t hash_inflight, hash_threads, hash_nice, hash_opslimit, hash_memlimit_kib;
    } boot;
    int64_t session_ttl_s;
    int64_t resume_grace_ms;
    int64_t login_fail_limit;        /* free failures per (source, username) */
    int64_t login_source_fail_limit; /* free failures per source, any username */
    int64_t login_backoff_ms;
    int64_t login_backoff_max_ms;
    int64_t login_fail_window_s;
    int64_t quick_match_size;
    int64_t placement_stale_ms;
    int64_t placement_confirm_ms; /* a placed match not picked up within this is placed again */
    int64_t placement_retries;    /* ... at most this many times, then ended */
    int placement_pending;
    int hash_inflight_max, hash_peak; /* HASH_INFLIGHT; the most in flight this second */
    congestion_t congestion;
    int64_t chat_rate;
    int stopping;
    unsigned ticks;
    rqueue_t ended; /* matches:ended */
} lobby_t;

/* A handler of the lobby's route table (main.c): the shape of backend_handler_fn, as a function
 * type so that the handlers below are declared by it. */
typedef void lobby_handler_t(backend_t *be, const backend_req_t *req, const ProtobufCMessage *msg, void *ud);

/* Handlers (accounts.c, rooms.c): one per packet type of the lobby's route table. */
lobby_handler_t lobby_register, lobby_login, lobby_resume, lobby_logout;
lobby_handler_t lobby_create_room, lobby_room_list, lobby_join_room, lobby_leave_room;
lobby_handler_t lobby_prepare, lobby_start_game, lobby_room_chat;
lobby_handler_t lobby_quick_match, lobby_quick_cancel;

/* A session closed on a gateway: presence offline, queue left, room left after the grace. */
void lobby_session_closed(backend_t *be, uint32_t gw_id, uint64_t session, uint64_t user, void *ud);
/* Periodic: rooms of users whose resume grace ended. */
void lobby_expire_tick(lobby_t *lb);

/* ---- matches (matches.c) ---- */

lobby_handler_t lobby_match_history;
/* A gateway lost its link to a game daemon: the rooms of its matches wait again. */
void lobby_game_lost(backend_t *be, uint32_t gw_id, uint32_t game_id, void *ud);
/* Periodic: matches of game daemons gone from the registry: rooms back to waiting. */
void lobby_games_sweep(lobby_t *lb);
void lobby_gateways_sweep(lobby_t *lb);
/* Periodic: matches the game daemons reported ended: rooms back to waiting. */
void lobby_matches_tick(lobby_t *lb);
/* placement.c: matches their daemon did not pick up in time are placed again or ended. */
void lobby_placement_tick(lobby_t *lb);

/* ---- recovery.c ---- */

/* Redis came up (start, reconnect, Sentinel failover): raises the match id sequence to its
 * floor so no id is handed out twice. */
void lobby_redis_up(backend_t *be, void *ud);

/* ---- lobby.lua ---- */

/* Called with the script's reply (NULL when Redis failed). */
typedef void (*lobby_script_cb)(lobby_t *lb, redisReply *reply, void *ud);
/* Runs `op` of lobby.lua with string arguments (EVALSHA, falling back to EVAL when Redis does
 * not know the script, e.g. after a restart). Returns 0, or -1 when Redis is down (no
 * callback). */
int lobby_script(lobby_t *lb, lobby_script_cb cb, void *ud, const char *op, int argc,
                 const char *const *argv);
/* Maps an error reply's text (an ErrorCode name, optionally followed by a space and a message)
 * to the code; INTERNAL for anything else. */
ErrorCode lobby_script_error(const redisReply *r);
/* The message after the ErrorCode name of a script's error reply, or NULL if it has none.
 * Points into r. */
const char *lobby_script_message(const redisReply *r);

/* Game modes: a request's mode name is at most LOBBY_MODE_MAX bytes; empty means the arena. */
#define LOBBY_MODE_MAX 32
#define LOBBY_MODE_ARENA "arena"

/* ---- room states (rooms.c) ---- */

/* Pushes ROOM_UPDATE(event, actor) to every online member. */
void room_view_push(lobby_t *lb, const room_view_t *v, const char *event, uint64_t actor);
/* Pushes a message to every online member of the room. */
void room_view_push_msg(lobby_t *lb, const room_view_t *v, uint16_t type, const ProtobufCMessage *msg);
/* GAME_STARTING to every member of a room just put in game (and logs the placement). */
void room_view_push_starting(lobby_t *lb, const room_view_t *v);

#endif
