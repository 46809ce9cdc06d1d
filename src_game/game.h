/* game: the game daemon's state: the matches it runs, who plays where, the tick, and the
 * match records waiting to be written. */
#ifndef GAME_GAME_H
#define GAME_GAME_H

#include <stdint.h>
#include <uthash.h>
#include <uv.h>

#include "backend.h"
#include "hist.h"
#include "pg.h"
#include "sim.h"

#define MATCH_MAX_PLAYERS 4

typedef struct match match_t;

/* One player of a running match, found by user id; where to push comes from its latest
 * request (a player who resumed on another gateway is found again). */
typedef struct mplayer {
    uint64_t user_id;
    char name[32];
    uint32_t gw;
    uint64_t sid;
    uint32_t idx;
    match_t *m;
    UT_hash_handle hh;
} mplayer_t;

struct match {
    uint64_t id, room;
    sim_t *sim;
    uint32_t n;
    mplayer_t players[MATCH_MAX_PLAYERS];
    uint64_t started_wall_ms;
    match_t *next;
};

typedef struct record record_t;

typedef struct game {
    backend_t *be;
    uv_loop_t *loop;
    pg_pool_t *pg;
    uv_timer_t tick_timer, poll_timer, retry_timer;
    sim_config_t sim_base;
    match_t *matches;
    unsigned nmatches, nplayers;
    mplayer_t *by_user;    /* uthash by user_id */
    record_t *records;     /* match records not yet written */
    unsigned nrecords;
    int inbox_pending, check_pending, moved_pending;
    unsigned polls;
    hist_t tick_us;        /* duration of one whole tick (every match), microseconds */
    uint64_t ticks;
    uint64_t last_tick_log_ms;
    uint64_t tick_log_ms;
    uint8_t *pack_buf; /* one encoding of a push, copied to every player of a match */
    size_t pack_cap;
} game_t;

/* Handlers of the game daemon's route table. */
void game_snapshot(backend_t *be, const backend_req_t *req, const ProtobufCMessage *msg, void *ud);
void game_position(backend_t *be, const backend_req_t *req, const ProtobufCMessage *msg, void *ud);
void game_attack(backend_t *be, const backend_req_t *req, const ProtobufCMessage *msg, void *ud);
void game_use_item(backend_t *be, const backend_req_t *req, const ProtobufCMessage *msg, void *ud);

void game_start(game_t *g);
void game_stop(game_t *g);
/* Drain timed out: abort every running match (recorded as aborted). */
void game_abort_all(game_t *g, const char *reason);
int game_busy(const game_t *g);

#endif
