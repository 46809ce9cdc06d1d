/* scenario login: a register/login storm. Every bot REGISTERs its account (USERNAME_TAKEN:
 * it is there already, fine), LOGINs, LOGOUTs, LOGINs again, and so on until --duration or
 * --count: one request in flight per bot, at least 1/--rate s apart. Password hashing is
 * the scarce resource, so BUSY on REGISTER/LOGIN is an expected outcome, retried after a
 * backoff (--login-backoff-ms, doubling per BUSY in a row, with seeded jitter). At the end a
 * logged-in bot LOGOUTs. The report gives logins/s and the per-type latency (LOGIN, REGISTER,
 * LOGOUT). */
#include <inttypes.h>

#include "alloc.h"
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

static lgbot_t *lgbots;
static uint32_t nlgbots;
static uint64_t interval_ns; /* least time between two requests of a bot */

static void lg_act(lgbot_t *b)
{
    if (b->s.busy || run.stopping || !b->s.bot->c || !client_is_connected(b->s.bot->c))
        return;
    switch (b->step) {
    case L_REGISTER:
        sess_send_account(&b->s, PACKET_TYPE__REGISTER_REQUEST);
        break;
    case L_LOGIN:
        sess_send_account(&b->s, PACKET_TYPE__LOGIN_REQUEST);
        break;
    case L_LOGOUT:
        sess_send_logout(&b->s);
        break;
    case L_DONE:
        break;
    }
}

static int lg_on_ok(lgbot_t *b, uint16_t rq, const uint8_t *payload, size_t len, uint64_t now)
{
    switch (rq) {
    case PACKET_TYPE__REGISTER_REQUEST:
        sess_registered(&b->s);
        b->step = L_LOGIN;
        return 0;
    case PACKET_TYPE__LOGIN_REQUEST: {
        int first;
        if (!sess_logged_in(&b->s, payload, len, now, &first))
            return -1;
        b->step = L_LOGOUT;
        return 0;
    }
    case PACKET_TYPE__LOGOUT_REQUEST:
        sess_logged_out(&b->s, 1);
        b->step = b->s.final_logout || run.stopping ? L_DONE : L_LOGIN;
        return 0;
    }
    return -1;
}

static const sess_steps_t ACCOUNT_STEPS = {L_LOGIN, L_REGISTER, L_LOGOUT, L_DONE};

static void lg_on_error(lgbot_t *b, uint16_t rq, int code, uint64_t now)
{
    if (code == ERROR_CODE__NOT_AUTHENTICATED) { /* not logged in after all */
        sess_not_authenticated(&b->s, now);
        b->step = L_LOGIN;
        return;
    }
    switch (rq) {
    case PACKET_TYPE__REGISTER_REQUEST:
    case PACKET_TYPE__LOGIN_REQUEST:
        b->step = sess_account_error(&b->s, code, now, (int)b->step, &ACCOUNT_STEPS);
        return;
    case PACKET_TYPE__LOGOUT_REQUEST:
        sess_logged_out(&b->s, 0);
        b->step = b->s.final_logout || run.stopping ? L_DONE : L_LOGIN;
        break;
    }
    if (!sess_account_expected(rq, code))
        b->s.not_before_ns = now + 100 * MS;
}

/* ---- the session's hooks */

static int ops_on_ok(session_t *s, uint16_t rq, const uint8_t *payload, size_t len, uint64_t now)
{
    return lg_on_ok((lgbot_t *)s, rq, payload, len, now);
}
static int ops_expected(const session_t *s, uint16_t rq, int code)
{
    (void)s;
    return sess_account_expected(rq, code);
}
static void ops_on_error(session_t *s, uint16_t rq, int code, uint64_t now)
{
    lg_on_error((lgbot_t *)s, rq, code, now);
}
/* The request may have been done or not: LOGIN next either way (ALREADY_AUTHENTICATED, if it
 * was a LOGIN that went through, leads to a LOGOUT). */
static void ops_on_timeout(session_t *s, uint16_t rq)
{
    lgbot_t *b = (lgbot_t *)s;
    if (rq != PACKET_TYPE__REGISTER_REQUEST && !b->s.final_logout)
        b->step = L_LOGIN;
}
static void ops_act(session_t *s) { lg_act((lgbot_t *)s); }
static void ops_stop(session_t *s)
{
    lgbot_t *b = (lgbot_t *)s;
    if (sess_final_logout(&b->s))
        b->step = L_LOGOUT;
}
static uint64_t ops_gap_ns(const session_t *s)
{
    (void)s;
    return interval_ns;
}
static void ops_describe(const session_t *s, char *out, size_t n)
{
    snprintf(out, n, " step=%d", (int)((const lgbot_t *)s)->step);
}

static const session_ops_t LOGIN_OPS = {
    .on_ok = ops_on_ok,
    .expected = ops_expected,
    .on_error = ops_on_error,
    .on_timeout = ops_on_timeout,
    .act = ops_act,
    .stop = ops_stop,
    .gap_ns = ops_gap_ns,
    .describe = ops_describe,
};

/* ------------------------------------------------------------------ the run */

static void login_on_connected(bot_t *bot)
{
    lgbot_t *b = bot->sc;
    sess_connected(&b->s);
    sess_wake(&b->s);
}

static void login_on_push(bot_t *bot, uint16_t type, uint32_t seq, const uint8_t *payload,
                          size_t len)
{
    lgbot_t *b = bot->sc;
    (void)payload;
    (void)len;
    if (seq == 0 && type == PACKET_TYPE__KICKED)
        b->s.logged_in = 0; /* the gateway closes the connection next */
}

static void login_on_gone(bot_t *bot) { sess_gone(bot->sc); }

static void login_on_stop(void)
{
    for (uint32_t i = 0; i < nlgbots; i++) {
        uv_timer_stop(&lgbots[i].s.timer);
        ops_stop(&lgbots[i].s);
    }
}

static void login_on_finish(void)
{
    for (uint32_t i = 0; i < nlgbots; i++)
        sess_close(&lgbots[i].s);
}

static void login_cleanup(void)
{
    xfree(lgbots);
    lgbots = NULL;
    nlgbots = 0;
}

static int login_setup(const config_t *cfg)
{
    (void)cfg;
    if (sess_check_prefix() != 0)
        return -1;
    interval_ns = run.rate ? (uint64_t)(1e9 / (double)run.rate) : 0;
    return 0;
}

static void login_start(void)
{
    lgbots = xcalloc(scenario_bots(&SCENARIO_LOGIN) + 1u, sizeof *lgbots);
    for (uint32_t i = 0; i < run.nbots; i++) {
        if (run.bots[i].scenario != &SCENARIO_LOGIN)
            continue;
        lgbot_t *b = &lgbots[nlgbots++];
        sess_init(&b->s, &run.bots[i], &LOGIN_OPS);
        b->step = L_REGISTER;
    }
}

/* On top of the checks every scenario passes (see passed() in report.c). */
static int login_passed(void)
{
    const stats_t *st = &run.st;
    return st->bots_logged_in == run.account_bots && st->logins > 0 &&
           pushes_of(PACKET_TYPE__KICKED) == 0;
}

const scenario_t SCENARIO_LOGIN = {
    .name = "login",
    .accounts = 1,
    .setup = login_setup,
    .start = login_start,
    .on_connected = login_on_connected,
    .on_push = login_on_push,
    .on_gone = login_on_gone,
    .on_stop = login_on_stop,
    .on_finish = login_on_finish,
    .cleanup = login_cleanup,
    .passed = login_passed,
};
