/* session: the request, account and pacing code the login, lobby and match scenarios share. */
#include "session.h"

#include <inttypes.h>
#include <string.h>

#include "alloc.h"
#include "log.h"
#include "util.h"

/* ------------------------------------------------------------------ setup */

int sess_check_prefix(const run_t *run)
{
    const char *p = run->user_prefix;
    for (const char *q = p; *q; q++) {
        char ch = *q;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_')) {
            fprintf(stderr, "bot: --user-prefix may only hold A-Z a-z 0-9 _, got '%s'\n", p);
            return -1;
        }
    }
    char last[16];
    int digits = snprintf(last, sizeof last, "%u", run->nbots - 1);
    size_t need = strlen(p) + (size_t)digits + 1 + GEN_DIGITS;
    if (need > USERNAME_MAX || strlen(p) + (size_t)digits < 3) {
        fprintf(stderr,
                "bot: --user-prefix '%s' with %u bots makes names of %zu characters; account "
                "names are 3-%d (%d kept for the _<n> of fresh accounts)\n",
                p, run->nbots, need, USERNAME_MAX, 1 + GEN_DIGITS);
        return -1;
    }
    return 0;
}

/* Sets the account name for the bot's current generation. Returns -1 when it does not fit. */
static int make_user(session_t *s)
{
    run_t *run = s->bot->run;
    char name[sizeof run->user_prefix + 24];
    int n;
    if (s->gen == 0)
        n = snprintf(name, sizeof name, "%s%u", run->user_prefix, s->bot->index);
    else
        n = snprintf(name, sizeof name, "%s%u_%u", run->user_prefix, s->bot->index, s->gen);
    if (n <= 0 || n > USERNAME_MAX)
        return -1;
    memcpy(s->user, name, (size_t)n + 1);
    return 0;
}

static void on_timer(uv_timer_t *t) { sess_wake(t->data); }

void sess_init(session_t *s, bot_t *bot, const session_ops_t *ops)
{
    run_t *run = bot->run;
    s->bot = bot;
    s->ops = ops;
    bot->sc = s;
    s->rng = mix64(run->seed * UINT64_C(0x2545F4914F6CDD1D) + bot->index);
    (void)make_user(s);
    uv_timer_init(run->loop, &s->timer);
    s->timer.data = s;
}

uint64_t sess_rnd(session_t *s)
{
    s->rng += UINT64_C(0x9E3779B97F4A7C15);
    return mix64(s->rng);
}

uint32_t sess_rnd_below(session_t *s, uint32_t n) { return n ? (uint32_t)(sess_rnd(s) % n) : 0; }

int sess_next_account(session_t *s)
{
    run_t *run = s->bot->run;
    s->gen++;
    if (make_user(s) != 0) {
        if (++run->st.accounts_exhausted <= 5)
            log_warn("accounts_exhausted", "bot=%u gen=%u", s->bot->index, s->gen);
        return -1;
    }
    run->st.rotations++;
    return 0;
}

void sess_backoff(session_t *s, uint64_t now)
{
    run_t *run = s->bot->run;
    int k = s->backoff < BACKOFF_MAX_SHIFT ? s->backoff : BACKOFF_MAX_SHIFT;
    s->backoff++;
    uint64_t base = run->login_backoff_ms * MS << k;
    s->not_before_ns = now + base / 2 + sess_rnd(s) % (base + 1);
    run->st.login_backoffs++;
}

/* ------------------------------------------------------------------ requests */

static void on_response(client_t *c, int status, uint16_t type, const uint8_t *payload,
                        size_t len, void *ud);

int sess_send(session_t *s, uint16_t type, const ProtobufCMessage *msg)
{
    run_t *run = s->bot->run;
    bot_t *bot = s->bot;
    if (!bot->c || !client_is_connected(bot->c) || !run_may_send(run))
        return -1;
    uint64_t now = mono_ns();
    int64_t seq = client_request(bot->c, type, msg, on_response, s);
    if (seq < 0) {
        run->st.send_failed++;
        return -1;
    }
    s->busy = 1;
    s->rq_type = type;
    s->sent_ns = s->last_send_ns = now;
    run_note_sent(run, type_stats(run, type), now);
    return 0;
}

void sess_send_account(session_t *s, uint16_t type)
{
    if (type == PACKET_TYPE__REGISTER_REQUEST) {
        RegisterRequest rq = REGISTER_REQUEST__INIT;
        rq.username = s->user;
        rq.password = (char *)SESS_PASSWORD;
        (void)sess_send(s, type, &rq.base);
    } else {
        LoginRequest rq = LOGIN_REQUEST__INIT;
        rq.username = s->user;
        rq.password = (char *)SESS_PASSWORD;
        (void)sess_send(s, type, &rq.base);
    }
}

void sess_send_logout(session_t *s)
{
    LogoutRequest rq = LOGOUT_REQUEST__INIT;
    (void)sess_send(s, PACKET_TYPE__LOGOUT_REQUEST, &rq.base);
}

void sess_send_ping(session_t *s)
{
    PingRequest rq = PING_REQUEST__INIT;
    rq.client_time = mono_ns();
    (void)sess_send(s, PACKET_TYPE__PING_REQUEST, &rq.base);
}

/* ------------------------------------------------------------------ accounts */

void sess_registered(session_t *s)
{
    run_t *run = s->bot->run;
    run->st.registrations++;
    s->backoff = 0;
}

LoginResponse *sess_logged_in(session_t *s, const uint8_t *payload, size_t len, uint64_t now,
                              int *first)
{
    run_t *run = s->bot->run;
    *first = 0;
    LoginResponse *r =
        (LoginResponse *)pb_unpack(&run->arena, &login_response__descriptor, payload, len);
    if (!r)
        return NULL;
    run->st.logins++;
    s->backoff = 0;
    s->logged_in = 1;
    s->user_id = r->user_id;
    if (!s->ever_logged_in) {
        s->ever_logged_in = 1;
        *first = 1;
        if (++run->st.bots_logged_in == run->account_bots)
            run->t_all_logged_in = now;
    }
    return r;
}

void sess_logged_out(session_t *s, int ok)
{
    run_t *run = s->bot->run;
    if (ok)
        run->st.logouts++;
    s->logged_in = 0;
}

int sess_account_error(session_t *s, int code, uint64_t now, int step, const sess_steps_t *steps)
{
    if (code == ERROR_CODE__USERNAME_TAKEN) {
        s->backoff = 0;
        return steps->login;
    }
    if (code == ERROR_CODE__INVALID_CREDENTIALS || code == ERROR_CODE__TOO_MANY_ATTEMPTS) {
        int rc = sess_next_account(s); /* not ours (another password): use another name */
        sess_backoff(s, now);
        return rc == 0 ? steps->register_ : steps->done;
    }
    if (code == ERROR_CODE__ALREADY_AUTHENTICATED) {
        s->logged_in = 1;
        return steps->logout;
    }
    sess_backoff(s, now); /* BUSY, or the accounts storage failing: try again later */
    return step;
}

int sess_act_account(session_t *s, int step, const sess_steps_t *steps)
{
    if (step == steps->register_)
        sess_send_account(s, PACKET_TYPE__REGISTER_REQUEST);
    else if (step == steps->login)
        sess_send_account(s, PACKET_TYPE__LOGIN_REQUEST);
    else if (step == steps->logout)
        sess_send_logout(s);
    else
        return 0;
    return 1;
}

/* On with a fresh account: steps->register_, or steps->done when names ran out. */
static int fresh_account(session_t *s, const sess_steps_t *steps)
{
    return sess_next_account(s) == 0 ? steps->register_ : steps->done;
}

int sess_after_logout(session_t *s, int ok, int fresh, const sess_steps_t *steps)
{
    run_t *run = s->bot->run;
    sess_logged_out(s, ok);
    if (s->final_logout || run->stopping)
        return steps->done;
    return fresh ? fresh_account(s, steps) : steps->login;
}

int sess_on_account_error(session_t *s, uint16_t rq, int code, uint64_t now, int *step, int fresh,
                          const sess_steps_t *steps)
{
    if (code == ERROR_CODE__NOT_AUTHENTICATED) { /* the session is not logged in after all */
        sess_not_authenticated(s, now);
        *step = steps->login;
        return 1;
    }
    switch (rq) {
    case PACKET_TYPE__REGISTER_REQUEST:
    case PACKET_TYPE__LOGIN_REQUEST:
        *step = sess_account_error(s, code, now, *step, steps);
        return 1;
    case PACKET_TYPE__LOGOUT_REQUEST:
        *step = sess_after_logout(s, 0, fresh, steps);
        return 1;
    }
    return 0;
}

void sess_not_authenticated(session_t *s, uint64_t now)
{
    run_t *run = s->bot->run;
    s->logged_in = 0;
    s->not_before_ns = now + run->login_backoff_ms * MS;
}

int sess_account_expected(uint16_t rq, int code)
{
    if (rq == PACKET_TYPE__REGISTER_REQUEST)
        return code == ERROR_CODE__USERNAME_TAKEN || code == ERROR_CODE__BUSY;
    if (rq == PACKET_TYPE__LOGIN_REQUEST)
        return code == ERROR_CODE__BUSY;
    return 0;
}

/* ------------------------------------------------------------------ responses */

/* An ERROR_RESPONSE to s's request rq: counted as expected or not (the first unexpected
 * ones logged), then the scenario's on_error. */
static void on_error_response(session_t *s, uint16_t rq, type_stats_t *ts,
                              const uint8_t *payload, size_t len, uint64_t now)
{
    run_t *run = s->bot->run;
    const char *msg;
    int code = error_code_of(run, payload, len, &msg);
    if (s->ops->expected(s, rq, code)) {
        count_expected(run, ts, code);
    } else {
        count_unexpected(run, ts, code);
        if (run->st.errors <= 10) {
            char extra[160] = "";
            if (s->ops->describe)
                s->ops->describe(s, extra, sizeof extra);
            log_warn("unexpected_error", "bot=%u user=%s request=%s code=%s message=\"%s\"%s",
                     s->bot->index, s->user, req_type_name(rq), error_code_name(code), msg,
                     extra);
        }
    }
    s->ops->on_error(s, rq, code, now);
}

static void on_response(client_t *c, int status, uint16_t type, const uint8_t *payload,
                        size_t len, void *ud)
{
    session_t *s = ud;
    run_t *run = s->bot->run;
    uint16_t rq = s->rq_type;
    type_stats_t *ts = type_stats(run, rq);
    uint64_t now = mono_ns();
    run->inflight--;
    s->busy = 0;
    if (status == CLIENT_ECLOSED) {
        run_note_closed(run);
        return; /* the bot's connection is gone */
    }
    if (status == CLIENT_ETIMEDOUT) {
        if (run_note_timeout(run, ts))
            log_warn("timeout", "bot=%u user=%s request=%s", s->bot->index, s->user,
                     req_type_name(rq));
        s->ops->on_timeout(s, rq);
    } else if (type == PACKET_TYPE__ERROR_RESPONSE) {
        run->t_last_response = now;
        on_error_response(s, rq, ts, payload, len, now);
    } else if (type == rq + 1 && s->ops->on_ok(s, rq, payload, len, now) == 0) {
        run->t_last_response = now;
        run_note_ok(run, ts, (now - s->sent_ns) / 1000u);
    } else {
        run->t_last_response = now;
        if (run_note_mismatch(run, ts))
            log_warn("bad_response", "bot=%u request=%s response_type=%u len=%zu", s->bot->index,
                     req_type_name(rq), type, len);
        s->not_before_ns = now + 100 * MS;
    }
    if (run->stopping)
        s->ops->stop(s);
    else
        sess_wake(s);
}

/* ------------------------------------------------------------------ pacing */

int sess_can_act(const session_t *s)
{
    run_t *run = s->bot->run;
    return !s->busy && !run->stopping && s->bot->c && client_is_connected(s->bot->c);
}

uint64_t sess_rate_interval(const run_t *run)
{
    return run->rate ? (uint64_t)(1e9 / (double)run->rate) : 0;
}

uint64_t sess_rate_gap(const session_t *s)
{
    return sess_rate_interval(s->bot->run);
}

void sess_sleep_until(session_t *s, uint64_t t, uint64_t now)
{
    uv_timer_start(&s->timer, on_timer, t > now ? (t - now + MS - 1) / MS : 0, 0);
}

void sess_wake(session_t *s)
{
    run_t *run = s->bot->run;
    if (s->busy || run->stopping)
        return;
    uint64_t now = mono_ns();
    uint64_t gap = s->ops->gap_ns(s);
    uint64_t t = s->last_send_ns ? s->last_send_ns + gap : 0;
    if (s->not_before_ns > t)
        t = s->not_before_ns;
    if (t <= now + SLACK_NS / 2) {
        uv_timer_stop(&s->timer);
        s->ops->act(s);
        return;
    }
    sess_sleep_until(s, t, now);
}

int sess_keepalive_due(const session_t *s, uint64_t now)
{
    return now - s->last_send_ns >= KEEPALIVE_NS;
}

int sess_final_logout(session_t *s)
{
    run_t *run = s->bot->run;
    if (run->finished || s->busy || s->final_logout || !s->logged_in || !s->bot->c ||
        !client_is_connected(s->bot->c))
        return 0;
    s->final_logout = 1;
    sess_send_logout(s);
    return 1;
}

/* ------------------------------------------------------------------ hooks */

void sess_connected(session_t *s) { s->connected_once = 1; }

void sess_gone(session_t *s)
{
    run_t *run = s->bot->run;
    s->busy = 0;
    if (!run->finished)
        uv_timer_stop(&s->timer);
}

void sess_close(session_t *s)
{
    if (!uv_is_closing((uv_handle_t *)&s->timer))
        uv_close((uv_handle_t *)&s->timer, NULL);
}

int sess_setup(scen_use_t *use, const config_t *cfg)
{
    (void)cfg;
    return sess_check_prefix(use->run);
}

static void sess_on_connected(bot_t *bot)
{
    session_t *s = bot->sc;
    sess_connected(s);
    sess_wake(s);
}

static void sess_on_gone(bot_t *bot) { sess_gone(bot->sc); }

static void sess_on_push(bot_t *bot, uint16_t type, uint32_t seq, const uint8_t *payload, size_t len)
{
    session_t *s = bot->sc;
    (void)payload;
    (void)len;
    if (seq == 0 && type == PACKET_TYPE__KICKED)
        s->logged_in = 0; /* the gateway closes the connection next */
}

/* ------------------------------------------------------------------ the scenario's bots */

void sess_pool_start(sess_pool_t *p, scen_use_t *use, size_t bot_size, const session_ops_t *ops)
{
    run_t *run = use->run;
    p->bots = xcalloc(use->bots + 1u, bot_size);
    p->size = bot_size;
    p->n = 0;
    for (uint32_t i = 0; i < run->nbots; i++) {
        if (run->bots[i].scenario != use->sc)
            continue;
        session_t *s = sess_pool_at(p, p->n++);
        sess_init(s, &run->bots[i], ops);
        s->scen = use->state;
    }
}

void *sess_scenario_start(scen_use_t *use, size_t state_size, size_t bot_size,
                          const session_ops_t *ops)
{
    use->state = xcalloc(1, state_size);
    sess_pool_start(use->state, use, bot_size, ops);
    return use->state;
}

session_t *sess_pool_at(const sess_pool_t *p, uint32_t i)
{
    return (session_t *)(void *)(p->bots + (size_t)i * p->size);
}

void sess_pool_stop(const sess_pool_t *p, void (*each)(session_t *s))
{
    for (uint32_t i = 0; i < p->n; i++) {
        session_t *s = sess_pool_at(p, i);
        uv_timer_stop(&s->timer);
        if (each)
            each(s);
        if (s->ops)
            s->ops->stop(s);
    }
}

static void sess_on_stop(scen_use_t *use) { sess_pool_stop(use->state, NULL); }

static void sess_on_finish(scen_use_t *use)
{
    const sess_pool_t *p = use->state;
    for (uint32_t i = 0; i < p->n; i++)
        sess_close(sess_pool_at(p, i));
}

void sess_cleanup(scen_use_t *use)
{
    sess_pool_t *p = use->state;
    if (p)
        xfree(p->bots);
    xfree(p);
    use->state = NULL;
}

const scenario_hooks_t SESS_HOOKS = {
    .on_connected = sess_on_connected,
    .on_push = sess_on_push,
    .on_gone = sess_on_gone,
    .on_stop = sess_on_stop,
    .on_finish = sess_on_finish,
    .cleanup = sess_cleanup,
};
