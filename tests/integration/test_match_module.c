/* test_match_module: Lua game modules in the real cluster: 1 lobby, 1 game daemon serving
 * modules from a folder of the test's own, 2 gateways, real players logged in through the
 * lobby. Matches are placed the way the lobby places them (match:<id> with `mode`, SADD
 * game:<gid>:matches, RPUSH game:<gid>:inbox). Checked: MATCH_START with the mode;
 * MATCH_DATA_SEND is one-way (no frame ever carries its seq) and reaches the module, whose
 * broadcast reaches both gateways' players; oversized data is BAD_REQUEST, an arena packet
 * BAD_REQUEST, NOT_IN_GAME after the end, a flood RATE_LIMITED then a disconnect; ctx.finish
 * gives GAME_OVER (mode, FINISHED, summary, score and outcome per player) and the record in
 * PostgreSQL says the same; a module that errs, loops, overspends memory or returns garbage
 * (in init, join or loop) ends its own match with MATCH_ABORTED and an 'aborted' record while
 * a match running beside it keeps every tick on time; an unknown mode is refused; reload:
 * new matches get the new file, running ones keep theirs, a broken file leaves the previous
 * version serving (clusterctl exits 1 with the error), a removed file's running matches
 * finish and new ones are refused; errors in leave and terminate are the module's errors too. */
#include <sys/stat.h>
#include <sys/wait.h>

#include "frame.h"
#include "lobby_util.h"

static char RUN[8];
static char MODDIR[600];

#define OP_ECHO 1
#define OP_FINISH 2
#define OP_ERROR 3
#define OP_SPIN 4
#define OP_BOMB 5
#define OP_NIL 6
#define OP_SANDBOX 7
#define OP_VERSION 8
#define OP_TICK 100

/* The test module: echoes, finishes, and fails on request. VERSION is replaced per file. */
static const char ECHO_LUA[] =
    "local VERSION = '%s'\n"
    "local M = {min_players = 1, max_players = 8}\n"
    "function M.init(ctx, params)\n"
    "  assert(params.players == #ctx.players and params.time_limit_ms > 0 and params.seed)\n"
    "  return {joined = 0}, 20\n"
    "end\n"
    "function M.join(ctx, state, player) state.joined = state.joined + 1 return state end\n"
    "function M.leave(ctx, state, player, reason) return state end\n"
    "function M.loop(ctx, state, tick, messages)\n"
    "  ctx.broadcast(100, tostring(tick))\n"
    "  for _, m in ipairs(messages) do\n"
    "    if m.op == 1 then ctx.broadcast(1, m.sender .. ':' .. m.data)\n"
    "    elseif m.op == 2 then\n"
    "      local res = {}\n"
    "      for i, p in ipairs(ctx.players) do\n"
    "        res[i] = {user_id = p.user_id, score = tonumber(m.data) + i,\n"
    "                  outcome = p.user_id == m.sender and 'win' or 'loss', stats = {joined = state.joined}}\n"
    "      end\n"
    "      ctx.finish({players = res, summary = 'ended by ' .. m.sender})\n"
    "    elseif m.op == 3 then error('asked to fail')\n"
    "    elseif m.op == 4 then while true do end\n"
    "    elseif m.op == 5 then local s = string.rep('x', 1 << 30)\n"
    "    elseif m.op == 6 then return nil\n"
    "    elseif m.op == 7 then ctx.broadcast(7, tostring(os) .. tostring(io) .. tostring(require))\n"
    "    elseif m.op == 8 then ctx.broadcast(8, VERSION)\n"
    "    end\n"
    "  end\n"
    "  return state\n"
    "end\n"
    "return M\n";

static void write_file(const char *name, const char *text)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", MODDIR, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs(text, f);
    fclose(f);
}

static void write_echo(const char *mode, const char *version)
{
    char src[4096], name[64];
    snprintf(src, sizeof src, ECHO_LUA, version);
    snprintf(name, sizeof name, "%s.lua", mode);
    write_file(name, src);
}

/* A module whose callback `fn` has the body `body` (the others are plain). */
static void write_bad(const char *mode, const char *init_body, const char *join_body)
{
    char src[2048], name[64];
    snprintf(src, sizeof src,
             "local M = {}\n"
             "function M.init(ctx, params) %s end\n"
             "function M.join(ctx, state, player) %s end\n"
             "function M.leave(ctx, state, player, reason) return state end\n"
             "function M.loop(ctx, state, tick, messages) return state end\n"
             "return M\n",
             init_body, join_body);
    snprintf(name, sizeof name, "%s.lua", mode);
    write_file(name, src);
}

/* ---- a player's view of a module match, read straight from its connection ---- */

#define MP_MAX_TICKS 4096

typedef struct mp {
    player_t *p;
    MatchStart *start;
    GameOver *over;
    MatchAborted *aborted;
    uint32_t last_op;
    char last_data[256];
    uint64_t last_sender;
    int n_data[16];        /* MATCH_DATA per op (op 100 not counted here) */
    uint64_t tick_at[MP_MAX_TICKS]; /* arrival of the module's per-tick broadcast, by tick */
    uint32_t max_tick;
    int stray;             /* frames carrying the seq of a one-way MATCH_DATA_SEND */
    int err_code;          /* the last ERROR_RESPONSE to a seq we wait for */
    uint32_t err_seq;
    char err_msg[160];
} mp_t;

#define ONE_WAY_SEQ 0x70000000u
static uint32_t next_seq = ONE_WAY_SEQ;

static void mp_reset(mp_t *m)
{
    if (m->start)
        match_start__free_unpacked(m->start, NULL);
    if (m->over)
        game_over__free_unpacked(m->over, NULL);
    if (m->aborted)
        match_aborted__free_unpacked(m->aborted, NULL);
    player_t *p = m->p;
    memset(m, 0, sizeof *m);
    m->p = p;
}

static void mp_frame(mp_t *m, uint16_t t, uint32_t seq, const uint8_t *b, size_t n)
{
    if (seq >= ONE_WAY_SEQ && seq != m->err_seq)
        m->stray++;
    if (t == PACKET_TYPE__MATCH_START) {
        mp_reset(m);
        m->start = match_start__unpack(NULL, n, b);
    } else if (t == PACKET_TYPE__GAME_OVER) {
        m->over = game_over__unpack(NULL, n, b);
    } else if (t == PACKET_TYPE__MATCH_ABORTED) {
        m->aborted = match_aborted__unpack(NULL, n, b);
    } else if (t == PACKET_TYPE__MATCH_DATA) {
        MatchData *d = match_data__unpack(NULL, n, b);
        CHECK(d != NULL);
        if (d->op_code == OP_TICK) {
            char num[16];
            snprintf(num, sizeof num, "%.*s", (int)(d->data.len < 15 ? d->data.len : 15), (const char *)d->data.data);
            uint32_t tick = (uint32_t)strtoul(num, NULL, 10);
            if (tick < MP_MAX_TICKS)
                m->tick_at[tick] = h_now_ms();
            if (tick > m->max_tick)
                m->max_tick = tick;
        } else {
            m->last_op = d->op_code;
            snprintf(m->last_data, sizeof m->last_data, "%.*s", (int)d->data.len, (const char *)d->data.data);
            m->last_sender = d->sender_id;
            if (d->op_code < 16)
                m->n_data[d->op_code]++;
        }
        match_data__free_unpacked(d, NULL);
    } else if (t == PACKET_TYPE__ERROR_RESPONSE && seq == m->err_seq) {
        ErrorResponse *e = error_response__unpack(NULL, n, b);
        CHECK(e != NULL);
        m->err_code = e->code;
        snprintf(m->err_msg, sizeof m->err_msg, "%s", e->message);
        error_response__free_unpacked(e, NULL);
    }
}

static void mp_pump(mp_t *m, int ms)
{
    if (!m->p->c)
        return;
    (void)csync_pump(m->p->c, ms);
    uint16_t t;
    uint32_t seq;
    uint8_t *b;
    size_t n;
    while (csync_pushes(m->p->c) > 0 && csync_wait_push_seq(m->p->c, &t, &seq, &b, &n, 0) == 0) {
        mp_frame(m, t, seq, b, n);
        xfree(b);
    }
}

static mp_t MP[8];
static int NMP;

static void pump_all(int ms)
{
    for (int i = 0; i < NMP; i++)
        mp_pump(&MP[i], ms);
}

typedef int (*mp_cond)(const mp_t *m);
static int has_start(const mp_t *m) { return m->start != NULL; }
static int has_over(const mp_t *m) { return m->over != NULL; }
static int has_aborted(const mp_t *m) { return m->aborted != NULL; }
static int has_error(const mp_t *m) { return m->err_code != 0; }

static int wait_for(mp_t *m, mp_cond cond, int timeout_ms)
{
    uint64_t t0 = h_now_ms();
    while (!cond(m)) {
        if (h_now_ms() - t0 > (uint64_t)timeout_ms)
            return -1;
        pump_all(1);
    }
    return 0;
}

/* Sends MATCH_DATA_SEND as a raw frame; returns its seq. */
static uint32_t send_data(mp_t *m, uint32_t op, const char *data, size_t len)
{
    MatchDataSend s = MATCH_DATA_SEND__INIT;
    s.op_code = op;
    s.data.data = (uint8_t *)data;
    s.data.len = len;
    size_t n = match_data_send__get_packed_size(&s);
    uint8_t *buf = xmalloc(FRAME_HDR_LEN + n);
    uint32_t seq = next_seq++;
    frame_hdr_write(buf, (uint32_t)n, PACKET_TYPE__MATCH_DATA_SEND, seq);
    match_data_send__pack(&s, buf + FRAME_HDR_LEN);
    int rc = csync_send_bytes(m->p->c, buf, FRAME_HDR_LEN + n);
    xfree(buf);
    CHECK_EQ(rc, 0);
    return seq;
}

/* Sends and waits for the ERROR_RESPONSE with the same seq; returns its code. */
static int send_expect_error(mp_t *m, uint32_t op, const char *data, size_t len)
{
    m->err_code = 0;
    m->err_seq = next_seq;
    (void)send_data(m, op, data, len);
    if (wait_for(m, has_error, 5000) < 0)
        DIE("%s: no error answer to MATCH_DATA_SEND seq %u", m->p->name, m->err_seq);
    m->err_seq = 0;
    return m->err_code;
}

/* ---- placing matches as the lobby does ---- */

static uint64_t next_match = 9000001;

static uint64_t place(uint32_t gid, const char *mode, mp_t **ms, int n)
{
    uint64_t id = next_match++;
    char players[256] = "";
    for (int i = 0; i < n; i++) {
        size_t l = strlen(players);
        snprintf(players + l, sizeof players - l, "%s%llu", i ? "," : "", (unsigned long long)ms[i]->p->uid);
        mp_reset(ms[i]);
    }
    redisReply *r = redisCommand(h_redis(), "HSET %smatch:%llu room %llu game %u players %s mode %s", h_prefix(),
                                 (unsigned long long)id, (unsigned long long)id, gid, players, mode);
    CHECK(r && r->type == REDIS_REPLY_INTEGER);
    freeReplyObject(r);
    r = redisCommand(h_redis(), "SADD %sgame:%u:matches %llu", h_prefix(), gid, (unsigned long long)id);
    freeReplyObject(r);
    r = redisCommand(h_redis(), "RPUSH %sgame:%u:inbox %llu", h_prefix(), gid, (unsigned long long)id);
    freeReplyObject(r);
    return id;
}

/* The game daemon refuses match id (its mode unknown there): one match_refused line in its log
 * within 3 s, the players pumped meanwhile. */
static void expect_refused(proc_t *game, uint64_t id, const char *mode)
{
    char needle[96];
    snprintf(needle, sizeof needle, "event=match_refused match=%llu mode=%s", (unsigned long long)id, mode);
    uint64_t t0 = h_now_ms();
    while (h_log_count(game, needle) == 0 && h_now_ms() - t0 < 3000)
        pump_all(5);
    CHECK_EQ(h_log_count(game, needle), 1);
}

static void expect_start(mp_t **ms, int n, uint64_t id, const char *mode)
{
    for (int i = 0; i < n; i++) {
        if (wait_for(ms[i], has_start, 5000) < 0)
            DIE("%s: no MATCH_START for %s match %llu", ms[i]->p->name, mode, (unsigned long long)id);
        CHECK_EQ(ms[i]->start->match_id, id);
        CHECK(strcmp(ms[i]->start->mode, mode) == 0);
        CHECK_EQ(ms[i]->start->n_players, n);
        CHECK_EQ(ms[i]->start->tick_ms, 50);
    }
}

static lu_rec_t record_of(uint64_t id, char *mode, char *summary, char outcomes[][8], char stats[][64])
{
    lu_rec_t rec;
    if (lu_pg_wait_record(id, &rec, 5000) < 0)
        DIE("no record of match %llu", (unsigned long long)id);
    PGconn *db = lu_pg();
    char ids[24];
    snprintf(ids, sizeof ids, "%llu", (unsigned long long)id);
    const char *params[] = {ids};
    PGresult *r = PQexecParams(db, "SELECT mode, summary FROM matches WHERE id = $1", 1, NULL, params, NULL, NULL, 0);
    CHECK(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1);
    snprintf(mode, 32, "%s", PQgetvalue(r, 0, 0));
    snprintf(summary, 128, "%s", PQgetvalue(r, 0, 1));
    PQclear(r);
    r = PQexecParams(db, "SELECT outcome, stats::text FROM match_players WHERE match_id = $1 ORDER BY user_id", 1,
                     NULL, params, NULL, NULL, 0);
    CHECK(PQresultStatus(r) == PGRES_TUPLES_OK);
    for (int i = 0; i < PQntuples(r) && i < 8; i++) {
        snprintf(outcomes[i], 8, "%s", PQgetvalue(r, i, 0));
        snprintf(stats[i], 64, "%s", PQgetvalue(r, i, 1));
    }
    PQclear(r);
    PQfinish(db);
    return rec;
}

/* ---- scenarios ---- */

static cluster_t cl;

/* Two players on two gateways play an echo match to its end through ctx.finish. */
static void scenario_play(mp_t *a, mp_t *b)
{
    mp_t *ms[] = {a, b};
    uint64_t id = place(cl.game_id[0], "echo", ms, 2);
    expect_start(ms, 2, id, "echo");
    /* one-way: no answer; the module's broadcast reaches both gateways' players */
    (void)send_data(a, OP_ECHO, "hello", 5);
    char want[64];
    snprintf(want, sizeof want, "%llu:hello", (unsigned long long)a->p->uid);
    for (int i = 0; i < 2; i++) {
        uint64_t t0 = h_now_ms();
        while (ms[i]->n_data[OP_ECHO] == 0 && h_now_ms() - t0 < 3000)
            pump_all(1);
        CHECK_EQ(ms[i]->n_data[OP_ECHO], 1);
        CHECK(strcmp(ms[i]->last_data, want) == 0);
        CHECK_EQ(ms[i]->last_sender, 0);
    }
    /* the sandbox, seen from a match: no os, io, require */
    (void)send_data(b, OP_SANDBOX, "", 0);
    while (b->n_data[OP_SANDBOX] == 0)
        pump_all(1);
    CHECK(strcmp(b->last_data, "nilnilnil") == 0);
    /* bad input: oversized data, an arena packet into a module match */
    char big[1025];
    memset(big, 'x', sizeof big);
    CHECK_EQ(send_expect_error(a, OP_ECHO, big, sizeof big), ERROR_CODE__BAD_REQUEST);
    printf("play: oversized MATCH_DATA_SEND -> BAD_REQUEST (%s)\n", a->err_msg);
    PlayerUseItem item = PLAYER_USE_ITEM__INIT;
    item.item = 1;
    res_t r = p_call(a->p, PACKET_TYPE__PLAYER_USE_ITEM, &item.base);
    CHECK(r.rc == 0 && r.type == PACKET_TYPE__ERROR_RESPONSE && r.err == ERROR_CODE__BAD_REQUEST);
    printf("play: PLAYER_USE_ITEM in a module match -> BAD_REQUEST (%s)\n", r.msg);
    res_free(&r);
    /* the end: ctx.finish */
    (void)send_data(b, OP_FINISH, "10", 2);
    for (int i = 0; i < 2; i++)
        if (wait_for(ms[i], has_over, 5000) < 0)
            DIE("%s: no GAME_OVER after ctx.finish", ms[i]->p->name);
    for (int i = 0; i < 2; i++) {
        const GameOver *go = ms[i]->over;
        CHECK_EQ(go->match_id, id);
        CHECK_EQ(go->outcome, MATCH_OUTCOME__FINISHED);
        CHECK(strcmp(go->mode, "echo") == 0);
        char sum[64];
        snprintf(sum, sizeof sum, "ended by %llu", (unsigned long long)b->p->uid);
        CHECK(strcmp(go->summary, sum) == 0);
        CHECK_EQ(go->n_results, 2);
        for (size_t k = 0; k < 2; k++) {
            const PlayerResult *pr = go->results[k];
            int is_b = pr->user_id == b->p->uid;
            CHECK(strcmp(pr->outcome, is_b ? "win" : "loss") == 0);
            CHECK_EQ(pr->score, is_b ? 12 : 11);
        }
    }
    char mode[32], summary[128], outcomes[8][8], stats[8][64];
    lu_rec_t rec = record_of(id, mode, summary, outcomes, stats);
    CHECK(strcmp(rec.outcome, "finished") == 0);
    CHECK(strcmp(mode, "echo") == 0);
    CHECK(strcmp(summary, a->over->summary) == 0);
    CHECK_EQ(rec.nplayers, 2);
    for (int k = 0; k < 2; k++) {
        int is_b = rec.pl[k].uid == b->p->uid;
        CHECK_EQ(rec.pl[k].score, is_b ? 12 : 11);
        CHECK(strcmp(outcomes[k], is_b ? "win" : "loss") == 0);
        CHECK(strcmp(stats[k], "{\"joined\": 2}") == 0);
    }
    printf("play: GAME_OVER (FINISHED, \"%s\", scores 11/12, loss/win) = record (mode %s, %s, stats %s)\n",
           summary, mode, rec.outcome, stats[0]);
    /* after the end: NOT_IN_GAME */
    CHECK_EQ(send_expect_error(a, OP_ECHO, "late", 4), ERROR_CODE__NOT_IN_GAME);
    pump_all(200);
    CHECK_EQ(a->stray + b->stray, 0);
    printf("play: MATCH_DATA_SEND after the end -> NOT_IN_GAME; no frame answered a one-way send\n");
}

/* The first line of p's log containing needle. Returns 0, or -1 when none does. */
static int log_line(proc_t *p, const char *needle, char *out, size_t n)
{
    FILE *f = fopen(p->log, "r");
    if (!f)
        return -1;
    char line[4096];
    int rc = -1;
    while (rc < 0 && fgets(line, sizeof line, f))
        if (strstr(line, needle)) {
            snprintf(out, n, "%.*s", (int)(n - 1), line);
            rc = 0;
        }
    fclose(f);
    return rc;
}

static int cmp_u64v(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

/* Counted: cluster_game_module_errors_total{mode,kind} on gamed's admin endpoint (its
 * snapshot is published every 500 ms). */
static void check_error_counters(void)
{
    redisReply *r = redisCommand(h_redis(), "HGET %sServer:Game:%u admin_port", h_prefix(), cl.game_id[0]);
    CHECK(r && r->type == REDIS_REPLY_STRING);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "curl -s --max-time 5 http://127.0.0.1:%s/metrics", r->str);
    freeReplyObject(r);
    static const char *const want[] = {
        "cluster_game_module_errors_total{mode=\"echo\",kind=\"error\"} 1",
        "cluster_game_module_errors_total{mode=\"echo\",kind=\"budget\"} 1",
        "cluster_game_module_errors_total{mode=\"echo\",kind=\"memory\"} 1",
        "cluster_game_module_errors_total{mode=\"echo\",kind=\"bad_return\"} 1",
        "cluster_game_module_errors_total{mode=\"joinspin\",kind=\"budget\"} 1",
    };
    static char text[1 << 17];
    int ok = 0;
    for (uint64_t t1 = h_now_ms(); !ok && h_now_ms() - t1 < 3000;) {
        h_sleep_ms(200);
        FILE *f = popen(cmd, "r");
        CHECK(f != NULL);
        size_t n = fread(text, 1, sizeof text - 1, f);
        text[n] = '\0';
        pclose(f);
        ok = 1;
        for (size_t k = 0; k < sizeof want / sizeof want[0]; k++)
            ok &= strstr(text, want[k]) != NULL;
    }
    if (!ok)
        DIE("/metrics lacks the module error counters:\n%s", strstr(text, "cluster_game_module") ? strstr(text, "cluster_game_module") : "(none)");
    printf("counted: cluster_game_module_errors_total{mode,kind} 1 for each failure above\n");
}

/* Each way a module can fail ends its own match; the healthy match beside it keeps ticking. */
static void scenario_failures(mp_t *healthy, mp_t *bad)
{
    mp_t *hs[] = {healthy};
    uint64_t hid = place(cl.game_id[0], "echo", hs, 1);
    expect_start(hs, 1, hid, "echo");
    uint32_t first_tick = 0;
    while (!healthy->max_tick)
        pump_all(1);
    first_tick = healthy->max_tick;
    static const struct {
        const char *mode;
        int op;
        const char *kind, *reason;
    } cases[] = {
        {"echo", OP_ERROR, "error", "asked to fail"},
        {"echo", OP_SPIN, "budget", "instruction budget exceeded"},
        {"echo", OP_BOMB, "memory", "memory cap exceeded"},
        {"echo", OP_NIL, "bad_return", "loop returned no state"},
        {"badinit", 0, "error", "failed in init: badinit:3: init fails"},
        {"nostate", 0, "bad_return", "init returned no state"},
        {"norate", 0, "bad_return", "tick_rate (an integer 1-60 Hz)"},
        {"badjoin", 0, "error", "failed in join"},
        {"joinspin", 0, "budget", "failed in join: instruction budget"},
    };
    mp_t *bs[] = {bad};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t id = place(cl.game_id[0], cases[i].mode, bs, 1);
        if (cases[i].op) {
            expect_start(bs, 1, id, cases[i].mode);
            (void)send_data(bad, (uint32_t)cases[i].op, "", 0);
        }
        if (wait_for(bad, has_aborted, 5000) < 0)
            DIE("%s: no MATCH_ABORTED for the %s case", bad->p->name, cases[i].kind);
        CHECK_EQ(bad->aborted->match_id, id);
        if (!strstr(bad->aborted->reason, cases[i].reason))
            DIE("MATCH_ABORTED reason \"%s\" lacks \"%s\"", bad->aborted->reason, cases[i].reason);
        lu_rec_t rec;
        CHECK(lu_pg_wait_record(id, &rec, 5000) >= 0);
        CHECK(strcmp(rec.outcome, "aborted") == 0);
        char needle[96];
        snprintf(needle, sizeof needle, "event=module_error match=%llu", (unsigned long long)id);
        CHECK_EQ(h_log_count(cl.game[0], needle), 1);
        printf("failure %-10s (%s%s): MATCH_ABORTED \"%s\", record aborted, traceback logged\n", cases[i].kind,
               cases[i].mode, cases[i].op ? " loop" : "", bad->aborted->reason);
    }
    CHECK(healthy->aborted == NULL && healthy->over == NULL);
    /* the healthy match: every tick arrived, on time */
    uint64_t t1 = h_now_ms();
    while (healthy->max_tick < first_tick + 40 && h_now_ms() - t1 < 5000)
        pump_all(1);
    uint32_t last = healthy->max_tick;
    CHECK(last >= first_tick + 40);
    uint64_t gaps[MP_MAX_TICKS];
    int n = 0;
    for (uint32_t t = first_tick + 1; t <= last && t < MP_MAX_TICKS; t++) {
        if (!healthy->tick_at[t] || !healthy->tick_at[t - 1])
            DIE("the healthy match's tick %u never arrived", t);
        gaps[n++] = healthy->tick_at[t] - healthy->tick_at[t - 1];
    }
    qsort(gaps, (size_t)n, sizeof gaps[0], cmp_u64v);
    printf("healthy match beside them: ticks %u-%u all arrived; seen by the client (which blocks on "
           "PostgreSQL meanwhile): gap p50 %llu ms, max %llu ms\n",
           first_tick, last, (unsigned long long)gaps[n / 2], (unsigned long long)gaps[n - 1]);
    check_error_counters();
    /* unknown mode: refused, nobody is bound */
    expect_refused(cl.game[0], place(cl.game_id[0], "nosuch", bs, 1), "nosuch");
    CHECK(bad->start == NULL);
    printf("unknown mode: refused by the game daemon (match_refused), no MATCH_START\n");
    (void)send_data(healthy, OP_FINISH, "1", 1);
    CHECK(wait_for(healthy, has_over, 5000) == 0);
    /* the daemon's own measure of the healthy match: time between the starts of its ticks */
    char needle[96];
    snprintf(needle, sizeof needle, "event=module_match_ticks match=%llu", (unsigned long long)hid);
    (void)h_wait_log(cl.game[0], needle, 1, 3000);
    char line[512];
    CHECK(log_line(cl.game[0], needle, line, sizeof line) == 0);
    unsigned long long p99 = strtoull(strstr(line, "gap_p99_us=") + 11, NULL, 10);
    unsigned long long mx = strtoull(strstr(line, "gap_max_us=") + 11, NULL, 10);
    printf("healthy match, measured by gamed: %s\n", strstr(line, "ticks="));
    /* no tick lost or late by a whole tick at p99 (the machine is shared: the bound is the
     * tick itself, not the tick's few-ms scheduling noise); none late by more than 3 ticks */
    if (p99 >= 2 * 50000 || mx >= 4 * 50000)
        DIE("the healthy match's ticks: gap p99 %llu us, max %llu us (tick 50 ms)", p99, mx);
}

static char ctl_out[1 << 14];

/* Runs clusterctl with the test's Redis and prefix; returns its exit status, stdout and stderr
 * in ctl_out. */
static int ctl(const char *args)
{
    char a[1024];
    snprintf(a, sizeof a, "%s 2>&1", args);
    return h_clusterctl(NULL, a, ctl_out, sizeof ctl_out);
}

static void expect_version(mp_t *m, const char *v)
{
    int before = m->n_data[OP_VERSION];
    (void)send_data(m, OP_VERSION, "", 0);
    uint64_t t0 = h_now_ms();
    while (m->n_data[OP_VERSION] == before && h_now_ms() - t0 < 3000)
        pump_all(1);
    if (m->n_data[OP_VERSION] == before || strcmp(m->last_data, v) != 0)
        DIE("%s: the match runs version \"%s\", expected \"%s\"", m->p->name, m->last_data, v);
}

static void modes_field(char *out, size_t n)
{
    redisReply *r = redisCommand(h_redis(), "HGET %sServer:Game:%u modes", h_prefix(), cl.game_id[0]);
    snprintf(out, n, "%s", r && r->type == REDIS_REPLY_STRING ? r->str : "");
    if (r)
        freeReplyObject(r);
}

/* Reload: new matches get the new file; running ones keep theirs; a broken file leaves the
 * previous version serving; a removed file's matches finish and new ones are refused. */
static void scenario_reload(mp_t *e, mp_t *f)
{
    char gid[16], modes[256];
    snprintf(gid, sizeof gid, "%u", cl.game_id[0]);
    mp_t *es[] = {e}, *fs[] = {f};
    uint64_t r1 = place(cl.game_id[0], "rel", es, 1);
    expect_start(es, 1, r1, "rel");
    expect_version(e, "v1");
    write_echo("rel", "v2");
    char args[64];
    snprintf(args, sizeof args, "reload-modules %s", gid);
    CHECK_EQ(ctl(args), 0);
    CHECK(strstr(ctl_out, "rel: loaded v2") != NULL);
    CHECK(strstr(ctl_out, "echo: unchanged v1") != NULL);
    uint64_t r2 = place(cl.game_id[0], "rel", fs, 1);
    expect_start(fs, 1, r2, "rel");
    expect_version(f, "v2");
    expect_version(e, "v1");
    printf("reload: the new match runs v2, the running one still v1\n");
    write_file("rel.lua", "local M = {\nreturn M\n");
    CHECK_EQ(ctl("reload-modules"), 1);
    CHECK(strstr(ctl_out, "rel: error:") != NULL && strstr(ctl_out, "v2 keeps serving") != NULL);
    CHECK(h_log_count(cl.game[0], "event=module_load_failed mode=rel") >= 1);
    modes_field(modes, sizeof modes);
    CHECK(strstr(modes, "rel") != NULL);
    printf("reload: a broken file is refused with its error; v2 keeps serving (modes=%s)\n", modes);
    char path[700];
    snprintf(path, sizeof path, "%s/rel.lua", MODDIR);
    CHECK(unlink(path) == 0);
    CHECK_EQ(ctl(args), 0);
    CHECK(strstr(ctl_out, "rel: removed") != NULL);
    modes_field(modes, sizeof modes);
    CHECK(strstr(modes, "rel") == NULL && strstr(modes, "echo") != NULL);
    expect_version(e, "v1");
    expect_version(f, "v2");
    (void)send_data(e, OP_FINISH, "1", 1);
    (void)send_data(f, OP_FINISH, "1", 1);
    CHECK(wait_for(e, has_over, 5000) == 0 && wait_for(f, has_over, 5000) == 0);
    expect_refused(cl.game[0], place(cl.game_id[0], "rel", es, 1), "rel");
    printf("reload: the file removed, its running matches finished, a new one is refused (modes=%s)\n", modes);
}

/* Errors in leave (a player placed in another match is gone for good from the first) and in
 * terminate (the lobby ended the match) are the module's errors too: logged with their
 * traceback and counted, the match aborted. */
static void scenario_leave_terminate(mp_t *x, mp_t *y)
{
    mp_t *both[] = {x, y}, *xs[] = {x}, *ys[] = {y};
    uint64_t a = place(cl.game_id[0], "badleave", both, 2);
    expect_start(both, 2, a, "badleave");
    uint64_t b = place(cl.game_id[0], "echo", xs, 1);
    expect_start(xs, 1, b, "echo");
    if (wait_for(y, has_aborted, 5000) < 0)
        DIE("%s: no MATCH_ABORTED after the module's leave failed", y->p->name);
    CHECK_EQ(y->aborted->match_id, a);
    CHECK(strstr(y->aborted->reason, "failed in leave: badleave:4: leave fails") != NULL);
    char needle[128];
    snprintf(needle, sizeof needle, "event=module_error match=%llu mode=badleave callback=leave", (unsigned long long)a);
    CHECK_EQ(h_log_count(cl.game[0], needle), 1);
    pump_all(300);
    CHECK(x->aborted == NULL); /* gone to match b: neither told about a's end nor unbound */
    printf("leave: the module's error in leave aborted its match (\"%s\"); the player plays on in the new one\n",
           y->aborted->reason);
    (void)send_data(x, OP_FINISH, "1", 1);
    CHECK(wait_for(x, has_over, 5000) == 0);
    uint64_t c = place(cl.game_id[0], "badleave", ys, 1);
    expect_start(ys, 1, c, "badleave");
    redisReply *r = redisCommand(h_redis(), "SREM %sgame:%u:matches %llu", h_prefix(), cl.game_id[0],
                                 (unsigned long long)c);
    freeReplyObject(r);
    if (wait_for(y, has_aborted, 5000) < 0)
        DIE("%s: no MATCH_ABORTED after the lobby ended the match", y->p->name);
    CHECK(strstr(y->aborted->reason, "the lobby ended the match") != NULL);
    snprintf(needle, sizeof needle, "event=module_error match=%llu mode=badleave callback=terminate",
             (unsigned long long)c);
    CHECK_EQ(h_log_count(cl.game[0], needle), 1);
    lu_rec_t rec;
    CHECK(lu_pg_wait_record(c, &rec, 5000) >= 0 && strcmp(rec.outcome, "aborted") == 0);
    printf("terminate: the lobby ended the match; the module's error in terminate is logged, the record aborted\n");
}

/* Takes every queued push of c; returns how many were ERROR_RESPONSE RATE_LIMITED. */
static int take_rate_limited(csync_t *c)
{
    int limited = 0;
    uint16_t t;
    uint32_t seq;
    uint8_t *buf;
    size_t n;
    while (csync_pushes(c) > 0 && csync_wait_push_seq(c, &t, &seq, &buf, &n, 0) == 0) {
        if (t == PACKET_TYPE__ERROR_RESPONSE) {
            ErrorResponse *e = error_response__unpack(NULL, n, buf);
            limited += e && e->code == ERROR_CODE__RATE_LIMITED;
            if (e)
                error_response__free_unpacked(e, NULL);
        }
        xfree(buf);
    }
    return limited;
}

/* A flood of MATCH_DATA_SEND: RATE_LIMITED, then the gateway closes the connection; the
 * match goes on for the other player. */
static void scenario_flood(mp_t *a, mp_t *b)
{
    mp_t *ms[] = {a, b};
    uint64_t id = place(cl.game_id[0], "echo", ms, 2);
    expect_start(ms, 2, id, "echo");
    int limited = 0;
    for (int i = 0; i < 2000 && csync_is_connected(a->p->c); i++) {
        (void)send_data(a, OP_ECHO, "x", 1);
        if (i % 50 == 0) {
            (void)csync_pump(a->p->c, 1);
            limited += take_rate_limited(a->p->c);
        }
    }
    CHECK(csync_wait_closed(a->p->c, 5000) == 0);
    limited += take_rate_limited(a->p->c);
    CHECK(limited > 0);
    printf("flood: %d RATE_LIMITED, then the gateway closed the connection\n", limited);
    csync_close(a->p->c);
    a->p->c = NULL;
    (void)send_data(b, OP_FINISH, "3", 1);
    CHECK(wait_for(b, has_over, 5000) == 0);
    printf("flood: the match went on for the other player and ended with GAME_OVER\n");
}

int main(void)
{
    h_init("match_module");
    snprintf(RUN, sizeof RUN, "%04x", (unsigned)(h_now_ms() & 0xffff));
    h_pg_start();
    snprintf(MODDIR, sizeof MODDIR, "%s/modules", h_dir());
    CHECK(mkdir(MODDIR, 0755) == 0);
    write_echo("echo", "v1");
    write_echo("rel", "v1");
    write_bad("badinit", "\n error('init fails')", "return state");
    write_bad("nostate", "return nil, 20", "return state");
    write_bad("norate", "return {}, 0", "return state");
    write_bad("badjoin", "return {}, 20", "local x = nil; return x.y");
    write_bad("joinspin", "return {}, 20", "while true do end");
    write_file("badleave.lua", "local M = {}\n"
                               "function M.init(ctx, params) return {}, 20 end\n"
                               "function M.join(ctx, state, player) return state end\n"
                               "function M.leave(ctx, state, player, reason) error('leave fails') end\n"
                               "function M.loop(ctx, state, tick, messages) return state end\n"
                               "function M.terminate(ctx, state, reason) error('terminate fails') end\n"
                               "return M\n");
    char dir_env[700];
    snprintf(dir_env, sizeof dir_env, "GAME_MODULES_DIR=%s", MODDIR);
    const char *game_env[] = {dir_env, "MODULE_INSTRUCTION_BUDGET=2000000", "MODULE_MEMORY_MAX=4194304",
                              "MATCH_DATA_MAX=1024", "MATCH_TIME_LIMIT_MS=60000", "DRAIN_TIMEOUT_MS=500", NULL};
    lu_cluster_up(&cl, "mod", NULL, game_env, 1, 2);
    /* a gateway with tight packet limits, for the flood */
    int flood_port;
    const char *flood_env[] = {"RATE_LIMIT=50", "RATE_BURST=50", "RATE_KICK_AFTER=20", NULL};
    proc_t *flood_gw = h_spawn_gateway(&flood_port, flood_env);
    uint64_t t0 = h_now_ms();
    while ((h_log_count(flood_gw, "event=link_up type=Lobby") == 0 || h_log_count(flood_gw, "event=link_up type=Game") == 0) &&
           h_now_ms() - t0 < 10000)
        h_sleep_ms(20);
    char modes[256];
    modes_field(modes, sizeof modes);
    CHECK(strstr(modes, "arena,") == modes && strstr(modes, "echo") && strstr(modes, "rel"));
    printf("registry: modes=%s\n", modes);

    static player_t pl[7];
    player_t *ps[7];
    for (int i = 0; i < 7; i++) {
        p_init(&pl[i], RUN, "mod", i, i == 6 ? flood_port : cl.port[i % 2]);
        ps[i] = &pl[i];
        MP[i].p = &pl[i];
    }
    NMP = 7;
    p_signup_all(ps, 7);
    scenario_play(&MP[0], &MP[1]);
    scenario_failures(&MP[2], &MP[3]);
    scenario_reload(&MP[4], &MP[5]);
    scenario_leave_terminate(&MP[4], &MP[5]);
    scenario_flood(&MP[6], &MP[1]);
    for (int i = 0; i < 7; i++) {
        mp_reset(&MP[i]);
        p_free(&pl[i]);
    }
    lu_stop(flood_gw, 3000);
    lu_cluster_down(&cl);
    printf("match_module: all passed\n");
    return 0;
}
