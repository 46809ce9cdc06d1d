/* modules_util: the game-module tests' shared helpers (see modules_util.h). */
#include "modules_util.h"

#include <fcntl.h>
#include <sys/wait.h>

uint32_t mu_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t mu_rd64(const uint8_t *p) { return mu_rd32(p) | (uint64_t)mu_rd32(p + 4) << 32; }

float mu_rdf(const uint8_t *p)
{
    uint32_t u = mu_rd32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void check_room(const RoomState *r, const char *mode, int line)
{
    const char *want = mode[0] ? mode : "arena";
    if (!r || strcmp(r->mode, want) != 0)
        lu_die(line, "room state mode \"%s\", expected \"%s\"", r ? r->mode : "(none)", want);
}

uint64_t mu_create_room(player_t *p, const char *mode, uint32_t max, uint32_t *max_out)
{
    CreateRoomRequest rq = CREATE_ROOM_REQUEST__INIT;
    rq.name = p->name;
    rq.max_players = max;
    rq.mode = (char *)mode;
    CreateRoomResponse *o = OK_CALL(p, CREATE_ROOM_REQUEST, &rq.base, CREATE_ROOM_RESPONSE,
                                    create_room_response__descriptor);
    check_room(o->room, mode, __LINE__);
    uint64_t id = o->room->room_id;
    if (max_out)
        *max_out = o->room->max_players;
    create_room_response__free_unpacked(o, NULL);
    return id;
}

void mu_create_err(player_t *p, const char *mode, uint32_t max, int code, char *msg, size_t n)
{
    CreateRoomRequest rq = CREATE_ROOM_REQUEST__INIT;
    rq.name = p->name;
    rq.max_players = max;
    rq.mode = (char *)mode;
    res_t r = p_call(p, PACKET_TYPE__CREATE_ROOM_REQUEST, &rq.base);
    if (msg)
        snprintf(msg, n, "%s", r.msg);
    err_res(r, p->name, PACKET_TYPE__CREATE_ROOM_REQUEST, code, __LINE__);
}

uint32_t mu_quick(player_t *p, const char *mode)
{
    QuickMatchRequest rq = QUICK_MATCH_REQUEST__INIT;
    rq.mode = (char *)mode;
    QuickMatchResponse *o = OK_CALL(p, QUICK_MATCH_REQUEST, &rq.base, QUICK_MATCH_RESPONSE,
                                    quick_match_response__descriptor);
    uint32_t q = o->queued;
    quick_match_response__free_unpacked(o, NULL);
    return q;
}

void mu_quick_err(player_t *p, const char *mode, int code)
{
    QuickMatchRequest rq = QUICK_MATCH_REQUEST__INIT;
    rq.mode = (char *)mode;
    err_res(p_call(p, PACKET_TYPE__QUICK_MATCH_REQUEST, &rq.base), p->name,
            PACKET_TYPE__QUICK_MATCH_REQUEST, code, __LINE__);
}

void mu_fill_room(player_t **ps, int n, uint64_t room)
{
    for (int i = 1; i < n; i++)
        p_join_room(ps[i], room);
    for (int i = 0; i < n; i++)
        p_ready(ps[i]);
}

uint64_t mu_start(player_t **ps, int n, const char *mode, uint32_t *game)
{
    uint32_t g;
    uint64_t match = ps_request_start(ps, n, &g);
    if (ps_wait(ps, n, cond_started, &match, 8000) < 0)
        DIE("not every player got MATCH_START for %s match %llu", mode, (unsigned long long)match);
    for (int i = 0; i < n; i++) {
        CHECK_EQ(ps[i]->starting_game, g);
        if (strcmp(ps[i]->start->mode, mode) != 0)
            DIE("%s: MATCH_START mode \"%s\", expected \"%s\"", ps[i]->name, ps[i]->start->mode, mode);
    }
    if (game)
        *game = g;
    return match;
}

sc_match_t mu_match(const scene_t *s, player_t **ps, int n, const char *mode, uint32_t max, uint32_t *max_out)
{
    sc_match_t m = {0};
    m.room = mu_create_room(ps[0], mode, max, max_out);
    mu_fill_room(ps, n, m.room);
    m.id = mu_start(ps, n, mode, &m.game);
    m.gi = lu_game_index(&s->cl, m.game);
    CHECK(m.gi >= 0);
    return m;
}

void mu_wait_over(player_t **ps, int n, int timeout_ms)
{
    uint64_t t0 = h_now_ms();
    for (;;) {
        int done = 1;
        for (int i = 0; i < n; i++) {
            p_pump(ps[i], 2);
            if (!ps[i]->over && !ps[i]->aborted)
                done = 0;
        }
        if (done)
            return;
        if (h_now_ms() - t0 > (uint64_t)timeout_ms)
            DIE("no GAME_OVER for everyone within %d ms", timeout_ms);
    }
}

static const PlayerResult *result_of(const GameOver *go, uint64_t uid)
{
    for (size_t i = 0; i < go->n_results; i++)
        if (go->results[i]->user_id == uid)
            return go->results[i];
    return NULL;
}

void mu_check_record(const GameOver *go, uint32_t game, const char *mode)
{
    lu_rec_t rec;
    if (lu_pg_wait_record(go->match_id, &rec, 5000) < 0)
        DIE("no record of %s match %llu", mode, (unsigned long long)go->match_id);
    CHECK(go->outcome == MATCH_OUTCOME__FINISHED);
    CHECK(strcmp(rec.outcome, "finished") == 0);
    CHECK_EQ(rec.game, game);
    CHECK_EQ(rec.room, go->room_id);
    CHECK_EQ(rec.nplayers, go->n_results);
    PGconn *db = lu_pg();
    char id[24];
    snprintf(id, sizeof id, "%llu", (unsigned long long)go->match_id);
    const char *params[] = {id};
    PGresult *r = PQexecParams(db, "SELECT mode, summary FROM matches WHERE id = $1", 1, NULL,
                               params, NULL, NULL, 0);
    CHECK(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1);
    if (strcmp(PQgetvalue(r, 0, 0), mode) != 0 || strcmp(PQgetvalue(r, 0, 1), go->summary) != 0)
        DIE("record mode \"%s\" summary \"%s\"; GAME_OVER mode \"%s\" summary \"%s\"",
            PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), go->mode, go->summary);
    PQclear(r);
    r = PQexecParams(db, "SELECT user_id, score, outcome FROM match_players WHERE match_id = $1",
                     1, NULL, params, NULL, NULL, 0);
    CHECK(PQresultStatus(r) == PGRES_TUPLES_OK);
    CHECK_EQ(PQntuples(r), go->n_results);
    for (int i = 0; i < PQntuples(r); i++) {
        uint64_t uid = strtoull(PQgetvalue(r, i, 0), NULL, 10);
        const PlayerResult *pr = result_of(go, uid);
        if (!pr || pr->score != strtoul(PQgetvalue(r, i, 1), NULL, 10) ||
            strcmp(pr->outcome, PQgetvalue(r, i, 2)) != 0)
            DIE("record of user %llu: score %s outcome %s; GAME_OVER: score %u outcome %s",
                (unsigned long long)uid, PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
                pr ? pr->score : 0, pr ? pr->outcome : "(none)");
    }
    PQclear(r);
    PQfinish(db);
}

void mu_check_history(player_t *p, const GameOver *go, const char *mode)
{
    const PlayerResult *mine = result_of(go, p->uid);
    CHECK(mine != NULL);
    GetMatchHistoryRequest rq = GET_MATCH_HISTORY_REQUEST__INIT;
    rq.page_size = 50;
    GetMatchHistoryResponse *h = OK_CALL(p, GET_MATCH_HISTORY_REQUEST, &rq.base,
                                         GET_MATCH_HISTORY_RESPONSE,
                                         get_match_history_response__descriptor);
    const MatchRecord *m = NULL;
    for (size_t i = 0; i < h->n_matches; i++)
        if (h->matches[i]->match_id == go->match_id)
            m = h->matches[i];
    if (!m)
        DIE("%s: match %llu not in GET_MATCH_HISTORY", p->name, (unsigned long long)go->match_id);
    if (m->outcome != MATCH_OUTCOME__FINISHED || strcmp(m->mode, mode) != 0 ||
        strcmp(m->summary, go->summary) != 0 || !m->me || m->me->score != mine->score ||
        strcmp(m->me->outcome, mine->outcome) != 0)
        DIE("%s: history says %s mode \"%s\" summary \"%s\" score %u outcome %s; GAME_OVER said "
            "mode \"%s\" summary \"%s\" score %u outcome %s",
            p->name, outcome_name(m->outcome), m->mode, m->summary, m->me ? m->me->score : 0,
            m->me ? m->me->outcome : "", go->mode, go->summary, mine->score, mine->outcome);
    get_match_history_response__free_unpacked(h, NULL);
}

void mu_send_data(player_t *p, uint32_t op, const void *data, size_t len, uint32_t seq)
{
    MatchDataSend m = MATCH_DATA_SEND__INIT;
    m.op_code = op;
    m.data.data = (uint8_t *)data;
    m.data.len = len;
    send_frame(p->c, PACKET_TYPE__MATCH_DATA_SEND, seq, &m.base);
}

int mu_wait_refusal(player_t *p, uint32_t seq, int timeout_ms)
{
    uint64_t t0 = h_now_ms();
    while (h_now_ms() - t0 < (uint64_t)timeout_ms) {
        uint16_t t;
        uint32_t s;
        uint8_t *b;
        size_t n;
        if (csync_wait_push_seq(p->c, &t, &s, &b, &n, 20) != 0)
            continue;
        int code = -2;
        if (s == seq && t == PACKET_TYPE__ERROR_RESPONSE) {
            ErrorResponse *e = error_response__unpack(NULL, n, b);
            code = e ? (int)e->code : -1;
            if (e)
                error_response__free_unpacked(e, NULL);
        } else if (s == 0) {
            p_on_push(p, t, b, n);
        }
        xfree(b);
        if (code != -2)
            return code;
    }
    return -1;
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = xmalloc(cap);
    size_t k;
    while ((k = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += k;
        if (n + 1 == cap)
            buf = xrealloc(buf, cap *= 2);
    }
    buf[n] = '\0';
    fclose(f);
    return buf;
}

int mu_bot(const char *name, const char *const *args, int timeout_ms, char **json)
{
    char jpath[512], out[512];
    snprintf(jpath, sizeof jpath, "%s/bot-%s.json", h_dir(), name);
    snprintf(out, sizeof out, "%s/bot-%s.out", h_dir(), name);
    unlink(jpath);
    const char *argv[48];
    sc_bot_argv(argv, 48, args, jpath);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(BOT_PATH, (char *const *)argv);
        _exit(127);
    }
    int st = -1;
    uint64_t t0 = h_now_ms();
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            break;
        if (h_now_ms() - t0 > (uint64_t)timeout_ms) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            DIE("bot %s did not finish within %d ms (output: %s)", name, timeout_ms, out);
        }
        h_sleep_ms(50);
    }
    char *text = read_all(out);
    printf("---- bot %s ----\n%s\n", name, text ? text : "(no output)");
    xfree(text);
    *json = read_all(jpath);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

double mu_json_num(const char *json, const char *section, const char *key)
{
    const char *at = json;
    char pat[96];
    if (section) {
        snprintf(pat, sizeof pat, "\"%s\":", section);
        at = strstr(json, pat);
        if (!at)
            DIE("bot JSON has no \"%s\"", section);
    }
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *v = strstr(at, pat);
    if (!v)
        DIE("bot JSON has no \"%s\" after \"%s\"", key, section ? section : "(start)");
    return strtod(v + strlen(pat), NULL);
}
