/* scenario echo: every bot keeps --pipeline ECHO_REQUESTs to --target in flight, paced at
 * --rate, and checks each response's payload against the one it sent. */
#include <inttypes.h>
#include <string.h>
#include <utlist.h>

#include "bot.h"
#include "log.h"
#include "util.h"

/* ------------------------------------------------------------------ payloads */

/* The payload of bot `index`'s request `seq`: a pure function of the seed, the bot and the
 * seq, so responses are checked without remembering what was sent. A xorshift64 stream from
 * a mixed key: cheap, since every request fills it twice (to send, to check). */
static void payload_fill(uint8_t *out, size_t n, uint64_t seed, uint32_t index, uint32_t seq)
{
    uint64_t x = mix64(seed ^ ((uint64_t)index << 32 | seq)) | 1u;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(out + i, &x, 8);
    }
    if (i < n) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(out + i, &x, n - i);
    }
}

/* ------------------------------------------------------------------ results */

static void count_server(run_t *run, uint32_t id, int served_by)
{
    stats_t *st = &run->st;
    for (int i = 0; i < st->nservers; i++) {
        if (st->servers[i].id == id && st->servers[i].served_by == served_by) {
            st->servers[i].responses++;
            return;
        }
    }
    if (st->nservers == MAX_SERVERS) {
        st->other_servers++;
        return;
    }
    st->servers[st->nservers++] = (server_count_t){id, served_by, 1};
}

/* Every ERROR_RESPONSE is a failure here. */
static void count_error(run_t *run, type_stats_t *ts, const uint8_t *payload, size_t len)
{
    const char *msg;
    int code = error_code_of(run, payload, len, &msg);
    count_unexpected(run, ts, code);
    if (code != ERR_CODES && run->st.errors <= 5)
        log_warn("error_response", "code=%s message=\"%s\"", error_code_name(code), msg);
}

/* ------------------------------------------------------------------ pacing */

static void lane_send(lane_t *l, uint64_t now);

static void wheel_add(lane_t *l)
{
    run_t *run = l->bot->run;
    uint64_t slot_ms = (l->due_ns - run->t_start) / 1000000u;
    if (slot_ms < run->wheel_ms)
        slot_ms = run->wheel_ms;
    LL_PREPEND2(run->wheel[slot_ms % WHEEL_SLOTS], l, next_wait);
}

/* Sends the lane's next request now, or parks it in the pacing wheel until it is due. */
static void lane_next(lane_t *l, uint64_t now)
{
    const run_t *run = l->bot->run;
    if (run->stopping)
        return;
    if (run->interval_ns == 0) {
        lane_send(l, now);
        return;
    }
    l->due_ns += run->interval_ns;
    if (l->due_ns <= now) { /* late: send now, no catching up in bursts */
        l->due_ns = now;
        lane_send(l, now);
        return;
    }
    wheel_add(l);
}

void echo_on_pace(uv_timer_t *t)
{
    run_t *run = t->data;
    uint64_t now = mono_ns();
    uint64_t now_ms = (now - run->t_start) / 1000000u;
    /* a slot is processed once it is wholly in the past, so every lane in it is due (or
     * belongs to a later turn of the wheel) */
    for (; run->wheel_ms < now_ms && !run->stopping; run->wheel_ms++) {
        lane_t **slot = &run->wheel[run->wheel_ms % WHEEL_SLOTS];
        lane_t *due = *slot, *l, *next;
        *slot = NULL; /* lanes of a later turn go back into it */
        LL_FOREACH_SAFE2(due, l, next, next_wait) {
            if (l->due_ns <= now)
                lane_send(l, mono_ns()); /* the time of this send, not of the tick */
            else
                wheel_add(l); /* a later turn of the wheel */
        }
    }
}

/* ------------------------------------------------------------------ requests */

static void on_echo_response(client_t *c, int status, uint16_t type, const uint8_t *payload,
                             size_t len, void *ud)
{
    lane_t *l = ud;
    bot_t *b = l->bot;
    run_t *run = b->run;
    type_stats_t *ts = type_stats(run, PACKET_TYPE__ECHO_REQUEST);
    uint64_t now = mono_ns();
    run->inflight--;
    if (status == CLIENT_ETIMEDOUT) {
        (void)run_note_timeout(run, ts);
    } else if (status == CLIENT_ECLOSED) {
        run_note_closed(run);
        return; /* the bot's connection is gone */
    } else if (type == PACKET_TYPE__ECHO_RESPONSE) {
        run->t_last_response = now;
        EchoResponse *r =
            (EchoResponse *)pb_unpack(&run->arena, &echo_response__descriptor, payload, len);
        if (r && r->payload.len == run->payload_len)
            payload_fill(run->check_buf, run->payload_len, run->seed, b->index, l->seq);
        if (!r || r->payload.len != run->payload_len ||
            (run->payload_len && memcmp(r->payload.data, run->check_buf, run->payload_len) != 0)) {
            if (run_note_mismatch(run, ts))
                log_warn("echo_mismatch", "bot=%u seq=%u len=%zu want_len=%u", b->index, l->seq,
                         r ? r->payload.len : 0, run->payload_len);
        } else {
            run_note_ok(run, ts, (now - l->sent_ns) / 1000u);
            count_server(run, r->server_id, r->served_by);
        }
    } else if (type == PACKET_TYPE__ERROR_RESPONSE) {
        count_error(run, ts, payload, len);
    } else {
        (void)run_note_mismatch(run, ts);
    }
    if (client_is_connected(c))
        lane_next(l, now);
}

/* Sends the lane's next request; now is the time of the send (its latency starts there). */
static void lane_send(lane_t *l, uint64_t now)
{
    bot_t *b = l->bot;
    run_t *run = b->run;
    if (run->stopping || !run_may_send(run) || !b->c || !client_is_connected(b->c))
        return;
    uint32_t seq = client_next_seq(b->c);
    payload_fill(run->send_buf, run->payload_len, run->seed, b->index, seq);
    EchoRequest rq = ECHO_REQUEST__INIT;
    rq.target = run->target;
    rq.payload.data = run->send_buf;
    rq.payload.len = run->payload_len;
    l->sent_ns = now;
    int64_t sent = client_request(b->c, PACKET_TYPE__ECHO_REQUEST, &rq.base, on_echo_response, l);
    if (sent < 0) {
        run->st.send_failed++;
        return;
    }
    l->seq = (uint32_t)sent; /* == seq; the callback never runs inside client_request */
    run_note_sent(run, type_stats(run, PACKET_TYPE__ECHO_REQUEST), now);
}

static void echo_on_connected(bot_t *b)
{
    const run_t *run = b->run;
    uint64_t now = mono_ns();
    for (uint32_t k = 0; k < run->pipeline; k++) {
        lane_t *l = &b->lanes[k];
        if (run->interval_ns == 0) {
            lane_send(l, mono_ns());
        } else {
            /* spread the first sends over one interval so bots do not fire in lockstep */
            l->due_ns = now + mix64(run->seed + b->index * 1315423911u + k) % run->interval_ns;
            wheel_add(l);
        }
    }
}

static void echo_start(scen_use_t *use)
{
    run_t *run = use->run;
    if (run->interval_ns)
        uv_timer_start(&run->pace_timer, echo_on_pace, 1, 1);
}

/* On top of the checks every scenario passes (see passed() in report.c). */
static int echo_passed(const run_t *run)
{
    return run->st.types[type_index(PACKET_TYPE__ECHO_REQUEST)].ok > 0;
}

static const scenario_hooks_t ECHO_HOOKS = {.on_connected = echo_on_connected};

const scenario_t SCENARIO_ECHO = {
    .name = "echo",
    .start = echo_start,
    .passed = echo_passed,
    .hooks = &ECHO_HOOKS,
};
