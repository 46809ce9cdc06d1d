/* game: the game daemon's state: the matches it runs, who plays where, the tick, and the
 * match records waiting to be written. Shared by the runner (match.c), the records
 * (record.c), the module catalogue (modules.c) and the modes (mode_*.c). */
#ifndef GAME_GAME_H
#define GAME_GAME_H

#include <stdint.h>
#include <uthash.h>
#include <uv.h>

#include "backend.h"
#include "congestion.h"
#include "hist.h"
#include "mode.h"
#include "modules.h"
#include "pg_metrics.h"
#include "sim.h"

#define MATCH_MAX_PLAYERS 64

typedef struct game game_t;

/* One player of a running match, found by user id; where to push comes from its latest
 * request (a player who resumed on another gateway is found again). */
typedef struct mplayer {
    uint64_t user_id;
    char name[32];
    uint32_t gw;
    uint64_t sid;
    uint32_t idx;
    int gone;       /* placed in another match since: no pushes, no unbinding from here */
    match_t *m;
    UT_hash_handle hh;
} mplayer_t;

struct match {
    game_t *g;
    uint64_t id, room;
    char mode[MODE_NAME_MAX];
    const mode_ops_t *ops;
    void *st;                 /* the mode's state */
    module_version_t *module; /* a Lua module's code this match runs (NULL: built-in) */
    uint32_t n;
    mplayer_t *players;       /* n of them */
    uint32_t tick_ms;
    uint64_t ticks;
    uint64_t seed, rng;
    uint64_t started_wall_ms;
    int over;                 /* match_finish called: GAME_OVER after this tick */
    char fail_kind[16];       /* match_fail called: aborted after this tick */
    char fail_reason[200];
    uv_timer_t *timer;        /* own tick timer when tick_ms differs from the daemon's */
    hist_t *tick_gap_us;      /* module matches: time between the starts of two ticks */
    uint64_t last_tick_ns;
    /* ended: its announcement (GAME_OVER or MATCH_ABORTED, packed) waits for the record to be
     * durable (record.c); it no longer ticks and answers MATCH_OVER */
    int closing, tell_lobby;
    uint16_t told_type;
    uint8_t *told;
    size_t told_len;
    char told_outcome[16];
    match_t *next;
};

typedef struct record record_t;

/* gamed's settings: every option of main.c's table lands in its field (CFG_AT, config_apply). */
typedef struct game_cfg {
    const char *database_url;
    int32_t pg_pool_size;
    sim_config_t sim;          /* TICK_MS, MATCH_*, WAVE_*, MONSTER_*; the rest its defaults */
    const char *modules_dir;
    modrt_limits_t modules;    /* MODULE_INSTRUCTION_BUDGET, MODULE_MEMORY_MAX, _MATCHES_PER_STATE */
    size_t match_data_max;
    uint64_t tick_log_ms;
    int32_t congested_tick_pct, smooth_tick_pct, smooth_after_s;
} game_cfg_t;

struct game {
    backend_t *be;
    uv_loop_t *loop;
    pg_pool_t *pg;
    modules_t *modules;
    uv_timer_t tick_timer, poll_timer, retry_timer;
    sim_config_t sim_base;
    size_t match_data_max;
    match_t *matches;
    unsigned nmatches, nplayers;
    mplayer_t *by_user;    /* uthash by user_id */
    record_t *records;     /* match records not yet written (record.c) */
    unsigned nrecords;
    uint64_t rec_outage_since; /* wall ms of the first failed write of this outage, 0: none */
    int rec_scan_pending;      /* an HSCAN of records:pending in flight */
    char rec_cursor[32];       /* where that scan goes on */
    long long rec_in_redis;    /* HLEN records:pending, last seen */
    int stopping;
    rqueue_t inbox, moved; /* game:<id>:inbox, game:<id>:moved */
    int check_pending;
    unsigned polls;
    hist_t tick_us;        /* duration of one whole tick (every match), microseconds */
    hist_t tick_window_us; /* the same over the current second, for the congestion status */
    congestion_t congestion;
    uint64_t ticks;
    uint64_t last_tick_log_ms;
    uint64_t tick_log_ms;
    uint8_t *pack_buf; /* one encoding of a push, copied to every player of a match */
    size_t pack_cap;
};

/* Handlers of the game daemon's route table: every packet of a match goes to its mode. */
void game_match_request(backend_t *be, const backend_req_t *req, const ProtobufCMessage *msg, void *ud);

void game_start(game_t *g);
void game_stop(game_t *g);
/* Drain timed out: abort every running match (recorded as aborted). */
void game_abort_all(game_t *g, const char *reason);
int game_busy(const game_t *g);

/* reload.c: the module catalogue in service. */
void game_publish_modes(game_t *g);
/* First load of GAME_MODULES_DIR (before the loop runs); returns the files that failed. */
int game_modules_load(game_t *g);
void game_default_modules_dir(char *out, size_t n);

/* record.c: the match's record (mode, summary, per player the result), made durable in Redis
 * and written to PostgreSQL exactly once, retried every second until written. With hold, the
 * match's announcement waits (match_release) until Redis or PostgreSQL has the record. */
void record_match(game_t *g, match_t *m, const char *outcome, const mode_result_t *res, int hold);
/* Each second: retries, held announcements past their bound, other daemons' records. */
void record_retry_all(game_t *g);
/* Own records neither in Redis nor in PostgreSQL yet (the daemon must not exit). */
unsigned record_undurable(const game_t *g);
/* Own records whose PostgreSQL write is in flight: a drain waits for them (while PostgreSQL
 * answers) rather than leave them to another daemon. */
unsigned record_writing(const game_t *g);
void record_gauges(game_t *g, metrics_t *mt);
void record_drop_all(game_t *g);

/* match.c: the match's record is durable: tell its players (GAME_OVER or MATCH_ABORTED, then
 * the unbinds) and the lobby, and forget the match. */
void match_release(game_t *g, match_t *m);

#endif
