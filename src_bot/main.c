/* bot: the load-test client: N sessions on one loop drive a scenario against a gateway and
 * report throughput, latency percentiles, errors and which servers answered. This file runs
 * the bots (options, connects, stop and drain); scenario_echo.c, scenario_lobby.c and
 * scenario_match.c drive them, report.c prints the results. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include "alloc.h"
#include "bot.h"
#include "log.h"
#include "util.h"

run_t run;

/* ------------------------------------------------------------------ options */

static const cfg_opt_t OPTS[] = {
    {"BOT_SCENARIO", CFG_STR, "echo",
     "scenario to run: echo, lobby or match (short flag --scenario)", 0, 0},
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
    {"BOT_PIPELINE", CFG_INT, "1",
     "echo requests in flight per bot; the lobby scenario always has one (short flag "
     "--pipeline)",
     1, 1024},
    {"BOT_TARGET", CFG_STR, "game", "echo target: lobby or game (short flag --target)", 0, 0},
    {"BOT_CONNECT_RATE", CFG_INT, "2000", "new connections per second (short flag --connect-rate)",
     1, 10000000},
    {"BOT_RATE", CFG_INT, "100",
     "requests per second per bot, 0 = as fast as responses come back; keep it under the "
     "gateway's RATE_LIMIT. Lobby and match: the least time between two requests of a bot "
     "(waits in a room and login backoffs come on top) (short flag --rate)",
     0, 10000000},
    {"BOT_SEED", CFG_INT, "1",
     "seed of payloads, send jitter and the lobby bots' choices (short flag --seed)", 0,
     INT64_MAX},
    {"BOT_TIMEOUT_MS", CFG_INT, "10000",
     "request timeout; also the drain time at the end (short flag --timeout-ms)", 1, 3600000},
    {"BOT_MAX_FRAME", CFG_INT, "65536", "largest frame payload accepted (short flag --max-frame)",
     16, 16777216},
    {"BOT_USER_PREFIX", CFG_STR, "",
     "lobby: account names are PREFIX<bot index>, then PREFIX<index>_<n> for the n-th fresh "
     "account; [A-Za-z0-9_], empty = bot<pid>_ (short flag --user-prefix)",
     0, 0},
    {"BOT_ROOM_WAIT_MS", CFG_INT, "1000",
     "lobby: an owner starts once its room is full and all ready, or this long after it got "
     "the room (leaves instead when alone); a member leaves when no start came within 3x "
     "this (short flag --room-wait-ms)",
     1, 15000},
    {"BOT_CREATE_PCT", CFG_INT, "25",
     "lobby: percent of cycles that create a room outright; the others list rooms and join "
     "one with a free seat, creating only when none has (short flag --create-pct)",
     0, 100},
    {"BOT_START_PCT", CFG_INT, "50",
     "lobby: percent of owned rooms the owner starts (the rest it leaves); each start sends "
     "its players to fresh accounts (short flag --start-pct)",
     0, 100},
    {"BOT_CHAT_INTERVAL_MS", CFG_INT, "1000",
     "lobby: least time between two chat lines of a bot waiting in a room, 0 = no chat; the "
     "lobby allows CHAT_RATE (5) lines/s (short flag --chat-interval-ms)",
     0, 3600000},
    {"BOT_LOGIN_BACKOFF_MS", CFG_INT, "100",
     "lobby: first wait before retrying a REGISTER/LOGIN answered BUSY; doubles per BUSY in "
     "a row up to 32x, with jitter (short flag --login-backoff-ms)",
     1, 600000},
    {"BOT_MATCH_INTERVAL_MS", CFG_INT, "100",
     "match: least time between two requests of a bot playing a match (a move, an attack or a "
     "potion: one step per interval, one request in flight) (short flag --match-interval-ms)",
     1, 60000},
    {"LOG_LEVEL", CFG_STR, "warn", "debug, info, warn or error", 0, 0},
};
#define NOPTS ((int)(sizeof OPTS / sizeof OPTS[0]))

/* Short flags: --scenario is --bot-scenario, and so on. */
static const struct {
    const char *flag;
    const char *env;
} ALIASES[] = {
    {"--scenario", "BOT_SCENARIO"},
    {"--gateway", "BOT_GATEWAY"},
    {"--bots", "BOT_COUNT"},
    {"--duration", "BOT_DURATION"},
    {"--json", "BOT_JSON"},
    {"--payload", "BOT_PAYLOAD"},
    {"--pipeline", "BOT_PIPELINE"},
    {"--target", "BOT_TARGET"},
    {"--connect-rate", "BOT_CONNECT_RATE"},
    {"--rate", "BOT_RATE"},
    {"--seed", "BOT_SEED"},
    {"--timeout-ms", "BOT_TIMEOUT_MS"},
    {"--max-frame", "BOT_MAX_FRAME"},
    {"--user-prefix", "BOT_USER_PREFIX"},
    {"--room-wait-ms", "BOT_ROOM_WAIT_MS"},
    {"--create-pct", "BOT_CREATE_PCT"},
    {"--start-pct", "BOT_START_PCT"},
    {"--chat-interval-ms", "BOT_CHAT_INTERVAL_MS"},
    {"--login-backoff-ms", "BOT_LOGIN_BACKOFF_MS"},
    {"--match-interval-ms", "BOT_MATCH_INTERVAL_MS"},
};

static const char ABOUT[] =
    "bot: load-test client for the cluster's gateway.\n"
    "Runs N bots (one connection each, ramped at --connect-rate) for --duration seconds and\n"
    "prints bots, connects, requests, mismatches, errors by code, disconnects, throughput,\n"
    "latency percentiles and the servers that answered; --json writes the same to a file.\n"
    "Scenarios:\n"
    "  echo   ECHO_REQUEST to --target, each response's payload checked. Exit status 0 only\n"
    "         when every bot connected, at least one response came back and there were no\n"
    "         mismatches, errors, timeouts or disconnects; 1 otherwise.\n"
    "  lobby  each bot REGISTERs (USERNAME_TAKEN is fine) and LOGINs (BUSY: retried after a\n"
    "         backoff), then loops: CREATE_ROOM (2-4 players), or GET_ROOM_LIST and JOIN_ROOM\n"
    "         of a room with a free seat; PREPARE_GAME ready; the owner STARTs when the room\n"
    "         is full and ready (from ROOM_UPDATE pushes) or after --room-wait-ms; ROOM_CHAT\n"
    "         now and then; LEAVE_ROOM. A started room stays in game (no match runs yet)\n"
    "         and keeps its players, so after a start a bot tries LEAVE_ROOM (ROOM_IN_GAME),\n"
    "         LOGOUTs and goes on with a fresh account (REGISTER + LOGIN); fresh accounts wait\n"
    "         until every bot has logged in once (password hashing is the scarce resource;\n"
    "         a bot silent for 20 s PINGs). At the end every bot LOGOUTs. Reports a table per request type (count, throughput, p50/p90/p99/\n"
    "         p99.9/max of ok responses), totals, pushes by type, and errors split into\n"
    "         expected ones (races and back-pressure: ROOM_FULL, BUSY, ...) and unexpected\n"
    "         ones. Exit status 0 only when every bot connected and logged in, and there\n"
    "         were no unexpected errors, mismatches, timeouts or disconnects; 1 otherwise.\n"
    "  match  each bot REGISTERs and LOGINs as in lobby, then loops: QUICK_MATCH; the lobby\n"
    "         forms a room and places it (GAME_STARTING), the game daemon starts it\n"
    "         (MATCH_START); the bot plays: it tracks the monsters (GAME_STATE_UPDATE) and its\n"
    "         authoritative position, and each --match-interval-ms drinks a potion\n"
    "         (PLAYER_USE_ITEM) when hp is low, attacks the nearest monster in range when the\n"
    "         cooldown has passed (PLAYER_ATTACK_MONSTER), or walks toward it\n"
    "         (PLAYER_POSITION_UPDATE) no faster than the server's clock allows; a dead bot\n"
    "         waits. On GAME_OVER or MATCH_ABORTED it checks its record (GET_MATCH_HISTORY),\n"
    "         waits for the room to be handed back, LEAVE_ROOMs and queues again. At the end\n"
    "         every bot LOGOUTs. Reports the per-type table as lobby does, matches completed\n"
    "         (and per minute), outcomes, GAME_STATE_UPDATE rate, speed clamps, expected\n"
    "         errors by code (COOLDOWN, OUT_OF_RANGE, NO_TARGET races; NOT_IN_GAME before\n"
    "         MATCH_START; PLAYER_DEAD after dying; MATCH_OVER...). Exit status 0 only when\n"
    "         every bot connected and logged in, at least one match reached GAME_OVER, and\n"
    "         there were no unexpected errors, mismatches, timeouts, disconnects, missing\n"
    "         MATCH_START/GAME_OVER or wrong match records; 1 otherwise.\n"
    "Bad options: exit status 1.";

/* ------------------------------------------------------------------ bots and the run */

static uint32_t alive; /* bots connecting or connected */

static void run_stop(void);

static void on_push(client_t *c, uint16_t type, uint32_t seq, const uint8_t *payload, size_t len,
                    void *ud)
{
    bot_t *b = ud;
    run.st.pushes++;
    if (seq != 0)
        run.st.late_responses++;
    else
        run.st.push_by_type[type < PUSH_TYPES ? type : PUSH_TYPES]++;
    if (type == PACKET_TYPE__KICKED) {
        Kicked *k = (Kicked *)pb_unpack(&run.arena, &kicked__descriptor, payload, len);
        log_warn("kicked", "bot=%u code=%s reason=\"%s\"", b->index,
                 error_code_name(k ? (int)k->code : -1), k && k->reason ? k->reason : "");
    }
    if (run.scenario->on_push)
        run.scenario->on_push(b, type, seq, payload, len);
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
    if (run.scenario->on_gone)
        run.scenario->on_gone(b);
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
    if (run.scenario->on_finish)
        run.scenario->on_finish();
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
    if (run.scenario->on_stop)
        run.scenario->on_stop();
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
    static const scenario_t *const SCENARIOS[] = {&SCENARIO_ECHO, &SCENARIO_LOBBY,
                                                  &SCENARIO_MATCH};
    const char *sc = config_str(cfg, "BOT_SCENARIO");
    for (size_t i = 0; i < sizeof SCENARIOS / sizeof SCENARIOS[0]; i++)
        if (strcmp(SCENARIOS[i]->name, sc) == 0)
            run.scenario = SCENARIOS[i];
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
    const char *prefix = config_str(cfg, "BOT_USER_PREFIX");
    if (*prefix)
        snprintf(run.user_prefix, sizeof run.user_prefix, "%s", prefix);
    else
        snprintf(run.user_prefix, sizeof run.user_prefix, "bot%ld_", (long)getpid());
    if (strlen(prefix) >= sizeof run.user_prefix) {
        fprintf(stderr, "bot: --user-prefix is too long\n");
        return -1;
    }
    run.room_wait_ms = (uint64_t)config_int(cfg, "BOT_ROOM_WAIT_MS");
    run.create_pct = (uint32_t)config_int(cfg, "BOT_CREATE_PCT");
    run.start_pct = (uint32_t)config_int(cfg, "BOT_START_PCT");
    run.chat_interval_ms = (uint64_t)config_int(cfg, "BOT_CHAT_INTERVAL_MS");
    run.login_backoff_ms = (uint64_t)config_int(cfg, "BOT_LOGIN_BACKOFF_MS");
    run.match_interval_ms = (uint64_t)config_int(cfg, "BOT_MATCH_INTERVAL_MS");
    if (run.scenario->setup && run.scenario->setup(cfg) != 0)
        return -1;
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
                   "--pipeline, --target, --connect-rate, --rate, --seed, --timeout-ms,\n"
                   "--max-frame, --user-prefix, --room-wait-ms, --create-pct, --start-pct,\n"
                   "--chat-interval-ms, --login-backoff-ms and --match-interval-ms are the\n"
                   "--bot-... flags above\n"
                   "(--bots is --bot-count).\n");
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
    for (int i = 0; i < NREQ_TYPES; i++)
        hist_init(&run.st.types[i].latency_us);
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
    if (run.scenario->start)
        run.scenario->start();
    uv_timer_start(&run.ramp_timer, on_ramp, 0, 5);
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

    if (run.scenario->cleanup)
        run.scenario->cleanup();
    xfree(run.check_buf);
    xfree(run.send_buf);
    xfree(run.lanes);
    xfree(run.bots);
    pb_arena_free(&run.arena);
    free_args(argc, args);
    return ok ? 0 : 1;
}
