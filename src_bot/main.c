/* bot: the load-test client: N sessions on one loop drive a scenario against a gateway and
 * report throughput, latency percentiles, errors and which servers answered. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#include "alloc.h"
#include "client.h"
#include "config.h"
#include "frame.h"
#include "hist.h"
#include "log.h"
#include "pb.h"
#include "util.h"

/* ------------------------------------------------------------------ options */

static const cfg_opt_t OPTS[] = {
    {"BOT_SCENARIO", CFG_STR, "echo", "scenario to run: echo (short flag --scenario)", 0, 0},
    {"BOT_GATEWAY", CFG_STR, "127.0.0.1:7000", "gateway HOST:PORT (short flag --gateway)", 0, 0},
    {"BOT_COUNT", CFG_INT, "100", "number of bots, one connection each (short flag --bots)", 1,
     1000000},
    {"BOT_DURATION", CFG_INT, "10",
     "seconds of traffic after the last connect was started (short flag --duration)", 0,
     86400},
    {"BOT_JSON", CFG_STR, "", "also write the results as JSON to this file (short flag --json)",
     0, 0},
    {"BOT_PAYLOAD", CFG_INT, "32", "echo payload bytes per request (short flag --payload)", 0,
     60000},
    {"BOT_PIPELINE", CFG_INT, "1", "requests in flight per bot (short flag --pipeline)", 1, 1024},
    {"BOT_TARGET", CFG_STR, "game", "echo target: lobby or game (short flag --target)", 0, 0},
    {"BOT_CONNECT_RATE", CFG_INT, "2000", "new connections per second (short flag --connect-rate)",
     1, 10000000},
    {"BOT_RATE", CFG_INT, "100",
     "requests per second per bot, 0 = as fast as responses come back; keep it under the "
     "gateway's RATE_LIMIT (short flag --rate)",
     0, 10000000},
    {"BOT_SEED", CFG_INT, "1", "seed of payloads and send jitter (short flag --seed)", 0,
     INT64_MAX},
    {"BOT_TIMEOUT_MS", CFG_INT, "10000",
     "request timeout; also the drain time at the end (short flag --timeout-ms)", 1, 3600000},
    {"BOT_MAX_FRAME", CFG_INT, "65536", "largest frame payload accepted (short flag --max-frame)",
     16, 16777216},
    {"LOG_LEVEL", CFG_STR, "warn", "debug, info, warn or error", 0, 0},
};
#define NOPTS ((int)(sizeof OPTS / sizeof OPTS[0]))

/* Short flags: --scenario is --bot-scenario, and so on. */
static const struct {
    const char *flag;
    const char *env;
} ALIASES[] = {
    {"--scenario", "BOT_SCENARIO"}, {"--gateway", "BOT_GATEWAY"},   {"--bots", "BOT_COUNT"},
    {"--duration", "BOT_DURATION"}, {"--json", "BOT_JSON"},         {"--payload", "BOT_PAYLOAD"},
    {"--pipeline", "BOT_PIPELINE"}, {"--target", "BOT_TARGET"},
    {"--connect-rate", "BOT_CONNECT_RATE"},                         {"--rate", "BOT_RATE"},
    {"--seed", "BOT_SEED"},         {"--timeout-ms", "BOT_TIMEOUT_MS"},
    {"--max-frame", "BOT_MAX_FRAME"},
};

static const char ABOUT[] =
    "bot: load-test client for the cluster's gateway.\n"
    "Runs N bots (one connection each, ramped at --connect-rate) for --duration seconds and\n"
    "prints bots, connects, requests, mismatches, errors by code, disconnects, throughput,\n"
    "latency percentiles and the servers that answered. Exit status 0 only when every bot\n"
    "connected, at least one response came back and there were no mismatches, errors,\n"
    "timeouts or disconnects; 1 otherwise (also for bad options).\n"
    "Scenarios: echo (ECHO_REQUEST to --target, each response's payload checked).";

/* ------------------------------------------------------------------ state */

typedef enum { BOT_IDLE = 0, BOT_CONNECTING, BOT_CONNECTED, BOT_GONE } bot_state_t;

typedef struct bot bot_t;

/* One request slot of a bot: with --pipeline K a bot has K lanes, each with at most one
 * request in flight. The lane is the request's callback context, so nothing is allocated per
 * request. */
typedef struct lane {
    bot_t *bot;
    struct lane *next_wait; /* in a pacing wheel slot */
    uint64_t sent_ns;
    uint64_t due_ns;        /* next send time when paced */
    uint32_t seq;           /* of the request in flight */
} lane_t;

struct bot {
    client_t *c;
    uint32_t index;
    bot_state_t state;
    lane_t *lanes;
};

#define ERR_CODES 64 /* error codes counted by value; larger ones go to the last slot */
#define MAX_SERVERS 256
#define WHEEL_SLOTS 4096 /* pacing wheel, 1 ms per slot */

typedef struct server_count {
    uint32_t id;
    int served_by;
    uint64_t responses;
} server_count_t;

typedef struct stats {
    uint64_t connected, connect_failed, disconnects;
    uint64_t sent, send_failed, ok, mismatches, timeouts, lost, unanswered, pushes;
    uint64_t errors, errors_by_code[ERR_CODES + 1];
    hist_t latency_us;
    server_count_t servers[MAX_SERVERS];
    int nservers;
    uint64_t other_servers;
} stats_t;

typedef struct scenario scenario_t;

typedef struct run {
    /* settings */
    const scenario_t *scenario;
    char host[256];
    int port;
    char gateway[300];
    uint32_t nbots, pipeline, payload_len, max_frame;
    uint64_t duration_ms, connect_rate, rate, seed, timeout_ms;
    EchoTarget target;
    const char *json_path;
    /* loop */
    uv_loop_t *loop;
    conn_loop_t *cl;
    uv_timer_t ramp_timer, stop_timer, tick_timer, pace_timer;
    uv_signal_t sigint, sigterm;
    pb_arena_t arena;
    bot_t *bots;
    lane_t *lanes;
    uint8_t *send_buf, *check_buf;
    uint32_t started;      /* bots whose connect was started */
    uint64_t inflight;
    int stopping, finished;
    /* pacing */
    uint64_t interval_ns;  /* per lane */
    lane_t *wheel[WHEEL_SLOTS];
    uint64_t wheel_ms;     /* next slot to process, in ms since t_start */
    /* times (mono ns) */
    uint64_t t_start, t_first_send, t_stop, t_last_response;
    stats_t st;
} run_t;

static run_t run;

struct scenario {
    const char *name;
    void (*on_connected)(bot_t *b);
};

static void echo_on_connected(bot_t *b);

static const scenario_t SCENARIOS[] = {
    {"echo", echo_on_connected},
};

/* ------------------------------------------------------------------ payloads */

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* The payload of bot `index`'s request `seq`: a pure function, so responses are checked
 * without remembering what was sent. */
static void payload_fill(uint8_t *out, size_t n, uint32_t index, uint32_t seq)
{
    uint64_t key = mix64(run.seed ^ ((uint64_t)index << 32 | seq));
    size_t i = 0;
    for (uint64_t k = 1; i < n; k++) {
        uint64_t x = mix64(key + k * UINT64_C(0x9E3779B97F4A7C15));
        size_t take = n - i < 8 ? n - i : 8;
        memcpy(out + i, &x, take);
        i += take;
    }
}

/* ------------------------------------------------------------------ results */

static void count_server(uint32_t id, int served_by)
{
    stats_t *st = &run.st;
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

static void count_error(const uint8_t *payload, size_t len)
{
    run.st.errors++;
    ErrorResponse *er =
        (ErrorResponse *)pb_unpack(&run.arena, &error_response__descriptor, payload, len);
    int code = er ? (int)er->code : ERR_CODES;
    if (code < 0 || code > ERR_CODES)
        code = ERR_CODES;
    run.st.errors_by_code[code]++;
    if (er && run.st.errors <= 5)
        log_warn("error_response", "code=%s message=\"%s\"", error_code_name(code),
                 er->message ? er->message : "");
}

/* ------------------------------------------------------------------ echo scenario */

static void lane_send(lane_t *l);

static void wheel_add(lane_t *l)
{
    uint64_t slot_ms = (l->due_ns - run.t_start) / 1000000u;
    if (slot_ms < run.wheel_ms)
        slot_ms = run.wheel_ms;
    lane_t **head = &run.wheel[slot_ms % WHEEL_SLOTS];
    l->next_wait = *head;
    *head = l;
}

/* Sends the lane's next request now, or parks it in the pacing wheel until it is due. */
static void lane_next(lane_t *l, uint64_t now)
{
    if (run.stopping)
        return;
    if (run.interval_ns == 0) {
        lane_send(l);
        return;
    }
    l->due_ns += run.interval_ns;
    if (l->due_ns <= now) { /* late: send now, no catching up in bursts */
        l->due_ns = now;
        lane_send(l);
        return;
    }
    wheel_add(l);
}

static void on_pace(uv_timer_t *t)
{
    uint64_t now = mono_ns();
    uint64_t now_ms = (now - run.t_start) / 1000000u;
    /* a slot is processed once it is wholly in the past, so every lane in it is due (or
     * belongs to a later turn of the wheel) */
    for (; run.wheel_ms < now_ms && !run.stopping; run.wheel_ms++) {
        lane_t **head = &run.wheel[run.wheel_ms % WHEEL_SLOTS];
        lane_t *l = *head;
        *head = NULL;
        while (l) {
            lane_t *next = l->next_wait;
            if (l->due_ns <= now)
                lane_send(l);
            else
                wheel_add(l); /* a later turn of the wheel */
            l = next;
        }
    }
}

static void on_echo_response(client_t *c, int status, uint16_t type, const uint8_t *payload,
                             size_t len, void *ud)
{
    lane_t *l = ud;
    bot_t *b = l->bot;
    uint64_t now = mono_ns();
    run.inflight--;
    if (status == CLIENT_ETIMEDOUT) {
        run.st.timeouts++;
    } else if (status == CLIENT_ECLOSED) {
        if (run.finished)
            run.st.unanswered++; /* still pending when the drain time ran out */
        else
            run.st.lost++;
        return; /* the bot's connection is gone */
    } else if (type == PACKET_TYPE__ECHO_RESPONSE) {
        run.t_last_response = now;
        EchoResponse *r =
            (EchoResponse *)pb_unpack(&run.arena, &echo_response__descriptor, payload, len);
        if (r && r->payload.len == run.payload_len)
            payload_fill(run.check_buf, run.payload_len, b->index, l->seq);
        if (!r || r->payload.len != run.payload_len ||
            (run.payload_len && memcmp(r->payload.data, run.check_buf, run.payload_len) != 0)) {
            if (++run.st.mismatches <= 5)
                log_warn("echo_mismatch", "bot=%u seq=%u len=%zu want_len=%u", b->index, l->seq,
                         r ? r->payload.len : 0, run.payload_len);
        } else {
            run.st.ok++;
            uint64_t us = (now - l->sent_ns) / 1000u;
            hist_record(&run.st.latency_us, us ? us : 1);
            count_server(r->server_id, r->served_by);
        }
    } else if (type == PACKET_TYPE__ERROR_RESPONSE) {
        count_error(payload, len);
    } else {
        run.st.mismatches++;
    }
    if (client_is_connected(c))
        lane_next(l, now);
}

static void lane_send(lane_t *l)
{
    bot_t *b = l->bot;
    if (run.stopping || !b->c || !client_is_connected(b->c))
        return;
    uint32_t seq = client_next_seq(b->c);
    payload_fill(run.send_buf, run.payload_len, b->index, seq);
    EchoRequest rq = ECHO_REQUEST__INIT;
    rq.target = run.target;
    rq.payload.data = run.send_buf;
    rq.payload.len = run.payload_len;
    l->sent_ns = mono_ns();
    int64_t sent = client_request(b->c, PACKET_TYPE__ECHO_REQUEST, &rq.base, on_echo_response, l);
    if (sent < 0) {
        run.st.send_failed++;
        return;
    }
    l->seq = (uint32_t)sent; /* == seq; the callback never runs inside client_request */
    if (run.t_first_send == 0)
        run.t_first_send = l->sent_ns;
    run.st.sent++;
    run.inflight++;
}

static void echo_on_connected(bot_t *b)
{
    uint64_t now = mono_ns();
    for (uint32_t k = 0; k < run.pipeline; k++) {
        lane_t *l = &b->lanes[k];
        if (run.interval_ns == 0) {
            lane_send(l);
        } else {
            /* spread the first sends over one interval so bots do not fire in lockstep */
            l->due_ns = now + mix64(run.seed + b->index * 1315423911u + k) % run.interval_ns;
            wheel_add(l);
        }
    }
}

/* ------------------------------------------------------------------ bots and the run */

static uint32_t alive; /* bots connecting or connected */

static void run_stop(void);

static void on_push(client_t *c, uint16_t type, uint32_t seq, const uint8_t *payload, size_t len,
                    void *ud)
{
    bot_t *b = ud;
    run.st.pushes++;
    if (type == PACKET_TYPE__KICKED) {
        Kicked *k = (Kicked *)pb_unpack(&run.arena, &kicked__descriptor, payload, len);
        log_warn("kicked", "bot=%u code=%s reason=\"%s\"", b->index,
                 error_code_name(k ? (int)k->code : -1), k && k->reason ? k->reason : "");
    }
}

static void on_event(client_t *c, int event, int status, void *ud)
{
    bot_t *b = ud;
    if (event == CLIENT_EV_CONNECTED) {
        b->state = BOT_CONNECTED;
        run.st.connected++;
        if (!run.stopping)
            run.scenario->on_connected(b);
        return;
    }
    if (b->state == BOT_CONNECTING) {
        if (++run.st.connect_failed <= 5)
            log_warn("connect_failed", "bot=%u gateway=%s err=%s", b->index, run.gateway,
                     uv_err_name(status));
    } else {
        if (++run.st.disconnects <= 5)
            log_warn("disconnected", "bot=%u reason=%s", b->index, conn_reason_str(status));
    }
    b->state = BOT_GONE;
    b->c = NULL;
    client_close(c);
    if (--alive == 0 && run.started == run.nbots && !run.stopping)
        run_stop(); /* nobody left to wait for */
}

static void bot_start(bot_t *b)
{
    b->c = client_new(run.loop, run.cl, run.max_frame);
    client_set_timeout(b->c, run.timeout_ms);
    client_set_push_cb(b->c, on_push, b);
    int rc = client_connect(b->c, run.host, run.port, on_event, b);
    if (rc) {
        if (++run.st.connect_failed <= 5)
            log_warn("connect_failed", "bot=%u gateway=%s err=%s", b->index, run.gateway,
                     uv_err_name(rc));
        client_close(b->c);
        b->c = NULL;
        b->state = BOT_GONE;
        return;
    }
    b->state = BOT_CONNECTING;
    alive++;
}

static void on_stop_timer(uv_timer_t *t) { run_stop(); }

static void on_ramp(uv_timer_t *t)
{
    double elapsed_s = (double)(mono_ns() - run.t_start) / 1e9;
    double want = elapsed_s * (double)run.connect_rate + 1.0;
    while (run.started < run.nbots && (double)run.started < want && !run.stopping)
        bot_start(&run.bots[run.started++]);
    if (run.started == run.nbots || run.stopping) {
        uv_timer_stop(&run.ramp_timer);
        if (!run.stopping)
            uv_timer_start(&run.stop_timer, on_stop_timer, run.duration_ms, 0);
        if (alive == 0 && !run.stopping)
            run_stop();
    }
}

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* Ends the run: requests still pending are counted as unanswered, every client closes. */
static void run_finish(void)
{
    if (run.finished)
        return;
    run.finished = 1;
    run.stopping = 1;
    close_handle((uv_handle_t *)&run.ramp_timer);
    close_handle((uv_handle_t *)&run.stop_timer);
    close_handle((uv_handle_t *)&run.tick_timer);
    close_handle((uv_handle_t *)&run.pace_timer);
    close_handle((uv_handle_t *)&run.sigint);
    close_handle((uv_handle_t *)&run.sigterm);
    for (uint32_t i = 0; i < run.nbots; i++) {
        bot_t *b = &run.bots[i];
        if (b->state == BOT_CONNECTING && ++run.st.connect_failed <= 5)
            log_warn("connect_failed", "bot=%u gateway=%s err=still_connecting", b->index,
                     run.gateway);
        if (b->c) {
            client_t *c = b->c;
            b->c = NULL;
            client_close(c);
        }
        b->state = BOT_GONE;
    }
}

/* Drain: waits for the responses still in flight (each one is answered or times out within
 * timeout_ms) and for connects still in progress. */
static void on_tick(uv_timer_t *t)
{
    uint64_t now = mono_ns();
    int connecting = 0;
    for (uint32_t i = 0; i < run.nbots && !connecting; i++)
        connecting = run.bots[i].state == BOT_CONNECTING;
    if ((run.inflight == 0 && !connecting) ||
        now - run.t_stop > (run.timeout_ms + 500) * UINT64_C(1000000))
        run_finish();
}

static void run_stop(void)
{
    if (run.stopping)
        return;
    run.stopping = 1;
    run.t_stop = mono_ns();
    uv_timer_stop(&run.ramp_timer);
    uv_timer_stop(&run.stop_timer);
    uv_timer_stop(&run.pace_timer);
    uv_timer_start(&run.tick_timer, on_tick, 0, 10);
}

static void on_signal(uv_signal_t *s, int signum)
{
    if (!run.stopping) {
        log_warn("interrupted", "signal=%d action=stop", signum);
        run_stop();
    } else {
        run_finish();
    }
}

/* ------------------------------------------------------------------ report */

static double duration_s(void)
{
    if (run.t_first_send == 0)
        return 0.0;
    uint64_t end = run.t_stop > run.t_last_response ? run.t_stop : run.t_last_response;
    return end > run.t_first_send ? (double)(end - run.t_first_send) / 1e9 : 0.0;
}

static double throughput(void)
{
    double d = duration_s();
    return d > 0 ? (double)run.st.ok / d : 0.0;
}

static int passed(void)
{
    const stats_t *st = &run.st;
    return st->connected == run.nbots && st->connect_failed == 0 && st->mismatches == 0 &&
           st->errors == 0 && st->disconnects == 0 && st->timeouts == 0 && st->lost == 0 &&
           st->unanswered == 0 && st->send_failed == 0 && st->ok > 0;
}

static const char *target_name(int t)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&echo_target__descriptor, t);
    return v ? v->name : "UNKNOWN";
}

static double ms(uint64_t us) { return (double)us / 1000.0; }

static const double PCTS[] = {50, 90, 99, 99.9};
static const char *const PCT_NAMES[] = {"p50", "p90", "p99", "p99_9"};

static void print_report(FILE *f)
{
    const stats_t *st = &run.st;
    const hist_t *h = &st->latency_us;
    fprintf(f, "\nbot scenario=%s gateway=%s target=%s payload=%u pipeline=%u rate=%" PRIu64
               "/s per bot\n",
            run.scenario->name, run.gateway, target_name(run.target), run.payload_len,
            run.pipeline, run.rate);
    fprintf(f, "  %-22s %u\n", "bots", run.nbots);
    fprintf(f, "  %-22s %" PRIu64 "\n", "connected", st->connected);
    fprintf(f, "  %-22s %" PRIu64 "\n", "connect failures", st->connect_failed);
    fprintf(f, "  %-22s %" PRIu64 "\n", "requests sent", st->sent);
    fprintf(f, "  %-22s %" PRIu64 "\n", "responses ok", st->ok);
    fprintf(f, "  %-22s %" PRIu64 "\n", "mismatches", st->mismatches);
    fprintf(f, "  %-22s %" PRIu64 "\n", "errors", st->errors);
    for (int i = 0; i <= ERR_CODES; i++)
        if (st->errors_by_code[i])
            fprintf(f, "    %-20s %" PRIu64 "\n",
                    i == ERR_CODES ? "(unparsed)" : error_code_name(i), st->errors_by_code[i]);
    fprintf(f, "  %-22s %" PRIu64 "\n", "timeouts", st->timeouts);
    fprintf(f, "  %-22s %" PRIu64 "\n", "lost (conn closed)", st->lost);
    fprintf(f, "  %-22s %" PRIu64 "\n", "unanswered at end", st->unanswered);
    fprintf(f, "  %-22s %" PRIu64 "\n", "send failures", st->send_failed);
    fprintf(f, "  %-22s %" PRIu64 "\n", "disconnects", st->disconnects);
    fprintf(f, "  %-22s %" PRIu64 "\n", "pushes received", st->pushes);
    fprintf(f, "  %-22s %.3f s\n", "duration", duration_s());
    fprintf(f, "  %-22s %.1f req/s\n", "throughput", throughput());
    fprintf(f, "  %-22s", "latency ms");
    for (size_t i = 0; i < sizeof PCTS / sizeof PCTS[0]; i++)
        fprintf(f, " %s=%.3f", PCT_NAMES[i], ms(hist_percentile(h, PCTS[i])));
    fprintf(f, " max=%.3f mean=%.3f\n", ms(hist_max(h)), hist_mean(h) / 1000.0);
    fprintf(f, "  %-22s", "echo targets seen");
    if (st->nservers == 0)
        fprintf(f, " none");
    for (int i = 0; i < st->nservers; i++)
        fprintf(f, " %s#%u=%" PRIu64, target_name(st->servers[i].served_by), st->servers[i].id,
                st->servers[i].responses);
    if (st->other_servers)
        fprintf(f, " others=%" PRIu64, st->other_servers);
    fprintf(f, "\n  %-22s %s\n", "result", passed() ? "PASS" : "FAIL");
}

static int write_json(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        log_error("json_open_failed", "path=%s err=\"%s\"", path, strerror(errno));
        return -1;
    }
    const stats_t *st = &run.st;
    const hist_t *h = &st->latency_us;
    fprintf(f, "{\n  \"scenario\": \"%s\",\n  \"gateway\": \"%s\",\n  \"target\": \"%s\",\n",
            run.scenario->name, run.gateway, target_name(run.target));
    fprintf(f, "  \"payload\": %u,\n  \"pipeline\": %u,\n  \"rate_per_bot\": %" PRIu64 ",\n",
            run.payload_len, run.pipeline, run.rate);
    fprintf(f, "  \"bots\": %u,\n  \"connected\": %" PRIu64 ",\n  \"connect_failures\": %" PRIu64
               ",\n",
            run.nbots, st->connected, st->connect_failed);
    fprintf(f, "  \"requests_sent\": %" PRIu64 ",\n  \"responses_ok\": %" PRIu64
               ",\n  \"mismatches\": %" PRIu64 ",\n",
            st->sent, st->ok, st->mismatches);
    fprintf(f, "  \"errors\": %" PRIu64 ",\n  \"errors_by_code\": {", st->errors);
    int first = 1;
    for (int i = 0; i <= ERR_CODES; i++) {
        if (!st->errors_by_code[i])
            continue;
        fprintf(f, "%s\"%s\": %" PRIu64, first ? "" : ", ",
                i == ERR_CODES ? "UNPARSED" : error_code_name(i), st->errors_by_code[i]);
        first = 0;
    }
    fprintf(f, "},\n  \"timeouts\": %" PRIu64 ",\n  \"lost\": %" PRIu64
               ",\n  \"unanswered\": %" PRIu64 ",\n  \"send_failures\": %" PRIu64
               ",\n  \"disconnects\": %" PRIu64 ",\n  \"pushes\": %" PRIu64 ",\n",
            st->timeouts, st->lost, st->unanswered, st->send_failed, st->disconnects,
            st->pushes);
    fprintf(f, "  \"duration_s\": %.3f,\n  \"throughput_rps\": %.1f,\n  \"latency_ms\": {",
            duration_s(), throughput());
    for (size_t i = 0; i < sizeof PCTS / sizeof PCTS[0]; i++)
        fprintf(f, "\"%s\": %.3f, ", PCT_NAMES[i], ms(hist_percentile(h, PCTS[i])));
    fprintf(f, "\"max\": %.3f, \"mean\": %.3f, \"samples\": %" PRIu64 "},\n", ms(hist_max(h)),
            hist_mean(h) / 1000.0, hist_count(h));
    fprintf(f, "  \"echo_targets\": [");
    for (int i = 0; i < st->nservers; i++)
        fprintf(f, "%s\n    {\"server_id\": %u, \"served_by\": \"%s\", \"responses\": %" PRIu64 "}",
                i ? "," : "", st->servers[i].id, target_name(st->servers[i].served_by),
                st->servers[i].responses);
    fprintf(f, "%s],\n  \"pass\": %s\n}\n", st->nservers ? "\n  " : "",
            passed() ? "true" : "false");
    int rc = ferror(f) ? -1 : 0;
    if (fclose(f) != 0)
        rc = -1;
    if (rc)
        log_error("json_write_failed", "path=%s", path);
    return rc;
}

/* ------------------------------------------------------------------ setup */

/* Rewrites the short flags (--bots 10, --bots=10) into the table's --bot-count form. The
 * returned strings are xmalloc'ed; argv itself is not changed. */
static char **expand_aliases(int argc, char **argv)
{
    char **out = xcalloc((size_t)argc + 1, sizeof *out);
    int value_next = 0; /* the previous argument was a flag without =: this is its value */
    for (int a = 0; a < argc; a++) {
        const char *arg = argv[a];
        const char *env = NULL, *rest = "";
        int is_value = value_next;
        value_next = a > 0 && !is_value && strncmp(arg, "--", 2) == 0 && !strchr(arg, '=');
        for (size_t i = 0; a > 0 && !is_value && i < sizeof ALIASES / sizeof ALIASES[0]; i++) {
            size_t n = strlen(ALIASES[i].flag);
            if (strncmp(arg, ALIASES[i].flag, n) == 0 && (arg[n] == '\0' || arg[n] == '=')) {
                env = ALIASES[i].env;
                rest = arg + n;
                break;
            }
        }
        if (!env) {
            out[a] = xstrdup(arg);
            continue;
        }
        size_t n = 2 + strlen(env) + strlen(rest) + 1;
        char *f = xmalloc(n);
        size_t k = 0;
        f[k++] = '-';
        f[k++] = '-';
        for (const char *p = env; *p; p++)
            f[k++] = *p == '_' ? '-' : (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        strcpy(f + k, rest);
        out[a] = f;
    }
    return out;
}

static void free_args(int argc, char **args)
{
    for (int a = 0; a < argc; a++)
        xfree(args[a]);
    xfree(args);
}

/* Resolves host (numeric, or a name through a blocking lookup before the loop runs) into the
 * numeric form client_connect takes. */
static int resolve_host(uv_loop_t *loop, const char *name, char *out, size_t n)
{
    struct sockaddr_storage ss;
    if (addr_make(name, 0, &ss) == 0) {
        snprintf(out, n, "%s", name);
        return 0;
    }
    uv_getaddrinfo_t req;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int rc = uv_getaddrinfo(loop, &req, NULL, name, NULL, &hints);
    if (rc)
        return rc;
    addr_host(req.addrinfo->ai_addr, out, n);
    uv_freeaddrinfo(req.addrinfo);
    return 0;
}

static void raise_fd_limit(uint64_t need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
        return;
    rlim_t want = need < rl.rlim_max ? need : rl.rlim_max;
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || want < need)
        log_warn("fd_limit_low", "need=%" PRIu64 " have=%llu", need, (unsigned long long)want);
}

static int setup(const config_t *cfg)
{
    const char *sc = config_str(cfg, "BOT_SCENARIO");
    for (size_t i = 0; i < sizeof SCENARIOS / sizeof SCENARIOS[0]; i++)
        if (strcmp(SCENARIOS[i].name, sc) == 0)
            run.scenario = &SCENARIOS[i];
    if (!run.scenario) {
        fprintf(stderr, "bot: unknown scenario '%s' (see --help)\n", sc);
        return -1;
    }
    const char *t = config_str(cfg, "BOT_TARGET");
    if (strcmp(t, "game") == 0)
        run.target = ECHO_TARGET__GAME;
    else if (strcmp(t, "lobby") == 0)
        run.target = ECHO_TARGET__LOBBY;
    else {
        fprintf(stderr, "bot: --target must be lobby or game, got '%s'\n", t);
        return -1;
    }
    snprintf(run.gateway, sizeof run.gateway, "%s", config_str(cfg, "BOT_GATEWAY"));
    char name[256];
    if (addr_split(run.gateway, name, sizeof name, &run.port) < 0 || run.port == 0) {
        fprintf(stderr, "bot: --gateway must be HOST:PORT, got '%s'\n", run.gateway);
        return -1;
    }
    int rc = resolve_host(run.loop, name, run.host, sizeof run.host);
    if (rc) {
        fprintf(stderr, "bot: cannot resolve '%s': %s\n", name, uv_strerror(rc));
        return -1;
    }
    run.nbots = (uint32_t)config_int(cfg, "BOT_COUNT");
    run.duration_ms = (uint64_t)config_int(cfg, "BOT_DURATION") * 1000u;
    run.payload_len = (uint32_t)config_int(cfg, "BOT_PAYLOAD");
    run.pipeline = (uint32_t)config_int(cfg, "BOT_PIPELINE");
    run.connect_rate = (uint64_t)config_int(cfg, "BOT_CONNECT_RATE");
    run.rate = (uint64_t)config_int(cfg, "BOT_RATE");
    run.seed = (uint64_t)config_int(cfg, "BOT_SEED");
    run.timeout_ms = (uint64_t)config_int(cfg, "BOT_TIMEOUT_MS");
    run.max_frame = (uint32_t)config_int(cfg, "BOT_MAX_FRAME");
    const char *json = config_str(cfg, "BOT_JSON");
    run.json_path = *json ? json : NULL;
    if (run.rate) {
        run.interval_ns = (uint64_t)((double)run.pipeline * 1e9 / (double)run.rate);
        if (run.interval_ns == 0)
            run.interval_ns = 1;
    }
    raise_fd_limit((uint64_t)run.nbots + 64);
    return 0;
}

int main(int argc, char **argv)
{
    log_init("bot", LOG_WARN);
    char **args = expand_aliases(argc, argv);
    config_t cfg;
    int rc = config_load(&cfg, OPTS, NOPTS, argc, args, ABOUT);
    if (rc != 0) {
        if (rc == 1)
            printf("\nShort flags: --scenario, --gateway, --bots, --duration, --json, --payload,\n"
                   "--pipeline, --target, --connect-rate, --rate, --seed, --timeout-ms and\n"
                   "--max-frame are the --bot-... flags above (--bots is --bot-count).\n");
        free_args(argc, args);
        return rc == 1 ? 0 : 1;
    }
    int lvl = log_level_parse(config_str(&cfg, "LOG_LEVEL"));
    if (lvl < 0) {
        fprintf(stderr, "bot: bad LOG_LEVEL '%s'\n", config_str(&cfg, "LOG_LEVEL"));
        free_args(argc, args);
        return 1;
    }
    log_set_level((log_level_t)lvl);

    run.loop = uv_default_loop();
    if (setup(&cfg) != 0) {
        free_args(argc, args);
        return 1;
    }
    run.cl = conn_loop_new(run.loop);
    pb_arena_init(&run.arena, (size_t)run.max_frame * 2 + 4096);
    hist_init(&run.st.latency_us);
    run.bots = xcalloc(run.nbots, sizeof *run.bots);
    run.lanes = xcalloc((size_t)run.nbots * run.pipeline, sizeof *run.lanes);
    for (uint32_t i = 0; i < run.nbots; i++) {
        run.bots[i].index = i;
        run.bots[i].lanes = &run.lanes[(size_t)i * run.pipeline];
        for (uint32_t k = 0; k < run.pipeline; k++)
            run.bots[i].lanes[k].bot = &run.bots[i];
    }
    run.send_buf = xmalloc(run.payload_len + 1u);
    run.check_buf = xmalloc(run.payload_len + 1u);
    uv_timer_init(run.loop, &run.ramp_timer);
    uv_timer_init(run.loop, &run.stop_timer);
    uv_timer_init(run.loop, &run.tick_timer);
    uv_timer_init(run.loop, &run.pace_timer);
    uv_signal_init(run.loop, &run.sigint);
    uv_signal_init(run.loop, &run.sigterm);
    uv_signal_start(&run.sigint, on_signal, SIGINT);
    uv_signal_start(&run.sigterm, on_signal, SIGTERM);

    log_info("bot_start", "scenario=%s gateway=%s host=%s bots=%u duration_s=%" PRIu64
                          " pipeline=%u rate=%" PRIu64,
             run.scenario->name, run.gateway, run.host, run.nbots, run.duration_ms / 1000,
             run.pipeline, run.rate);
    run.t_start = mono_ns();
    uv_update_time(run.loop);
    uv_timer_start(&run.ramp_timer, on_ramp, 0, 5);
    if (run.interval_ns)
        uv_timer_start(&run.pace_timer, on_pace, 1, 1);
    uv_run(run.loop, UV_RUN_DEFAULT);
    run_finish(); /* normally done already; closes everything if the loop ran dry */
    uv_run(run.loop, UV_RUN_DEFAULT);
    conn_loop_close(run.cl);
    uv_run(run.loop, UV_RUN_DEFAULT);
    if (uv_loop_close(run.loop) != 0)
        log_warn("loop_busy", "%s", "at=exit");

    print_report(stdout);
    fflush(stdout);
    int ok = passed();
    if (run.json_path && write_json(run.json_path) != 0)
        ok = 0;

    xfree(run.check_buf);
    xfree(run.send_buf);
    xfree(run.lanes);
    xfree(run.bots);
    pb_arena_free(&run.arena);
    free_args(argc, args);
    return ok ? 0 : 1;
}
