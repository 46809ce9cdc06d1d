/* scenario idle: hold the connections with keep-alive only. Each connection sends a PING
 * every --ping-ms (the first at a seeded random point of the first interval, so the bots do
 * not ping in lockstep) and nothing else; a PING still unanswered when the next is due is not
 * doubled. The report gives the connections open each second (status samples), the PING
 * latency and the disconnects. */
#include <inttypes.h>

#include "log.h"
#include "session.h"
#include "util.h"

/* An idle bot is a bare session_t of a session pool: its bot, timer, busy and sent_ns. It has
 * no account and no ops: its PINGs go out on its own timer, not through sess_send. */

static void on_pong(client_t *c, int status, uint16_t type, const uint8_t *payload, size_t len,
                    void *ud)
{
    session_t *s = ud;
    run_t *run = s->bot->run;
    type_stats_t *ts = type_stats(run, PACKET_TYPE__PING_REQUEST);
    uint64_t now = mono_ns();
    (void)c;
    run->inflight--;
    s->busy = 0;
    if (status == CLIENT_ECLOSED) {
        run_note_closed(run);
    } else if (status == CLIENT_ETIMEDOUT) {
        if (run_note_timeout(run, ts))
            log_warn("timeout", "bot=%u request=PING", s->bot->index);
    } else if (type == PACKET_TYPE__PING_RESPONSE) {
        run->t_last_response = now;
        run_note_ok(run, ts, (now - s->sent_ns) / 1000u);
    } else if (type == PACKET_TYPE__ERROR_RESPONSE) {
        run->t_last_response = now;
        const char *msg;
        int code = error_code_of(run, payload, len, &msg);
        count_unexpected(run, ts, code);
        if (run->st.errors <= 5)
            log_warn("unexpected_error", "bot=%u request=PING code=%s message=\"%s\"",
                     s->bot->index, error_code_name(code), msg);
    } else {
        (void)run_note_mismatch(run, ts);
    }
}

static void on_ping_timer(uv_timer_t *t)
{
    session_t *s = t->data;
    bot_t *bot = s->bot;
    run_t *run = bot->run;
    if (s->busy || run->stopping || !run_may_send(run) || !bot->c || !client_is_connected(bot->c))
        return;
    PingRequest rq = PING_REQUEST__INIT;
    uint64_t now = mono_ns();
    rq.client_time = now;
    if (client_request(bot->c, PACKET_TYPE__PING_REQUEST, &rq.base, on_pong, s) < 0) {
        run->st.send_failed++;
        return;
    }
    s->busy = 1;
    s->sent_ns = now;
    run_note_sent(run, type_stats(run, PACKET_TYPE__PING_REQUEST), now);
}

static void idle_on_connected(bot_t *bot)
{
    session_t *s = bot->sc;
    const run_t *run = bot->run;
    /* the first PING at a seeded point of the first interval, then every interval */
    uint64_t first = mix64(run->seed * UINT64_C(0x9E3779B97F4A7C15) + bot->index) % run->ping_ms;
    uv_timer_start(&s->timer, on_ping_timer, first + 1, run->ping_ms);
}

static void idle_start(scen_use_t *use)
{
    (void)sess_scenario_start(use, sizeof(sess_pool_t), sizeof(session_t), NULL);
}

/* Holding the connections is the whole point: the common checks (every bot connected, no
 * disconnects, errors or timeouts) say it all. */
static int idle_passed(const run_t *run)
{
    (void)run;
    return 1;
}

static const scenario_hooks_t IDLE_HOOKS = {.base = &SESS_HOOKS, .on_connected = idle_on_connected};

const scenario_t SCENARIO_IDLE = {
    .name = "idle",
    .start = idle_start,
    .passed = idle_passed,
    .hooks = &IDLE_HOOKS,
};
