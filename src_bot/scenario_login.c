/* scenario login: a register/login storm. Every bot REGISTERs its account (USERNAME_TAKEN:
 * it is there already, fine), LOGINs, LOGOUTs, LOGINs again, and so on until --duration or
 * --count: one request in flight per bot, at least 1/--rate s apart. Password hashing is
 * the scarce resource, so BUSY on REGISTER/LOGIN is an expected outcome, retried after a
 * backoff (--login-backoff-ms, doubling per BUSY in a row, with seeded jitter). At the end a
 * logged-in bot LOGOUTs. The report gives logins/s and the per-type latency (LOGIN, REGISTER,
 * LOGOUT). */
#include <inttypes.h>

#include "log.h"
#include "session.h"
#include "util.h"

typedef enum {
    L_REGISTER = 0,
    L_LOGIN,
    L_LOGOUT,
    L_DONE, /* final logout done, or out of account names */
} lstep_t;

typedef struct lgbot {
    session_t s; /* first: a session_t * is an lgbot_t * */
    lstep_t step;
} lgbot_t;

/* (no rooms: no leave or idle step) */
static const sess_steps_t ACCOUNT_STEPS = {L_LOGIN, L_REGISTER, L_LOGOUT, L_DONE, -1, -1};

/* ---- the session's hooks */

static void lg_act(session_t *s)
{
    if (sess_can_act(s))
        (void)sess_act_account(s, (int)((lgbot_t *)s)->step, &ACCOUNT_STEPS);
}

static int lg_on_ok(session_t *s, uint16_t rq, const uint8_t *payload, size_t len, uint64_t now)
{
    lgbot_t *b = (lgbot_t *)s;
    switch (rq) {
    case PACKET_TYPE__REGISTER_REQUEST:
        sess_registered(s);
        b->step = L_LOGIN;
        return 0;
    case PACKET_TYPE__LOGIN_REQUEST: {
        int first;
        if (!sess_logged_in(s, payload, len, now, &first))
            return -1;
        b->step = L_LOGOUT;
        return 0;
    }
    case PACKET_TYPE__LOGOUT_REQUEST:
        b->step = (lstep_t)sess_after_logout(s, 1, 0, &ACCOUNT_STEPS);
        return 0;
    }
    return -1;
}

static void lg_on_error(session_t *s, uint16_t rq, int code, uint64_t now)
{
    lgbot_t *b = (lgbot_t *)s;
    int step = (int)b->step;
    /* every error but those on REGISTER/LOGIN and NOT_AUTHENTICATED pauses the bot (there
     * are no other requests: only a LOGOUT's) */
    if (!sess_on_account_error(s, rq, code, now, &step, 0, &ACCOUNT_STEPS) ||
        (rq == PACKET_TYPE__LOGOUT_REQUEST && code != ERROR_CODE__NOT_AUTHENTICATED))
        s->not_before_ns = now + 100 * MS;
    b->step = (lstep_t)step;
}

static int lg_expected(const session_t *s, uint16_t rq, int code)
{
    (void)s;
    return sess_account_expected(rq, code);
}
/* The request may have been done or not: LOGIN next either way (ALREADY_AUTHENTICATED, if it
 * was a LOGIN that went through, leads to a LOGOUT). */
static void lg_on_timeout(session_t *s, uint16_t rq)
{
    if (rq != PACKET_TYPE__REGISTER_REQUEST && !s->final_logout)
        ((lgbot_t *)s)->step = L_LOGIN;
}
static void lg_stop(session_t *s)
{
    if (sess_final_logout(s))
        ((lgbot_t *)s)->step = L_LOGOUT;
}
static void lg_describe(const session_t *s, char *out, size_t n)
{
    snprintf(out, n, " step=%d", (int)((const lgbot_t *)s)->step);
}

static const session_ops_t LOGIN_OPS = {
    .on_ok = lg_on_ok,
    .expected = lg_expected,
    .on_error = lg_on_error,
    .on_timeout = lg_on_timeout,
    .act = lg_act,
    .stop = lg_stop,
    .gap_ns = sess_rate_gap,
    .describe = lg_describe,
};

/* ------------------------------------------------------------------ the run */

_Static_assert(L_REGISTER == 0, "a zeroed lgbot_t starts at REGISTER");
static void login_start(scen_use_t *use)
{
    (void)sess_scenario_start(use, sizeof(sess_pool_t), sizeof(lgbot_t), &LOGIN_OPS);
}

/* On top of the checks every scenario passes (see passed() in report.c). */
static int login_passed(const run_t *run)
{
    const stats_t *st = &run->st;
    return st->bots_logged_in == run->account_bots && st->logins > 0 &&
           pushes_of(run, PACKET_TYPE__KICKED) == 0;
}

const scenario_t SCENARIO_LOGIN = {
    .name = "login",
    .accounts = 1,
    .setup = sess_setup,
    .start = login_start,
    .passed = login_passed,
    .hooks = &SESS_HOOKS,
};
