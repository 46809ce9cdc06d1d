/* scenario idle: hold the connections with keep-alive only. Each connection sends a PING
 * every --ping-ms (the first at a seeded random point of the first interval, so the bots do
 * not ping in lockstep) and nothing else; a PING still unanswered when the next is due is not
 * doubled. The report gives the connections open each second (status samples), the PING
 * latency and the disconnects. */
#include <inttypes.h>

#include "alloc.h"
#include "bot.h"
#include "log.h"
#include "util.h"

typedef struct ibot {
    bot_t *bot;
    uv_timer_t timer;
    uint64_t sent_ns;
    int busy;
} ibot_t;

/* The idle scenario's state: its bots. */
typedef struct idle_pool {
    ibot_t *bots;
    uint32_t n;
} idle_pool_t;

static void on_pong(client_t *c, int status, uint16_t type, const uint8_t *payload, size_t len,
                    void *ud)
{
    ibot_t *b = ud;
    run_t *run = b->bot->run;
    type_stats_t *ts = type_stats(run, PACKET_TYPE__PING_REQUEST);
    uint64_t now = mono_ns();
    (void)c;
    run->inflight--;
    b->busy = 0;
    if (status == CLIENT_ECLOSED) {
        run_note_closed(run);
    } else if (status == CLIENT_ETIMEDOUT) {
        if (run_note_timeout(run, ts))
            log_warn("timeout", "bot=%u request=PING", b->bot->index);
    } else if (type == PACKET_TYPE__PING_RESPONSE) {
        run->t_last_response = now;
        run_note_ok(run, ts, (now - b->sent_ns) / 1000u);
    } else if (type == PACKET_TYPE__ERROR_RESPONSE) {
        run->t_last_response = now;
        const char *msg;
        int code = error_code_of(run, payload, len, &msg);
        count_unexpected(run, ts, code);
        if (run->st.errors <= 5)
            log_warn("unexpected_error", "bot=%u request=PING code=%s message=\"%s\"",
                     b->bot->index, error_code_name(code), msg);
    } else {
        (void)run_note_mismatch(run, ts);
    }
}

static void on_ping_timer(uv_timer_t *t)
{
    ibot_t *b = t->data;
    bot_t *bot = b->bot;
    run_t *run = bot->run;
    if (b->busy || run->stopping || !run_may_send(run) || !bot->c || !client_is_connected(bot->c))
        return;
    PingRequest rq = PING_REQUEST__INIT;
    uint64_t now = mono_ns();
    rq.client_time = now;
    if (client_request(bot->c, PACKET_TYPE__PING_REQUEST, &rq.base, on_pong, b) < 0) {
        run->st.send_failed++;
        return;
    }
    b->busy = 1;
    b->sent_ns = now;
    run_note_sent(run, type_stats(run, PACKET_TYPE__PING_REQUEST), now);
}

static void idle_on_connected(bot_t *bot)
{
    ibot_t *b = bot->sc;
    const run_t *run = bot->run;
    /* the first PING at a seeded point of the first interval, then every interval */
    uint64_t first = mix64(run->seed * UINT64_C(0x9E3779B97F4A7C15) + bot->index) % run->ping_ms;
    uv_timer_start(&b->timer, on_ping_timer, first + 1, run->ping_ms);
}

static void idle_on_gone(bot_t *bot)
{
    ibot_t *b = bot->sc;
    b->busy = 0;
    if (!bot->run->finished)
        uv_timer_stop(&b->timer);
}

static void idle_on_stop(scen_use_t *use)
{
    idle_pool_t *p = use->state;
    for (uint32_t i = 0; i < p->n; i++)
        uv_timer_stop(&p->bots[i].timer);
}

static void idle_on_finish(scen_use_t *use)
{
    idle_pool_t *p = use->state;
    for (uint32_t i = 0; i < p->n; i++)
        if (!uv_is_closing((uv_handle_t *)&p->bots[i].timer))
            uv_close((uv_handle_t *)&p->bots[i].timer, NULL);
}

static void idle_cleanup(scen_use_t *use)
{
    idle_pool_t *p = use->state;
    if (p)
        xfree(p->bots);
    xfree(p);
    use->state = NULL;
}

static void idle_start(scen_use_t *use)
{
    run_t *run = use->run;
    idle_pool_t *p = xcalloc(1, sizeof *p);
    use->state = p;
    p->bots = xcalloc(use->bots + 1u, sizeof *p->bots);
    for (uint32_t i = 0; i < run->nbots; i++) {
        if (run->bots[i].scenario != use->sc)
            continue;
        ibot_t *b = &p->bots[p->n++];
        b->bot = &run->bots[i];
        run->bots[i].sc = b;
        uv_timer_init(run->loop, &b->timer);
        b->timer.data = b;
    }
}

/* Holding the connections is the whole point: the common checks (every bot connected, no
 * disconnects, errors or timeouts) say it all. */
static int idle_passed(const run_t *run)
{
    (void)run;
    return 1;
}

static const scenario_hooks_t IDLE_HOOKS = {
    .on_connected = idle_on_connected,
    .on_gone = idle_on_gone,
    .on_stop = idle_on_stop,
    .on_finish = idle_on_finish,
    .cleanup = idle_cleanup,
};

const scenario_t SCENARIO_IDLE = {
    .name = "idle",
    .start = idle_start,
    .passed = idle_passed,
    .hooks = &IDLE_HOOKS,
};
