/* bot: the load-test client: N sessions on one loop drive a scenario (or a mix of them)
 * against one or more gateways and report throughput, latency percentiles, errors and which
 * servers answered. This file runs the bots (options, connects, stop and drain, the shared
 * counters); scenario_*.c drive them (session.c holds what the account scenarios share),
 * status.c prints the live status line, report.c the results, options.c holds the options. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include "alloc.h"
#include "bot.h"
#include "log.h"
#include "util.h"

/* Calls a scenario's hook f (its own, else its base's) when it has one. */
#define CALL_HOOK(sc, f, ...)                                                                    \
    do {                                                                                         \
        const scenario_hooks_t *h_ = (sc)->hooks;                                                \
        __typeof__(h_->f) fn_ = h_->f ? h_->f : h_->base ? h_->base->f : NULL;                   \
        if (fn_)                                                                                 \
            fn_(__VA_ARGS__);                                                                    \
    } while (0)

/* ------------------------------------------------------------------ counters */

uint32_t scenario_bots(const run_t *run, const scenario_t *sc)
{
    for (int i = 0; i < run->nused; i++)
        if (run->used[i].sc == sc)
            return run->used[i].bots;
    return 0;
}

int scenario_used(const run_t *run, const scenario_t *sc) { return scenario_bots(run, sc) > 0; }

static void on_stop_timer(uv_timer_t *t);

int run_may_send(const run_t *run) { return !run->count_reached || run->stopping; }

void run_note_sent(run_t *run, type_stats_t *ts, uint64_t now)
{
    if (run->t_first_send == 0)
        run->t_first_send = now;
    run->st.sent++;
    ts->sent++;
    run->inflight++;
    if (run->max_requests && run->st.sent >= run->max_requests && !run->count_reached) {
        run->count_reached = 1; /* stop from the loop, not from inside a send */
        if (!run->stopping)
            uv_timer_start(&run->stop_timer, on_stop_timer, 0, 0);
    }
}

void run_note_ok(run_t *run, type_stats_t *ts, uint64_t us)
{
    if (!us)
        us = 1;
    run->st.ok++;
    ts->ok++;
    hist_record(&run->st.latency_us, us);
    hist_record(&ts->latency_us, us);
    hist_record(&run->win_latency_us, us);
    run->win_ok++;
}

void run_note_closed(run_t *run)
{
    if (run->finished)
        run->st.unanswered++; /* still pending when the drain time ran out */
    else
        run->st.lost++;
}

int run_note_timeout(run_t *run, type_stats_t *ts)
{
    ts->timeouts++;
    return ++run->st.timeouts <= 5;
}

int run_note_mismatch(run_t *run, type_stats_t *ts)
{
    ts->mismatches++;
    return ++run->st.mismatches <= 5;
}

int error_code_of(run_t *run, const uint8_t *payload, size_t len, const char **message)
{
    ErrorResponse *er =
        (ErrorResponse *)pb_unpack(&run->arena, &error_response__descriptor, payload, len);
    *message = er && er->message ? er->message : "";
    int code = er ? (int)er->code : ERR_CODES;
    return code < 0 || code > ERR_CODES ? ERR_CODES : code;
}

void count_expected(run_t *run, type_stats_t *ts, int code)
{
    run->st.expected++;
    run->st.expected_by_code[code]++;
    ts->expected++;
    ts->expected_by_code[code]++;
}

void count_unexpected(run_t *run, type_stats_t *ts, int code)
{
    run->st.errors++;
    run->st.errors_by_code[code]++;
    ts->unexpected++;
    ts->unexpected_by_code[code]++;
}

/* ------------------------------------------------------------------ bots and the run */

static void run_stop(run_t *run);

static void on_push(client_t *c, uint16_t type, uint32_t seq, const uint8_t *payload, size_t len,
                    void *ud)
{
    bot_t *b = ud;
    run_t *run = b->run;
    run->st.pushes++;
    if (seq != 0)
        run->st.late_responses++;
    else
        run->st.push_by_type[type < PUSH_TYPES ? type : PUSH_TYPES]++;
    if (type == PACKET_TYPE__KICKED) {
        Kicked *k = (Kicked *)pb_unpack(&run->arena, &kicked__descriptor, payload, len);
        log_warn("kicked", "bot=%u code=%s reason=\"%s\"", b->index,
                 error_code_name(k ? (int)k->code : -1), k && k->reason ? k->reason : "");
    }
    CALL_HOOK(b->scenario, on_push, b, type, seq, payload, len);
}

static void on_event(client_t *c, int event, int status, void *ud)
{
    bot_t *b = ud;
    run_t *run = b->run;
    gateway_t *gw = &run->gws[b->gw];
    if (event == CLIENT_EV_CONNECTED) {
        b->state = BOT_CONNECTED;
        run->st.connected++;
        run->connected_now++;
        gw->connected++;
        if (!run->stopping)
            CALL_HOOK(b->scenario, on_connected, b);
        return;
    }
    if (b->state == BOT_CONNECTING) {
        gw->connect_failed++;
        if (++run->st.connect_failed <= 5)
            log_warn("connect_failed", "bot=%u gateway=%s err=%s", b->index, gw->text,
                     status < 0 ? uv_err_name(status) : conn_reason_str(status));
    } else {
        run->connected_now--;
        gw->disconnects++;
        if (++run->st.disconnects <= 5)
            log_warn("disconnected", "bot=%u gateway=%s reason=%s", b->index, gw->text,
                     conn_reason_str(status));
    }
    b->state = BOT_GONE;
    b->c = NULL;
    client_close(c);
    CALL_HOOK(b->scenario, on_gone, b);
    if (--run->alive == 0 && run->started == run->nbots && !run->stopping)
        run_stop(run); /* nobody left to wait for */
}

static void bot_start(bot_t *b)
{
    run_t *run = b->run;
    gateway_t *gw = &run->gws[b->gw];
    b->c = client_new(run->loop, run->cl, run->max_frame);
    client_set_timeout(b->c, run->timeout_ms);
    client_set_push_cb(b->c, on_push, b);
    if (run->xport)
        client_set_xport(b->c, run->xport);
    if (run->nsources)
        client_set_source(b->c,
                          (const struct sockaddr *)&run->sources[b->index % run->nsources]);
    int rc = client_connect(b->c, gw->host, gw->port, on_event, b);
    if (rc) {
        gw->connect_failed++;
        if (++run->st.connect_failed <= 5)
            log_warn("connect_failed", "bot=%u gateway=%s err=%s", b->index, gw->text,
                     uv_err_name(rc));
        client_close(b->c);
        b->c = NULL;
        b->state = BOT_GONE;
        return;
    }
    b->state = BOT_CONNECTING;
    run->alive++;
}

static void on_stop_timer(uv_timer_t *t) { run_stop(t->data); }

static void on_ramp(uv_timer_t *t)
{
    run_t *run = t->data;
    double elapsed_s = (double)(mono_ns() - run->t_start) / 1e9;
    double want = elapsed_s * (double)run->connect_rate + 1.0;
    while (run->started < run->nbots && (double)run->started < want && !run->stopping)
        bot_start(&run->bots[run->started++]);
    if (run->started == run->nbots || run->stopping) {
        uv_timer_stop(&run->ramp_timer);
        if (!run->stopping && !run->count_reached)
            uv_timer_start(&run->stop_timer, on_stop_timer, run->duration_ms, 0);
        if (run->alive == 0 && !run->stopping)
            run_stop(run);
    }
}

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* Ends the run: requests still pending are counted as unanswered, every client closes. */
static void run_finish(run_t *run)
{
    if (run->finished)
        return;
    run->finished = 1;
    run->stopping = 1;
    close_handle((uv_handle_t *)&run->ramp_timer);
    close_handle((uv_handle_t *)&run->stop_timer);
    close_handle((uv_handle_t *)&run->tick_timer);
    close_handle((uv_handle_t *)&run->pace_timer);
    close_handle((uv_handle_t *)&run->status_timer);
    close_handle((uv_handle_t *)&run->sigint);
    close_handle((uv_handle_t *)&run->sigterm);
    for (int i = 0; i < run->nused; i++)
        CALL_HOOK(run->used[i].sc, on_finish, &run->used[i]);
    for (uint32_t i = 0; i < run->nbots; i++) {
        bot_t *b = &run->bots[i];
        if (b->state == BOT_CONNECTING && ++run->st.connect_failed <= 5)
            log_warn("connect_failed", "bot=%u gateway=%s err=still_connecting", b->index,
                     run->gws[b->gw].text);
        if (b->state == BOT_CONNECTED)
            run->connected_now--;
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
    run_t *run = t->data;
    uint64_t now = mono_ns();
    int connecting = 0;
    for (uint32_t i = 0; i < run->nbots && !connecting; i++)
        connecting = run->bots[i].state == BOT_CONNECTING;
    if ((run->inflight == 0 && !connecting) ||
        now - run->t_stop > (run->timeout_ms + 500) * UINT64_C(1000000))
        run_finish(run);
}

static void run_stop(run_t *run)
{
    if (run->stopping)
        return;
    run->stopping = 1;
    run->t_stop = mono_ns();
    uv_timer_stop(&run->ramp_timer);
    uv_timer_stop(&run->stop_timer);
    uv_timer_stop(&run->pace_timer);
    uv_timer_start(&run->tick_timer, on_tick, 0, 10);
    for (int i = 0; i < run->nused; i++)
        CALL_HOOK(run->used[i].sc, on_stop, &run->used[i]);
}

static void on_signal(uv_signal_t *s, int signum)
{
    run_t *run = s->data;
    if (!run->stopping) {
        log_warn("interrupted", "signal=%d action=stop", signum);
        run_stop(run);
    } else {
        run_finish(run);
    }
}

/* ------------------------------------------------------------------ setup */

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

/* Calls fn(item, ctx) for each item of a comma list (items trimmed of spaces, empty ones
 * skipped); stops at the first that returns -1. */
static int each_item(const char *list, int (*fn)(const char *item, void *ctx), void *ctx)
{
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char item[512];
        while (len && (*p == ' ' || *p == '\t'))
            p++, len--;
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len >= sizeof item) {
            fprintf(stderr, "bot: list item too long: '%.40s...'\n", p);
            return -1;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        if (len && fn(item, ctx) != 0)
            return -1;
        if (!e)
            break;
        p = e + 1;
    }
    return 0;
}

static int add_gateway(const char *item, void *ctx)
{
    run_t *run = ctx;
    if (run->ngws == MAX_GATEWAYS) {
        fprintf(stderr, "bot: at most %d gateways\n", MAX_GATEWAYS);
        return -1;
    }
    gateway_t *gw = &run->gws[run->ngws];
    char name[256];
    if (strlen(item) >= sizeof gw->text || addr_split(item, name, sizeof name, &gw->port) < 0 ||
        gw->port == 0) {
        fprintf(stderr, "bot: --gateway must be HOST:PORT[,HOST:PORT...], got '%s'\n", item);
        return -1;
    }
    snprintf(gw->text, sizeof gw->text, "%s", item);
    int rc = resolve_host(run->loop, name, gw->host, sizeof gw->host);
    if (rc) {
        fprintf(stderr, "bot: cannot resolve '%s': %s\n", name, uv_strerror(rc));
        return -1;
    }
    run->ngws++;
    return 0;
}

/* --source-addrs: addresses or IPv4 ranges A-B, at most MAX_SOURCES in all. */
#define MAX_SOURCES 65536

static void source_push(run_t *run, const struct sockaddr_storage *sa)
{
    run->sources = xrealloc(run->sources, (run->nsources + 1) * sizeof *run->sources);
    run->sources[run->nsources++] = *sa;
}

static int add_source(const char *item, void *ctx)
{
    run_t *run = ctx;
    char a[64], b[64];
    const char *dash = strchr(item, '-');
    struct sockaddr_storage sa, sb;
    if (!dash) {
        if (addr_make(item, 0, &sa) != 0) {
            fprintf(stderr, "bot: --source-addrs: '%s' is not a numeric IP address\n", item);
            return -1;
        }
        source_push(run, &sa);
    } else {
        size_t la = (size_t)(dash - item);
        if (la >= sizeof a || strlen(dash + 1) >= sizeof b) {
            fprintf(stderr, "bot: --source-addrs: bad range '%s'\n", item);
            return -1;
        }
        memcpy(a, item, la);
        a[la] = '\0';
        snprintf(b, sizeof b, "%s", dash + 1);
        if (addr_make(a, 0, &sa) != 0 || addr_make(b, 0, &sb) != 0 || sa.ss_family != AF_INET ||
            sb.ss_family != AF_INET) {
            fprintf(stderr, "bot: --source-addrs: '%s' is not an IPv4 range A-B\n", item);
            return -1;
        }
        uint32_t lo = ntohl(((struct sockaddr_in *)&sa)->sin_addr.s_addr);
        uint32_t hi = ntohl(((struct sockaddr_in *)&sb)->sin_addr.s_addr);
        if (hi < lo || hi - lo >= MAX_SOURCES) {
            fprintf(stderr, "bot: --source-addrs: range '%s' is empty or too long\n", item);
            return -1;
        }
        if (run->nsources + (hi - lo + 1) > MAX_SOURCES) {
            fprintf(stderr, "bot: --source-addrs: more than %d addresses\n", MAX_SOURCES);
            return -1;
        }
        for (uint32_t ip = lo;; ip++) {
            struct sockaddr_in *in = (struct sockaddr_in *)&sa;
            in->sin_addr.s_addr = htonl(ip);
            source_push(run, &sa);
            if (ip == hi)
                break;
        }
    }
    if (run->nsources > MAX_SOURCES) {
        fprintf(stderr, "bot: --source-addrs: more than %d addresses\n", MAX_SOURCES);
        return -1;
    }
    return 0;
}

static const scenario_t *const SCENARIOS[] = {&SCENARIO_ECHO, &SCENARIO_LOGIN, &SCENARIO_LOBBY,
                                              &SCENARIO_MATCH, &SCENARIO_IDLE, &SCENARIO_MODULE};
#define NSCENARIOS (sizeof SCENARIOS / sizeof SCENARIOS[0])

static const scenario_t *scenario_named(const char *name)
{
    for (size_t i = 0; i < NSCENARIOS; i++)
        if (strcmp(SCENARIOS[i]->name, name) == 0)
            return SCENARIOS[i];
    return NULL;
}

static int add_mix_item(const char *item, void *ctx)
{
    run_t *run = ctx;
    const char *eq = strchr(item, '=');
    char name[32];
    size_t len = eq ? (size_t)(eq - item) : 0;
    char *end = NULL;
    long long w = eq ? strtoll(eq + 1, &end, 10) : -1;
    if (!eq || len == 0 || len >= sizeof name || end == eq + 1 || *end || w < 0 || w > 1000000) {
        fprintf(stderr, "bot: --mix wants NAME=WEIGHT,... (weights 0-1000000), got '%s'\n",
                item);
        return -1;
    }
    memcpy(name, item, len);
    name[len] = '\0';
    const scenario_t *sc = scenario_named(name);
    if (!sc) {
        fprintf(stderr, "bot: --mix: unknown scenario '%s' (echo, login, lobby, match, idle, module)\n",
                name);
        return -1;
    }
    for (int i = 0; i < run->nused; i++)
        if (run->used[i].sc == sc) {
            fprintf(stderr, "bot: --mix names '%s' twice\n", name);
            return -1;
        }
    if (w > 0)
        run->used[run->nused++] = (scen_use_t){.run = run, .sc = sc, .weight = (uint32_t)w};
    return 0;
}

/* Gives every bot its scenario: smooth weighted round-robin, so the shares hold in every
 * stretch of bots (and in the ramp-up) and bot i's scenario depends on the weights alone. */
static void assign_scenarios(run_t *run)
{
    int64_t cur[MAX_SCENARIOS] = {0};
    int64_t total = 0;
    for (int k = 0; k < run->nused; k++)
        total += run->used[k].weight;
    for (uint32_t i = 0; i < run->nbots; i++) {
        int best = 0;
        for (int k = 0; k < run->nused; k++) {
            cur[k] += run->used[k].weight;
            if (cur[k] > cur[best])
                best = k;
        }
        cur[best] -= total;
        run->bots[i].scenario = run->used[best].sc;
        run->used[best].bots++;
    }
    run->account_bots = 0;
    for (int k = 0; k < run->nused; k++)
        if (run->used[k].sc->accounts)
            run->account_bots += run->used[k].bots;
}

/* --scenario and --mix: the scenarios of the run (run->used) and their weights. */
static int setup_scenarios(run_t *run, const config_t *cfg)
{
    const char *sc = config_str(cfg, "BOT_SCENARIO");
    const char *mix = config_str(cfg, "BOT_MIX");
    if (strcmp(sc, "mix") == 0) {
        run->scenario = &SCENARIO_MIX;
        if (!*mix) {
            fprintf(stderr, "bot: --scenario mix needs --mix NAME=WEIGHT,...\n");
            return -1;
        }
        if (each_item(mix, add_mix_item, run) != 0)
            return -1;
        if (run->nused == 0) {
            fprintf(stderr, "bot: --mix gives every scenario weight 0\n");
            return -1;
        }
        return 0;
    }
    run->scenario = scenario_named(sc);
    if (!run->scenario) {
        fprintf(stderr, "bot: unknown scenario '%s' (see --help)\n", sc);
        return -1;
    }
    if (*mix) {
        fprintf(stderr, "bot: --mix needs --scenario mix\n");
        return -1;
    }
    run->used[run->nused++] = (scen_use_t){.run = run, .sc = run->scenario, .weight = 1};
    return 0;
}

/* --target, --gateway and --source-addrs: where the bots connect from and to. */
static int setup_addresses(run_t *run, const config_t *cfg)
{
    const char *t = config_str(cfg, "BOT_TARGET");
    if (strcmp(t, "game") == 0)
        run->target = ECHO_TARGET__GAME;
    else if (strcmp(t, "lobby") == 0)
        run->target = ECHO_TARGET__LOBBY;
    else {
        fprintf(stderr, "bot: --target must be lobby or game, got '%s'\n", t);
        return -1;
    }
    snprintf(run->gateway, sizeof run->gateway, "%s", config_str(cfg, "BOT_GATEWAY"));
    if (each_item(run->gateway, add_gateway, run) != 0)
        return -1;
    if (run->ngws == 0) {
        fprintf(stderr, "bot: --gateway is empty\n");
        return -1;
    }
    return each_item(config_str(cfg, "BOT_SOURCE_ADDRS"), add_source, run);
}

/* --duration with --count, --quiet, --json and the echo pacing interval of --rate. */
static void setup_limits(run_t *run, const config_t *cfg)
{
    run->duration_ms = (uint64_t)config_int(cfg, "BOT_DURATION") * 1000u;
    if (run->max_requests && !option_given(cfg, "BOT_DURATION"))
        run->duration_ms = 86400u * 1000u; /* --count alone: no time limit */
    run->status = config_int(cfg, "BOT_STATUS") ? (isatty(STDERR_FILENO) ? 1 : 2) : 0;
    const char *json = config_str(cfg, "BOT_JSON");
    run->json_path = *json ? json : NULL;
    if (run->rate) {
        run->interval_ns = (uint64_t)((double)run->pipeline * 1e9 / (double)run->rate);
        if (run->interval_ns == 0)
            run->interval_ns = 1;
    }
}

/* --user-prefix (default bot<pid>_) and --mode. */
static int setup_names(run_t *run, const config_t *cfg)
{
    const char *prefix = config_str(cfg, "BOT_USER_PREFIX");
    if (*prefix)
        snprintf(run->user_prefix, sizeof run->user_prefix, "%s", prefix);
    else
        snprintf(run->user_prefix, sizeof run->user_prefix, "bot%ld_", (long)getpid());
    if (strlen(prefix) >= sizeof run->user_prefix) {
        fprintf(stderr, "bot: --user-prefix is too long\n");
        return -1;
    }
    const char *mode = config_str(cfg, "BOT_MODE");
    if (!*mode || strlen(mode) >= sizeof run->mode) {
        fprintf(stderr, "bot: --mode must be 1-32 characters\n");
        return -1;
    }
    snprintf(run->mode, sizeof run->mode, "%s", mode);
    return 0;
}

/* The run's settings from the options, then each scenario's own. Returns -1 after printing
 * what is wrong. */
static int setup(run_t *run, const config_t *cfg)
{
    config_apply(cfg, run); /* the numeric options land in their run_t fields (CFG_AT) */
    if (setup_scenarios(run, cfg) != 0 || setup_addresses(run, cfg) != 0)
        return -1;
    setup_limits(run, cfg);
    if (bot_transport_setup(run, cfg) != 0 || setup_names(run, cfg) != 0)
        return -1;
    for (int i = 0; i < run->nused; i++)
        if (run->used[i].sc->setup && run->used[i].sc->setup(&run->used[i], cfg) != 0)
            return -1;
    raise_fd_limit((uint64_t)run->nbots + 64);
    return 0;
}

/* config_load with the bot's table, then LOG_LEVEL. Returns 0 to run, > 0 when config_load
 * printed what was asked (--help: with the short flags) and the bot exits 0, -1 on bad
 * options. */
static int load_options(config_t *cfg, int nargs, char **args)
{
    int rc = config_load(cfg, BOT_OPTS, BOT_NOPTS, nargs, args, BOT_ABOUT);
    if (rc == 1)
        options_print_short_flags();
    if (rc != 0)
        return rc > 0 ? rc : -1;
    int lvl = log_level_parse(config_str(cfg, "LOG_LEVEL"));
    if (lvl < 0) {
        fprintf(stderr, "bot: bad LOG_LEVEL '%s'\n", config_str(cfg, "LOG_LEVEL"));
        return -1;
    }
    log_set_level((log_level_t)lvl);
    return 0;
}

/* The bots, each with its scenario, gateway and (echo) lanes, and the counters. */
static void bots_init(run_t *run)
{
    pb_arena_init(&run->arena, (size_t)run->max_frame * 2 + 4096);
    hist_init(&run->st.latency_us);
    hist_init(&run->win_latency_us);
    for (int i = 0; i < NREQ_TYPES; i++)
        hist_init(&run->st.types[i].latency_us);
    run->bots = xcalloc(run->nbots, sizeof *run->bots);
    assign_scenarios(run);
    uint32_t lanes = scenario_used(run, &SCENARIO_ECHO) ? run->pipeline : 0;
    run->lanes = xcalloc((size_t)run->nbots * lanes + 1, sizeof *run->lanes);
    for (uint32_t i = 0; i < run->nbots; i++) {
        bot_t *b = &run->bots[i];
        b->run = run;
        b->index = i;
        b->gw = (uint16_t)(i % (uint32_t)run->ngws);
        run->gws[b->gw].bots++;
        b->lanes = &run->lanes[(size_t)i * lanes];
        for (uint32_t k = 0; k < lanes; k++)
            b->lanes[k].bot = b;
    }
    run->send_buf = xmalloc(run->payload_len + 1u);
    run->check_buf = xmalloc(run->payload_len + 1u);
}

/* The run's timers and signal handlers, each with the run as its data. */
static void handles_init(run_t *run)
{
    uv_timer_t *timers[] = {&run->ramp_timer, &run->stop_timer, &run->tick_timer,
                            &run->pace_timer, &run->status_timer};
    for (size_t i = 0; i < sizeof timers / sizeof timers[0]; i++) {
        uv_timer_init(run->loop, timers[i]);
        timers[i]->data = run;
    }
    uv_signal_init(run->loop, &run->sigint);
    uv_signal_init(run->loop, &run->sigterm);
    run->sigint.data = run->sigterm.data = run;
    uv_signal_start(&run->sigint, on_signal, SIGINT);
    uv_signal_start(&run->sigterm, on_signal, SIGTERM);
}

/* Runs the loop: the scenarios start, the bots ramp up, traffic, stop, drain, every handle
 * closed. */
static void run_loop(run_t *run)
{
    log_info("bot_start", "scenario=%s gateway=%s bots=%u duration_s=%" PRIu64
                          " pipeline=%u rate=%" PRIu64 " count=%" PRIu64,
             run->scenario->name, run->gateway, run->nbots, run->duration_ms / 1000, run->pipeline,
             run->rate, run->max_requests);
    run->t_start = mono_ns();
    uv_update_time(run->loop);
    for (int i = 0; i < run->nused; i++)
        if (run->used[i].sc->start)
            run->used[i].sc->start(&run->used[i]);
    status_start(run);
    uv_timer_start(&run->ramp_timer, on_ramp, 0, 5);
    uv_run(run->loop, UV_RUN_DEFAULT);
    run_finish(run); /* normally done already; closes everything if the loop ran dry */
    uv_run(run->loop, UV_RUN_DEFAULT);
    conn_loop_close(run->cl);
    uv_run(run->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(run->loop) != 0)
        log_warn("loop_busy", "%s", "at=exit");
    status_end(run);
}

/* The report on stdout and, with --json, in its file. Returns 1 when the run passed. */
static int run_report(const run_t *run)
{
    print_report(run, stdout);
    fflush(stdout);
    int ok = passed(run);
    if (run->json_path && write_json(run, run->json_path) != 0)
        ok = 0;
    return ok;
}

/* Frees what the run holds (after the loop). */
static void run_free(run_t *run)
{
    for (int i = 0; i < run->nused; i++)
        CALL_HOOK(run->used[i].sc, cleanup, &run->used[i]);
    xfree(run->samples);
    xfree(run->check_buf);
    xfree(run->send_buf);
    xfree(run->lanes);
    xfree(run->bots);
    xfree(run->sources);
    pb_arena_free(&run->arena);
    bot_transport_cleanup(run);
}

int main(int argc, char **argv)
{
    log_init("bot", LOG_WARN);
    int nargs;
    char **args = options_expand(argc, argv, &nargs);
    config_t cfg;
    int rc = load_options(&cfg, nargs, args);
    if (rc != 0) {
        options_free(nargs, args);
        return rc > 0 ? 0 : 1;
    }
    static run_t run_storage; /* main's own: handed to every part that needs it */
    run_t *run = &run_storage;
    run->loop = uv_default_loop();
    if (setup(run, &cfg) != 0) {
        options_free(nargs, args);
        return 1;
    }
    run->cl = conn_loop_new(run->loop);
    bots_init(run);
    handles_init(run);
    run_loop(run);
    int ok = run_report(run);
    run_free(run);
    options_free(nargs, args);
    return ok ? 0 : 1;
}

const scenario_t SCENARIO_MIX = {.name = "mix"};
