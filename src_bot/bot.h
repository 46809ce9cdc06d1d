/* bot: the load-test client's shared state: the run, its bots, the counters every scenario
 * fills, and the scenario interface (main.c runs the bots, scenario_*.c drive them, session.c
 * holds what the account scenarios share, status.c prints the live status line, report.c
 * prints the results). */
#ifndef CLUSTER_BOT_H
#define CLUSTER_BOT_H

#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "client.h"
#include "config.h"
#include "hist.h"
#include "pb.h"
#include "xport.h"

typedef enum { BOT_IDLE = 0, BOT_CONNECTING, BOT_CONNECTED, BOT_GONE } bot_state_t;

typedef struct bot bot_t;
typedef struct scenario scenario_t;
typedef struct run run_t;

/* One request slot of an echo bot: with --pipeline K a bot has K lanes, each with at most one
 * request in flight. The lane is the request's callback context, so nothing is allocated per
 * request. */
typedef struct lane {
    bot_t *bot;
    struct lane *next_wait; /* in a pacing wheel slot (a utlist list) */
    uint64_t sent_ns;
    uint64_t due_ns;        /* next send time when paced */
    uint32_t seq;           /* of the request in flight */
} lane_t;

struct bot {
    run_t *run; /* the run it belongs to */
    client_t *c;
    uint32_t index;
    bot_state_t state;
    uint16_t gw; /* index in run->gws */
    lane_t *lanes;
    const scenario_t *scenario; /* the run's, or the one --mix gave this bot */
    void *sc; /* the scenario's per-bot state (login, lobby, match, idle) */
};

#define ERR_CODES 64 /* error codes counted by value; larger ones go to the last slot */
#define MAX_SERVERS 256
#define WHEEL_SLOTS 4096 /* pacing wheel, 1 ms per slot */
#define MAX_GATEWAYS 64
#define MAX_SCENARIOS 8

/* One gateway address of --gateway; bot i goes to gateway i % ngws. */
typedef struct gateway {
    char text[300]; /* as given: HOST:PORT */
    char host[256]; /* numeric */
    int port;
    uint64_t bots, connected, connect_failed, disconnects;
} gateway_t;

/* A scenario in this run: its weight in --mix, the bots it drives, and its own state, which
 * its setup or start hook sets and its cleanup hook frees. Its run hooks are handed this. */
typedef struct scen_use {
    run_t *run;
    const scenario_t *sc;
    uint32_t weight, bots;
    void *state;
} scen_use_t;

/* One second of the live status (also kept for the report's timeline). */
typedef struct sample {
    double t_s;         /* since the start */
    uint64_t connected; /* connections open at that moment */
    uint64_t ok;        /* ok responses in that second */
    double rps;         /* ok responses per second over that second */
    uint64_t p99_us;    /* of that second's ok responses, 0 when none */
    uint64_t errors;    /* unexpected errors so far */
} sample_t;
typedef struct server_count {
    uint32_t id;
    int served_by;
    uint64_t responses;
} server_count_t;

/* Counters of one request type. Latency is that of ok responses only (an error such as BUSY
 * is answered at once and would hide the cost of the real work). */
typedef struct type_stats {
    uint64_t sent, ok, expected, unexpected, timeouts, mismatches;
    uint64_t expected_by_code[ERR_CODES + 1], unexpected_by_code[ERR_CODES + 1];
    hist_t latency_us;
} type_stats_t;

/* Request types with their own counters, in report order. */
#define NREQ_TYPES 20
extern const uint16_t REQ_TYPES[NREQ_TYPES];

/* Pushes (frames with seq 0) are counted by packet type; types from PUSH_TYPES up share the
 * last slot. */
#define PUSH_TYPES 1024

/* The module scenario's own counters (scenario_module.c). */
typedef struct module_stats {
    uint64_t data_sent, data_sent_bytes, data_send_failed, data_in, data_in_bytes;
    uint64_t refused_expected, refused_unexpected;          /* the module's REFUSED ops */
    uint64_t send_errors[ERR_CODES + 1], send_errors_unexpected; /* ERROR_RESPONSE to a send */
    uint64_t moves, clamps, kills, deaths, tagged, tags_suffered;
    uint64_t finished, wins, losses, draws, bad_outcomes, mode_mismatch, summary_missing;
    uint64_t play_ns;  /* bot time spent in matches */
    hist_t rtt_us;     /* a MOVE sent -> the module's broadcast of the accepted position */
} module_stats_t;

typedef struct stats {
    uint64_t connected, connect_failed, disconnects;
    uint64_t sent, send_failed, ok, mismatches, timeouts, lost, unanswered, pushes;
    /* errors: every ERROR_RESPONSE in the echo scenario; the unexpected ones in the lobby
     * scenario (the expected race and back-pressure outcomes are counted apart) */
    uint64_t errors, errors_by_code[ERR_CODES + 1];
    uint64_t expected, expected_by_code[ERR_CODES + 1];
    hist_t latency_us;
    server_count_t servers[MAX_SERVERS];
    int nservers;
    uint64_t other_servers;
    /* per request type, pushes by type, late responses (seq not pending any more) */
    type_stats_t types[NREQ_TYPES];
    uint64_t push_by_type[PUSH_TYPES + 1];
    uint64_t late_responses;
    /* lobby totals */
    uint64_t bots_logged_in, registrations, logins, logouts, rooms_created, joins, starts,
        leaves, chat_lines, rotations, login_backoffs, stuck_logins, accounts_exhausted,
        rotation_waits;
    /* match totals (scenario match): per distinct match, outcomes by MatchOutcome */
    uint64_t matches_completed, matches_aborted, outcomes[5];
    /* per bot */
    uint64_t quick_matches, match_starts, game_overs, match_aborts, bots_with_game_over,
        moves, clamps, hits, kills, potions_used, deaths, player_kills, player_score,
        updates_in_match, bot_match_ns, start_probes, started_by_snapshot, start_missing,
        end_missing, ended_before_start, formed_not_started, room_back_late, in_match_at_stop,
        stray_starts, stray_ends, bad_pushes, results_without_me;
    /* the match records, read back with GET_MATCH_HISTORY after each GAME_OVER */
    uint64_t records_ok, records_mismatch, records_missing, records_unchecked;
    hist_t queue_to_start_us;  /* QUICK_MATCH sent -> MATCH_START */
    hist_t match_duration_us;  /* GAME_OVER duration_ms, per distinct match */
    module_stats_t md;
} stats_t;

/* Everything one run of the bot holds: its settings, its bots, its handles and its counters.
 * main.c owns it; every other part is handed it (a hook's argument, or bot->run). */
struct run {
    /* settings */
    const scenario_t *scenario; /* SCENARIO_MIX when the bots run several */
    scen_use_t used[MAX_SCENARIOS];
    int nused;
    uint32_t account_bots; /* bots of scenarios that log in */
    char gateway[1024];    /* --gateway as given (comma list) */
    char transport[8];     /* --transport: tcp, tls, ws or wss */
    xport_t *xport;        /* its client-role transport; NULL for tcp */
    tls_ctx_t *tls;        /* tls, wss: the client TLS context of xport */
    gateway_t gws[MAX_GATEWAYS];
    int ngws;
    uint32_t nbots, pipeline, payload_len, max_frame;
    uint64_t duration_ms, connect_rate, rate, seed, timeout_ms;
    uint64_t max_requests; /* --count: stop after this many requests, 0 = no limit */
    uint64_t ping_ms;      /* idle: PING interval */
    int status;            /* live status line: 0 off, 1 rewritten in place (tty), 2 plain */
    EchoTarget target;
    const char *json_path;
    /* lobby settings */
    char user_prefix[32];
    uint64_t room_wait_ms, chat_interval_ms, login_backoff_ms;
    uint32_t create_pct, start_pct;
    /* match settings */
    uint64_t match_interval_ms;
    char mode[33]; /* module: the game mode to queue for */
    /* loop */
    uv_loop_t *loop;
    conn_loop_t *cl;
    uv_timer_t ramp_timer, stop_timer, tick_timer, pace_timer, status_timer;
    uv_signal_t sigint, sigterm;
    pb_arena_t arena;
    bot_t *bots;
    lane_t *lanes;
    uint8_t *send_buf, *check_buf;
    uint32_t started;      /* bots whose connect was started */
    uint32_t alive;        /* bots connecting or connected */
    struct sockaddr_storage *sources; /* --source-addrs: bot i connects from i mod nsources */
    uint32_t nsources;
    uint64_t inflight;
    int stopping, finished;
    int count_reached; /* --count requests went out */
    uint64_t connected_now; /* connections open now */
    /* pacing */
    uint64_t interval_ns;  /* per lane */
    lane_t *wheel[WHEEL_SLOTS]; /* utlist lists of lanes, by due ms */
    uint64_t wheel_ms;     /* next slot to process, in ms since t_start */
    /* times (mono ns) */
    uint64_t t_start, t_first_send, t_stop, t_last_response;
    uint64_t t_all_logged_in; /* lobby: when the last bot's first login succeeded */
    stats_t st;
    /* the current second (status line), and the seconds so far */
    hist_t win_latency_us;
    uint64_t win_ok, win_t_ns;
    sample_t *samples;
    uint32_t nsamples, samples_cap;
    int status_printed; /* a tty status line is open */
};

/* transport.c: --transport, --ca-file, --insecure, --server-name, --ws-path. Sets
 * run->transport, run->xport (NULL for tcp) and run->tls. Returns 0, or -1 after printing
 * why. */
int bot_transport_setup(run_t *run, const config_t *cfg);
void bot_transport_cleanup(run_t *run);
/* One line: the transport's handshakes and failures by reason (nothing for tcp). */
void bot_transport_report(const run_t *run, FILE *f);

/* How a scenario drives its bots once the loop runs; the scenarios of one family share
 * theirs (the match flow's). Every hook but on_connected may be NULL. The run hooks get the
 * scenario's use in the run (use->run, use->state); the bot hooks get the bot (bot->run,
 * bot->sc). */
typedef struct scenario_hooks {
    /* Hooks left NULL are base's, when set: SESS_HOOKS for a scenario whose bots are sessions
     * (session.h), which then names only what it does otherwise. */
    const struct scenario_hooks *base;
    void (*on_connected)(bot_t *b);
    void (*on_push)(bot_t *b, uint16_t type, uint32_t seq, const uint8_t *payload, size_t len);
    void (*on_gone)(bot_t *b);          /* the bot's connection closed */
    void (*on_stop)(scen_use_t *use);   /* the traffic time is over (drain follows) */
    void (*on_finish)(scen_use_t *use); /* close the scenario's handles */
    void (*cleanup)(scen_use_t *use);   /* free its state, after the loop has ended */
} scenario_hooks_t;

/* A scenario drives connected bots: those whose bot->scenario it is (all of them, or its share
 * of --mix). Every hook but name and hooks may be NULL. */
struct scenario {
    const char *name;
    int accounts;                               /* its bots log in (run->account_bots) */
    int (*setup)(scen_use_t *use, const config_t *cfg); /* after the common options; -1: bad */
    void (*start)(scen_use_t *use);             /* once, before the loop runs: set up its bots */
    /* Its own pass conditions, on top of those every run passes (report.c: passed). */
    int (*passed)(const run_t *run);
    const scenario_hooks_t *hooks;
};

extern const scenario_t SCENARIO_ECHO;
extern const scenario_t SCENARIO_LOGIN;
extern const scenario_t SCENARIO_LOBBY;
extern const scenario_t SCENARIO_MATCH;
extern const scenario_t SCENARIO_IDLE;
extern const scenario_t SCENARIO_MODULE;
extern const scenario_t SCENARIO_MIX; /* a name only: its bots run the others */

/* main.c */
uint32_t scenario_bots(const run_t *run, const scenario_t *sc); /* bots driven by sc */
int scenario_used(const run_t *run, const scenario_t *sc);
int run_may_send(const run_t *run); /* not stopping, --count not reached */
/* A request went out (counters; stops the run once --count requests went out). */
void run_note_sent(run_t *run, type_stats_t *ts, uint64_t now);
/* An ok response with its latency: counters and histograms (overall, its type, this second). */
void run_note_ok(run_t *run, type_stats_t *ts, uint64_t latency_us);
/* A request's connection closed before its answer: unanswered when the drain time had run
 * out, else lost. */
void run_note_closed(run_t *run);
/* A request timed out, a response did not match its request: counted; each returns 1 while
 * they are few enough to log. */
int run_note_timeout(run_t *run, type_stats_t *ts);
int run_note_mismatch(run_t *run, type_stats_t *ts);
/* An ERROR_RESPONSE's code (ERR_CODES when it does not decode) and message (in run->arena). */
int error_code_of(run_t *run, const uint8_t *payload, size_t len, const char **message);
/* Counts an error by code: expected (races, back-pressure) or not (a failure). */
void count_expected(run_t *run, type_stats_t *ts, int code);
void count_unexpected(run_t *run, type_stats_t *ts, int code);

/* scenario_echo.c: the pacing timer's callback (its data is the run) */
void echo_on_pace(uv_timer_t *t);

/* status.c: the live status line, once a second */
void status_start(run_t *run);
void status_end(run_t *run); /* ends the line on a terminal */

/* report.c */
int type_index(uint16_t req_type); /* in REQ_TYPES and stats_t.types; -1 for none */
type_stats_t *type_stats(run_t *run, uint16_t req_type); /* NULL for a type without counters */
const char *req_type_name(uint16_t req_type); /* "LOGIN" for LOGIN_REQUEST */
uint64_t pushes_of(const run_t *run, uint16_t type);
double duration_s(const run_t *run);
int passed(const run_t *run);
void print_report(const run_t *run, FILE *f);
/* Pieces of the report the scenario reports share: a latency line (percentiles in ms), the
 * lines every login/idle/mix report starts with, the end (gateways, request table, verdict),
 * a histogram as JSON. */
void print_latency_line(FILE *f, const char *label, const hist_t *h, int samples);
void print_common(const run_t *run, FILE *f);
void print_end(const run_t *run, FILE *f);
void json_latency(FILE *f, const hist_t *h);
/* The record check's counts (match, module): a "match records" line, a "records" member. */
void print_records(const run_t *run, FILE *f);
void json_records(const run_t *run, FILE *f);
/* report_module.c: the module scenario's part of the report, text and JSON */
void print_module(const run_t *run, FILE *f);
void json_module(const run_t *run, FILE *f);
int write_json(const run_t *run, const char *path);

/* options.c: the options table, the --help text, the short flags */
extern const cfg_opt_t BOT_OPTS[];
extern const int BOT_NOPTS;
extern const char BOT_ABOUT[];
/* argv with the short flags (--bots N, --bots=N) turned into their long ones; *nout entries,
 * freed with options_free. */
char **options_expand(int argc, char **argv, int *nout);
void options_free(int argc, char **args);
void options_print_short_flags(void);
/* 1 when the option was set by a flag or the environment, not left at its default. */
int option_given(const config_t *cfg, const char *env);

static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

#endif
