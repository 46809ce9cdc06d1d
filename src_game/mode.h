/* mode: the seam between the match runner (match.c) and a game mode.
 *
 * Every mode (the built-in `arena`, every Lua module) is one const table of callbacks that
 * the runner calls on the daemon's loop: init once, join once per player, loop once per tick,
 * leave for a player gone for good, terminate when the match is stopped from outside, and
 * request for a client packet of the match. The runner owns everything the modes share:
 * the inbox, the players' bindings, RESUME, the tick timer, pushes, drain, the record and its
 * retry. A mode talks back through the dispatcher functions below (broadcast, finish, fail,
 * log, clock, RNG). A mode's state is its own; the runner only passes it back. */
#ifndef GAME_MODE_H
#define GAME_MODE_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"

#define MODE_NAME_MAX 32

typedef struct match match_t;

/* What a mode reports for one player at the end (GameOver, the record). */
typedef struct mode_player_result {
    uint32_t score;
    char outcome[8];          /* "", "win", "loss" or "draw" */
    uint32_t kills, damage_dealt, damage_taken, deaths; /* the arena's own columns; 0 elsewhere */
    char stats_json[256];     /* per-mode stats (jsonb); "" means {} */
} mode_player_result_t;

/* What a mode reports at the end. players has match_players(m) entries, in player order,
 * zeroed by the runner before results() fills it. */
typedef struct mode_result {
    MatchOutcome outcome;
    char summary[512];
    mode_player_result_t *players;
} mode_result_t;

typedef struct mode_ops {
    const char *name;
    /* Creates the match's state. *tick_ms is the runner's default; the mode may change it
     * (1-1000 ms). Returns the state, or NULL with a reason in err (the match is aborted). */
    void *(*init)(match_t *m, uint32_t *tick_ms, char *err, size_t errlen);
    /* Player idx is in the match (once per player, before the first tick). 0 or -1 (the
     * mode called match_fail). */
    int (*join)(void *st, match_t *m, uint32_t idx);
    /* Fills the mode's part of MATCH_START (the runner fills ids, tick, mode and, if the mode
     * leaves them empty, the players); what it points to must live until the next call. */
    void (*describe)(void *st, match_t *m, MatchStart *s);
    /* One tick. Returns 0; the mode ends the match with match_finish or match_fail. */
    int (*loop)(void *st, match_t *m);
    /* Player idx is gone for good (placed in another match). */
    void (*leave)(void *st, match_t *m, uint32_t idx, const char *reason);
    /* The match is stopped from outside (drain, the lobby ended it); results follow. */
    void (*terminate)(void *st, match_t *m, const char *reason);
    /* A client packet of the match from player idx: answers it (backend_reply, backend_error
     * or backend_ack). Returns -1 when the mode takes no such packet (the runner answers
     * BAD_REQUEST). */
    int (*request)(void *st, match_t *m, uint32_t idx, const backend_req_t *req,
                   const ProtobufCMessage *msg);
    /* Fills the results (called once, when the match ends for any reason). */
    void (*results)(void *st, match_t *m, mode_result_t *out);
    void (*free)(void *st);
} mode_ops_t;

/* ---- the dispatcher: what the runner gives a mode ---- */

backend_t *match_backend(const match_t *m);
uint64_t match_id(const match_t *m);
const char *match_mode(const match_t *m);
uint32_t match_players(const match_t *m);
uint64_t match_user(const match_t *m, uint32_t idx);
const char *match_user_name(const match_t *m, uint32_t idx);
/* The player index of a user, or -1. */
int match_index_of(const match_t *m, uint64_t user);
/* The daemon's MATCH_TIME_LIMIT_MS and TICK_MS. */
uint32_t match_time_limit_ms(const match_t *m);
uint32_t match_tick_ms(const match_t *m);
/* Clock: match time, ticks run x the match's tick interval. */
uint64_t match_now_ms(const match_t *m);
uint64_t match_ticks(const match_t *m);
/* RNG: the match's seed (fixed at placement: a match replays), and draws from it. */
uint64_t match_seed(const match_t *m);
uint64_t match_random(match_t *m);
/* Pushes msg to every player (users NULL) or to the listed users, packed once. */
void match_broadcast(match_t *m, uint16_t type, const ProtobufCMessage *msg, const uint64_t *users,
                     size_t nusers);
/* The match ends after this tick with the mode's results (GAME_OVER, record). */
void match_finish(match_t *m);
/* The mode failed (kind: "error", "budget", "memory", "bad_return", "time_limit"): the match
 * is aborted after this call returns, with reason told to the players. */
void match_fail(match_t *m, const char *kind, const char *reason);
int match_over(const match_t *m);

/* ---- the modes ---- */

extern const mode_ops_t MODE_ARENA;
extern const mode_ops_t MODE_LUA;
/* Queues a MATCH_DATA_SEND for the Lua match's next loop (the runner, and tools/modrun).
 * Returns 0, or -1 when the match's inbox for this tick is full. */
int mode_lua_queue(void *st, uint64_t sender, uint32_t op, const uint8_t *data, size_t len);

#endif
