/* match_flow: what the scenarios that queue for matches share (match: the arena over its own
 * packets; module: a game module over MATCH_DATA). A bot logs in, QUICK_MATCHes, waits to be
 * placed and started, plays (the scenario's own part), and after GAME_OVER reads its record
 * back (GET_MATCH_HISTORY) while it waits for its room to be handed back, then LEAVE_ROOMs and
 * queues again. Here: the bots' pool, the steps and state of that loop around the play, the
 * record check's retries, and the matches counted once however many players report them. */
#ifndef CLUSTER_BOT_MATCH_FLOW_H
#define CLUSTER_BOT_MATCH_FLOW_H

#include "rooms.h"

#define MF_ROOM_BACK_NS (3000 * MS)   /* after GAME_OVER: LEAVE_ROOM anyway after this long */
#define MF_FORMED_WAIT_NS (5000 * MS) /* a quick-match room formed but never started: leave */
#define MF_CHECK_DELAY_NS (200 * MS)  /* first GET_MATCH_HISTORY this long after GAME_OVER */
#define MF_CHECK_RETRY_NS (1000 * MS)
#define MF_CHECK_TRIES 6

/* The state of the loop around the play; the first member of each scenario's bot. */
typedef struct mflow {
    session_t s; /* first: a session_t * is an mflow_t * */
    int step;    /* the scenario's own steps (mf_conf_t names those the flow moves to) */
    uint64_t room_id, match_id;
    int room_waiting; /* a ROOM_UPDATE said our room is waiting (the match is over) */
    int formed;       /* QUICK_MATCH answered queued=0: a room formed at once */
    uint64_t formed_ns, over_ns;
    /* the record check: the match whose record must say what its GAME_OVER said */
    uint64_t check_match, check_due_ns;
    int check_tries;
    uint32_t game_overs;
} mflow_t;

/* Does the record m of the match under check say what its GAME_OVER said? Logs the
 * difference when may_log. */
typedef int (*mf_record_fn)(const mflow_t *f, const MatchRecord *m, int may_log);

typedef struct mf_conf {
    sess_steps_t acc; /* the account steps; acc.leave: LEAVE_ROOM; acc.idle: QUICK_MATCH */
    int queued;       /* QUICK_MATCH answered: waiting to be placed and started */
    int ended;        /* the match is over: waiting for the room to be handed back */
    mf_record_fn record_ok;
    /* the traffic time is over: what the bot's match in progress counted so far */
    void (*at_stop)(mflow_t *f, uint64_t stop_ns);
    void (*free_bot)(mflow_t *f); /* frees what the scenario's part of a bot holds */
} mf_conf_t;

/* The scenario's setup: sess_setup, the flow's configuration (kept: static), *pace_ns (the
 * least time between two requests out of a match, --rate) and *play_ns (in one,
 * --match-interval-ms, no shorter than *pace_ns). */
int mf_setup(run_t *run, const config_t *cfg, const mf_conf_t *conf, uint64_t *pace_ns,
             uint64_t *play_ns);
/* Starts the bots (each a zeroed bot_size bytes whose first member is an mflow_t). */
void mf_start(run_t *run, const scenario_t *sc, size_t bot_size, const session_ops_t *ops);
uint32_t mf_count(void);
mflow_t *mf_at(uint32_t i);
void mf_on_stop(run_t *run); /* scenario hooks */
void mf_on_finish(run_t *run);
void mf_cleanup(run_t *run);
void mf_on_timeout(session_t *s, uint16_t rq); /* session hooks */
void mf_stop(session_t *s);

/* Records a match as ended once, whoever of its players reports it first. Returns 1 if new. */
int mf_first_report(uint64_t match_id);

/* Out of the play with nothing else due: the record check, or a keepalive. Returns 1 if a
 * request went out. */
int mf_idle_work(mflow_t *f, uint64_t now);
/* The earliest time mf_idle_work may have something to do; with_formed: or the time to leave
 * a room formed at once but never started. */
uint64_t mf_idle_due(const mflow_t *f, int with_formed);
/* Queued in a room that formed at once and never started (no healthy game daemon): counts
 * it, LEAVE_ROOMs (to queue again) and returns 1; else 0. */
int mf_leave_unstarted(mflow_t *f, uint64_t now);
/* The ended step: reads the record back once, then LEAVE_ROOMs as soon as the room is back
 * (or after MF_ROOM_BACK_NS anyway); else idle work, or sleeps until something is due. */
void mf_act_ended(mflow_t *f, uint64_t now);
void mf_send_history(mflow_t *f); /* GET_MATCH_HISTORY, the first page */

/* The ok responses the flow handles: the account's, QUICK_MATCH, LEAVE_ROOM, PING and
 * GET_MATCH_HISTORY (the record check). Returns 1 when handled, 0 for the scenario's other
 * requests (nothing done), -1 when the payload does not decode. */
int mf_on_ok(mflow_t *f, uint16_t rq, const uint8_t *payload, size_t len, uint64_t now);
/* The errors the flow handles: the account's (returns 1: nothing else to do), QUICK_MATCH,
 * LEAVE_ROOM and GET_MATCH_HISTORY (returns 0, as for the scenario's other requests). */
int mf_on_error(mflow_t *f, uint16_t rq, int code, uint64_t now);

/* A ROOM_UPDATE: takes the room of a quick match just formed; returns 1 (room_waiting set)
 * when our room is waiting again, else 0. */
int mf_room_update(mflow_t *f, const RoomUpdate *u);
/* A GAME_OVER of our match: counts it for the bot, takes its room, and sets up the record
 * check of our result (the previous check, if still pending, counted unchecked). Returns our
 * result (NULL: none, counted) for the scenario to keep what the record must say. */
const PlayerResult *mf_game_over(mflow_t *f, const GameOver *g, uint64_t now);
/* A push payload of the given type; NULL (counted as a bad push) when it does not decode. */
void *mf_unpack_push(run_t *run, const ProtobufCMessageDescriptor *desc, const uint8_t *payload,
                     size_t len);

#endif
