/* modrun: runs a game module outside the cluster, for studios writing one: the same Lua
 * runtime, sandbox, limits and ctx as gamed (modrt.c, mode_lua.c), no network, no clock:
 * ticks follow each other at once. Feeds the module a script of messages and prints every
 * broadcast, log line and the finish results.
 *
 *   modrun [--players N] [--seed N] [--ticks N] [--budget N] [--memory BYTES]
 *          [--time-limit-ms N] MODULE.lua [SCRIPT]
 *
 * SCRIPT, one command a line ('#' starts a comment):
 *   TICK msg PLAYER OP DATA     PLAYER (1..N) sends MATCH_DATA_SEND op OP with DATA (the rest
 *                               of the line; \n, \t, \\ and \xHH escapes) before tick TICK
 *   TICK leave PLAYER [REASON]  the player is gone for good before tick TICK
 *   TICK stop [REASON]          the match is stopped from outside (terminate) before tick TICK
 * Players are user ids 1..N named player1..playerN.
 *
 * Prints one line per event on stdout: `tick=T broadcast op=OP to=all|ID,ID data="..."`,
 * `tick=T finish summary="..."` then `  user=U score=S outcome=O stats=JSON`, `tick=T failed
 * kind=K reason="..."`; module logs and the traceback of a failure go to stderr (gamed's log
 * lines). Exit status: 0 the module finished, 1 it failed (or was stopped), 3 --ticks ran out
 * first (default 1200), 2 usage. */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "game.h"
#include "log.h"

#define LINE_MAX_LEN 8192

static game_t G;
static match_t M;

/* ---- the dispatcher (mode.h), printing instead of pushing ---- */

/* (the accessors modrun answers as gamed does are in src_game/match_ctx.c) */
backend_t *match_backend(const match_t *m) { return NULL; }
uint32_t match_time_limit_ms(const match_t *m) { return G.sim_base.time_limit_ms; }
int match_over(const match_t *m) { return m->over || m->fail_kind[0]; }
void match_finish(match_t *m) { m->over = 1; }

static void print_quoted(const uint8_t *p, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '"' || p[i] == '\\')
            printf("\\%c", p[i]);
        else if (p[i] >= 32 && p[i] < 127)
            putchar(p[i]);
        else
            printf("\\x%02x", p[i]);
    }
    putchar('"');
}

void match_broadcast(match_t *m, uint16_t type, const ProtobufCMessage *msg, const uint64_t *users,
                     size_t nusers)
{
    if (type != PACKET_TYPE__MATCH_DATA)
        return;
    const MatchData *d = (const MatchData *)msg;
    printf("tick=%llu broadcast op=%u to=", (unsigned long long)m->ticks, d->op_code);
    if (!users)
        printf("all");
    for (size_t i = 0; users && i < nusers; i++)
        printf("%s%llu", i ? "," : "", (unsigned long long)users[i]);
    printf(" data=");
    print_quoted(d->data.data, d->data.len);
    putchar('\n');
}

void match_fail(match_t *m, const char *kind, const char *reason)
{
    if (m->fail_kind[0])
        return;
    snprintf(m->fail_kind, sizeof m->fail_kind, "%s", kind);
    snprintf(m->fail_reason, sizeof m->fail_reason, "%s", reason);
}

/* ---- the script ---- */

typedef struct cmd {
    uint64_t tick;
    char what[8];
    uint32_t player, op;
    uint8_t *data;
    size_t len;
} cmd_t;

static size_t unescape(const char *in, uint8_t *out)
{
    size_t n = 0;
    for (const char *c = in; *c && *c != '\n'; c++) {
        if (*c != '\\' || !c[1]) {
            out[n++] = (uint8_t)*c;
            continue;
        }
        c++;
        if (*c == 'n')
            out[n++] = '\n';
        else if (*c == 't')
            out[n++] = '\t';
        else if (*c == 'x' && c[1] && c[2]) {
            char h[3] = {c[1], c[2], 0};
            out[n++] = (uint8_t)strtoul(h, NULL, 16);
            c += 2;
        } else
            out[n++] = (uint8_t)*c;
    }
    return n;
}

static cmd_t *read_script(const char *path, size_t *ncmd)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "modrun: cannot open %s\n", path);
        exit(2);
    }
    cmd_t *v = NULL;
    size_t n = 0, cap = 0;
    char line[LINE_MAX_LEN];
    for (int ln = 1; fgets(line, sizeof line, f); ln++) {
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#' || *p == '\n' || !*p)
            continue;
        if (n == cap)
            v = xrealloc(v, (cap = cap ? cap * 2 : 64) * sizeof *v);
        cmd_t *c = &v[n];
        memset(c, 0, sizeof *c);
        int used = 0;
        unsigned long long tick;
        if (sscanf(p, "%llu %7s %n", &tick, c->what, &used) < 2) {
            fprintf(stderr, "modrun: %s:%d: expected TICK msg|leave|stop ...\n", path, ln);
            exit(2);
        }
        c->tick = tick;
        p += used;
        int used2 = 0;
        if (strcmp(c->what, "msg") == 0) {
            if (sscanf(p, "%u %u %n", &c->player, &c->op, &used2) < 2) {
                fprintf(stderr, "modrun: %s:%d: msg needs PLAYER OP [DATA]\n", path, ln);
                exit(2);
            }
            p += used2;
        } else if (strcmp(c->what, "leave") == 0) {
            if (sscanf(p, "%u %n", &c->player, &used2) < 1) {
                fprintf(stderr, "modrun: %s:%d: leave needs PLAYER\n", path, ln);
                exit(2);
            }
            p += used2;
        } else if (strcmp(c->what, "stop") != 0) {
            fprintf(stderr, "modrun: %s:%d: unknown command %s\n", path, ln, c->what);
            exit(2);
        }
        c->data = xmalloc(strlen(p) + 1);
        c->len = unescape(p, c->data);
        n++;
    }
    fclose(f);
    *ncmd = n;
    return v;
}

/* ---- running ---- */

static const char USAGE[] =
    "usage: modrun [--players N] [--seed N] [--ticks N] [--budget N] [--memory BYTES]\n"
    "              [--time-limit-ms N] MODULE.lua [SCRIPT]\n"
    "Runs a game module with gamed's runtime and sandbox, feeding it SCRIPT's messages\n"
    "(lines: `TICK msg PLAYER OP DATA`, `TICK leave PLAYER [REASON]`, `TICK stop [REASON]`),\n"
    "and prints its broadcasts and finish results. Exit: 0 finished, 1 failed or stopped,\n"
    "3 out of ticks, 2 usage.\n";

static module_version_t *load_module(const char *path, const modrt_limits_t *lim)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "modrun: cannot open %s\n", path);
        exit(2);
    }
    module_version_t *v = xcalloc(1, sizeof *v);
    v->source = xmalloc(1 << 20);
    v->len = fread(v->source, 1, 1 << 20, f);
    fclose(f);
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    char *base = basename(tmp), *dot = strrchr(base, '.');
    if (dot)
        *dot = '\0';
    snprintf(v->mode, sizeof v->mode, "%s", base);
    v->refs = 1;
    v->version = 1;
    char err[2048];
    int rc = modrt_check(v->source, v->len, v->mode, lim, &v->min_players, &v->max_players, err, sizeof err);
    if (rc != MODRT_OK) {
        printf("tick=0 failed kind=%s reason=\"load: %s\"\n", modrt_kind(rc), err);
        exit(1);
    }
    return v;
}

static void print_results(void *st)
{
    mode_result_t res;
    memset(&res, 0, sizeof res);
    res.players = xcalloc(M.n, sizeof *res.players);
    MODE_LUA.results(st, &M, &res);
    printf("tick=%llu finish summary=", (unsigned long long)M.ticks);
    print_quoted((const uint8_t *)res.summary, strlen(res.summary));
    putchar('\n');
    for (uint32_t i = 0; i < M.n; i++)
        printf("  user=%llu score=%u outcome=%s stats=%s\n", (unsigned long long)M.players[i].user_id,
               res.players[i].score, res.players[i].outcome[0] ? res.players[i].outcome : "-",
               res.players[i].stats_json[0] ? res.players[i].stats_json : "{}");
    xfree(res.players);
}

static int ended(void *st)
{
    if (M.fail_kind[0]) {
        printf("tick=%llu failed kind=%s reason=\"%s\"\n", (unsigned long long)M.ticks, M.fail_kind, M.fail_reason);
        return 1;
    }
    if (M.over) {
        print_results(st);
        return 0;
    }
    return -1;
}

/* Applies the script's commands due before tick `next`; returns 1 after a stop. */
static int apply_cmds(void *st, cmd_t *cmds, size_t ncmd, size_t *at, uint64_t next)
{
    for (; *at < ncmd && cmds[*at].tick <= next; (*at)++) {
        cmd_t *c = &cmds[*at];
        if (strcmp(c->what, "stop") == 0) {
            MODE_LUA.terminate(st, &M, c->len ? (const char *)c->data : "stopped");
            printf("tick=%llu stopped\n", (unsigned long long)M.ticks);
            return 1;
        }
        if (c->player < 1 || c->player > M.n) {
            fprintf(stderr, "modrun: player %u: the match has players 1-%u\n", c->player, M.n);
            exit(2);
        }
        if (strcmp(c->what, "msg") == 0) {
            if (mode_lua_queue(st, c->player, c->op, c->data, c->len) != 0)
                printf("tick=%llu refused msg from %u: the inbox is full\n", (unsigned long long)M.ticks, c->player);
        } else {
            c->data[c->len] = '\0';
            MODE_LUA.leave(st, &M, c->player - 1, c->len ? (const char *)c->data : "left");
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    log_init("modrun", LOG_INFO);
    modrt_limits_t lim = {.memory_max = MODRT_DEFAULT_MEMORY, .instruction_budget = MODRT_DEFAULT_BUDGET};
    uint32_t nplayers = 2;
    uint64_t seed = 1, max_ticks = 1200;
    G.sim_base.time_limit_ms = 180000;
    const char *module = NULL, *script = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (strcmp(a, "--players") == 0 && has)
            nplayers = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(a, "--seed") == 0 && has)
            seed = strtoull(argv[++i], NULL, 10);
        else if (strcmp(a, "--ticks") == 0 && has)
            max_ticks = strtoull(argv[++i], NULL, 10);
        else if (strcmp(a, "--budget") == 0 && has)
            lim.instruction_budget = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(a, "--memory") == 0 && has)
            lim.memory_max = strtoull(argv[++i], NULL, 10);
        else if (strcmp(a, "--time-limit-ms") == 0 && has)
            G.sim_base.time_limit_ms = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(USAGE, stdout);
            return 0;
        } else if (a[0] != '-' && !module)
            module = a;
        else if (a[0] != '-' && !script)
            script = a;
        else {
            fprintf(stderr, "modrun: bad argument %s\n%s", a, USAGE);
            return 2;
        }
    }
    if (!module || nplayers < 1 || nplayers > MATCH_MAX_PLAYERS || !G.sim_base.time_limit_ms) {
        fputs(USAGE, stderr);
        return 2;
    }
    size_t ncmd = 0, at = 0;
    cmd_t *cmds = script ? read_script(script, &ncmd) : NULL;
    G.modules = modules_new(".", &lim);
    M.g = &G;
    M.id = 1;
    M.module = load_module(module, &lim);
    snprintf(M.mode, sizeof M.mode, "%s", M.module->mode);
    M.ops = &MODE_LUA;
    M.n = nplayers;
    M.players = xcalloc(nplayers, sizeof *M.players);
    for (uint32_t i = 0; i < nplayers; i++) {
        M.players[i].user_id = i + 1;
        snprintf(M.players[i].name, sizeof M.players[i].name, "player%u", i + 1);
    }
    if (nplayers < M.module->min_players || nplayers > M.module->max_players)
        fprintf(stderr, "modrun: warning: the module takes %u-%u players; gamed would refuse %u\n",
                M.module->min_players, M.module->max_players, nplayers);
    M.seed = M.rng = seed;
    M.tick_ms = 50;
    char err[256] = "";
    void *st = MODE_LUA.init(&M, &M.tick_ms, err, sizeof err);
    int rc = st ? -1 : (ended(NULL), 1);
    for (uint32_t i = 0; st && rc < 0 && i < M.n; i++) {
        (void)MODE_LUA.join(st, &M, i);
        rc = ended(st);
    }
    if (st && rc < 0)
        printf("tick=0 started mode=%s players=%u tick_ms=%u\n", M.mode, M.n, M.tick_ms);
    while (st && rc < 0) {
        if (M.ticks >= max_ticks) {
            printf("tick=%llu out of ticks (--ticks %llu)\n", (unsigned long long)M.ticks, (unsigned long long)max_ticks);
            rc = 3;
            break;
        }
        if (apply_cmds(st, cmds, ncmd, &at, M.ticks + 1)) {
            rc = 1;
            break;
        }
        M.ticks++;
        MODE_LUA.loop(st, &M);
        if (!match_over(&M) && match_now_ms(&M) >= 2ull * G.sim_base.time_limit_ms)
            match_fail(&M, "time_limit", "time limit");
        rc = ended(st);
    }
    if (st)
        MODE_LUA.free(st);
    for (size_t i = 0; i < ncmd; i++)
        xfree(cmds[i].data);
    xfree(cmds);
    xfree(M.players);
    module_version_unref(M.module);
    modules_free(G.modules);
    return rc;
}
