/* options: the bot's options (the table config_load reads, with their environment names),
 * the short flags (--bots for --bot-count, ...) and the --help text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "bot.h"

const cfg_opt_t BOT_OPTS[] = {
    {"BOT_SCENARIO", CFG_STR, "echo",
     "scenario to run: echo, login, lobby, match, idle, module (plays the game module "
     "--mode over MATCH_DATA), or mix (bots split by --mix) (short flag --scenario)",
     0, 0, 0, 0},
    {"BOT_MIX", CFG_STR, "",
     "scenario mix: NAME=WEIGHT,... of echo, login, lobby, match, idle and module, e.g. "
     "echo=5,lobby=3,match=1,idle=1; the bots are split by weight and interleaved (bot i's "
     "scenario is fixed by the weights alone); needs --scenario mix (short flag --mix)",
     0, 0, 0, 0},
    {"BOT_GATEWAY", CFG_STR, "127.0.0.1:7000",
     "gateway HOST:PORT; several as a comma list (or the flag repeated): bot i connects to "
     "the (i mod n)-th (short flag --gateway)",
     0, 0, 0, 0},
    {"BOT_TRANSPORT", CFG_STR, "tcp",
     "transport to the gateway: tcp, tls, ws (WebSocket, path /) or wss (WebSocket over TLS); "
     "every scenario runs on each (short flag --transport)",
     0, 0, 0, 0},
    {"BOT_CA_FILE", CFG_STR, "",
     "tls/wss: PEM file of the CA(s) to verify the gateway's certificate with (default: the "
     "system's, /etc/ssl/certs/ca-certificates.crt) (short flag --ca-file)",
     0, 0, 0, 0},
    {"BOT_INSECURE", CFG_INT, "0",
     "tls/wss: 1 = do not verify the gateway's certificate (self-signed local certificates; "
     "switch --insecure)",
     0, 1, 0, 0},
    {"BOT_SERVER_NAME", CFG_STR, "",
     "tls/wss: the name sent as SNI and checked against the certificate; ws/wss: the Host "
     "header (default: the host of the first --gateway) (short flag --server-name)",
     0, 0, 0, 0},
    {"BOT_WS_PATH", CFG_STR, "/",
     "ws/wss: the path of the WebSocket upgrade request (the gateway serves /; another path "
     "reaches it through a proxy that maps it) (short flag --ws-path)",
     0, 0, 0, 0},
    {"BOT_COUNT", CFG_INT, "100", "number of bots, one connection each (short flag --bots)", 1,
     1000000, CFG_AT(run_t, nbots)},
    {"BOT_DURATION", CFG_INT, "10",
     "seconds of traffic after the last connect was started; with --count and no --duration: "
     "no time limit (short flag --duration)",
     0, 86400, 0, 0},
    {"BOT_MAX_REQUESTS", CFG_INT, "0",
     "stop once this many requests went out in all (whichever comes first with --duration; "
     "the final LOGOUTs come on top), 0 = no limit (short flag --count)",
     0, INT64_MAX, CFG_AT(run_t, max_requests)},
    {"BOT_JSON", CFG_STR, "", "also write the results as JSON to this file (short flag --json)",
     0, 0, 0, 0},
    {"BOT_PAYLOAD", CFG_INT, "32", "echo payload bytes per request (short flag --payload)", 0,
     60000, CFG_AT(run_t, payload_len)},
    {"BOT_PIPELINE", CFG_INT, "1",
     "echo requests in flight per bot; the other scenarios always have one (short flag "
     "--pipeline)",
     1, 1024, CFG_AT(run_t, pipeline)},
    {"BOT_TARGET", CFG_STR, "game", "echo target: lobby or game (short flag --target)", 0, 0, 0, 0},
    {"BOT_CONNECT_RATE", CFG_INT, "2000",
     "ramp-up: new connections per second (short flags --ramp, --connect-rate)", 1, 10000000, CFG_AT(run_t, connect_rate)},
    {"BOT_RATE", CFG_INT, "100",
     "requests per second per bot, 0 = as fast as responses come back; keep it under the "
     "gateway's RATE_LIMIT. Login, lobby and match: the least time between two requests of a "
     "bot (waits in a room and login backoffs come on top); idle: unused, see --ping-ms "
     "(short flag --rate)",
     0, 10000000, CFG_AT(run_t, rate)},
    {"BOT_SEED", CFG_INT, "1",
     "seed of every random choice: payloads, send jitter, the bots' choices and backoff "
     "jitter (one PRNG per bot, from the seed and the bot's index): same seed, same choices "
     "(short flag --seed)",
     0, INT64_MAX, CFG_AT(run_t, seed)},
    {"BOT_TIMEOUT_MS", CFG_INT, "10000",
     "request timeout; also the drain time at the end (short flag --timeout-ms)", 1, 3600000, CFG_AT(run_t, timeout_ms)},
    {"BOT_MAX_FRAME", CFG_INT, "65536", "largest frame payload accepted (short flag --max-frame)",
     16, 16777216, CFG_AT(run_t, max_frame)},
    {"BOT_SOURCE_ADDRS", CFG_STR, "",
     "local addresses to connect from, bot i from the (i mod n)-th, to hold more connections "
     "than one source IP's ephemeral ports allow: a comma list (127.0.0.1,127.0.0.2) or IPv4 "
     "ranges (127.0.0.1-127.0.0.8) (short flag --source-addrs)",
     0, 0, 0, 0},
    {"BOT_STATUS", CFG_INT, "1",
     "live status line on stderr once a second (connected, requests/s and p99 over the last "
     "second, errors so far): rewritten in place on a terminal, one line per second "
     "otherwise; 0 = none (short flag --quiet sets 0)",
     0, 1, 0, 0},
    {"BOT_PING_MS", CFG_INT, "20000",
     "idle: each connection sends a PING this often (keep it under the gateway's "
     "IDLE_TIMEOUT_MS) and nothing else (short flag --ping-ms)",
     10, 3600000, CFG_AT(run_t, ping_ms)},
    {"BOT_USER_PREFIX", CFG_STR, "",
     "login, lobby, match: account names are PREFIX<bot index>, then PREFIX<index>_<n> for "
     "the n-th fresh account; [A-Za-z0-9_], empty = bot<pid>_ (short flag --user-prefix)",
     0, 0, 0, 0},
    {"BOT_ROOM_WAIT_MS", CFG_INT, "1000",
     "lobby: an owner starts once its room is full and all ready, or this long after it got "
     "the room (leaves instead when alone); a member leaves when no start came within 3x "
     "this (short flag --room-wait-ms)",
     1, 15000, CFG_AT(run_t, room_wait_ms)},
    {"BOT_CREATE_PCT", CFG_INT, "25",
     "lobby: percent of cycles that create a room outright; the others list rooms and join "
     "one with a free seat, creating only when none has (short flag --create-pct)",
     0, 100, CFG_AT(run_t, create_pct)},
    {"BOT_START_PCT", CFG_INT, "50",
     "lobby: percent of owned rooms the owner starts (the rest it leaves); each start sends "
     "its players to fresh accounts (short flag --start-pct)",
     0, 100, CFG_AT(run_t, start_pct)},
    {"BOT_CHAT_INTERVAL_MS", CFG_INT, "1000",
     "lobby: least time between two chat lines of a bot waiting in a room, 0 = no chat; the "
     "lobby allows CHAT_RATE (5) lines/s (short flag --chat-interval-ms)",
     0, 3600000, CFG_AT(run_t, chat_interval_ms)},
    {"BOT_LOGIN_BACKOFF_MS", CFG_INT, "100",
     "login, lobby, match: first wait before retrying a REGISTER/LOGIN answered BUSY; "
     "doubles per BUSY in a row up to 32x, with jitter (short flag --login-backoff-ms)",
     1, 600000, CFG_AT(run_t, login_backoff_ms)},
    {"BOT_MATCH_INTERVAL_MS", CFG_INT, "100",
     "match: least time between two requests of a bot playing a match (a move, an attack or a "
     "potion: one step per interval, one request in flight) (short flag --match-interval-ms)",
     1, 60000, CFG_AT(run_t, match_interval_ms)},
    {"BOT_MODE", CFG_STR, "arena_lua",
     "module: the game mode to quick-match for and play (arena_lua and tag are played; another "
     "module's matches are joined passively, waiting for GAME_OVER) (short flag --mode)",
     0, 0, 0, 0},
    {"LOG_LEVEL", CFG_STR, "warn", "debug, info, warn or error", 0, 0, 0, 0},
};
const int BOT_NOPTS = (int)(sizeof BOT_OPTS / sizeof BOT_OPTS[0]);

/* Short flags: --scenario is --bot-scenario, and so on. */
static const struct {
    const char *flag;
    const char *env;
} ALIASES[] = {
    {"--scenario", "BOT_SCENARIO"},
    {"--mix", "BOT_MIX"},
    {"--gateway", "BOT_GATEWAY"},
    {"--transport", "BOT_TRANSPORT"},
    {"--ca-file", "BOT_CA_FILE"},
    {"--server-name", "BOT_SERVER_NAME"},
    {"--ws-path", "BOT_WS_PATH"},
    {"--bots", "BOT_COUNT"},
    {"--duration", "BOT_DURATION"},
    {"--count", "BOT_MAX_REQUESTS"},
    {"--json", "BOT_JSON"},
    {"--payload", "BOT_PAYLOAD"},
    {"--pipeline", "BOT_PIPELINE"},
    {"--target", "BOT_TARGET"},
    {"--ramp", "BOT_CONNECT_RATE"},
    {"--connect-rate", "BOT_CONNECT_RATE"},
    {"--rate", "BOT_RATE"},
    {"--seed", "BOT_SEED"},
    {"--timeout-ms", "BOT_TIMEOUT_MS"},
    {"--max-frame", "BOT_MAX_FRAME"},
    {"--source-addrs", "BOT_SOURCE_ADDRS"},
    {"--ping-ms", "BOT_PING_MS"},
    {"--user-prefix", "BOT_USER_PREFIX"},
    {"--room-wait-ms", "BOT_ROOM_WAIT_MS"},
    {"--create-pct", "BOT_CREATE_PCT"},
    {"--start-pct", "BOT_START_PCT"},
    {"--chat-interval-ms", "BOT_CHAT_INTERVAL_MS"},
    {"--login-backoff-ms", "BOT_LOGIN_BACKOFF_MS"},
    {"--match-interval-ms", "BOT_MATCH_INTERVAL_MS"},
    {"--mode", "BOT_MODE"},
};
#define NALIASES (sizeof ALIASES / sizeof ALIASES[0])

/* Flags without a value: --quiet is --bot-status=0. */
static const struct {
    const char *flag;
    const char *expands_to;
} SWITCHES[] = {
    {"--quiet", "--bot-status=0"},
    {"--insecure", "--bot-insecure=1"},
};
#define NSWITCHES (sizeof SWITCHES / sizeof SWITCHES[0])

const char BOT_ABOUT[] =
    "bot: load-test client for the cluster's gateway.\n"
    "Runs N bots (one connection each, ramped up at --ramp connections/s, spread round-robin\n"
    "over the --gateway addresses) for --duration seconds or --count requests, whichever\n"
    "comes first. While it runs, a status line on stderr once a second (--quiet: none).\n"
    "At the end it prints bots, connects, requests, a table per request type (count,\n"
    "throughput, p50/p90/p99/p99.9/max of ok responses from a log-bucket histogram), errors\n"
    "by code, disconnects, pushes by type and the servers that answered; --json writes the\n"
    "same to a file. Every random choice comes from --seed.\n"
    "Scenarios:\n"
    "  echo   ECHO_REQUEST to --target, each response's payload checked. Exit status 0 only\n"
    "         when every bot connected, at least one response came back and there were no\n"
    "         mismatches, errors, timeouts or disconnects; 1 otherwise.\n"
    "  login  a register/login storm: each bot REGISTERs (USERNAME_TAKEN is fine) and LOGINs,\n"
    "         then LOGOUTs and LOGINs again, over and over, one request in flight, at most\n"
    "         --rate requests/s; BUSY (password hashing saturated) is an expected error,\n"
    "         retried after a backoff (--login-backoff-ms). Reports logins/s and the LOGIN\n"
    "         and REGISTER latency. Exit status 0 only when every bot connected and logged\n"
    "         in, and there were no unexpected errors, mismatches, timeouts or disconnects.\n"
    "  lobby  each bot REGISTERs (USERNAME_TAKEN is fine) and LOGINs (BUSY: retried after a\n"
    "         backoff), then loops: CREATE_ROOM (2-4 players), or GET_ROOM_LIST and JOIN_ROOM\n"
    "         of a room with a free seat; PREPARE_GAME ready; the owner STARTs when the room\n"
    "         is full and ready (from ROOM_UPDATE pushes) or after --room-wait-ms; ROOM_CHAT\n"
    "         now and then; LEAVE_ROOM. A started room stays in game while its match runs\n"
    "         and keeps its players, so after a start a bot tries LEAVE_ROOM (ROOM_IN_GAME),\n"
    "         LOGOUTs and goes on with a fresh account (REGISTER + LOGIN); fresh accounts wait\n"
    "         until every bot has logged in once (password hashing is the scarce resource;\n"
    "         a bot silent for 20 s PINGs). At the end every bot LOGOUTs. Reports a table per\n"
    "         request type (count, throughput, p50/p90/p99/p99.9/max of ok responses),\n"
    "         totals, pushes by type, and errors split into expected ones (races and\n"
    "         back-pressure: ROOM_FULL, BUSY, ...) and unexpected ones. Exit status 0 only\n"
    "         when every bot connected and logged in, and there were no unexpected errors,\n"
    "         mismatches, timeouts or disconnects; 1 otherwise.\n"
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
    "  idle   holds the connections with keep-alive only: each sends a PING every --ping-ms\n"
    "         (first one at a seeded random point of the first interval) and nothing else.\n"
    "         Reports the connections open each second, PING latency percentiles and\n"
    "         disconnects. Exit status 0 only when every bot connected and none was\n"
    "         disconnected, with no errors or timeouts; 1 otherwise.\n"
    "  mix    the bots split by the weights of --mix (e.g. echo=5,lobby=3,match=1,idle=1),\n"
    "         each running its scenario as above; one report of everything, with the bots\n"
    "         per scenario. Exit status 0 only when every scenario's conditions hold.\n"
    "Bad options: exit status 1.";

static int is_flag(const char *arg) { return strncmp(arg, "--", 2) == 0; }

/* The table flag of env: BOT_COUNT -> --bot-count. */
static char *table_flag(const char *env, const char *rest)
{
    size_t n = 2 + strlen(env) + strlen(rest) + 1;
    char *f = xmalloc(n);
    size_t k = 0;
    f[k++] = '-';
    f[k++] = '-';
    for (const char *p = env; *p; p++)
        f[k++] = *p == '_' ? '-' : (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    strcpy(f + k, rest);
    return f;
}

/* Rewrites the short flags (--bots 10, --bots=10) into the table's --bot-count form and the
 * switches (--quiet) into theirs, and joins repeated --gateway values into one comma list.
 * Returns an xmalloc'ed, NULL-terminated vector of *nout strings; argv is not changed. */
/* What a switch (--quiet) stands for, or NULL when arg is none. */
static const char *switch_expansion(const char *arg)
{
    for (size_t i = 0; i < NSWITCHES; i++)
        if (strcmp(arg, SWITCHES[i].flag) == 0)
            return SWITCHES[i].expands_to;
    return NULL;
}

/* arg in its table form: a short flag's table flag with what follows it (--bots=10:
 * --bot-count=10), else arg itself. Returns an xmalloc'ed string. */
static char *table_form(const char *arg)
{
    for (size_t i = 0; i < NALIASES; i++) {
        size_t len = strlen(ALIASES[i].flag);
        if (strncmp(arg, ALIASES[i].flag, len) == 0 && (arg[len] == '\0' || arg[len] == '='))
            return table_flag(ALIASES[i].env, arg + len);
    }
    return xstrdup(arg);
}

/* Appends item to the xmalloc'ed comma list *list (NULL: empty). */
static void list_append(char **list, const char *item)
{
    size_t old = *list ? strlen(*list) : 0;
    *list = xrealloc(*list, old + strlen(item) + 2);
    if (old)
        (*list)[old++] = ',';
    strcpy(*list + old, item);
}

char **options_expand(int argc, char **argv, int *nout)
{
    char **out = xcalloc((size_t)argc + 2, sizeof *out);
    int n = 0, gw_at = -1; /* where the joined --gateway value goes */
    char *gws = NULL;
    out[n++] = xstrdup(argv[0]);
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        const char *sw = switch_expansion(arg);
        if (sw) {
            out[n++] = xstrdup(sw);
            continue;
        }
        char *flag = table_form(arg);
        /* the value: after '=', or the next argument (not rewritten) */
        const char *value = NULL;
        int has_value_arg = is_flag(arg) && !strchr(arg, '=') && a + 1 < argc;
        if (strncmp(flag, "--bot-gateway", 13) == 0 && (flag[13] == '\0' || flag[13] == '=')) {
            if (flag[13] == '=')
                value = flag + 14;
            else if (has_value_arg)
                value = argv[++a];
            if (value) {
                list_append(&gws, value);
                if (gw_at < 0)
                    gw_at = n++;
                xfree(flag);
                continue;
            }
        }
        out[n++] = flag;
        if (has_value_arg)
            out[n++] = xstrdup(argv[++a]);
    }
    if (gw_at >= 0) {
        size_t len = strlen(gws) + sizeof "--bot-gateway=";
        out[gw_at] = xmalloc(len);
        snprintf(out[gw_at], len, "--bot-gateway=%s", gws);
        xfree(gws);
    }
    out[n] = NULL;
    *nout = n;
    return out;
}

void options_free(int argc, char **args)
{
    for (int a = 0; a < argc; a++)
        xfree(args[a]);
    xfree(args);
}

/* --help: the short flags, from the same tables the parser uses. */
void options_print_short_flags(void)
{
    printf("\nShort flags (each is the table flag of its variable: --bots is --bot-count):\n");
    for (size_t i = 0; i < NALIASES; i++) {
        char *f = table_flag(ALIASES[i].env, "");
        printf("  %-26s %-22s same as %s\n", ALIASES[i].flag, ALIASES[i].env, f);
        xfree(f);
    }
    for (size_t i = 0; i < NSWITCHES; i++)
        printf("  %-26s %-22s same as %s (takes no value)\n", SWITCHES[i].flag, "",
               SWITCHES[i].expands_to);
}

/* Was the option given (flag or environment), rather than left at its default? */
int option_given(const config_t *cfg, const char *env)
{
    for (int i = 0; i < cfg->nopts; i++)
        if (strcmp(cfg->opts[i].env, env) == 0)
            return strcmp(cfg->source[i], "default") != 0;
    return 0;
}
