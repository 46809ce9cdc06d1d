/* match_flow: what the scenarios that queue for matches share (match: the arena over its own
 * packets; module: a game module over MATCH_DATA). A bot logs in, QUICK_MATCHes, waits to be
 * placed and started, plays (the scenario's own part), and after GAME_OVER reads its record
 * back (GET_MATCH_HISTORY) while it waits for its room to be handed back, then LEAVE_ROOMs and
 * queues again. Here: the scenario's state and its bots, the session hooks (the scenario hands
 * in its own parts through mf_conf_t), the steps and state of that loop around the play, the
 * dispatch of the pushes, the record check's retries, and the matches counted once however
 * many players report them. */
#ifndef CLUSTER_BOT_MATCH_FLOW_H
#define CLUSTER_BOT_MATCH_FLOW_H

#include "rooms.h"

#define MF_ROOM_BACK_NS (3000 * MS)   /* after GAME_OVER: LEAVE_ROOM anyway after this long */
#define MF_FORMED_WAIT_NS (5000 * MS) /* a quick-match room formed but never started: leave */
#define MF_CHECK_DELAY_NS (200 * MS)  /* first GET_MATCH_HISTORY this long after GAME_OVER */
#define MF_CHECK_RETRY_NS (1000 * MS)
#define MF_CHECK_TRIES 6
#define MF_START_LOST_NS (15000 * MS) /* no MATCH_START this long after GAME_STARTING: failure */
#define MF_END_GRACE_NS (10000 * MS)  /* no GAME_OVER this long past the time limit: failure */

typedef struct mf_conf mf_conf_t;

/* The state of the loop around the play; the first member of each scenario's bot. */
typedef struct mflow {
    session_t s; /* first: a session_t * is an mflow_t *; s.scen is the scenario's mf_t */
    int step;    /* the scenario's own steps (mf_conf_t names those the flow moves to) */
    uint64_t room_id, match_id;
    int room_waiting; /* a ROOM_UPDATE said our room is waiting (the match is over) */
    int formed;       /* QUICK_MATCH answered queued=0: a room formed at once */
    uint64_t formed_ns, over_ns;
    uint64_t starting_ns, start_ns; /* GAME_STARTING, MATCH_START (0: not playing) */
    int start_lost_counted, end_lost_counted;
    /* the record check: the match whose record must say what its GAME_OVER said */
    uint64_t check_match, check_due_ns;
    int check_tries;
    uint32_t game_overs;
} mflow_t;

/* A match flow scenario's state (scen_use_t.state). */
typedef struct mf {
    sess_pool_t pool; /* first: an account scenario's state */
    const mf_conf_t *conf;
    uint64_t pace_ns; /* the least time between two requests out of a match (--rate) */
    uint64_t play_ns; /* in one (--match-interval-ms, no shorter than pace_ns) */
    struct mf_seen *seen; /* the matches counted ended */
} mf_t;

/* The scenario's own part. Every hook but describe, on_ok, on_error and in_match_at_stop is
 * required. */
struct mf_conf {
    sess_steps_t acc; /* the account steps; acc.leave: LEAVE_ROOM; acc.idle: QUICK_MATCH */
    int queued;       /* QUICK_MATCH answered: waiting to be placed and started */
    int play;         /* in a match */
    int ended;        /* the match is over: waiting for the room to be handed back */
    /* The session hooks of session_ops_t that are the scenario's own. */
    int (*expected)(const session_t *s, uint16_t rq, int code);
    uint64_t (*gap_ns)(const session_t *s);
    void (*describe)(const session_t *s, char *out, size_t n);
    /* Sends the request of a step the flow does not know (queue, queued, play, ...), or
     * sleeps until one is due. */
    void (*act)(mflow_t *f, uint64_t now);
    /* An ok response or an error of a request the flow does not know (on_ok: NULL, -1). */
    int (*on_ok)(mflow_t *f, uint16_t rq, const uint8_t *payload, size_t len, uint64_t now);
    void (*on_error)(mflow_t *f, uint16_t rq, int code, uint64_t now);
    /* The pushes (seq 0), decoded; the bot acts after each (those that return an int: when
     * it returns 1). on_room_back: a ROOM_UPDATE saying our room is waiting again. */
    void (*on_room_back)(mflow_t *f, const RoomUpdate *u, uint64_t now);
    int (*on_game_starting)(mflow_t *f, const GameStarting *g, uint64_t now);
    int (*on_match_start)(mflow_t *f, const MatchStart *m, uint64_t now);
    void (*on_game_over)(mflow_t *f, const GameOver *g, uint64_t now);
    void (*on_aborted)(mflow_t *f, const MatchAborted *a, uint64_t now);
    /* Any other frame the gateway pushes: seq 0, or a late one (seq != 0: never acts). */
    int (*on_push)(mflow_t *f, uint16_t type, uint32_t seq, const uint8_t *payload, size_t len,
                   uint64_t now);
    /* Does the record m of the match under check say what its GAME_OVER said? Logs the
     * difference when may_log. */
    int (*record_ok)(const mflow_t *f, const MatchRecord *m, int may_log);
    /* Is the bot in a match (placed, starting or playing)? */
    int (*in_match)(const mflow_t *f);
    /* The counter of bot time in matches (stats_t or its module part). */
    uint64_t *(*play_clock)(stats_t *st);
    /* The traffic time is over with the bot in a match: what it counted so far. */
    void (*in_match_at_stop)(mflow_t *f);
    void (*free_bot)(mflow_t *f); /* frees what the scenario's part of a bot holds */
};

/* The scenario's setup: sess_setup, then its state with the flow's configuration (kept:
 * static), the pacing of --rate and --match-interval-ms. Returns -1 on bad options. */
int mf_setup(scen_use_t *use, const config_t *cfg, const mf_conf_t *conf);
/* Starts the bots (each a zeroed bot_size bytes whose first member is an mflow_t). */
void mf_start(scen_use_t *use, size_t bot_size);
mflow_t *mf_at(const scen_use_t *use, uint32_t i);
uint32_t mf_count(const scen_use_t *use);
mf_t *mf_of(const mflow_t *f); /* the bot's scenario state */
/* The hooks of the flow's scenarios: the session's, the flow's stop (what a match in progress
 * counted, at_stop), cleanup (free_bot, the matches seen) and pushes (the conf's handlers). */
extern const scenario_hooks_t MF_HOOKS;
/* The checks of passed every match flow scenario makes: every bot logged in, a match
 * completed, none went missing or was recorded wrong, no bad push, nobody kicked. */
int mf_passed(const run_t *run);

/* Records a match as ended once, whoever of its players reports it first. Returns 1 if new
 * (then counted completed, with GAME_OVER's duration). */
int mf_first_game_over(mflow_t *f, const GameOver *g);
int mf_first_report(mflow_t *f, uint64_t match_id);

/* QUICK_MATCH for mode ("" or NULL: any). Returns sess_send's result. */
int mf_send_quick_match(mflow_t *f, const char *mode);
/* Out of the play with nothing else due: the record check, or a keepalive. Returns 1 if a
 * request went out. */
int mf_idle_work(mflow_t *f, uint64_t now);
/* The earliest time mf_idle_work may have something to do; with_formed: or the time to leave
 * a room formed at once but never started. */
uint64_t mf_idle_due(const mflow_t *f, int with_formed);
/* Queued in a room that formed at once and never started (no healthy game daemon): counts
 * it, LEAVE_ROOMs (to queue again) and returns 1; else 0. */
int mf_leave_unstarted(mflow_t *f, uint64_t now);
/* Placed (GAME_STARTING) and no MATCH_START for MF_START_LOST_NS: returns 1 the first time
 * (counted as missing; the caller logs it), else 0. */
int mf_start_lost(mflow_t *f, uint64_t now);
/* Playing past deadline_ns + MF_END_GRACE_NS without GAME_OVER: returns 1 the first time
 * (counted as missing; the caller logs it), else 0. */
int mf_end_lost(mflow_t *f, uint64_t deadline_ns, uint64_t now);

/* GAME_STARTING placed the bot in room_id for match_id: waiting for MATCH_START. */
void mf_placed(mflow_t *f, const GameStarting *g, int step, uint64_t now);
/* The match started (MATCH_START, or a snapshot of it): the play step from now. */
void mf_play_begin(mflow_t *f, uint64_t match_id, uint64_t now);
/* The match is over (or never started): the bot's time in it counted, the ended step. */
void mf_play_end(mflow_t *f, uint64_t now);

/* A GAME_OVER of our match: counts it for the bot, takes its room, and sets up the record
 * check of our result (the previous check, if still pending, counted unchecked). Returns our
 * result (NULL: none, counted) for the scenario to keep what the record must say. */
const PlayerResult *mf_game_over(mflow_t *f, const GameOver *g, uint64_t now);
/* A push payload of the given type; NULL (counted as a bad push) when it does not decode. */
void *mf_unpack_push(run_t *run, const ProtobufCMessageDescriptor *desc, const uint8_t *payload,
                     size_t len);

#endif
