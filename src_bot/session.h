/* session: what the account scenarios (login, lobby, match) share: one request in flight per
 * bot with per-type counters and latency, REGISTER/LOGIN with a BUSY backoff, LOGOUT (and the
 * final one when the traffic time is over), keep-alive PINGs, the bot's pacing timer and its
 * seeded PRNG. A scenario's per-bot struct starts with a session_t and hands its own logic in
 * through session_ops_t. */
#ifndef CLUSTER_BOT_SESSION_H
#define CLUSTER_BOT_SESSION_H

#include "bot.h"

#define SESS_PASSWORD "bot-password-0"
#define USERNAME_MAX 24
#define GEN_DIGITS 4 /* room kept in names for _<n>, n < 10^GEN_DIGITS */
#define BACKOFF_MAX_SHIFT 5
#define MS UINT64_C(1000000)
#define SLACK_NS MS /* timers fire on whole ms: a deadline this close counts as reached */
#define KEEPALIVE_NS (20000 * MS) /* a bot silent this long PINGs (gateway IDLE_TIMEOUT_MS: 60 s) */

typedef struct session session_t;

/* A scenario's logic. Every hook but describe is required. */
typedef struct session_ops {
    /* A response of the expected type (request type + 1), counted once this returns 0:
     * advance. Returns -1 when the payload does not decode (counted as a mismatch). */
    int (*on_ok)(session_t *s, uint16_t rq, const uint8_t *payload, size_t len, uint64_t now);
    /* Is (request, code) an outcome a healthy cluster gives this bot now? */
    int (*expected)(const session_t *s, uint16_t rq, int code);
    /* An ERROR_RESPONSE, counted already: move on. */
    void (*on_error)(session_t *s, uint16_t rq, int code, uint64_t now);
    /* No response within the timeout, counted already: get back on track. */
    void (*on_timeout)(session_t *s, uint16_t rq);
    /* Sends the bot's next request, or sleeps (sess_sleep_until) until one is due. */
    void (*act)(session_t *s);
    /* The traffic time is over: the final LOGOUT (sess_final_logout) and its step. */
    void (*stop)(session_t *s);
    /* The least time between two requests of the bot now. */
    uint64_t (*gap_ns)(const session_t *s);
    /* Extra " key=value" fields for the unexpected_error log line (NULL: none). */
    void (*describe)(const session_t *s, char *out, size_t n);
} session_ops_t;

struct session {
    bot_t *bot;
    void *scen; /* its scenario's state (scen_use_t.state) */
    const session_ops_t *ops;
    uv_timer_t timer;
    int busy;         /* a request is in flight */
    uint16_t rq_type; /* of the request in flight */
    uint64_t sent_ns, last_send_ns;
    uint64_t not_before_ns; /* backoff */
    uint64_t rng;
    /* account: PREFIX<bot index>, then PREFIX<index>_<gen> */
    uint32_t gen;
    char user[USERNAME_MAX + 8];
    uint64_t user_id;
    int connected_once, logged_in, ever_logged_in, backoff, final_logout;
};

/* Checks --user-prefix against the bot count (names of 3..USERNAME_MAX characters with room
 * for _<n>, [A-Za-z0-9_]). Prints the problem and returns -1 when it does not fit. */
int sess_check_prefix(const run_t *run);

/* Sets up s for bot (bot->sc = s): its PRNG from --seed and the bot's index, its first
 * account name, its timer. ops NULL: a bot that sends on its own timer (idle), not through
 * sess_send. */
void sess_init(session_t *s, bot_t *bot, const session_ops_t *ops);

/* The bot's PRNG: the only source of its random choices. */
uint64_t sess_rnd(session_t *s);
uint32_t sess_rnd_below(session_t *s, uint32_t n);

/* Moves on to a fresh account name. Returns -1 when names ran out (the bot is done). */
int sess_next_account(session_t *s);

/* BUSY on REGISTER/LOGIN: wait login_backoff_ms * 2^k (k = BUSYs in a row, at most 5), with
 * jitter of +-50%, before the next try. */
void sess_backoff(session_t *s, uint64_t now);

/* Sends one request (the response comes to the ops). Returns -1 when not connected, the run
 * is past --count, or the client refused it. */
int sess_send(session_t *s, uint16_t type, const ProtobufCMessage *msg);
void sess_send_account(session_t *s, uint16_t type); /* REGISTER or LOGIN of s->user */
void sess_send_logout(session_t *s);
void sess_send_ping(session_t *s);

/* REGISTER answered ok. */
void sess_registered(session_t *s);
/* LOGIN answered ok: the response (NULL when it does not decode: nothing counted); *first is
 * set when this was the bot's first login. */
LoginResponse *sess_logged_in(session_t *s, const uint8_t *payload, size_t len, uint64_t now,
                              int *first);
/* LOGOUT answered (ok or not). */
void sess_logged_out(session_t *s, int ok);

/* A scenario's steps for the account outcomes below (and, in the room scenarios, rooms.h's). */
typedef struct sess_steps {
    int login, register_, logout, done;
    int leave, idle; /* room scenarios: leave the room; logged in and in no room */
} sess_steps_t;

/* Sends the request of an account step: REGISTER, LOGIN or LOGOUT. Returns 0 (nothing sent)
 * when step is none of these. */
int sess_act_account(session_t *s, int step, const sess_steps_t *steps);
/* LOGOUT answered, ok or not (sess_logged_out): returns the next step: done after the final
 * logout or once the traffic time is over; else a fresh account (fresh) or login again. */
int sess_after_logout(session_t *s, int ok, int fresh, const sess_steps_t *steps);
/* The errors every account scenario handles alike: NOT_AUTHENTICATED on any request
 * (sess_not_authenticated, then login), an error on REGISTER or LOGIN (sess_account_error) or
 * on LOGOUT (sess_after_logout with fresh). Sets *step and returns 1 when it handled the
 * error; returns 0 (nothing done) for the others. */
int sess_on_account_error(session_t *s, uint16_t rq, int code, uint64_t now, int *step, int fresh,
                          const sess_steps_t *steps);

/* An error on REGISTER or LOGIN: returns the bot's next step. BUSY (or the accounts storage
 * failing): the same step again after a backoff; USERNAME_TAKEN: login (the account is
 * there); INVALID_CREDENTIALS, TOO_MANY_ATTEMPTS: not our account (another password), so a
 * fresh one after a backoff: register, or done when names ran out; ALREADY_AUTHENTICATED:
 * logout first. */
int sess_account_error(session_t *s, int code, uint64_t now, int step, const sess_steps_t *steps);
/* NOT_AUTHENTICATED: the session is not logged in after all; log in again after a pause. */
void sess_not_authenticated(session_t *s, uint64_t now);
/* The expected errors of REGISTER/LOGIN under load (USERNAME_TAKEN, BUSY); 0 for others. */
int sess_account_expected(uint16_t rq, int code);

/* May the bot send now: nothing in flight, not stopping, connected. */
int sess_can_act(const session_t *s);
/* 1/--rate s in ns (0: no pacing), the least time between two requests of a bot; as a
 * gap_ns hook, sess_rate_gap. */
uint64_t sess_rate_interval(const run_t *run);
uint64_t sess_rate_gap(const session_t *s);

/* Something changed (a response, a push): act as soon as pacing and backoff allow. */
void sess_wake(session_t *s);
/* Sleeps until t (then sess_wake). */
void sess_sleep_until(session_t *s, uint64_t t, uint64_t now);
/* Silent for KEEPALIVE_NS: time to PING. */
int sess_keepalive_due(const session_t *s, uint64_t now);

/* The traffic time is over: a logged-in bot with nothing in flight LOGOUTs, once. Returns 1
 * when it did (the caller sets its logout step). */
int sess_final_logout(session_t *s);

/* Scenario hooks' common parts. */
void sess_connected(session_t *s);
void sess_gone(session_t *s);
void sess_close(session_t *s); /* closes the timer (on_finish) */

/* An account scenario's setup: the --user-prefix check. */
int sess_setup(scen_use_t *use, const config_t *cfg);

/* The bots of one account scenario: one struct of `size` bytes per bot, each starting with
 * its session_t. */
typedef struct sess_pool {
    char *bots;
    size_t size;
    uint32_t n;
} sess_pool_t;

/* An account scenario's state (use->state) starts with its sess_pool_t. start: the bots
 * into the pool p of use->state: one zeroed struct of bot_size bytes per bot of the
 * scenario, each sess_init'ed with ops (its session's scen: use->state). */
void sess_pool_start(sess_pool_t *p, scen_use_t *use, size_t bot_size, const session_ops_t *ops);
/* The same with the state allocated (state_size zeroed bytes). Returns the state. */
void *sess_scenario_start(scen_use_t *use, size_t state_size, size_t bot_size,
                          const session_ops_t *ops);
session_t *sess_pool_at(const sess_pool_t *p, uint32_t i);
/* on_stop: per bot, its timer stops, then each (NULL: none) and its ops' stop (if any). */
void sess_pool_stop(const sess_pool_t *p, void (*each)(session_t *s));
/* cleanup of a scenario whose state is such: frees the bots' structs (not what they point to)
 * and the state. */
void sess_cleanup(scen_use_t *use);
/* The hooks of a scenario whose bots are sessions in a pool, with nothing more to do; the base
 * of the others' (scenario_hooks_t.base): on_connected (sess_connected, then act), on_push
 * (KICKED: the session is logged out; the gateway closes the connection next), on_gone,
 * on_stop (sess_pool_stop with no each), on_finish (sess_close of every bot), cleanup. */
extern const scenario_hooks_t SESS_HOOKS;

#endif
