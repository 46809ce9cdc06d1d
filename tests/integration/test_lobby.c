/* test_lobby: accounts, sessions, rooms, quick match and placement through real gateways,
 * lobby daemons, game daemons, Redis and PostgreSQL (docs/lobby.md).
 *
 * Scenarios: the full room flow over two gateways and two lobbies with a lobby killed -9
 * midway; 200 clients racing for a 4-player room; 100 concurrent starts spread over two game
 * daemons; duplicate login across gateways; RESUME and the grace period, LOGOUT; every lobby
 * request refused before login; a login storm against the bounded hashing queue; every error
 * code; hostile input; quick match. */
#include <ctype.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "alloc.h"
#include "client.h"
#include "client_sync.h"
#include "cluster.pb-c.h"
#include "conn.h"
#include "harness.h"

#define T_REQ 6000 /* ms a single request may take */

/* high limits: the tests send requests in tight loops */
static const char *const GW_ENV[] = {"RATE_LIMIT=100000", "RATE_BURST=100000", NULL};

static char RUN[8]; /* per-run tag in every username: one PostgreSQL serves all scenarios */

static const char *err_name(int code)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&error_code__descriptor, code);
    return v ? v->name : "?";
}

static const char *type_name(int t)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&packet_type__descriptor, t);
    return v ? v->name : "?";
}

/* ------------------------------------------------------------------------------------------ */
/* cluster */

typedef struct cluster {
    proc_t *gw[2];
    int port[2];
    uint32_t gw_id[2];
    int ngw;
    proc_t *lobby[2];
    uint32_t lobby_id[2];
    int nlobby;
    proc_t *game[2];
    uint32_t game_id[2];
    int ngame;
    char lobby_env_buf[16][256];
    const char *lobby_env[20];
    const char *game_env[3];
} cluster_t;

static uint32_t server_id_of(proc_t *p)
{
    uint32_t id = 0;
    for (int i = 0; i < 500 && !id; i++) {
        id = h_server_id(p);
        if (!id)
            h_sleep_ms(10);
    }
    CHECK(id != 0);
    return id;
}

static void stop_proc(proc_t *p)
{
    if (!h_alive(p))
        return;
    h_kill(p, SIGTERM);
    int st = h_wait_exit(p, 15000);
    if (st != 0)
        fprintf(stderr, "%s (pid %d) exited with %d on SIGTERM\n", p->name, (int)p->pid, st);
    CHECK_EQ(st, 0);
}

/* Lobby environment: extra first (it wins), then DATABASE_URL and, unless real_hash, the
 * fast argon2id limits. */
static void cluster_lobby_env(cluster_t *cl, const char *const *extra, int real_hash)
{
    int n = 0, b = 0;
    for (int i = 0; extra && extra[i] && n < 12; i++)
        cl->lobby_env[n++] = extra[i];
    snprintf(cl->lobby_env_buf[b], sizeof cl->lobby_env_buf[b], "DATABASE_URL=%s", h_pg_conninfo());
    cl->lobby_env[n++] = cl->lobby_env_buf[b++];
    if (!real_hash) {
        cl->lobby_env[n++] = "HASH_OPSLIMIT=1";
        cl->lobby_env[n++] = "HASH_MEMLIMIT_KIB=8192";
    }
    cl->lobby_env[n] = NULL;
    cl->game_env[0] = cl->lobby_env_buf[0]; /* DATABASE_URL: match records */
    /* matches the tests start are never played: a stop aborts them after 500 ms */
    cl->game_env[1] = "DRAIN_TIMEOUT_MS=500";
    cl->game_env[2] = NULL;
}

static proc_t *cluster_add_lobby(cluster_t *cl)
{
    int i = cl->nlobby++;
    char name[32];
    snprintf(name, sizeof name, "lobbyd%d", i + 1);
    cl->lobby[i] = h_spawn(LOBBYD_PATH, name, cl->lobby_env);
    CHECK(h_wait_registered("Lobby", cl->nlobby, 15000) >= 0);
    cl->lobby_id[i] = server_id_of(cl->lobby[i]);
    return cl->lobby[i];
}

static proc_t *cluster_add_game(cluster_t *cl)
{
    int i = cl->ngame++;
    char name[32];
    snprintf(name, sizeof name, "gamed%d", i + 1);
    cl->game[i] = h_spawn(GAMED_PATH, name, cl->game_env);
    CHECK(h_wait_registered("Game", cl->ngame, 15000) >= 0);
    cl->game_id[i] = server_id_of(cl->game[i]);
    return cl->game[i];
}

/* Sends ECHO LOBBY until every live lobby id has answered through this gateway. */
static void wait_gateway_sees_lobbies(cluster_t *cl, int g)
{
    csync_t *c = csync_connect("127.0.0.1", cl->port[g], 3000);
    CHECK(c != NULL);
    int seen[2] = {0, 0};
    uint64_t t0 = h_now_ms();
    for (;;) {
        int all = 1;
        for (int i = 0; i < cl->nlobby; i++)
            if (h_alive(cl->lobby[i]) && !seen[i])
                all = 0;
        if (all)
            break;
        if (h_now_ms() - t0 > 10000) {
            fprintf(stderr, "gateway %d never reached every lobby (seen %d/%d)\n", g, seen[0], seen[1]);
            h_fail();
        }
        EchoRequest req = ECHO_REQUEST__INIT;
        req.target = ECHO_TARGET__LOBBY;
        uint16_t rt = 0;
        uint8_t *p = NULL;
        size_t len = 0;
        if (csync_request(c, PACKET_TYPE__ECHO_REQUEST, &req.base, &rt, &p, &len, 3000) == 0) {
            if (rt == PACKET_TYPE__ECHO_RESPONSE) {
                EchoResponse *r = echo_response__unpack(NULL, len, p);
                for (int i = 0; r && i < cl->nlobby; i++)
                    if (r->server_id == cl->lobby_id[i])
                        seen[i] = 1;
                if (r)
                    echo_response__free_unpacked(r, NULL);
            } else {
                h_sleep_ms(20);
            }
            xfree(p);
        }
    }
    csync_close(c);
}

static void cluster_add_gateway(cluster_t *cl)
{
    int i = cl->ngw++;
    cl->gw[i] = h_spawn_gateway(&cl->port[i], GW_ENV);
    cl->gw_id[i] = server_id_of(cl->gw[i]);
    if (cl->nlobby)
        wait_gateway_sees_lobbies(cl, i);
}

static void cluster_up(cluster_t *cl, const char *tag, int ngw, int nlobby, int ngame,
                       const char *const *lobby_extra, int real_hash)
{
    memset(cl, 0, sizeof *cl);
    h_new_prefix(tag);
    cluster_lobby_env(cl, lobby_extra, real_hash);
    for (int i = 0; i < nlobby; i++)
        cluster_add_lobby(cl);
    for (int i = 0; i < ngame; i++)
        cluster_add_game(cl);
    for (int i = 0; i < ngw; i++)
        cluster_add_gateway(cl);
}

/* SIGTERM everything still running; every daemon must exit 0 (under ASan: no leak). */
static void cluster_down(cluster_t *cl)
{
    for (int i = 0; i < cl->ngw; i++)
        stop_proc(cl->gw[i]);
    for (int i = 0; i < cl->nlobby; i++)
        stop_proc(cl->lobby[i]);
    for (int i = 0; i < cl->ngame; i++)
        stop_proc(cl->game[i]);
}

static int is_game_id(const cluster_t *cl, uint32_t id)
{
    for (int i = 0; i < cl->ngame; i++)
        if (cl->game_id[i] == id && h_alive(cl->game[i]))
            return 1;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* blocking requests */

typedef struct res {
    int rc;           /* 0 or CLIENT_E* */
    uint16_t type;    /* response type */
    int err;          /* error code when type is ERROR_RESPONSE */
    uint32_t req_type;
    char msg[256];
    uint8_t *p;
    size_t len;
    int ms;
} res_t;

static void res_parse_error(res_t *r)
{
    if (r->type != PACKET_TYPE__ERROR_RESPONSE)
        return;
    ErrorResponse *e = error_response__unpack(NULL, r->len, r->p);
    if (!e) {
        fprintf(stderr, "undecodable ERROR_RESPONSE\n");
        h_fail();
    }
    r->err = e->code;
    r->req_type = e->request_type;
    snprintf(r->msg, sizeof r->msg, "%s", e->message ? e->message : "");
    error_response__free_unpacked(e, NULL);
}

static res_t call_raw(csync_t *c, uint16_t type, const uint8_t *data, size_t n)
{
    res_t r;
    memset(&r, 0, sizeof r);
    uint64_t t0 = h_now_ms();
    r.rc = csync_request_raw(c, type, data, n, &r.type, &r.p, &r.len, T_REQ);
    r.ms = (int)(h_now_ms() - t0);
    if (r.rc == 0)
        res_parse_error(&r);
    return r;
}

static res_t call(csync_t *c, uint16_t type, const ProtobufCMessage *m)
{
    size_t n = m ? protobuf_c_message_get_packed_size(m) : 0;
    uint8_t *buf = xmalloc(n ? n : 1);
    if (n)
        protobuf_c_message_pack(m, buf);
    res_t r = call_raw(c, type, buf, n);
    xfree(buf);
    return r;
}

static void res_free(res_t *r)
{
    xfree(r->p);
    r->p = NULL;
}

static void res_describe(const res_t *r, char *out, size_t n)
{
    if (r->rc != 0)
        snprintf(out, n, "no response (%s) after %d ms", client_strerror(r->rc), r->ms);
    else if (r->type == PACKET_TYPE__ERROR_RESPONSE)
        snprintf(out, n, "ERROR_RESPONSE %s \"%s\" (request_type %u)", err_name(r->err), r->msg,
                 r->req_type);
    else
        snprintf(out, n, "%s (%zu bytes)", type_name(r->type), r->len);
}

/* Expects a response of type want and decodes it as d. */
static void *ok_res(res_t r, uint16_t req_type, uint16_t want, const ProtobufCMessageDescriptor *d,
                    int line)
{
    if (r.rc != 0 || r.type != want) {
        char what[400];
        res_describe(&r, what, sizeof what);
        fprintf(stderr, "line %d: %s: expected %s, got %s\n", line, type_name(req_type),
                type_name(want), what);
        h_fail();
    }
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, r.len, r.p);
    if (!m) {
        fprintf(stderr, "line %d: %s does not decode\n", line, type_name(want));
        h_fail();
    }
    res_free(&r);
    return m;
}

#define OK_CALL(c, REQ, msg, RESP, desc)                                                       \
    ok_res(call((c), PACKET_TYPE__##REQ, (msg)), PACKET_TYPE__##REQ, PACKET_TYPE__##RESP,       \
           &(desc), __LINE__)

/* Expects ERROR_RESPONSE(code) with request_type and a non-empty message; returns it. */
static res_t err_res(res_t r, uint16_t req_type, int code, int line)
{
    if (r.rc != 0 || r.type != PACKET_TYPE__ERROR_RESPONSE || r.err != code ||
        r.req_type != req_type || r.msg[0] == '\0') {
        char what[400];
        res_describe(&r, what, sizeof what);
        fprintf(stderr, "line %d: %s: expected ERROR_RESPONSE %s with a message, got %s\n", line,
                type_name(req_type), err_name(code), what);
        h_fail();
    }
    res_free(&r);
    return r;
}

#define ERR_CALL(c, REQ, msg, CODE)                                                            \
    err_res(call((c), PACKET_TYPE__##REQ, (msg)), PACKET_TYPE__##REQ, ERROR_CODE__##CODE, __LINE__)
#define ERR_RAW(c, REQ, data, n, CODE)                                                         \
    err_res(call_raw((c), PACKET_TYPE__##REQ, (data), (n)), PACKET_TYPE__##REQ,                 \
            ERROR_CODE__##CODE, __LINE__)

/* Queues one frame without waiting (its response lands in the push queue by its seq). */
static void send_frame(csync_t *c, uint16_t type, uint32_t seq, const ProtobufCMessage *m)
{
    size_t n = m ? protobuf_c_message_get_packed_size(m) : 0;
    uint8_t *buf = xmalloc(10 + n);
    buf[0] = (uint8_t)(n >> 24);
    buf[1] = (uint8_t)(n >> 16);
    buf[2] = (uint8_t)(n >> 8);
    buf[3] = (uint8_t)n;
    buf[4] = (uint8_t)(type >> 8);
    buf[5] = (uint8_t)type;
    buf[6] = (uint8_t)(seq >> 24);
    buf[7] = (uint8_t)(seq >> 16);
    buf[8] = (uint8_t)(seq >> 8);
    buf[9] = (uint8_t)seq;
    if (n)
        protobuf_c_message_pack(m, buf + 10);
    CHECK_EQ(csync_send_bytes(c, buf, 10 + n), 0);
    xfree(buf);
}

/* ------------------------------------------------------------------------------------------ */
/* pushes */

/* Pushes of a running match (types 200-299) come from the game daemon once a match is placed:
 * running matches is the game daemon's part, so the lobby's checks skip them. */
static int is_match_push(uint16_t t) { return t >= 200 && t < 300; }
static int match_pushes_skipped;

/* csync_wait_push that skips match pushes. */
static int wait_lobby_push(csync_t *c, uint16_t *t, uint8_t **p, size_t *n, int timeout_ms)
{
    uint64_t deadline = h_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        uint64_t now = h_now_ms();
        int left = now >= deadline ? 0 : (int)(deadline - now);
        int rc = csync_pushes(c) ? csync_wait_push(c, t, p, n, 0) : csync_wait_push(c, t, p, n, left > 0 ? left : 1);
        if (rc != 0)
            return rc;
        if (!is_match_push(*t))
            return 0;
        match_pushes_skipped++;
        xfree(*p);
        *p = NULL;
    }
}

static void describe_push(uint16_t t, const uint8_t *p, size_t n, char *out, size_t cap)
{
    if (t == PACKET_TYPE__ROOM_UPDATE) {
        RoomUpdate *u = room_update__unpack(NULL, n, p);
        if (!u) {
            snprintf(out, cap, "ROOM_UPDATE (undecodable)");
            return;
        }
        int o = snprintf(out, cap, "ROOM_UPDATE event=%s actor=%llu room=%llu status=%d members=[",
                         u->event, (unsigned long long)u->actor_id,
                         u->room ? (unsigned long long)u->room->room_id : 0ull,
                         u->room ? (int)u->room->status : -1);
        for (size_t i = 0; u->room && i < u->room->n_members && o < (int)cap - 40; i++)
            o += snprintf(out + o, cap - (size_t)o, "%s%llu%s%s", i ? "," : "",
                          (unsigned long long)u->room->members[i]->user_id,
                          u->room->members[i]->ready ? "r" : "", u->room->members[i]->online ? "" : "(off)");
        if (o < (int)cap - 2)
            snprintf(out + o, cap - (size_t)o, "]");
        room_update__free_unpacked(u, NULL);
    } else if (t == PACKET_TYPE__KICKED) {
        Kicked *k = kicked__unpack(NULL, n, p);
        snprintf(out, cap, "KICKED code=%s", k ? err_name(k->code) : "?");
        if (k)
            kicked__free_unpacked(k, NULL);
    } else {
        snprintf(out, cap, "%s (%zu bytes)", type_name(t), n);
    }
}

static void *take_push_(csync_t *c, const char *who, uint16_t want, const ProtobufCMessageDescriptor *d,
                        int timeout_ms, int line)
{
    uint16_t t = 0;
    uint8_t *p = NULL;
    size_t n = 0;
    int rc = wait_lobby_push(c, &t, &p, &n, timeout_ms);
    if (rc != 0) {
        fprintf(stderr, "line %d: %s: no %s push within %d ms (%s)\n", line, who, type_name(want),
                timeout_ms, client_strerror(rc));
        h_fail();
    }
    if (t != want) {
        char what[512];
        describe_push(t, p, n, what, sizeof what);
        fprintf(stderr, "line %d: %s: expected a %s push, got %s\n", line, who, type_name(want), what);
        h_fail();
    }
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, n, p);
    xfree(p);
    if (!m) {
        fprintf(stderr, "line %d: %s: %s push does not decode\n", line, who, type_name(want));
        h_fail();
    }
    return m;
}

#define TAKE_PUSH(c, who, TYPE, desc, ms) take_push_((c), (who), PACKET_TYPE__##TYPE, &(desc), (ms), __LINE__)

/* No push arrives within ms. */
static void expect_no_push_(csync_t *c, const char *who, int ms, int line)
{
    (void)csync_pump(c, ms > 0 ? ms : 1);
    uint16_t t;
    uint8_t *p;
    size_t n;
    while (csync_pushes(c) != 0) {
        CHECK_EQ(csync_wait_push(c, &t, &p, &n, 0), 0);
        if (is_match_push(t)) {
            match_pushes_skipped++;
            xfree(p);
            continue;
        }
        char what[512];
        describe_push(t, p, n, what, sizeof what);
        xfree(p);
        fprintf(stderr, "line %d: %s: unexpected push %s (%zu more queued)\n", line, who, what,
                csync_pushes(c));
        h_fail();
    }
}
#define EXPECT_NO_PUSH(c, who, ms) expect_no_push_((c), (who), (ms), __LINE__)

/* Discards every queued push (after pumping ms); returns how many. */
static int drain_pushes(csync_t *c, int ms)
{
    /* never 0: csync_pump(c, 0) can block until the next byte arrives (its deadline timer
     * fires before libuv polls, and the poll then waits without a timeout) */
    (void)csync_pump(c, ms > 0 ? ms : 1);
    int n = 0;
    while (csync_pushes(c) > 0) {
        uint16_t t;
        uint8_t *p;
        size_t len;
        if (csync_wait_push(c, &t, &p, &len, 0) != 0)
            break;
        xfree(p);
        n++;
    }
    return n;
}

/* ------------------------------------------------------------------------------------------ */
/* room expectations */

typedef struct exp_room {
    uint64_t id;
    const char *name;
    uint64_t owner;
    uint32_t max;
    int status; /* RoomStatus */
    int n;
    uint64_t uid[4];
    int ready[4];
    int online[4];
    uint64_t match;   /* checked when non-zero */
    uint32_t game;    /* checked when non-zero */
} exp_room_t;

static void check_room_(const RoomState *r, const exp_room_t *e, const char *what, int line)
{
    int bad = !r || r->room_id != e->id || (e->name && strcmp(r->name, e->name) != 0) ||
              r->owner_id != e->owner || r->max_players != e->max || (int)r->status != e->status ||
              (int)r->n_members != e->n || (e->match && r->match_id != e->match) ||
              (e->game && r->game_server_id != e->game);
    for (int i = 0; !bad && i < e->n; i++)
        bad = r->members[i]->user_id != e->uid[i] || r->members[i]->ready != e->ready[i] ||
              r->members[i]->online != e->online[i] || r->members[i]->username[0] == '\0';
    if (!bad)
        return;
    fprintf(stderr, "line %d: %s: room state differs\n  expected id=%llu name=%s owner=%llu max=%u "
                    "status=%d members=[",
            line, what, (unsigned long long)e->id, e->name ? e->name : "*", (unsigned long long)e->owner,
            e->max, e->status);
    for (int i = 0; i < e->n; i++)
        fprintf(stderr, "%s%llu%s%s", i ? "," : "", (unsigned long long)e->uid[i], e->ready[i] ? "r" : "",
                e->online[i] ? "" : "(off)");
    fprintf(stderr, "]\n");
    if (!r) {
        fprintf(stderr, "  got no room\n");
        h_fail();
    }
    fprintf(stderr, "  got      id=%llu name=%s owner=%llu max=%u status=%d match=%llu game=%u members=[",
            (unsigned long long)r->room_id, r->name, (unsigned long long)r->owner_id, r->max_players,
            (int)r->status, (unsigned long long)r->match_id, r->game_server_id);
    for (size_t i = 0; i < r->n_members; i++)
        fprintf(stderr, "%s%llu%s%s", i ? "," : "", (unsigned long long)r->members[i]->user_id,
                r->members[i]->ready ? "r" : "", r->members[i]->online ? "" : "(off)");
    fprintf(stderr, "]\n");
    h_fail();
}
#define CHECK_ROOM(r, e, what) check_room_((r), (e), (what), __LINE__)

/* The next push must be ROOM_UPDATE(event, actor) carrying room e. */
static void expect_update_(csync_t *c, const char *who, const char *event, uint64_t actor,
                           const exp_room_t *e, int line)
{
    RoomUpdate *u = take_push_(c, who, PACKET_TYPE__ROOM_UPDATE, &room_update__descriptor, 3000, line);
    if (strcmp(u->event, event) != 0 || u->actor_id != actor) {
        fprintf(stderr, "line %d: %s: expected ROOM_UPDATE event=%s actor=%llu, got event=%s actor=%llu\n",
                line, who, event, (unsigned long long)actor, u->event, (unsigned long long)u->actor_id);
        h_fail();
    }
    char what[128];
    snprintf(what, sizeof what, "%s: ROOM_UPDATE %s", who, event);
    check_room_(u->room, e, what, line);
    room_update__free_unpacked(u, NULL);
}
#define EXPECT_UPDATE(c, who, event, actor, e) expect_update_((c), (who), (event), (actor), (e), __LINE__)

static void exp_add(exp_room_t *e, uint64_t uid)
{
    e->uid[e->n] = uid;
    e->ready[e->n] = 0;
    e->online[e->n] = 1;
    e->n++;
}

static void exp_set(exp_room_t *e, uint64_t uid, int ready, int online)
{
    for (int i = 0; i < e->n; i++)
        if (e->uid[i] == uid) {
            if (ready >= 0)
                e->ready[i] = ready;
            if (online >= 0)
                e->online[i] = online;
        }
}

static void exp_remove(exp_room_t *e, uint64_t uid)
{
    for (int i = 0; i < e->n; i++)
        if (e->uid[i] == uid) {
            for (int k = i; k + 1 < e->n; k++) {
                e->uid[k] = e->uid[k + 1];
                e->ready[k] = e->ready[k + 1];
                e->online[k] = e->online[k + 1];
            }
            e->n--;
            return;
        }
}

/* ------------------------------------------------------------------------------------------ */
/* players (blocking) */

typedef struct player {
    csync_t *c;
    int port;
    char name[32];
    char pass[48];
    uint64_t uid;
    char token[80];
} player_t;

static void p_init(player_t *p, const char *scen, int i, int port)
{
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "u%s_%s%d", RUN, scen, i);
    snprintf(p->pass, sizeof p->pass, "pw-%s-%d-secret", scen, i);
    p->port = port;
}

static void p_connect(player_t *p)
{
    if (p->c)
        csync_close(p->c);
    p->c = csync_connect("127.0.0.1", p->port, 3000);
    CHECK(p->c != NULL);
}

static void p_close(player_t *p)
{
    csync_close(p->c);
    p->c = NULL;
}

/* REGISTER, retrying while the lobby answers BUSY (bounded hashing queue). */
static uint64_t p_register(player_t *p)
{
    RegisterRequest rq = REGISTER_REQUEST__INIT;
    rq.username = p->name;
    rq.password = p->pass;
    for (int tries = 0;; tries++) {
        res_t r = call(p->c, PACKET_TYPE__REGISTER_REQUEST, &rq.base);
        if (r.rc == 0 && r.type == PACKET_TYPE__ERROR_RESPONSE && r.err == ERROR_CODE__BUSY && tries < 200) {
            res_free(&r);
            h_sleep_ms(20);
            continue;
        }
        RegisterResponse *o = ok_res(r, PACKET_TYPE__REGISTER_REQUEST, PACKET_TYPE__REGISTER_RESPONSE,
                                     &register_response__descriptor, __LINE__);
        uint64_t uid = o->user_id;
        register_response__free_unpacked(o, NULL);
        CHECK(uid > 0);
        return uid;
    }
}

/* LOGIN (retrying on BUSY); checks the response's fields; returns it (caller frees). */
static LoginResponse *p_login_full(player_t *p)
{
    LoginRequest rq = LOGIN_REQUEST__INIT;
    rq.username = p->name;
    rq.password = p->pass;
    for (int tries = 0;; tries++) {
        res_t r = call(p->c, PACKET_TYPE__LOGIN_REQUEST, &rq.base);
        if (r.rc == 0 && r.type == PACKET_TYPE__ERROR_RESPONSE && r.err == ERROR_CODE__BUSY && tries < 200) {
            res_free(&r);
            h_sleep_ms(20);
            continue;
        }
        LoginResponse *o = ok_res(r, PACKET_TYPE__LOGIN_REQUEST, PACKET_TYPE__LOGIN_RESPONSE,
                                  &login_response__descriptor, __LINE__);
        CHECK(o->user_id > 0);
        if (p->uid)
            CHECK_EQ(o->user_id, p->uid);
        p->uid = o->user_id;
        CHECK_EQ(strlen(o->token), 64);
        for (int i = 0; i < 64; i++)
            CHECK(isxdigit((unsigned char)o->token[i]) && !isupper((unsigned char)o->token[i]));
        CHECK(strcmp(o->username, p->name) == 0);
        CHECK(o->token_ttl_s > 0);
        snprintf(p->token, sizeof p->token, "%s", o->token);
        return o;
    }
}

static void p_login(player_t *p)
{
    LoginResponse *o = p_login_full(p);
    login_response__free_unpacked(o, NULL);
}

static void p_signup(player_t *p)
{
    p_connect(p);
    p->uid = p_register(p);
    p_login(p);
}

static RoomState *p_create(player_t *p, const char *name, uint32_t max)
{
    CreateRoomRequest rq = CREATE_ROOM_REQUEST__INIT;
    rq.name = (char *)name;
    rq.max_players = max;
    CreateRoomResponse *o = OK_CALL(p->c, CREATE_ROOM_REQUEST, &rq.base, CREATE_ROOM_RESPONSE,
                                    create_room_response__descriptor);
    CHECK(o->room != NULL);
    RoomState *r = o->room;
    o->room = NULL;
    create_room_response__free_unpacked(o, NULL);
    return r;
}

static RoomState *p_join(player_t *p, uint64_t room)
{
    JoinRoomRequest rq = JOIN_ROOM_REQUEST__INIT;
    rq.room_id = room;
    JoinRoomResponse *o = OK_CALL(p->c, JOIN_ROOM_REQUEST, &rq.base, JOIN_ROOM_RESPONSE,
                                  join_room_response__descriptor);
    CHECK(o->room != NULL);
    RoomState *r = o->room;
    o->room = NULL;
    join_room_response__free_unpacked(o, NULL);
    return r;
}

static RoomState *p_ready(player_t *p, int on)
{
    PrepareGameRequest rq = PREPARE_GAME_REQUEST__INIT;
    rq.ready = on;
    PrepareGameResponse *o = OK_CALL(p->c, PREPARE_GAME_REQUEST, &rq.base, PREPARE_GAME_RESPONSE,
                                     prepare_game_response__descriptor);
    CHECK(o->room != NULL);
    RoomState *r = o->room;
    o->room = NULL;
    prepare_game_response__free_unpacked(o, NULL);
    return r;
}

static void room_free(RoomState *r)
{
    if (r)
        room_state__free_unpacked(r, NULL);
}

static GetRoomListResponse *p_list(player_t *p, uint32_t page, uint32_t size)
{
    GetRoomListRequest rq = GET_ROOM_LIST_REQUEST__INIT;
    rq.page = page;
    rq.page_size = size;
    return OK_CALL(p->c, GET_ROOM_LIST_REQUEST, &rq.base, GET_ROOM_LIST_RESPONSE,
                   get_room_list_response__descriptor);
}

/* Whether room id is in GET_ROOM_LIST page 0 (size 50); fills *out (strings strdup'ed, see
 * summary_free) when found and *total with the list's total. */
static int p_list_find(player_t *p, uint64_t id, RoomSummary *out, uint32_t *total)
{
    GetRoomListResponse *l = p_list(p, 0, 50);
    int found = 0;
    for (size_t i = 0; i < l->n_rooms; i++)
        if (l->rooms[i]->room_id == id) {
            found = 1;
            if (out) {
                out->room_id = id;
                out->players = l->rooms[i]->players;
                out->max_players = l->rooms[i]->max_players;
                out->owner_name = strdup(l->rooms[i]->owner_name);
                out->name = strdup(l->rooms[i]->name);
            }
        }
    if (total)
        *total = l->total;
    get_room_list_response__free_unpacked(l, NULL);
    return found;
}

static void summary_free(RoomSummary *s)
{
    free(s->owner_name);
    free(s->name);
    s->owner_name = s->name = NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* many clients on one loop */

typedef struct apush {
    struct apush *next;
    uint16_t type;
    size_t len;
    uint8_t *p;
} apush_t;

struct ap;
typedef struct ac {
    struct ap *ap;
    client_t *c;
    int idx;
    int connected, closed;
    int busy;        /* a request is pending */
    int status;      /* 0 or CLIENT_E* */
    uint16_t rtype;
    int err;
    uint8_t *p;
    size_t len;
    uint64_t sent_ms, rtt_ms;
    void (*on_done)(struct ac *a);
    apush_t *ph, *pt;
    int npush;
    /* account */
    char user[32];
    char pass[48];
    uint64_t uid;
    int stage;
    int retries;
    uint64_t retry_at;
} ac_t;

typedef struct ap {
    uv_loop_t loop;
    conn_loop_t *cl;
    uv_timer_t timer;
    int fired;
    ac_t *c;
    int n;
} ap_t;

static void ac_event(client_t *c, int ev, int status, void *ud)
{
    ac_t *a = ud;
    if (ev == CLIENT_EV_CONNECTED)
        a->connected = 1;
    else {
        a->connected = 0;
        a->closed = 1;
    }
}

static void ac_push(client_t *c, uint16_t type, uint32_t seq, const uint8_t *p, size_t n, void *ud)
{
    ac_t *a = ud;
    apush_t *x = xmalloc(sizeof *x);
    x->next = NULL;
    x->type = type;
    x->len = n;
    x->p = xmalloc(n ? n : 1);
    if (n)
        memcpy(x->p, p, n);
    if (a->pt)
        a->pt->next = x;
    else
        a->ph = x;
    a->pt = x;
    a->npush++;
}

static void ac_resp(client_t *c, int status, uint16_t type, const uint8_t *p, size_t n, void *ud)
{
    ac_t *a = ud;
    a->busy = 0;
    a->status = status;
    a->rtype = type;
    a->err = 0;
    a->rtt_ms = h_now_ms() - a->sent_ms;
    xfree(a->p);
    a->p = xmalloc(n ? n : 1);
    if (n)
        memcpy(a->p, p, n);
    a->len = n;
    if (status == 0 && type == PACKET_TYPE__ERROR_RESPONSE) {
        ErrorResponse *e = error_response__unpack(NULL, n, p);
        a->err = e ? (int)e->code : -1;
        if (e)
            error_response__free_unpacked(e, NULL);
    }
    if (a->on_done)
        a->on_done(a);
}

static void ap_on_timer(uv_timer_t *t)
{
    ap_t *ap = t->data;
    ap->fired = 1;
    uv_stop(&ap->loop); /* else a deadline due before the poll leaves it waiting without a timeout */
}

typedef int (*ap_cond)(ap_t *ap, void *arg);

static int ap_run(ap_t *ap, ap_cond cond, void *arg, int timeout_ms)
{
    if (cond(ap, arg))
        return 0;
    ap->fired = 0;
    uv_update_time(&ap->loop);
    uv_timer_start(&ap->timer, ap_on_timer, (uint64_t)timeout_ms, 0);
    while (!cond(ap, arg) && !ap->fired)
        uv_run(&ap->loop, UV_RUN_ONCE);
    uv_timer_stop(&ap->timer);
    return cond(ap, arg) ? 0 : -1;
}

static int cond_connected(ap_t *ap, void *arg)
{
    for (int i = 0; i < ap->n; i++)
        if (!ap->c[i].connected && !ap->c[i].closed)
            return 0;
    return 1;
}

static int cond_idle(ap_t *ap, void *arg)
{
    for (int i = 0; i < ap->n; i++)
        if (ap->c[i].busy)
            return 0;
    return 1;
}

static int cond_never(ap_t *ap, void *arg) { return 0; }

static void ap_pump(ap_t *ap, int ms) { (void)ap_run(ap, cond_never, NULL, ms); }

static ap_t *ap_new(int n)
{
    ap_t *ap = xcalloc(1, sizeof *ap);
    CHECK_EQ(uv_loop_init(&ap->loop), 0);
    ap->cl = conn_loop_new(&ap->loop);
    uv_timer_init(&ap->loop, &ap->timer);
    ap->timer.data = ap;
    ap->n = n;
    ap->c = xcalloc((size_t)n, sizeof *ap->c);
    return ap;
}

/* Connects client i to port (all connects run together in ap_wait_connected). */
static void ap_connect(ap_t *ap, int i, int port)
{
    ac_t *a = &ap->c[i];
    a->ap = ap;
    a->idx = i;
    a->c = client_new(&ap->loop, ap->cl, 0);
    client_set_timeout(a->c, 15000);
    client_set_push_cb(a->c, ac_push, a);
    CHECK_EQ(client_connect(a->c, "127.0.0.1", port, ac_event, a), 0);
}

static void ap_wait_connected(ap_t *ap)
{
    CHECK_EQ(ap_run(ap, cond_connected, NULL, 10000), 0);
    for (int i = 0; i < ap->n; i++)
        CHECK(ap->c[i].connected);
}

static void ap_send(ac_t *a, uint16_t type, const ProtobufCMessage *m)
{
    CHECK(!a->busy);
    a->busy = 1;
    a->sent_ms = h_now_ms();
    if (client_request(a->c, type, m, ac_resp, a) < 0) {
        fprintf(stderr, "client %d: request %s refused (connection closed)\n", a->idx, type_name(type));
        h_fail();
    }
}

static void ap_wait_idle(ap_t *ap, int timeout_ms)
{
    if (ap_run(ap, cond_idle, NULL, timeout_ms) != 0) {
        int n = 0;
        for (int i = 0; i < ap->n; i++)
            n += ap->c[i].busy;
        fprintf(stderr, "%d requests still unanswered after %d ms\n", n, timeout_ms);
        h_fail();
    }
}

static void *ac_decode(ac_t *a, uint16_t want, const ProtobufCMessageDescriptor *d, int line)
{
    if (a->status != 0 || a->rtype != want) {
        fprintf(stderr, "line %d: client %d (%s): expected %s, got status %d type %s err %s\n", line,
                a->idx, a->user, type_name(want), a->status, type_name(a->rtype), err_name(a->err));
        h_fail();
    }
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, a->len, a->p);
    CHECK(m != NULL);
    return m;
}
#define AC_DECODE(a, TYPE, desc) ac_decode((a), PACKET_TYPE__##TYPE, &(desc), __LINE__)

static void apush_free(apush_t *x)
{
    xfree(x->p);
    xfree(x);
}

/* Takes client a's oldest push, match pushes skipped (NULL if none). */
static apush_t *ac_take(ac_t *a)
{
    for (;;) {
        apush_t *x = a->ph;
        if (!x)
            return NULL;
        a->ph = x->next;
        if (!a->ph)
            a->pt = NULL;
        a->npush--;
        if (!is_match_push(x->type))
            return x;
        match_pushes_skipped++;
        apush_free(x);
    }
}

static void ap_free(ap_t *ap)
{
    for (int i = 0; i < ap->n; i++)
        if (ap->c[i].c)
            client_close(ap->c[i].c);
    uv_close((uv_handle_t *)&ap->timer, NULL);
    uv_run(&ap->loop, UV_RUN_DEFAULT);
    conn_loop_close(ap->cl);
    uv_run(&ap->loop, UV_RUN_DEFAULT);
    CHECK_EQ(uv_loop_close(&ap->loop), 0);
    for (int i = 0; i < ap->n; i++) {
        apush_t *x;
        while ((x = ac_take(&ap->c[i])) != NULL)
            apush_free(x);
        xfree(ap->c[i].p);
    }
    xfree(ap->c);
    xfree(ap);
}

/* REGISTER then LOGIN clients [from, to) with at most `window` requests in flight, retrying
 * BUSY. Sets user, pass, uid. Returns the number of BUSY answers met. */
static int ap_signup(ap_t *ap, int from, int to, const char *scen, int window)
{
    int busy = 0;
    for (int i = from; i < to; i++) {
        snprintf(ap->c[i].user, sizeof ap->c[i].user, "u%s_%s%d", RUN, scen, i);
        snprintf(ap->c[i].pass, sizeof ap->c[i].pass, "pw-%s-%d-secret", scen, i);
        ap->c[i].stage = 0;
    }
    for (int stage = 0; stage < 2; stage++) {
        uint64_t t0 = h_now_ms();
        for (;;) {
            int sent = 0, left = 0;
            for (int i = from; i < to; i++) {
                ac_t *a = &ap->c[i];
                if (a->stage != stage)
                    continue;
                left++;
                if (sent >= window)
                    continue;
                if (stage == 0) {
                    RegisterRequest rq = REGISTER_REQUEST__INIT;
                    rq.username = a->user;
                    rq.password = a->pass;
                    ap_send(a, PACKET_TYPE__REGISTER_REQUEST, &rq.base);
                } else {
                    LoginRequest rq = LOGIN_REQUEST__INIT;
                    rq.username = a->user;
                    rq.password = a->pass;
                    ap_send(a, PACKET_TYPE__LOGIN_REQUEST, &rq.base);
                }
                sent++;
            }
            if (!left)
                break;
            ap_wait_idle(ap, 20000);
            int nbusy = 0;
            for (int i = from; i < to; i++) {
                ac_t *a = &ap->c[i];
                if (a->stage != stage || a->sent_ms < t0)
                    continue;
                if (a->status == 0 && a->rtype == PACKET_TYPE__ERROR_RESPONSE && a->err == ERROR_CODE__BUSY) {
                    nbusy++;
                    a->sent_ms = 0;
                    continue;
                }
                if (a->sent_ms == 0)
                    continue;
                if (stage == 0) {
                    RegisterResponse *o = AC_DECODE(a, REGISTER_RESPONSE, register_response__descriptor);
                    a->uid = o->user_id;
                    register_response__free_unpacked(o, NULL);
                } else {
                    LoginResponse *o = AC_DECODE(a, LOGIN_RESPONSE, login_response__descriptor);
                    CHECK_EQ(o->user_id, a->uid);
                    login_response__free_unpacked(o, NULL);
                }
                CHECK(a->uid > 0);
                a->stage = stage + 1;
                a->sent_ms = 0;
            }
            busy += nbusy;
            if (nbusy)
                ap_pump(ap, 10);
            CHECK(h_now_ms() - t0 < 60000);
        }
    }
    return busy;
}

/* ------------------------------------------------------------------------------------------ */
/* Redis helpers */

static long long redis_int(const char *fmt, const char *arg)
{
    redisContext *c = h_redis();
    char cmd[512];
    snprintf(cmd, sizeof cmd, fmt, h_prefix(), arg);
    redisReply *r = redisCommand(c, cmd);
    CHECK(r != NULL);
    long long v = -1;
    if (r->type == REDIS_REPLY_INTEGER)
        v = r->integer;
    else if (r->type == REDIS_REPLY_STRING)
        v = strtoll(r->str, NULL, 10);
    else if (r->type == REDIS_REPLY_NIL)
        v = 0;
    freeReplyObject(r);
    return v;
}

/* ------------------------------------------------------------------------------------------ */
/* PostgreSQL helper: one query through psql */

static long long psql_count(const char *sql)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "psql \"%s\" -XtAc \"%s\" 2>&1", h_pg_conninfo(), sql);
    FILE *f = popen(cmd, "r");
    CHECK(f != NULL);
    char line[256] = "";
    char *got = fgets(line, sizeof line, f);
    int st = pclose(f);
    if (!got || st != 0) {
        fprintf(stderr, "psql failed (%d): %s\n", st, line);
        h_fail();
    }
    return strtoll(line, NULL, 10);
}

/* ========================================================================================== */
/* Scenario 1: two gateways, two lobbies, two game daemons; the whole room flow; kill -9 one
 * lobby in the middle. */

static void s_room_flow(void)
{
    uint64_t t_start = h_now_ms();
    cluster_t cl;
    cluster_up(&cl, "flow", 2, 2, 2, NULL, 0);
    player_t p[5];
    /* p0 on gateway A, p1 and p2 on B; p3 logs in after the kill on B, p4 registers after it on A */
    int gws[5] = {0, 1, 1, 1, 0};
    for (int i = 0; i < 5; i++)
        p_init(&p[i], "flow", i, cl.port[gws[i]]);
    for (int i = 0; i < 4; i++) {
        p_connect(&p[i]);
        p[i].uid = p_register(&p[i]);
    }
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < i; k++)
            CHECK(p[i].uid != p[k].uid);
    for (int i = 0; i < 3; i++) {
        LoginResponse *o = p_login_full(&p[i]);
        CHECK(o->room == NULL);
        login_response__free_unpacked(o, NULL);
    }
    const char *who[3] = {"p0(gwA)", "p1(gwB)", "p2(gwB)"};

    /* create */
    RoomState *r = p_create(&p[0], "Flow room", 4);
    exp_room_t e = {.id = r->room_id, .name = "Flow room", .owner = p[0].uid, .max = 4,
                    .status = ROOM_STATUS__WAITING};
    CHECK(e.id > 0);
    exp_add(&e, p[0].uid);
    CHECK_ROOM(r, &e, "CREATE_ROOM_RESPONSE");
    room_free(r);
    EXPECT_UPDATE(p[0].c, who[0], "created", p[0].uid, &e);
    int updates = 1;

    /* list from the other gateway */
    RoomSummary s;
    uint32_t total = 0;
    CHECK(p_list_find(&p[1], e.id, &s, &total));
    CHECK_EQ(s.players, 1);
    CHECK_EQ(s.max_players, 4);
    CHECK(strcmp(s.owner_name, p[0].name) == 0);
    CHECK(strcmp(s.name, "Flow room") == 0);
    CHECK(total >= 1);
    summary_free(&s);

    /* joins: every member sees every update on its own gateway */
    for (int j = 1; j <= 2; j++) {
        r = p_join(&p[j], e.id);
        exp_add(&e, p[j].uid);
        CHECK_ROOM(r, &e, "JOIN_ROOM_RESPONSE");
        room_free(r);
        for (int k = 0; k <= j; k++) {
            EXPECT_UPDATE(p[k].c, who[k], "joined", p[j].uid, &e);
            updates++;
        }
    }
    CHECK(p_list_find(&p[0], e.id, &s, NULL));
    CHECK_EQ(s.players, 3);
    CHECK_EQ(s.max_players, 4);
    CHECK(strcmp(s.owner_name, p[0].name) == 0);
    summary_free(&s);

    /* kill -9 lobby 1 with read-only requests in flight from every member */
    GetRoomListRequest lr = GET_ROOM_LIST_REQUEST__INIT;
    lr.page_size = 50;
    for (int k = 0; k < 3; k++)
        for (uint32_t q = 0; q < 4; q++)
            send_frame(p[k].c, PACKET_TYPE__GET_ROOM_LIST_REQUEST, 9001 + q, &lr.base);
    h_kill(cl.lobby[0], SIGKILL);
    CHECK_EQ(h_wait_exit(cl.lobby[0], 5000), -1); /* killed by the signal */
    CHECK(!h_alive(cl.lobby[0]));
    int inflight_ok = 0, inflight_unavail = 0;
    for (int k = 0; k < 3; k++) {
        int seen[4] = {0};
        for (int q = 0; q < 4; q++) {
            uint16_t t;
            uint32_t seq;
            uint8_t *b;
            size_t n;
            CHECK_EQ(csync_wait_push_seq(p[k].c, &t, &seq, &b, &n, T_REQ), 0);
            CHECK(seq >= 9001 && seq <= 9004);
            CHECK(!seen[seq - 9001]);
            seen[seq - 9001] = 1;
            if (t == PACKET_TYPE__ERROR_RESPONSE) {
                ErrorResponse *er = error_response__unpack(NULL, n, b);
                CHECK(er != NULL);
                if (er->code != ERROR_CODE__SERVICE_UNAVAILABLE)
                    fprintf(stderr, "in-flight request at the kill: %s\n", err_name(er->code));
                CHECK_EQ(er->code, ERROR_CODE__SERVICE_UNAVAILABLE);
                CHECK_EQ(er->request_type, PACKET_TYPE__GET_ROOM_LIST_REQUEST);
                error_response__free_unpacked(er, NULL);
                inflight_unavail++;
            } else {
                CHECK_EQ(t, PACKET_TYPE__GET_ROOM_LIST_RESPONSE);
                GetRoomListResponse *l = get_room_list_response__unpack(NULL, n, b);
                CHECK(l != NULL);
                int found = 0;
                for (size_t i = 0; i < l->n_rooms; i++)
                    if (l->rooms[i]->room_id == e.id && l->rooms[i]->players == 3)
                        found = 1;
                CHECK(found);
                get_room_list_response__free_unpacked(l, NULL);
                inflight_ok++;
            }
            xfree(b);
        }
    }
    h_sleep_ms(100); /* the gateways have seen the links close */

    /* everything goes on through lobby 2: no request fails after the kill */
    int after_ok = 0;
    for (int k = 0; k < 3; k++)
        for (int q = 0; q < 5; q++) {
            CHECK(p_list_find(&p[k], e.id, &s, NULL));
            CHECK_EQ(s.players, 3);
            CHECK_EQ(s.max_players, 4);
            CHECK(strcmp(s.owner_name, p[0].name) == 0);
            summary_free(&s);
            after_ok++;
        }
    for (int g = 0; g < 2; g++) {
        csync_t *c = csync_connect("127.0.0.1", cl.port[g], 3000);
        CHECK(c != NULL);
        for (int q = 0; q < 4; q++) {
            EchoRequest er = ECHO_REQUEST__INIT;
            er.target = ECHO_TARGET__LOBBY;
            EchoResponse *o = OK_CALL(c, ECHO_REQUEST, &er.base, ECHO_RESPONSE, echo_response__descriptor);
            CHECK_EQ(o->server_id, cl.lobby_id[1]);
            echo_response__free_unpacked(o, NULL);
        }
        csync_close(c);
    }
    /* no account lost: a user registered before the kill logs in; a new one registers */
    p_login(&p[3]);
    p_signup(&p[4]);

    /* ready: the room state through lobby 2 is the one before the kill */
    for (int j = 0; j < 3; j++) {
        r = p_ready(&p[j], 1);
        exp_set(&e, p[j].uid, 1, -1);
        CHECK_ROOM(r, &e, "PREPARE_GAME_RESPONSE (after the kill)");
        room_free(r);
        for (int k = 0; k < 3; k++) {
            EXPECT_UPDATE(p[k].c, who[k], "ready", p[j].uid, &e);
            updates++;
        }
    }

    /* start */
    StartGameRequest sg = START_GAME_REQUEST__INIT;
    StartGameResponse *so = OK_CALL(p[0].c, START_GAME_REQUEST, &sg.base, START_GAME_RESPONSE,
                                    start_game_response__descriptor);
    uint64_t match = so->match_id;
    uint32_t game = so->game_server_id;
    start_game_response__free_unpacked(so, NULL);
    CHECK(match > 0);
    if (!is_game_id(&cl, game))
        fprintf(stderr, "START_GAME placed on %u, live game ids %u %u\n", game, cl.game_id[0], cl.game_id[1]);
    CHECK(is_game_id(&cl, game));
    e.status = ROOM_STATUS__IN_GAME;
    e.match = match;
    e.game = game;
    for (int k = 0; k < 3; k++) {
        EXPECT_UPDATE(p[k].c, who[k], "started", p[0].uid, &e);
        updates++;
        GameStarting *gs = TAKE_PUSH(p[k].c, who[k], GAME_STARTING, game_starting__descriptor, 3000);
        CHECK_EQ(gs->room_id, e.id);
        CHECK_EQ(gs->match_id, match);
        CHECK_EQ(gs->game_server_id, game);
        game_starting__free_unpacked(gs, NULL);
    }
    /* a started room is no longer listed */
    CHECK(!p_list_find(&p[1], e.id, NULL, NULL));
    for (int k = 0; k < 5; k++)
        EXPECT_NO_PUSH(p[k].c, "player", k < 3 ? 150 : 10);

    printf("ok room flow (2 gateways, 2 lobbies, 2 gamed): 3 players on 2 gateways created, listed "
           "(1/4 then 3/4, owner %s), joined, readied, started; %d ROOM_UPDATEs each checked (event, "
           "actor, members, ready/online flags), no extra push; lobby id %u killed -9 with 12 "
           "GET_ROOM_LIST in flight: %d answered, %d SERVICE_UNAVAILABLE; then %d requests + 8 ECHO "
           "all served by lobby id %u, login of an old account and a new registration worked, room "
           "unchanged; START -> match %llu on live gamed id %u, GAME_STARTING x3 naming it; %.1f s\n",
           p[0].name, updates, cl.lobby_id[0], inflight_ok, inflight_unavail, after_ok,
           cl.lobby_id[1], (unsigned long long)match, game, (double)(h_now_ms() - t_start) / 1000.0);
    for (int k = 0; k < 5; k++)
        p_close(&p[k]);
    cluster_down(&cl);
}

/* ========================================================================================== */
/* Scenario 2: 200 clients race to join one 4-player room. */

static void s_join_race(void)
{
    uint64_t t_start = h_now_ms();
    cluster_t cl;
    cluster_up(&cl, "race", 2, 2, 0, NULL, 0);
    const int N = 201;
    ap_t *ap = ap_new(N);
    for (int i = 0; i < N; i++)
        ap_connect(ap, i, cl.port[i % 2]);
    ap_wait_connected(ap);
    uint64_t t_auth = h_now_ms();
    int busy = ap_signup(ap, 0, N, "race", 16);
    int auth_ms = (int)(h_now_ms() - t_auth);

    ac_t *owner = &ap->c[0];
    CreateRoomRequest cr = CREATE_ROOM_REQUEST__INIT;
    cr.name = "Race room";
    cr.max_players = 4;
    ap_send(owner, PACKET_TYPE__CREATE_ROOM_REQUEST, &cr.base);
    ap_wait_idle(ap, T_REQ);
    CreateRoomResponse *co = AC_DECODE(owner, CREATE_ROOM_RESPONSE, create_room_response__descriptor);
    uint64_t room = co->room->room_id;
    create_room_response__free_unpacked(co, NULL);
    ap_pump(ap, 50);
    for (int i = 0; i < N; i++) {
        apush_t *x;
        while ((x = ac_take(&ap->c[i])) != NULL)
            apush_free(x); /* the "created" update */
    }

    /* all 200 JOINs are queued before the loop runs: they leave in one loop turn */
    JoinRoomRequest jr = JOIN_ROOM_REQUEST__INIT;
    jr.room_id = room;
    uint64_t t0 = h_now_ms();
    for (int i = 1; i < N; i++)
        ap_send(&ap->c[i], PACKET_TYPE__JOIN_ROOM_REQUEST, &jr.base);
    ap_wait_idle(ap, 20000);
    int race_ms = (int)(h_now_ms() - t0);
    int ok = 0, full = 0, sizes_seen[5] = {0};
    uint64_t winners[3] = {0};
    for (int i = 1; i < N; i++) {
        ac_t *a = &ap->c[i];
        if (a->status == 0 && a->rtype == PACKET_TYPE__JOIN_ROOM_RESPONSE) {
            JoinRoomResponse *o = AC_DECODE(a, JOIN_ROOM_RESPONSE, join_room_response__descriptor);
            CHECK(o->room && o->room->room_id == room);
            CHECK(o->room->n_members >= 2 && o->room->n_members <= 4);
            CHECK_EQ(o->room->members[0]->user_id, owner->uid);
            CHECK_EQ(o->room->members[o->room->n_members - 1]->user_id, a->uid);
            sizes_seen[o->room->n_members]++;
            join_room_response__free_unpacked(o, NULL);
            if (ok < 3)
                winners[ok] = a->uid;
            ok++;
        } else if (a->status == 0 && a->rtype == PACKET_TYPE__ERROR_RESPONSE && a->err == ERROR_CODE__ROOM_FULL) {
            full++;
        } else {
            fprintf(stderr, "join race client %d: status %d type %s err %s\n", i, a->status,
                    type_name(a->rtype), err_name(a->err));
            h_fail();
        }
    }
    if (ok != 3 || full != 197)
        fprintf(stderr, "join race: %d joined, %d ROOM_FULL\n", ok, full);
    CHECK_EQ(ok, 3);
    CHECK_EQ(full, 197);
    CHECK(sizes_seen[2] == 1 && sizes_seen[3] == 1 && sizes_seen[4] == 1);

    /* the owner's view: three "joined" updates, ending with exactly the owner + the winners */
    ap_pump(ap, 200);
    int joined_updates = 0;
    RoomState *last = NULL;
    apush_t *x;
    while ((x = ac_take(owner)) != NULL) {
        CHECK_EQ(x->type, PACKET_TYPE__ROOM_UPDATE);
        RoomUpdate *u = room_update__unpack(NULL, x->len, x->p);
        CHECK(u != NULL && strcmp(u->event, "joined") == 0);
        joined_updates++;
        CHECK_EQ(u->room->n_members, (size_t)joined_updates + 1);
        if (last)
            room_state__free_unpacked(last, NULL);
        last = u->room;
        u->room = NULL;
        room_update__free_unpacked(u, NULL);
        apush_free(x);
    }
    CHECK_EQ(joined_updates, 3);
    CHECK_EQ(last->n_members, 4);
    for (int w = 0; w < 3; w++) {
        int found = 0;
        for (size_t m = 1; m < 4; m++)
            found += last->members[m]->user_id == winners[w];
        CHECK_EQ(found, 1);
    }
    room_state__free_unpacked(last, NULL);
    /* losers got no push; the list and Redis agree */
    int loser_pushes = 0;
    for (int i = 1; i < N; i++) {
        ac_t *a = &ap->c[i];
        int won = a->uid == winners[0] || a->uid == winners[1] || a->uid == winners[2];
        if (!won)
            for (apush_t *y; (y = ac_take(a)) != NULL; apush_free(y))
                loser_pushes++;
    }
    CHECK_EQ(loser_pushes, 0);
    GetRoomListRequest lr = GET_ROOM_LIST_REQUEST__INIT;
    ap_send(&ap->c[N - 1], PACKET_TYPE__GET_ROOM_LIST_REQUEST, &lr.base);
    ap_wait_idle(ap, T_REQ);
    GetRoomListResponse *lo = AC_DECODE(&ap->c[N - 1], GET_ROOM_LIST_RESPONSE, get_room_list_response__descriptor);
    CHECK_EQ(lo->n_rooms, 1);
    CHECK_EQ(lo->rooms[0]->room_id, room);
    CHECK_EQ(lo->rooms[0]->players, 4);
    CHECK_EQ(lo->rooms[0]->max_players, 4);
    get_room_list_response__free_unpacked(lo, NULL);
    char key[64];
    snprintf(key, sizeof key, "%llu", (unsigned long long)room);
    CHECK_EQ(redis_int("LLEN %sroom:%s:members", key), 4);
    int in_room = 0;
    for (int i = 0; i < N; i++) {
        char uid[24];
        snprintf(uid, sizeof uid, "%llu", (unsigned long long)ap->c[i].uid);
        in_room += redis_int("HEXISTS %suser:%s room", uid) == 1;
    }
    CHECK_EQ(in_room, 4);
    ap_free(ap);
    printf("ok join race: 201 accounts registered+logged in over 2 gateways/2 lobbies in %d ms (%d "
           "BUSY retried); 200 JOINs sent in one loop turn: 3 joined (responses with 2,3,4 members), "
           "197 ROOM_FULL, all answered in %d ms; owner saw exactly 3 'joined' updates ending with "
           "itself + the 3 winners; 0 pushes to losers; GET_ROOM_LIST 4/4; Redis: 4 members, 4 users "
           "with a room; %.1f s\n",
           auth_ms, busy, race_ms, (double)(h_now_ms() - t_start) / 1000.0);
    cluster_down(&cl);
}

/* ========================================================================================== */
/* Scenario 3: 100 concurrent START_GAMEs over 2 game daemons. */

static void s_start_spread(void)
{
    uint64_t t_start = h_now_ms();
    cluster_t cl;
    cluster_up(&cl, "spread", 2, 2, 2, NULL, 0);
    const int N = 100;
    ap_t *ap = ap_new(N);
    for (int i = 0; i < N; i++)
        ap_connect(ap, i, cl.port[i % 2]);
    ap_wait_connected(ap);
    (void)ap_signup(ap, 0, N, "spread", 16);
    CreateRoomRequest cr = CREATE_ROOM_REQUEST__INIT;
    cr.name = "Solo";
    cr.max_players = 1;
    for (int i = 0; i < N; i++)
        ap_send(&ap->c[i], PACKET_TYPE__CREATE_ROOM_REQUEST, &cr.base);
    ap_wait_idle(ap, 20000);
    uint64_t rooms[100];
    for (int i = 0; i < N; i++) {
        CreateRoomResponse *o = AC_DECODE(&ap->c[i], CREATE_ROOM_RESPONSE, create_room_response__descriptor);
        rooms[i] = o->room->room_id;
        create_room_response__free_unpacked(o, NULL);
    }
    PrepareGameRequest pr = PREPARE_GAME_REQUEST__INIT;
    pr.ready = 1;
    for (int i = 0; i < N; i++)
        ap_send(&ap->c[i], PACKET_TYPE__PREPARE_GAME_REQUEST, &pr.base);
    ap_wait_idle(ap, 20000);
    for (int i = 0; i < N; i++) {
        PrepareGameResponse *o = AC_DECODE(&ap->c[i], PREPARE_GAME_RESPONSE, prepare_game_response__descriptor);
        CHECK(o->room->n_members == 1 && o->room->members[0]->ready);
        prepare_game_response__free_unpacked(o, NULL);
    }
    ap_pump(ap, 100);
    for (int i = 0; i < N; i++) {
        apush_t *x;
        while ((x = ac_take(&ap->c[i])) != NULL)
            apush_free(x); /* created, ready */
    }
    /* paging: 100 waiting rooms = pages of 50, 50, 0; default page size 20 */
    int listed = 0, seen_room[100] = {0};
    for (uint32_t page = 0; page < 3; page++) {
        GetRoomListRequest lr = GET_ROOM_LIST_REQUEST__INIT;
        lr.page = page;
        lr.page_size = 50;
        ap_send(&ap->c[0], PACKET_TYPE__GET_ROOM_LIST_REQUEST, &lr.base);
        ap_wait_idle(ap, T_REQ);
        GetRoomListResponse *l = AC_DECODE(&ap->c[0], GET_ROOM_LIST_RESPONSE, get_room_list_response__descriptor);
        CHECK_EQ(l->total, 100);
        CHECK_EQ(l->page, page);
        CHECK_EQ(l->n_rooms, page < 2 ? 50u : 0u);
        for (size_t k = 0; k < l->n_rooms; k++) {
            int idx = -1;
            for (int i = 0; i < N; i++)
                if (rooms[i] == l->rooms[k]->room_id)
                    idx = i;
            CHECK(idx >= 0 && !seen_room[idx]);
            seen_room[idx] = 1;
            CHECK(l->rooms[k]->players == 1 && l->rooms[k]->max_players == 1 &&
                  strcmp(l->rooms[k]->owner_name, ap->c[idx].user) == 0);
            listed++;
        }
        get_room_list_response__free_unpacked(l, NULL);
    }
    CHECK_EQ(listed, 100);
    {
        GetRoomListRequest lr = GET_ROOM_LIST_REQUEST__INIT;
        ap_send(&ap->c[1], PACKET_TYPE__GET_ROOM_LIST_REQUEST, &lr.base);
        ap_wait_idle(ap, T_REQ);
        GetRoomListResponse *l = AC_DECODE(&ap->c[1], GET_ROOM_LIST_RESPONSE, get_room_list_response__descriptor);
        CHECK_EQ(l->n_rooms, 20);
        get_room_list_response__free_unpacked(l, NULL);
    }
    StartGameRequest sg = START_GAME_REQUEST__INIT;
    uint64_t t0 = h_now_ms();
    for (int i = 0; i < N; i++)
        ap_send(&ap->c[i], PACKET_TYPE__START_GAME_REQUEST, &sg.base);
    ap_wait_idle(ap, 20000);
    int start_ms = (int)(h_now_ms() - t0);
    int count[2] = {0, 0};
    uint64_t matches[100];
    for (int i = 0; i < N; i++) {
        StartGameResponse *o = AC_DECODE(&ap->c[i], START_GAME_RESPONSE, start_game_response__descriptor);
        int g = o->game_server_id == cl.game_id[0] ? 0 : o->game_server_id == cl.game_id[1] ? 1 : -1;
        if (g < 0)
            fprintf(stderr, "start placed on unknown game id %u\n", o->game_server_id);
        CHECK(g >= 0);
        count[g]++;
        matches[i] = o->match_id;
        CHECK(o->match_id > 0);
        for (int k = 0; k < i; k++)
            CHECK(matches[k] != o->match_id);
        start_game_response__free_unpacked(o, NULL);
    }
    ap_pump(ap, 200);
    int starting = 0;
    for (int i = 0; i < N; i++) {
        ac_t *a = &ap->c[i];
        apush_t *x = ac_take(a);
        CHECK(x != NULL && x->type == PACKET_TYPE__ROOM_UPDATE);
        RoomUpdate *u = room_update__unpack(NULL, x->len, x->p);
        CHECK(u && strcmp(u->event, "started") == 0 && u->room->status == ROOM_STATUS__IN_GAME &&
              u->room->match_id == matches[i] && u->room->room_id == rooms[i]);
        room_update__free_unpacked(u, NULL);
        apush_free(x);
        x = ac_take(a);
        CHECK(x != NULL && x->type == PACKET_TYPE__GAME_STARTING);
        GameStarting *gs = game_starting__unpack(NULL, x->len, x->p);
        CHECK(gs && gs->match_id == matches[i] && gs->room_id == rooms[i]);
        game_starting__free_unpacked(gs, NULL);
        apush_free(x);
        starting++;
        x = ac_take(a);
        if (x) {
            char what[256];
            describe_push(x->type, x->p, x->len, what, sizeof what);
            fprintf(stderr, "client %d: unexpected push %s\n", i, what);
            h_fail();
        }
    }
    int diff = count[0] - count[1];
    if (diff < -1 || diff > 1)
        fprintf(stderr, "placement: %d on id %u, %d on id %u\n", count[0], cl.game_id[0], count[1], cl.game_id[1]);
    CHECK(diff >= -1 && diff <= 1);
    CHECK_EQ(count[0] + count[1], 100);
    char id[16];
    snprintf(id, sizeof id, "%u", cl.game_id[0]);
    long long red0 = redis_int("HGET %splacement:Game %s", id);
    snprintf(id, sizeof id, "%u", cl.game_id[1]);
    long long red1 = redis_int("HGET %splacement:Game %s", id);
    CHECK_EQ(red0, count[0]);
    CHECK_EQ(red1, count[1]);
    ap_free(ap);
    printf("ok start spread: 100 one-player rooms ready, listed as pages of 50+50+0 (each room "
           "once, with its owner; default page 20), 100 START_GAMEs at once over 2 gateways/2 "
           "lobbies answered in %d ms: %d on gamed id %u, %d on gamed id %u (bound: differ by <= 1; "
           "Redis placement counts agree); 100 distinct match ids; each owner got 'started' + "
           "GAME_STARTING with its match; %.1f s\n",
           start_ms, count[0], cl.game_id[0], count[1], cl.game_id[1], (double)(h_now_ms() - t_start) / 1000.0);
    cluster_down(&cl);
}

/* ========================================================================================== */
/* Scenario 4: duplicate login across gateways. */

static void s_duplicate_login(void)
{
    cluster_t cl;
    cluster_up(&cl, "dup", 2, 1, 0, NULL, 0);
    player_t a, b, m;
    p_init(&a, "dup", 0, cl.port[0]);
    p_signup(&a);
    char old_token[80];
    snprintf(old_token, sizeof old_token, "%s", a.token);
    RoomState *r = p_create(&a, "Dup room", 2);
    uint64_t room = r->room_id;
    room_free(r);
    /* a second member, to see the move */
    p_init(&m, "dup", 1, cl.port[1]);
    p_signup(&m);
    room_free(p_join(&m, room));
    drain_pushes(a.c, 50);
    drain_pushes(m.c, 50);

    /* the same user logs in on gateway B */
    b = a;
    b.c = NULL;
    b.port = cl.port[1];
    p_connect(&b);
    uint64_t t0 = h_now_ms();
    LoginResponse *o = p_login_full(&b);
    CHECK(strcmp(o->token, old_token) != 0);
    CHECK(o->room != NULL && o->room->room_id == room && o->room->n_members == 2);
    login_response__free_unpacked(o, NULL);
    /* B (now the user's location) and the member see the user online again */
    RoomUpdate *ou = TAKE_PUSH(b.c, "session B", ROOM_UPDATE, room_update__descriptor, 3000);
    CHECK(strcmp(ou->event, "online") == 0 && ou->actor_id == b.uid && ou->room->n_members == 2);
    room_update__free_unpacked(ou, NULL);
    Kicked *k = TAKE_PUSH(a.c, "old session", KICKED, kicked__descriptor, 3000);
    CHECK_EQ(k->code, ERROR_CODE__ALREADY_AUTHENTICATED);
    CHECK(k->reason && k->reason[0]);
    kicked__free_unpacked(k, NULL);
    CHECK_EQ(csync_wait_closed(a.c, 3000), 0);
    int kick_ms = (int)(h_now_ms() - t0);
    CHECK(!csync_is_connected(a.c));
    /* B works */
    RoomSummary s;
    CHECK(p_list_find(&b, room, &s, NULL));
    CHECK_EQ(s.players, 2);
    summary_free(&s);
    RoomChatRequest ch = ROOM_CHAT_REQUEST__INIT;
    ch.text = "hello from B";
    RoomChatResponse *cr = OK_CALL(b.c, ROOM_CHAT_REQUEST, &ch.base, ROOM_CHAT_RESPONSE, room_chat_response__descriptor);
    room_chat_response__free_unpacked(cr, NULL);
    /* the member sees the user online (once) and B's chat */
    int saw_chat = 0;
    for (int i = 0; i < 4 && !saw_chat; i++) {
        uint16_t t;
        uint8_t *pl;
        size_t n;
        if (wait_lobby_push(m.c, &t, &pl, &n, 2000) != 0)
            break;
        if (t == PACKET_TYPE__ROOM_CHAT_MESSAGE) {
            RoomChatMessage *cm = room_chat_message__unpack(NULL, n, pl);
            CHECK(cm && cm->user_id == b.uid && strcmp(cm->text, "hello from B") == 0 &&
                  strcmp(cm->username, b.name) == 0);
            room_chat_message__free_unpacked(cm, NULL);
            saw_chat = 1;
        }
        xfree(pl);
    }
    CHECK(saw_chat);
    RoomChatMessage *own = TAKE_PUSH(b.c, "session B", ROOM_CHAT_MESSAGE, room_chat_message__descriptor, 3000);
    CHECK(own->user_id == b.uid && strcmp(own->text, "hello from B") == 0);
    room_chat_message__free_unpacked(own, NULL);
    /* the old token no longer resumes */
    csync_t *c = csync_connect("127.0.0.1", cl.port[0], 3000);
    CHECK(c != NULL);
    ResumeRequest rr = RESUME_REQUEST__INIT;
    rr.token = old_token;
    ERR_CALL(c, RESUME_REQUEST, &rr.base, INVALID_TOKEN);
    /* the new token does, and kicks B in turn */
    rr.token = b.token;
    ResumeResponse *ro = OK_CALL(c, RESUME_REQUEST, &rr.base, RESUME_RESPONSE, resume_response__descriptor);
    CHECK_EQ(ro->user_id, b.uid);
    CHECK(strcmp(ro->username, b.name) == 0);
    CHECK(ro->room != NULL && ro->room->room_id == room);
    resume_response__free_unpacked(ro, NULL);
    k = TAKE_PUSH(b.c, "session B", KICKED, kicked__descriptor, 3000);
    CHECK_EQ(k->code, ERROR_CODE__ALREADY_AUTHENTICATED);
    kicked__free_unpacked(k, NULL);
    CHECK_EQ(csync_wait_closed(b.c, 3000), 0);
    /* the resumed session works */
    GetRoomListResponse *l = NULL;
    {
        GetRoomListRequest lr = GET_ROOM_LIST_REQUEST__INIT;
        l = OK_CALL(c, GET_ROOM_LIST_REQUEST, &lr.base, GET_ROOM_LIST_RESPONSE, get_room_list_response__descriptor);
        get_room_list_response__free_unpacked(l, NULL);
    }
    /* the room kept the user (one entry) throughout */
    char key[32];
    snprintf(key, sizeof key, "%llu", (unsigned long long)room);
    CHECK_EQ(redis_int("LLEN %sroom:%s:members", key), 2);
    printf("ok duplicate login: LOGIN of %s on gateway B -> session on gateway A got KICKED "
           "(ALREADY_AUTHENTICATED) and was closed within %d ms; B's LOGIN_RESPONSE carried the room "
           "(2 members); B listed and chatted (member got the line); old token RESUME -> "
           "INVALID_TOKEN; new token RESUME on A worked and kicked B the same way; room still 2 members\n",
           a.name, kick_ms);
    csync_close(c);
    p_close(&a);
    p_close(&b);
    p_close(&m);
    cluster_down(&cl);
}

/* ========================================================================================== */
/* Scenarios 5b-5d share this start: two players signed up, p[0] through gateway gw0 and p[1]
 * through gw1, p[0] creates room `name` and p[1] joins it; both saw the updates. *e is the room
 * as expected from then on. */

static const char *const PAIR_WHO[2] = {"p0", "p1"};

static void pair_in_room(const cluster_t *cl, player_t p[2], const char *scen, int gw0, int gw1,
                         const char *name, exp_room_t *e)
{
    for (int i = 0; i < 2; i++) {
        p_init(&p[i], scen, i, cl->port[i ? gw1 : gw0]);
        p_signup(&p[i]);
    }
    RoomState *r = p_create(&p[0], name, 4);
    *e = (exp_room_t){.id = r->room_id, .name = name, .owner = p[0].uid, .max = 4,
                      .status = ROOM_STATUS__WAITING};
    room_free(r);
    exp_add(e, p[0].uid);
    EXPECT_UPDATE(p[0].c, PAIR_WHO[0], "created", p[0].uid, e);
    room_free(p_join(&p[1], e->id));
    exp_add(e, p[1].uid);
    EXPECT_UPDATE(p[0].c, PAIR_WHO[0], "joined", p[1].uid, e);
    EXPECT_UPDATE(p[1].c, PAIR_WHO[1], "joined", p[1].uid, e);
}

/* ========================================================================================== */
/* Scenario 5b: a gateway stopped gracefully (SIGTERM) reports its logged-in sessions to a lobby
 * before it closes its lobby links: a room member on the other gateway sees them go offline at
 * once (before, the reports were queued on links already closing and lost: the member stayed
 * "online" until it came back). */

static void s_gateway_stop(void)
{
    cluster_t cl;
    cluster_up(&cl, "gwstop", 2, 1, 0, NULL, 0);
    player_t p[2];
    const char *const *who = PAIR_WHO;
    exp_room_t e;
    pair_in_room(&cl, p, "gwstop", 0, 1, "Stop room", &e);

    uint64_t t0 = h_now_ms();
    stop_proc(cl.gw[1]); /* SIGTERM, exit 0 */
    exp_set(&e, p[1].uid, -1, 0);
    EXPECT_UPDATE(p[0].c, who[0], "offline", p[1].uid, &e);
    int ms = (int)(h_now_ms() - t0);
    printf("ok gateway stop: the member on the stopped gateway was reported offline to the room %d ms "
           "after SIGTERM\n", ms);
    for (int i = 0; i < 2; i++)
        p_close(&p[i]);
    cluster_down(&cl);
}

/* ========================================================================================== */
/* Scenario 5c: a session closes while no lobby is up (the only one was killed -9): the gateway
 * queues the close and reports it to the next lobby link that comes up, so the room's other
 * member sees it go offline (before, the report was dropped: the user stayed "online" and
 * never left the room). */

static void s_no_lobby_up(void)
{
    cluster_t cl;
    cluster_up(&cl, "nolobby", 1, 1, 0, NULL, 0);
    player_t p[2];
    const char *const *who = PAIR_WHO;
    exp_room_t e;
    pair_in_room(&cl, p, "nolobby", 0, 0, "No lobby room", &e);

    h_kill(cl.lobby[0], SIGKILL);
    CHECK_EQ(h_wait_exit(cl.lobby[0], 5000), -1);
    uint64_t t0 = h_now_ms();
    while (h_log_count(cl.gw[0], "event=link_down type=Lobby") == 0) {
        CHECK(h_now_ms() - t0 < 5000);
        h_sleep_ms(20);
    }
    p_close(&p[1]); /* no lobby to tell */
    t0 = h_now_ms();
    while (h_log_count(cl.gw[0], "event=session_close_queued") == 0) {
        CHECK(h_now_ms() - t0 < 3000);
        h_sleep_ms(20);
    }
    uint64_t t_new = h_now_ms();
    cluster_add_lobby(&cl);
    exp_set(&e, p[1].uid, -1, 0);
    EXPECT_UPDATE(p[0].c, who[0], "offline", p[1].uid, &e);
    int ms = (int)(h_now_ms() - t_new);
    CHECK_EQ(h_log_count(cl.gw[0], "event=session_closes_reported count=1 "), 1);
    printf("ok no lobby up: a close queued by the gateway while no lobby was up reached the next lobby; "
           "the member saw the user offline %d ms after that lobby was started\n", ms);
    p_close(&p[0]);
    cluster_down(&cl);
}

/* ========================================================================================== */
/* Scenario 5d: a gateway killed -9 reports nothing: once its registry entry is gone, a lobby
 * marks its users offline as if their sessions had closed, so a room member on another gateway
 * sees them go offline (before, they stayed "online" and never left the room). */

static void s_gateway_killed(void)
{
    cluster_t cl;
    cluster_up(&cl, "gwkill", 2, 1, 0, NULL, 0);
    player_t p[2];
    const char *const *who = PAIR_WHO;
    exp_room_t e;
    pair_in_room(&cl, p, "gwkill", 0, 1, "Killed gw room", &e);

    uint64_t t0 = h_now_ms();
    h_kill(cl.gw[1], SIGKILL);
    CHECK_EQ(h_wait_exit(cl.gw[1], 5000), -1);
    /* the registry drops it after its expiry, the lobby sweeps every second */
    RoomUpdate *u = TAKE_PUSH(p[0].c, who[0], ROOM_UPDATE, room_update__descriptor, 15000);
    int ms = (int)(h_now_ms() - t0);
    exp_set(&e, p[1].uid, -1, 0);
    if (strcmp(u->event, "offline") != 0 || u->actor_id != p[1].uid) {
        fprintf(stderr, "after the gateway's kill -9: ROOM_UPDATE %s actor %llu (expected offline, %llu)\n",
                u->event, (unsigned long long)u->actor_id, (unsigned long long)p[1].uid);
        h_fail();
    }
    CHECK_ROOM(u->room, &e, "ROOM_UPDATE after the gateway died");
    room_update__free_unpacked(u, NULL);
    printf("ok gateway killed: its user was marked offline in its room %d ms after kill -9 (registry expiry "
           "plus the lobby's sweep)\n", ms);
    p_close(&p[1]);
    p_close(&p[0]);
    cluster_down(&cl);
}

/* ========================================================================================== */
/* Scenario 5: RESUME within the grace, leave after it, LOGOUT. */

static void s_resume(void)
{
    static const char *const env[] = {"RESUME_GRACE_MS=2000", NULL};
    cluster_t cl;
    cluster_up(&cl, "resume", 2, 1, 0, env, 0);
    player_t p[3];
    int gws[3] = {0, 0, 1};
    const char *who[3] = {"p0", "p1", "p2"};
    for (int i = 0; i < 3; i++) {
        p_init(&p[i], "resume", i, cl.port[gws[i]]);
        p_signup(&p[i]);
    }
    RoomState *r = p_create(&p[0], "Resume room", 4);
    exp_room_t e = {.id = r->room_id, .name = "Resume room", .owner = p[0].uid, .max = 4,
                    .status = ROOM_STATUS__WAITING};
    room_free(r);
    exp_add(&e, p[0].uid);
    EXPECT_UPDATE(p[0].c, who[0], "created", p[0].uid, &e);
    for (int j = 1; j < 3; j++) {
        room_free(p_join(&p[j], e.id));
        exp_add(&e, p[j].uid);
        for (int k = 0; k <= j; k++)
            EXPECT_UPDATE(p[k].c, who[k], "joined", p[j].uid, &e);
    }

    /* p1 drops: the others see it offline */
    p_close(&p[1]);
    exp_set(&e, p[1].uid, -1, 0);
    EXPECT_UPDATE(p[0].c, who[0], "offline", p[1].uid, &e);
    EXPECT_UPDATE(p[2].c, who[2], "offline", p[1].uid, &e);
    /* p1 resumes on the other gateway, within the grace */
    p[1].port = cl.port[1];
    p_connect(&p[1]);
    ResumeRequest rr = RESUME_REQUEST__INIT;
    rr.token = p[1].token;
    ResumeResponse *ro = OK_CALL(p[1].c, RESUME_REQUEST, &rr.base, RESUME_RESPONSE, resume_response__descriptor);
    exp_set(&e, p[1].uid, -1, 1);
    CHECK_EQ(ro->user_id, p[1].uid);
    CHECK(strcmp(ro->username, p[1].name) == 0);
    CHECK_ROOM(ro->room, &e, "RESUME_RESPONSE");
    resume_response__free_unpacked(ro, NULL);
    for (int k = 0; k < 3; k++)
        EXPECT_UPDATE(p[k].c, who[k], "online", p[1].uid, &e);
    /* the resumed session acts in the room */
    r = p_ready(&p[1], 1);
    exp_set(&e, p[1].uid, 1, -1);
    CHECK_ROOM(r, &e, "PREPARE_GAME_RESPONSE after RESUME");
    room_free(r);
    for (int k = 0; k < 3; k++)
        EXPECT_UPDATE(p[k].c, who[k], "ready", p[1].uid, &e);

    /* p2 drops and stays away: offline, then gone after the grace */
    char token2[80];
    snprintf(token2, sizeof token2, "%s", p[2].token);
    uint64_t t_drop = h_now_ms();
    p_close(&p[2]);
    exp_set(&e, p[2].uid, -1, 0);
    EXPECT_UPDATE(p[0].c, who[0], "offline", p[2].uid, &e);
    EXPECT_UPDATE(p[1].c, who[1], "offline", p[2].uid, &e);
    /* nothing for at least the grace (minus slack) */
    EXPECT_NO_PUSH(p[0].c, who[0], 1700);
    exp_remove(&e, p[2].uid);
    RoomUpdate *u = TAKE_PUSH(p[0].c, who[0], ROOM_UPDATE, room_update__descriptor, 3000);
    int left_ms = (int)(h_now_ms() - t_drop);
    CHECK(strcmp(u->event, "left") == 0);
    CHECK_ROOM(u->room, &e, "ROOM_UPDATE after the grace");
    uint64_t left_actor = u->actor_id;
    CHECK_EQ(left_actor, p[2].uid); /* the update names who left */
    room_update__free_unpacked(u, NULL);
    u = TAKE_PUSH(p[1].c, who[1], ROOM_UPDATE, room_update__descriptor, 3000);
    CHECK(strcmp(u->event, "left") == 0 && u->actor_id == p[2].uid);
    CHECK_ROOM(u->room, &e, "ROOM_UPDATE after the grace");
    room_update__free_unpacked(u, NULL);
    CHECK(left_ms >= 1900 && left_ms <= 4500);
    /* p2 resuming now is logged in, but no longer in the room */
    p_connect(&p[2]);
    rr.token = token2;
    ro = OK_CALL(p[2].c, RESUME_REQUEST, &rr.base, RESUME_RESPONSE, resume_response__descriptor);
    CHECK_EQ(ro->user_id, p[2].uid);
    CHECK(ro->room == NULL);
    resume_response__free_unpacked(ro, NULL);

    /* the owner leaves: ownership passes to the longest-standing member */
    LeaveRoomRequest lv = LEAVE_ROOM_REQUEST__INIT;
    LeaveRoomResponse *lvr = OK_CALL(p[0].c, LEAVE_ROOM_REQUEST, &lv.base, LEAVE_ROOM_RESPONSE, leave_room_response__descriptor);
    leave_room_response__free_unpacked(lvr, NULL);
    exp_remove(&e, p[0].uid);
    e.owner = p[1].uid;
    EXPECT_UPDATE(p[1].c, who[1], "left", p[0].uid, &e);
    RoomSummary sm;
    CHECK(p_list_find(&p[0], e.id, &sm, NULL));
    CHECK_EQ(sm.players, 1);
    CHECK(strcmp(sm.owner_name, p[1].name) == 0);
    summary_free(&sm);
    /* LOGOUT of the last member: token revoked, session unbound, room deleted */
    LogoutRequest lo = LOGOUT_REQUEST__INIT;
    LogoutResponse *lor = OK_CALL(p[1].c, LOGOUT_REQUEST, &lo.base, LOGOUT_RESPONSE, logout_response__descriptor);
    logout_response__free_unpacked(lor, NULL);
    CHECK(!p_list_find(&p[0], e.id, NULL, NULL));
    char rkey[24];
    snprintf(rkey, sizeof rkey, "%llu", (unsigned long long)e.id);
    CHECK_EQ(redis_int("EXISTS %sroom:%s", rkey), 0);
    CHECK_EQ(redis_int("EXISTS %sroom:%s:members", rkey), 0);
    JoinRoomRequest jr = JOIN_ROOM_REQUEST__INIT;
    jr.room_id = e.id;
    ERR_CALL(p[0].c, JOIN_ROOM_REQUEST, &jr.base, ROOM_NOT_FOUND);
    GetRoomListRequest lr = GET_ROOM_LIST_REQUEST__INIT;
    ERR_CALL(p[1].c, GET_ROOM_LIST_REQUEST, &lr.base, NOT_AUTHENTICATED);
    PrepareGameRequest pr = PREPARE_GAME_REQUEST__INIT;
    ERR_CALL(p[1].c, PREPARE_GAME_REQUEST, &pr.base, NOT_AUTHENTICATED);
    ERR_CALL(p[1].c, LOGOUT_REQUEST, &lo.base, NOT_AUTHENTICATED);
    csync_t *c = csync_connect("127.0.0.1", cl.port[0], 3000);
    CHECK(c != NULL);
    rr.token = p[1].token;
    ERR_CALL(c, RESUME_REQUEST, &rr.base, INVALID_TOKEN);
    csync_close(c);
    /* the same connection may log in again */
    LoginResponse *li = p_login_full(&p[1]);
    CHECK(li->room == NULL);
    login_response__free_unpacked(li, NULL);
    EXPECT_NO_PUSH(p[0].c, who[0], 100);
    printf("ok resume (RESUME_GRACE_MS=2000): p1 dropped -> 2 members saw online=false; RESUME on the "
           "other gateway -> RESUME_RESPONSE with the room (3 members, online), all 3 saw online=true, "
           "READY worked; p2 dropped -> offline, then removed %d ms after the drop (bound 1900-4500, "
           "update actor %llu = p2), its later RESUME has no room; owner LEAVE -> ownership passed to "
           "p1 (update + list); LOGOUT of the last member -> room deleted (list, Redis, JOIN "
           "ROOM_NOT_FOUND), 3 requests after it NOT_AUTHENTICATED, its token -> INVALID_TOKEN, "
           "LOGIN again worked\n",
           left_ms, (unsigned long long)left_actor);
    for (int i = 0; i < 3; i++)
        p_close(&p[i]);
    cluster_down(&cl);
}

/* ========================================================================================== */
/* Scenario 6: every lobby request type but REGISTER/LOGIN/RESUME is refused before login. */

typedef struct typed_msg {
    uint16_t type;
    const ProtobufCMessage *msg;
} typed_msg_t;

static void s_not_authenticated(void)
{
    cluster_t cl;
    cluster_up(&cl, "noauth", 1, 0, 0, NULL, 0);
    LogoutRequest lo = LOGOUT_REQUEST__INIT;
    CreateRoomRequest cr = CREATE_ROOM_REQUEST__INIT;
    cr.name = "x";
    cr.max_players = 2;
    GetRoomListRequest gl = GET_ROOM_LIST_REQUEST__INIT;
    JoinRoomRequest jr = JOIN_ROOM_REQUEST__INIT;
    jr.room_id = 1;
    LeaveRoomRequest lv = LEAVE_ROOM_REQUEST__INIT;
    PrepareGameRequest pr = PREPARE_GAME_REQUEST__INIT;
    pr.ready = 1;
    StartGameRequest sg = START_GAME_REQUEST__INIT;
    RoomChatRequest ch = ROOM_CHAT_REQUEST__INIT;
    ch.text = "hi";
    QuickMatchRequest qm = QUICK_MATCH_REQUEST__INIT;
    QuickMatchCancelRequest qc = QUICK_MATCH_CANCEL_REQUEST__INIT;
    const typed_msg_t needs[] = {
        {PACKET_TYPE__LOGOUT_REQUEST, &lo.base},        {PACKET_TYPE__CREATE_ROOM_REQUEST, &cr.base},
        {PACKET_TYPE__GET_ROOM_LIST_REQUEST, &gl.base}, {PACKET_TYPE__JOIN_ROOM_REQUEST, &jr.base},
        {PACKET_TYPE__LEAVE_ROOM_REQUEST, &lv.base},    {PACKET_TYPE__PREPARE_GAME_REQUEST, &pr.base},
        {PACKET_TYPE__START_GAME_REQUEST, &sg.base},    {PACKET_TYPE__ROOM_CHAT_REQUEST, &ch.base},
        {PACKET_TYPE__QUICK_MATCH_REQUEST, &qm.base},   {PACKET_TYPE__QUICK_MATCH_CANCEL_REQUEST, &qc.base},
    };
    const int NT = (int)(sizeof needs / sizeof needs[0]);
    player_t p;
    p_init(&p, "noauth", 0, cl.port[0]);
    p_connect(&p);
    /* no lobby at all: the account requests would be forwarded (SERVICE_UNAVAILABLE), the
     * others are refused by the gateway itself */
    RegisterRequest rg = REGISTER_REQUEST__INIT;
    rg.username = p.name;
    rg.password = p.pass;
    ERR_CALL(p.c, REGISTER_REQUEST, &rg.base, SERVICE_UNAVAILABLE);
    LoginRequest li = LOGIN_REQUEST__INIT;
    li.username = p.name;
    li.password = p.pass;
    ERR_CALL(p.c, LOGIN_REQUEST, &li.base, SERVICE_UNAVAILABLE);
    int refused = 0;
    for (int i = 0; i < NT; i++) {
        res_t r = err_res(call(p.c, needs[i].type, needs[i].msg), needs[i].type,
                          ERROR_CODE__NOT_AUTHENTICATED, __LINE__);
        CHECK(strcmp(r.msg, "log in first") == 0);
        refused++;
    }
    /* with a lobby: the same, from a fresh connection */
    cluster_add_lobby(&cl);
    wait_gateway_sees_lobbies(&cl, 0);
    p_connect(&p);
    for (int i = 0; i < NT; i++) {
        err_res(call(p.c, needs[i].type, needs[i].msg), needs[i].type, ERROR_CODE__NOT_AUTHENTICATED, __LINE__);
        refused++;
    }
    /* RESUME reaches the lobby (INVALID_TOKEN, not NOT_AUTHENTICATED) */
    ResumeRequest rr = RESUME_REQUEST__INIT;
    rr.token = "0000000000000000000000000000000000000000000000000000000000000000";
    ERR_CALL(p.c, RESUME_REQUEST, &rr.base, INVALID_TOKEN);
    /* after login the same packets reach the lobby: GET_ROOM_LIST works, LEAVE gets the lobby's NOT_IN_ROOM */
    p.uid = p_register(&p);
    p_login(&p);
    GetRoomListResponse *l = OK_CALL(p.c, GET_ROOM_LIST_REQUEST, &gl.base, GET_ROOM_LIST_RESPONSE,
                                     get_room_list_response__descriptor);
    get_room_list_response__free_unpacked(l, NULL);
    ERR_CALL(p.c, LEAVE_ROOM_REQUEST, &lv.base, NOT_IN_ROOM);
    printf("ok not authenticated: %d request types x 2 (no lobby running, then with a lobby) from "
           "fresh connections all got NOT_AUTHENTICATED \"log in first\" with their request_type "
           "(%d refusals), while REGISTER/LOGIN were forwarded (SERVICE_UNAVAILABLE with no lobby) "
           "and RESUME reached the lobby (INVALID_TOKEN); after LOGIN the same types reach the lobby\n",
           NT, refused);
    p_close(&p);
    cluster_down(&cl);
}

/* ========================================================================================== */
/* Scenario 7: login storm with HASH_INFLIGHT=2 and the interactive argon2id limits. */

typedef struct storm {
    ap_t *ap;
    int n;
    int first_busy;
    uint64_t first_busy_max_ms;
    int busy_total;
    int ok;
    int bad;
    int echo_n;
    uint64_t echo_max_ms;
    int echo_err;
    int running;
    ac_t *echo;
    uv_timer_t tick;
} storm_t;

static storm_t storm;

static void storm_login(ac_t *a)
{
    LoginRequest rq = LOGIN_REQUEST__INIT;
    rq.username = a->user;
    rq.password = a->pass;
    ap_send(a, PACKET_TYPE__LOGIN_REQUEST, &rq.base);
}

static void storm_on_login(ac_t *a)
{
    if (a->status == 0 && a->rtype == PACKET_TYPE__ERROR_RESPONSE && a->err == ERROR_CODE__BUSY) {
        if (a->retries == 0) {
            storm.first_busy++;
            if (a->rtt_ms > storm.first_busy_max_ms)
                storm.first_busy_max_ms = a->rtt_ms;
        }
        storm.busy_total++;
        a->retries++;
        a->retry_at = h_now_ms() + 30;
        return;
    }
    if (a->status == 0 && a->rtype == PACKET_TYPE__LOGIN_RESPONSE) {
        storm.ok++;
        a->stage = 2;
        return;
    }
    fprintf(stderr, "storm login %d: status %d type %s err %s\n", a->idx, a->status,
            type_name(a->rtype), err_name(a->err));
    storm.bad++;
    a->stage = 2;
}

static void storm_send_echo(void)
{
    EchoRequest er = ECHO_REQUEST__INIT;
    er.target = ECHO_TARGET__LOBBY;
    er.payload.data = (uint8_t *)"storm";
    er.payload.len = 5;
    ap_send(storm.echo, PACKET_TYPE__ECHO_REQUEST, &er.base);
}

static void storm_on_echo(ac_t *a)
{
    if (a->status != 0 || a->rtype != PACKET_TYPE__ECHO_RESPONSE)
        storm.echo_err++;
    if (storm.running) {
        storm.echo_n++;
        if (a->rtt_ms > storm.echo_max_ms)
            storm.echo_max_ms = a->rtt_ms;
    }
}

static void storm_tick(uv_timer_t *t)
{
    uint64_t now = h_now_ms();
    for (int i = 0; i < storm.n; i++) {
        ac_t *a = &storm.ap->c[i];
        if (a->stage == 1 && !a->busy && a->retry_at && now >= a->retry_at) {
            a->retry_at = 0;
            storm_login(a);
        }
    }
    if (!storm.echo->busy)
        storm_send_echo();
    /* an ECHO that has waited long already counts as slow */
    now = h_now_ms();
    if (storm.echo->busy && storm.running && now > storm.echo->sent_ms &&
        now - storm.echo->sent_ms > storm.echo_max_ms)
        storm.echo_max_ms = now - storm.echo->sent_ms;
}

static int cond_storm_done(ap_t *ap, void *arg) { return storm.ok + storm.bad == storm.n; }

static void s_login_storm(void)
{
    static const char *const env[] = {"HASH_INFLIGHT=2", NULL};
    uint64_t t_start = h_now_ms();
    cluster_t cl;
    cluster_up(&cl, "storm", 1, 1, 0, env, 1);
    const int N = 40;
    ap_t *ap = ap_new(N + 1);
    for (int i = 0; i <= N; i++)
        ap_connect(ap, i, cl.port[0]);
    ap_wait_connected(ap);
    /* 40 accounts, hashed with the interactive limits, two at a time */
    uint64_t t_reg = h_now_ms();
    for (int i = 0; i < N; i++) {
        snprintf(ap->c[i].user, sizeof ap->c[i].user, "u%s_storm%d", RUN, i);
        snprintf(ap->c[i].pass, sizeof ap->c[i].pass, "pw-storm-%d-secret", i);
    }
    int done = 0;
    while (done < N) {
        int sent = 0;
        for (int i = 0; i < N && sent < 2; i++)
            if (ap->c[i].stage == 0) {
                RegisterRequest rq = REGISTER_REQUEST__INIT;
                rq.username = ap->c[i].user;
                rq.password = ap->c[i].pass;
                ap_send(&ap->c[i], PACKET_TYPE__REGISTER_REQUEST, &rq.base);
                ap->c[i].stage = -1;
                sent++;
            }
        ap_wait_idle(ap, 20000);
        for (int i = 0; i < N; i++)
            if (ap->c[i].stage == -1) {
                ac_t *a = &ap->c[i];
                if (a->rtype == PACKET_TYPE__ERROR_RESPONSE && a->err == ERROR_CODE__BUSY) {
                    a->stage = 0;
                    continue;
                }
                RegisterResponse *o = AC_DECODE(a, REGISTER_RESPONSE, register_response__descriptor);
                a->uid = o->user_id;
                register_response__free_unpacked(o, NULL);
                a->stage = 1;
                done++;
            }
        CHECK(h_now_ms() - t_reg < 60000);
    }
    int reg_ms = (int)(h_now_ms() - t_reg);

    memset(&storm, 0, sizeof storm);
    storm.ap = ap;
    storm.n = N;
    storm.echo = &ap->c[N];
    storm.echo->on_done = storm_on_echo;
    /* warm up the ECHO path */
    storm_send_echo();
    ap_wait_idle(ap, T_REQ);
    CHECK_EQ(storm.echo_err, 0);

    for (int i = 0; i < N; i++)
        ap->c[i].on_done = storm_on_login;
    uv_timer_init(&ap->loop, &storm.tick);
    storm.running = 1;
    uint64_t t0 = h_now_ms();
    for (int i = 0; i < N; i++)
        storm_login(&ap->c[i]); /* all 40 leave in one loop turn */
    storm_send_echo();
    uv_timer_start(&storm.tick, storm_tick, 2, 2);
    int rc = ap_run(ap, cond_storm_done, NULL, 60000);
    storm.running = 0;
    int storm_ms = (int)(h_now_ms() - t0);
    uv_timer_stop(&storm.tick);
    uv_close((uv_handle_t *)&storm.tick, NULL);
    ap_wait_idle(ap, T_REQ);
    CHECK_EQ(rc, 0);
    if (storm.bad || storm.echo_err || storm.first_busy == 0 || storm.echo_max_ms > 100)
        fprintf(stderr, "storm: ok %d bad %d first-round BUSY %d echo n %d max %llu ms err %d\n",
                storm.ok, storm.bad, storm.first_busy, storm.echo_n,
                (unsigned long long)storm.echo_max_ms, storm.echo_err);
    CHECK_EQ(storm.bad, 0);
    CHECK_EQ(storm.ok, N);
    CHECK(storm.first_busy > 0);
    CHECK(storm.first_busy_max_ms < 500);
    CHECK_EQ(storm.echo_err, 0);
    CHECK(storm.echo_n >= 20);
    CHECK(storm.echo_max_ms <= 100);
    CHECK(h_alive(cl.lobby[0]));
    ap_free(ap);
    printf("ok login storm (HASH_INFLIGHT=2, interactive argon2id): 40 accounts registered in %d ms; "
           "40 LOGINs at once: %d got BUSY at once (slowest BUSY %llu ms), BUSY ones retried every "
           "30 ms (%d BUSY in all) until all 40 logged in, in %d ms; %d ECHO LOBBY round trips during "
           "the storm, worst %llu ms (bound 100), 0 errors; %.1f s\n",
           reg_ms, storm.first_busy, (unsigned long long)storm.first_busy_max_ms, storm.busy_total,
           storm_ms, storm.echo_n, (unsigned long long)storm.echo_max_ms,
           (double)(h_now_ms() - t_start) / 1000.0);
    cluster_down(&cl);
}

/* Concurrent wrong-password guesses for one name: the failure window is reserved before any
 * hashing, so no more than LOGIN_FAIL_LIMIT (5) guesses reach the password check. */
static void s_login_limit_race(void)
{
    /* 8 hashes may run at once here, so BUSY can't hide the limit */
    static const char *const env[] = {"HASH_INFLIGHT=8", NULL};
    cluster_t cl;
    cluster_up(&cl, "limitrace", 1, 1, 0, env, 0);
    player_t p;
    p_init(&p, "limitrace", 0, cl.port[0]);
    p_connect(&p);
    p_register(&p);
    const int N = 8;
    ap_t *ap = ap_new(N);
    for (int i = 0; i < N; i++)
        ap_connect(ap, i, cl.port[0]);
    ap_wait_connected(ap);
    for (int i = 0; i < N; i++) {
        LoginRequest li = LOGIN_REQUEST__INIT;
        li.username = p.name;
        li.password = (char *)"wrong-password-guess";
        ap_send(&ap->c[i], PACKET_TYPE__LOGIN_REQUEST, &li.base); /* all 8 in one loop turn */
    }
    ap_wait_idle(ap, 20000);
    int invalid = 0, throttled = 0, other = 0;
    for (int i = 0; i < N; i++) {
        if (ap->c[i].rtype == PACKET_TYPE__ERROR_RESPONSE && ap->c[i].err == ERROR_CODE__INVALID_CREDENTIALS)
            invalid++;
        else if (ap->c[i].rtype == PACKET_TYPE__ERROR_RESPONSE && ap->c[i].err == ERROR_CODE__TOO_MANY_ATTEMPTS)
            throttled++;
        else
            other++;
    }
    printf("ok login limit race: 8 concurrent wrong guesses -> %d INVALID_CREDENTIALS, %d "
           "TOO_MANY_ATTEMPTS, %d other (limit 5)\n", invalid, throttled, other);
    CHECK_EQ(other, 0);
    CHECK_EQ(invalid, 5);
    CHECK_EQ(throttled, 3);
    ap_free(ap);
    p_close(&p);
    cluster_down(&cl);
}

/* ========================================================================================== */
/* Scenario 8: every error code. */

static void s_error_codes(void)
{
    uint64_t t_start = h_now_ms();
    static const char *const env[] = {"LOGIN_FAIL_WINDOW_S=2", NULL};
    cluster_t cl;
    cluster_up(&cl, "errors", 1, 1, 0, env, 0); /* no game daemon yet */
    int codes = 0;
    player_t p[6];
    for (int i = 0; i < 6; i++)
        p_init(&p[i], "err", i, cl.port[0]);
    for (int i = 0; i < 4; i++)
        p_signup(&p[i]);

    /* USERNAME_TAKEN, also with another case */
    p_connect(&p[4]);
    RegisterRequest rg = REGISTER_REQUEST__INIT;
    rg.username = p[0].name;
    rg.password = "another-password";
    ERR_CALL(p[4].c, REGISTER_REQUEST, &rg.base, USERNAME_TAKEN);
    char upper[32];
    snprintf(upper, sizeof upper, "%s", p[0].name);
    for (char *q = upper; *q; q++)
        *q = (char)toupper((unsigned char)*q);
    rg.username = upper;
    ERR_CALL(p[4].c, REGISTER_REQUEST, &rg.base, USERNAME_TAKEN);
    codes++;

    /* INVALID_CREDENTIALS: wrong user and wrong password alike */
    LoginRequest li = LOGIN_REQUEST__INIT;
    char nouser[32];
    snprintf(nouser, sizeof nouser, "u%s_nobody", RUN);
    li.username = nouser;
    li.password = "whatever-password";
    res_t a = ERR_CALL(p[4].c, LOGIN_REQUEST, &li.base, INVALID_CREDENTIALS);
    li.username = p[1].name;
    li.password = "wrong-password";
    res_t b = ERR_CALL(p[4].c, LOGIN_REQUEST, &li.base, INVALID_CREDENTIALS);
    CHECK(strcmp(a.msg, b.msg) == 0);
    codes++;

    /* TOO_MANY_ATTEMPTS: 5 failures, then even the right password is throttled (any case) */
    li.username = p[2].name;
    li.password = "wrong-password";
    for (int i = 0; i < 5; i++)
        ERR_CALL(p[4].c, LOGIN_REQUEST, &li.base, INVALID_CREDENTIALS);
    li.password = p[2].pass;
    ERR_CALL(p[4].c, LOGIN_REQUEST, &li.base, TOO_MANY_ATTEMPTS);
    snprintf(upper, sizeof upper, "%s", p[2].name);
    upper[0] = 'U';
    li.username = upper;
    ERR_CALL(p[4].c, LOGIN_REQUEST, &li.base, TOO_MANY_ATTEMPTS);
    uint64_t t_throttled = h_now_ms();
    codes++;

    /* INVALID_TOKEN */
    ResumeRequest rr = RESUME_REQUEST__INIT;
    rr.token = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    ERR_CALL(p[4].c, RESUME_REQUEST, &rr.base, INVALID_TOKEN);
    rr.token = "not-a-token";
    ERR_CALL(p[4].c, RESUME_REQUEST, &rr.base, INVALID_TOKEN);
    codes++;
    /* the throttle is per username: another one registers and logs in on the same connection */
    p[4].uid = p_register(&p[4]);
    p_login(&p[4]);

    /* ALREADY_AUTHENTICATED: LOGIN and RESUME on a logged-in session */
    li.username = p[0].name;
    li.password = p[0].pass;
    ERR_CALL(p[0].c, LOGIN_REQUEST, &li.base, ALREADY_AUTHENTICATED);
    rr.token = p[0].token;
    ERR_CALL(p[0].c, RESUME_REQUEST, &rr.base, ALREADY_AUTHENTICATED);
    codes++;

    /* rooms */
    RoomState *r = p_create(&p[0], "Errors room", 2);
    uint64_t room = r->room_id;
    room_free(r);
    CreateRoomRequest cr = CREATE_ROOM_REQUEST__INIT;
    cr.name = "Second";
    cr.max_players = 2;
    ERR_CALL(p[0].c, CREATE_ROOM_REQUEST, &cr.base, ALREADY_IN_ROOM);
    JoinRoomRequest jr = JOIN_ROOM_REQUEST__INIT;
    jr.room_id = room + 1000;
    ERR_CALL(p[1].c, JOIN_ROOM_REQUEST, &jr.base, ROOM_NOT_FOUND);
    codes++;
    LeaveRoomRequest lv = LEAVE_ROOM_REQUEST__INIT;
    PrepareGameRequest pr = PREPARE_GAME_REQUEST__INIT;
    pr.ready = 1;
    StartGameRequest sg = START_GAME_REQUEST__INIT;
    RoomChatRequest ch = ROOM_CHAT_REQUEST__INIT;
    ch.text = "hello";
    ERR_CALL(p[1].c, LEAVE_ROOM_REQUEST, &lv.base, NOT_IN_ROOM);
    ERR_CALL(p[1].c, PREPARE_GAME_REQUEST, &pr.base, NOT_IN_ROOM);
    ERR_CALL(p[1].c, START_GAME_REQUEST, &sg.base, NOT_IN_ROOM);
    ERR_CALL(p[1].c, ROOM_CHAT_REQUEST, &ch.base, NOT_IN_ROOM);
    codes++;
    room_free(p_join(&p[1], room));
    jr.room_id = room;
    ERR_CALL(p[1].c, JOIN_ROOM_REQUEST, &jr.base, ALREADY_IN_ROOM);
    codes++;
    ERR_CALL(p[2].c, JOIN_ROOM_REQUEST, &jr.base, ROOM_FULL);
    codes++;
    ERR_CALL(p[1].c, START_GAME_REQUEST, &sg.base, NOT_ROOM_OWNER);
    codes++;
    room_free(p_ready(&p[0], 1));
    ERR_CALL(p[0].c, START_GAME_REQUEST, &sg.base, NOT_ALL_READY);
    codes++;
    room_free(p_ready(&p[1], 1));

    /* RATE_LIMITED: 10 chat lines at once, CHAT_RATE 5/s */
    drain_pushes(p[0].c, 50);
    drain_pushes(p[1].c, 50);
    char texts[10][16];
    for (uint32_t i = 0; i < 10; i++) {
        snprintf(texts[i], sizeof texts[i], "line %u", i);
        RoomChatRequest c1 = ROOM_CHAT_REQUEST__INIT;
        c1.text = texts[i];
        send_frame(p[0].c, PACKET_TYPE__ROOM_CHAT_REQUEST, 7001 + i, &c1.base);
    }
    int chat_ok = 0, chat_limited = 0;
    for (int got = 0; got < 10;) {
        uint16_t t;
        uint32_t seq;
        uint8_t *pl;
        size_t n;
        CHECK_EQ(csync_wait_push_seq(p[0].c, &t, &seq, &pl, &n, T_REQ), 0);
        if (seq >= 7001 && seq <= 7010) {
            got++;
            if (t == PACKET_TYPE__ROOM_CHAT_RESPONSE)
                chat_ok++;
            else {
                CHECK_EQ(t, PACKET_TYPE__ERROR_RESPONSE);
                ErrorResponse *er = error_response__unpack(NULL, n, pl);
                CHECK(er && er->code == ERROR_CODE__RATE_LIMITED &&
                      er->request_type == PACKET_TYPE__ROOM_CHAT_REQUEST);
                error_response__free_unpacked(er, NULL);
                chat_limited++;
            }
        } else {
            CHECK_EQ(t, PACKET_TYPE__ROOM_CHAT_MESSAGE); /* its own lines */
        }
        xfree(pl);
    }
    CHECK_EQ(chat_ok, 5);
    CHECK_EQ(chat_limited, 5);
    int lines = 0;
    for (;;) {
        uint16_t t;
        uint8_t *pl;
        size_t n;
        if (wait_lobby_push(p[1].c, &t, &pl, &n, lines < 5 ? 2000 : 200) != 0)
            break;
        CHECK_EQ(t, PACKET_TYPE__ROOM_CHAT_MESSAGE);
        RoomChatMessage *cm = room_chat_message__unpack(NULL, n, pl);
        CHECK(cm && cm->room_id == room && cm->user_id == p[0].uid && strcmp(cm->username, p[0].name) == 0);
        CHECK(strncmp(cm->text, "line ", 5) == 0 && cm->sent_at_ms > 0);
        room_chat_message__free_unpacked(cm, NULL);
        xfree(pl);
        lines++;
    }
    CHECK_EQ(lines, 5);
    codes++;
    /* the rate is per user: p[1]'s chat still goes */
    RoomChatResponse *cro = OK_CALL(p[1].c, ROOM_CHAT_REQUEST, &ch.base, ROOM_CHAT_RESPONSE, room_chat_response__descriptor);
    room_chat_response__free_unpacked(cro, NULL);
    drain_pushes(p[0].c, 50);
    drain_pushes(p[1].c, 0);

    /* SERVICE_UNAVAILABLE: START with no game daemon; the room stays waiting */
    ERR_CALL(p[0].c, START_GAME_REQUEST, &sg.base, SERVICE_UNAVAILABLE);
    RoomSummary s;
    CHECK(p_list_find(&p[2], room, &s, NULL));
    CHECK_EQ(s.players, 2);
    summary_free(&s);
    r = p_ready(&p[0], 1);
    CHECK_EQ(r->status, ROOM_STATUS__WAITING);
    CHECK(r->match_id == 0 && r->n_members == 2 && r->members[0]->ready && r->members[1]->ready);
    room_free(r);
    cluster_add_game(&cl);
    StartGameResponse *so = OK_CALL(p[0].c, START_GAME_REQUEST, &sg.base, START_GAME_RESPONSE,
                                    start_game_response__descriptor);
    CHECK_EQ(so->game_server_id, cl.game_id[0]);
    start_game_response__free_unpacked(so, NULL);

    /* ROOM_IN_GAME: join, ready, leave, start again */
    ERR_CALL(p[2].c, JOIN_ROOM_REQUEST, &jr.base, ROOM_IN_GAME);
    ERR_CALL(p[1].c, PREPARE_GAME_REQUEST, &pr.base, ROOM_IN_GAME);
    ERR_CALL(p[1].c, LEAVE_ROOM_REQUEST, &lv.base, ROOM_IN_GAME);
    ERR_CALL(p[0].c, START_GAME_REQUEST, &sg.base, ROOM_IN_GAME);
    codes++;

    /* ALREADY_QUEUED / NOT_QUEUED */
    QuickMatchRequest qm = QUICK_MATCH_REQUEST__INIT;
    QuickMatchCancelRequest qc = QUICK_MATCH_CANCEL_REQUEST__INIT;
    ERR_CALL(p[2].c, QUICK_MATCH_CANCEL_REQUEST, &qc.base, NOT_QUEUED);
    QuickMatchResponse *qo = OK_CALL(p[2].c, QUICK_MATCH_REQUEST, &qm.base, QUICK_MATCH_RESPONSE, quick_match_response__descriptor);
    CHECK_EQ(qo->queued, 1);
    quick_match_response__free_unpacked(qo, NULL);
    ERR_CALL(p[2].c, QUICK_MATCH_REQUEST, &qm.base, ALREADY_QUEUED);
    ERR_CALL(p[2].c, CREATE_ROOM_REQUEST, &cr.base, ALREADY_QUEUED);
    ERR_CALL(p[0].c, QUICK_MATCH_REQUEST, &qm.base, ALREADY_IN_ROOM);
    QuickMatchCancelResponse *qco = OK_CALL(p[2].c, QUICK_MATCH_CANCEL_REQUEST, &qc.base,
                                            QUICK_MATCH_CANCEL_RESPONSE, quick_match_cancel_response__descriptor);
    quick_match_cancel_response__free_unpacked(qco, NULL);
    ERR_CALL(p[2].c, QUICK_MATCH_CANCEL_REQUEST, &qc.base, NOT_QUEUED);
    codes += 2;

    /* SERVICE_UNAVAILABLE: PostgreSQL stopped */
    p_connect(&p[5]);
    h_pg_stop();
    rg.username = p[5].name;
    rg.password = p[5].pass;
    res_t ru = ERR_CALL(p[5].c, REGISTER_REQUEST, &rg.base, SERVICE_UNAVAILABLE);
    li.username = p[3].name;
    li.password = p[3].pass;
    res_t lu = ERR_CALL(p[5].c, LOGIN_REQUEST, &li.base, SERVICE_UNAVAILABLE);
    if (ru.ms > 2000 || lu.ms > 2000)
        fprintf(stderr, "PostgreSQL down: REGISTER answered in %d ms, LOGIN in %d ms\n", ru.ms, lu.ms);
    CHECK(ru.ms <= 2000);
    CHECK(lu.ms <= 2000);
    /* meanwhile the rooms (Redis) go on */
    GetRoomListResponse *gl = p_list(&p[2], 0, 10);
    get_room_list_response__free_unpacked(gl, NULL);
    CHECK(h_alive(cl.lobby[0]));
    h_pg_start();
    uint64_t t_up = h_now_ms();
    int attempts = 0;
    for (;;) {
        res_t x = call(p[5].c, PACKET_TYPE__REGISTER_REQUEST, &rg.base);
        attempts++;
        if (x.rc == 0 && x.type == PACKET_TYPE__REGISTER_RESPONSE) {
            res_free(&x);
            break;
        }
        if (!(x.rc == 0 && x.type == PACKET_TYPE__ERROR_RESPONSE &&
              (x.err == ERROR_CODE__SERVICE_UNAVAILABLE || x.err == ERROR_CODE__BUSY))) {
            char what[400];
            res_describe(&x, what, sizeof what);
            fprintf(stderr, "REGISTER after PostgreSQL restart: %s\n", what);
            h_fail();
        }
        res_free(&x);
        if (h_now_ms() - t_up > 20000) {
            fprintf(stderr, "the lobby did not recover 20 s after PostgreSQL came back\n");
            h_fail();
        }
        h_sleep_ms(200);
    }
    int recover_ms = (int)(h_now_ms() - t_up);
    p_login(&p[5]);
    /* an account from before the outage logs in (the LOGIN refused above) */
    player_t p3b = p[3];
    p3b.c = NULL;
    p_connect(&p3b);
    p_login(&p3b);
    CHECK(h_alive(cl.lobby[0]));
    /* the throttled username logs in once the window (2 s here) has passed */
    while (h_now_ms() - t_throttled < 2300)
        h_sleep_ms(50);
    player_t p2b = p[2];
    p2b.c = NULL;
    p_connect(&p2b);
    p_login(&p2b);
    csync_close(p2b.c);
    codes++;
    printf("ok error codes: %d codes seen: USERNAME_TAKEN (also other case), INVALID_CREDENTIALS "
           "(unknown user and wrong password: same message \"%s\"), TOO_MANY_ATTEMPTS after 5 "
           "failures (right password, other case too; another name unaffected; gone after the 2 s "
           "window), INVALID_TOKEN, ALREADY_AUTHENTICATED, "
           "ROOM_NOT_FOUND, NOT_IN_ROOM (leave/ready/start/chat), ALREADY_IN_ROOM, ROOM_FULL, "
           "NOT_ROOM_OWNER, NOT_ALL_READY, RATE_LIMITED (10 lines: 5 sent + delivered, 5 limited), "
           "SERVICE_UNAVAILABLE on START without gamed (room stayed waiting; started once a gamed "
           "came), ROOM_IN_GAME (join/ready/leave/start), ALREADY_QUEUED, NOT_QUEUED; PostgreSQL "
           "stopped: REGISTER/LOGIN SERVICE_UNAVAILABLE in %d/%d ms, rooms still served, lobby "
           "alive; after restart REGISTER worked %d ms later (%d attempts), then LOGIN of the new and "
           "of an old account; %.1f s\n",
           codes, a.msg, ru.ms, lu.ms, recover_ms, attempts, (double)(h_now_ms() - t_start) / 1000.0);
    csync_close(p3b.c);
    for (int i = 0; i < 6; i++)
        p_close(&p[i]);
    cluster_down(&cl);
}

/* ========================================================================================== */
/* Scenario 9: hostile input. */

/* Appends a protobuf length-delimited field. */
static size_t pb_put_bytes(uint8_t *b, size_t at, int field, const void *data, size_t n)
{
    b[at++] = (uint8_t)(field << 3 | 2);
    size_t v = n;
    do {
        uint8_t x = v & 0x7f;
        v >>= 7;
        b[at++] = x | (v ? 0x80 : 0);
    } while (v);
    memcpy(b + at, data, n);
    return at + n;
}

static size_t pb_put_varint(uint8_t *b, size_t at, int field, uint64_t v)
{
    b[at++] = (uint8_t)(field << 3 | 0);
    do {
        uint8_t x = v & 0x7f;
        v >>= 7;
        b[at++] = x | (v ? 0x80 : 0);
    } while (v);
    return at;
}

static void s_hostile(void)
{
    cluster_t cl;
    cluster_up(&cl, "hostile", 1, 1, 1, NULL, 0);
    int checks = 0;
    player_t p;
    p_init(&p, "hostile", 0, cl.port[0]);
    p_connect(&p);
    RegisterRequest rg = REGISTER_REQUEST__INIT;
    LoginRequest li = LOGIN_REQUEST__INIT;

    /* SQL-looking usernames */
    rg.username = "a'; DROP TABLE accounts;--";
    rg.password = "password123";
    ERR_CALL(p.c, REGISTER_REQUEST, &rg.base, BAD_REQUEST);
    li.username = rg.username;
    li.password = rg.password;
    ERR_CALL(p.c, LOGIN_REQUEST, &li.base, BAD_REQUEST);
    player_t bobby;
    p_init(&bobby, "x", 0, cl.port[0]);
    snprintf(bobby.name, sizeof bobby.name, "Robert_Tables_%s", RUN);
    p_signup(&bobby);
    checks += 3;

    /* lengths: one over is refused, the limit itself is accepted */
    char u25[26], u24[25], pw129[130], pw128[129];
    snprintf(u24, sizeof u24, "u%s_", RUN);
    size_t l0 = strlen(u24);
    memset(u24 + l0, 'a', 24 - l0);
    u24[24] = '\0';
    memcpy(u25, u24, 24);
    u25[24] = 'b';
    u25[25] = '\0';
    memset(pw129, 'p', 129);
    pw129[129] = '\0';
    memset(pw128, 'q', 128);
    pw128[128] = '\0';
    rg.username = u25;
    rg.password = "password123";
    ERR_CALL(p.c, REGISTER_REQUEST, &rg.base, BAD_REQUEST);
    rg.username = "ab";
    ERR_CALL(p.c, REGISTER_REQUEST, &rg.base, BAD_REQUEST);
    rg.username = u24;
    rg.password = pw129;
    ERR_CALL(p.c, REGISTER_REQUEST, &rg.base, BAD_REQUEST);
    rg.password = "short7!";
    ERR_CALL(p.c, REGISTER_REQUEST, &rg.base, BAD_REQUEST);
    rg.password = pw128;
    RegisterResponse *ro = OK_CALL(p.c, REGISTER_REQUEST, &rg.base, REGISTER_RESPONSE, register_response__descriptor);
    register_response__free_unpacked(ro, NULL);
    /* rejected usernames can't log in; the accepted one can */
    li.username = u25;
    li.password = "password123";
    ERR_CALL(p.c, LOGIN_REQUEST, &li.base, BAD_REQUEST);
    li.username = u24;
    li.password = pw129;
    ERR_CALL(p.c, LOGIN_REQUEST, &li.base, BAD_REQUEST);
    li.password = "password123";
    ERR_CALL(p.c, LOGIN_REQUEST, &li.base, INVALID_CREDENTIALS); /* the one with pw129 was not stored */
    checks += 9;
    /* invalid UTF-8 in a string field, by hand */
    {
        uint8_t buf[128];
        size_t n = pb_put_bytes(buf, 0, 1, "bad\xff\xfename", 9);
        n = pb_put_bytes(buf, n, 2, "password123", 11);
        ERR_RAW(p.c, REGISTER_REQUEST, buf, n, BAD_REQUEST);
        checks++;
        /* a NUL inside the name: refused, not silently cut to "nulname" */
        n = pb_put_bytes(buf, 0, 1, "nulname\0'; DROP", 15);
        n = pb_put_bytes(buf, n, 2, "password123", 11);
        ERR_RAW(p.c, REGISTER_REQUEST, buf, n, BAD_REQUEST);
        checks++;
    }
    /* PostgreSQL: the table works and holds none of the rejected names */
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM accounts WHERE username LIKE '%%DROP%%' OR "
                              "username = '%s' OR username = 'ab' OR username = 'nulname'", u25);
    CHECK_EQ(psql_count(sql), 0);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM accounts WHERE username = '%s' OR username = '%s'",
             bobby.name, u24);
    CHECK_EQ(psql_count(sql), 2);
    checks += 2;

    /* rooms: p logs in */
    p.uid = p_register(&p);
    p_login(&p);
    uint32_t total0 = 0;
    (void)p_list_find(&p, 0, NULL, &total0);
    CreateRoomRequest cr = CREATE_ROOM_REQUEST__INIT;
    char n33[34], n32[33];
    memset(n33, 'n', 33);
    n33[33] = '\0';
    memset(n32, 'm', 32);
    n32[32] = '\0';
    cr.name = n33;
    cr.max_players = 2;
    ERR_CALL(p.c, CREATE_ROOM_REQUEST, &cr.base, BAD_REQUEST);
    cr.name = "";
    ERR_CALL(p.c, CREATE_ROOM_REQUEST, &cr.base, BAD_REQUEST);
    cr.name = "tab\there";
    ERR_CALL(p.c, CREATE_ROOM_REQUEST, &cr.base, BAD_REQUEST);
    cr.name = "ok name";
    /* 0 is the mode's max (test_modules_limits); the arena takes 1-4, nothing takes over 64 */
    uint32_t bad_max[3] = {5, 65, 0xffffffffu};
    for (int i = 0; i < 3; i++) {
        cr.max_players = bad_max[i];
        ERR_CALL(p.c, CREATE_ROOM_REQUEST, &cr.base, BAD_REQUEST);
    }
    {
        uint8_t buf[64];
        size_t n = pb_put_bytes(buf, 0, 1, "\xc3\x28room", 6); /* invalid 2-byte sequence */
        n = pb_put_varint(buf, n, 2, 2);
        ERR_RAW(p.c, CREATE_ROOM_REQUEST, buf, n, BAD_REQUEST);
        n = pb_put_bytes(buf, 0, 1, "\xed\xa0\x80", 3); /* a surrogate */
        n = pb_put_varint(buf, n, 2, 2);
        ERR_RAW(p.c, CREATE_ROOM_REQUEST, buf, n, BAD_REQUEST);
        uint8_t junk[] = {0xff, 0xff, 0xff, 0xff};
        ERR_RAW(p.c, CREATE_ROOM_REQUEST, junk, sizeof junk, BAD_REQUEST);
    }
    checks += 9;
    /* nothing created by the rejected CREATEs */
    uint32_t total1 = 0;
    (void)p_list_find(&p, 0, NULL, &total1);
    CHECK_EQ(total1, total0);
    CHECK_EQ(redis_int("GET %sroom:seq%s", ""), 0);
    /* in the wrong state: not in a room */
    PrepareGameRequest pr = PREPARE_GAME_REQUEST__INIT;
    pr.ready = 1;
    StartGameRequest sg = START_GAME_REQUEST__INIT;
    LeaveRoomRequest lv = LEAVE_ROOM_REQUEST__INIT;
    RoomChatRequest ch = ROOM_CHAT_REQUEST__INIT;
    ch.text = "hi";
    ERR_CALL(p.c, PREPARE_GAME_REQUEST, &pr.base, NOT_IN_ROOM);
    ERR_CALL(p.c, START_GAME_REQUEST, &sg.base, NOT_IN_ROOM);
    ERR_CALL(p.c, LEAVE_ROOM_REQUEST, &lv.base, NOT_IN_ROOM);
    ERR_CALL(p.c, ROOM_CHAT_REQUEST, &ch.base, NOT_IN_ROOM);
    checks += 4;
    /* room ids */
    JoinRoomRequest jr = JOIN_ROOM_REQUEST__INIT;
    uint64_t bad_ids[3] = {0, 1ull << 53 | 1, UINT64_MAX};
    for (int i = 0; i < 3; i++) {
        jr.room_id = bad_ids[i];
        ERR_CALL(p.c, JOIN_ROOM_REQUEST, &jr.base, ROOM_NOT_FOUND);
    }
    jr.room_id = 42424242;
    ERR_CALL(p.c, JOIN_ROOM_REQUEST, &jr.base, ROOM_NOT_FOUND);
    checks += 4;
    /* page_size */
    GetRoomListRequest gl = GET_ROOM_LIST_REQUEST__INIT;
    gl.page_size = 51;
    ERR_CALL(p.c, GET_ROOM_LIST_REQUEST, &gl.base, BAD_REQUEST);
    gl.page_size = 1000000;
    ERR_CALL(p.c, GET_ROOM_LIST_REQUEST, &gl.base, BAD_REQUEST);
    gl.page_size = 50;
    gl.page = 0xffffffffu;
    ERR_CALL(p.c, GET_ROOM_LIST_REQUEST, &gl.base, BAD_REQUEST);
    gl.page = 0;
    GetRoomListResponse *glr = OK_CALL(p.c, GET_ROOM_LIST_REQUEST, &gl.base, GET_ROOM_LIST_RESPONSE,
                                       get_room_list_response__descriptor);
    get_room_list_response__free_unpacked(glr, NULL);
    checks += 3;
    /* the 32-byte name is accepted, and then the chat limits */
    RoomState *r = p_create(&p, n32, 1);
    CHECK(strcmp(r->name, n32) == 0);
    room_free(r);
    char c201[202], c200[201];
    memset(c201, 'c', 201);
    c201[201] = '\0';
    memset(c200, 'd', 200);
    c200[200] = '\0';
    ch.text = c201;
    ERR_CALL(p.c, ROOM_CHAT_REQUEST, &ch.base, BAD_REQUEST);
    ch.text = "";
    ERR_CALL(p.c, ROOM_CHAT_REQUEST, &ch.base, BAD_REQUEST);
    {
        uint8_t buf[32];
        size_t n = pb_put_bytes(buf, 0, 1, "hi\x80", 3);
        ERR_RAW(p.c, ROOM_CHAT_REQUEST, buf, n, BAD_REQUEST);
    }
    ch.text = c200;
    RoomChatResponse *cro = OK_CALL(p.c, ROOM_CHAT_REQUEST, &ch.base, ROOM_CHAT_RESPONSE, room_chat_response__descriptor);
    room_chat_response__free_unpacked(cro, NULL);
    checks += 3;
    /* the wrong state in a room: QUICK_MATCH in a room, START in game */
    QuickMatchRequest qm = QUICK_MATCH_REQUEST__INIT;
    ERR_CALL(p.c, QUICK_MATCH_REQUEST, &qm.base, ALREADY_IN_ROOM);
    ERR_CALL(p.c, START_GAME_REQUEST, &sg.base, NOT_ALL_READY);
    room_free(p_ready(&p, 1));
    StartGameResponse *so = OK_CALL(p.c, START_GAME_REQUEST, &sg.base, START_GAME_RESPONSE, start_game_response__descriptor);
    start_game_response__free_unpacked(so, NULL);
    ERR_CALL(p.c, START_GAME_REQUEST, &sg.base, ROOM_IN_GAME);
    ERR_CALL(p.c, PREPARE_GAME_REQUEST, &pr.base, ROOM_IN_GAME);
    ERR_CALL(p.c, LEAVE_ROOM_REQUEST, &lv.base, ROOM_IN_GAME);
    cr.name = "another";
    cr.max_players = 2;
    ERR_CALL(p.c, CREATE_ROOM_REQUEST, &cr.base, ALREADY_IN_ROOM);
    checks += 5;
    /* only the one valid room exists */
    CHECK_EQ(redis_int("GET %sroom:seq%s", ""), 1);
    CHECK(h_alive(cl.lobby[0]));
    CHECK(h_alive(cl.gw[0]));
    printf("ok hostile input: %d checks: SQL-looking username BAD_REQUEST (and can't log in), "
           "Robert_Tables registered and logged in, accounts table intact (psql: 0 rejected names "
           "stored, 2 accepted ones); username 25/2 chars, password 129/7 bytes, room name 33/0 "
           "bytes or with a tab, chat 201/0 bytes, invalid UTF-8 (3 kinds, hand-built), junk "
           "payload, max_players 0/5/2^32-1, page_size 51/10^6, page 2^32-1: BAD_REQUEST; the "
           "limits (24, 128, 32, 200, 50) accepted; room_id 0/2^53+1/2^64-1/absent ROOM_NOT_FOUND; "
           "READY/START/LEAVE/CHAT outside a room NOT_IN_ROOM; QUICK_MATCH in a room "
           "ALREADY_IN_ROOM; START/READY/LEAVE in game ROOM_IN_GAME; only 1 room ever created\n",
           checks);
    p_close(&p);
    p_close(&bobby);
    cluster_down(&cl);
}

/* ========================================================================================== */
/* Scenario 10: quick match. */

static void s_quick_match(void)
{
    cluster_t cl;
    cluster_up(&cl, "quick", 2, 1, 1, NULL, 0);
    player_t p[6];
    for (int i = 0; i < 6; i++) {
        p_init(&p[i], "quick", i, cl.port[i % 2]);
        p_signup(&p[i]);
    }
    QuickMatchRequest qm = QUICK_MATCH_REQUEST__INIT;
    QuickMatchCancelRequest qc = QUICK_MATCH_CANCEL_REQUEST__INIT;
    QuickMatchResponse *o = OK_CALL(p[0].c, QUICK_MATCH_REQUEST, &qm.base, QUICK_MATCH_RESPONSE, quick_match_response__descriptor);
    CHECK_EQ(o->queued, 1);
    quick_match_response__free_unpacked(o, NULL);
    EXPECT_NO_PUSH(p[0].c, "p0", 100);
    o = OK_CALL(p[1].c, QUICK_MATCH_REQUEST, &qm.base, QUICK_MATCH_RESPONSE, quick_match_response__descriptor);
    CHECK_EQ(o->queued, 0);
    quick_match_response__free_unpacked(o, NULL);
    uint64_t match = 0, room = 0;
    for (int k = 0; k < 2; k++) {
        RoomUpdate *u = TAKE_PUSH(p[k].c, k ? "p1" : "p0", ROOM_UPDATE, room_update__descriptor, 3000);
        CHECK(strcmp(u->event, "quick_match") == 0);
        CHECK(u->room != NULL);
        exp_room_t e = {.id = u->room->room_id, .owner = p[0].uid, .max = 2, .status = ROOM_STATUS__IN_GAME,
                        .game = cl.game_id[0]};
        exp_add(&e, p[0].uid);
        exp_add(&e, p[1].uid);
        exp_set(&e, p[0].uid, 1, -1);
        exp_set(&e, p[1].uid, 1, -1);
        CHECK_ROOM(u->room, &e, "quick match ROOM_UPDATE");
        CHECK(u->room->match_id > 0);
        if (k == 0) {
            match = u->room->match_id;
            room = u->room->room_id;
        } else {
            CHECK_EQ(u->room->match_id, match);
            CHECK_EQ(u->room->room_id, room);
        }
        room_update__free_unpacked(u, NULL);
        GameStarting *gs = TAKE_PUSH(p[k].c, k ? "p1" : "p0", GAME_STARTING, game_starting__descriptor, 3000);
        CHECK_EQ(gs->match_id, match);
        CHECK_EQ(gs->room_id, room);
        CHECK_EQ(gs->game_server_id, cl.game_id[0]);
        game_starting__free_unpacked(gs, NULL);
        EXPECT_NO_PUSH(p[k].c, "matched player", 50);
    }
    CHECK(h_alive(cl.game[0]));
    /* cancel: p2 queues then cancels; p3 queues alone and stays queued */
    o = OK_CALL(p[2].c, QUICK_MATCH_REQUEST, &qm.base, QUICK_MATCH_RESPONSE, quick_match_response__descriptor);
    CHECK_EQ(o->queued, 1);
    quick_match_response__free_unpacked(o, NULL);
    QuickMatchCancelResponse *co = OK_CALL(p[2].c, QUICK_MATCH_CANCEL_REQUEST, &qc.base,
                                           QUICK_MATCH_CANCEL_RESPONSE, quick_match_cancel_response__descriptor);
    quick_match_cancel_response__free_unpacked(co, NULL);
    o = OK_CALL(p[3].c, QUICK_MATCH_REQUEST, &qm.base, QUICK_MATCH_RESPONSE, quick_match_response__descriptor);
    CHECK_EQ(o->queued, 1);
    quick_match_response__free_unpacked(o, NULL);
    EXPECT_NO_PUSH(p[2].c, "p2 (cancelled)", 300);
    EXPECT_NO_PUSH(p[3].c, "p3 (alone in the queue)", 10);
    CHECK_EQ(redis_int("LLEN %squickmatch%s", ""), 1);
    /* p2 may queue again and is matched with p3 */
    o = OK_CALL(p[2].c, QUICK_MATCH_REQUEST, &qm.base, QUICK_MATCH_RESPONSE, quick_match_response__descriptor);
    CHECK_EQ(o->queued, 0);
    quick_match_response__free_unpacked(o, NULL);
    for (int k = 2; k <= 3; k++) {
        RoomUpdate *u = TAKE_PUSH(p[k].c, "p2/p3", ROOM_UPDATE, room_update__descriptor, 3000);
        CHECK(strcmp(u->event, "quick_match") == 0 && u->room->n_members == 2 &&
              u->room->members[0]->user_id == p[3].uid && u->room->members[1]->user_id == p[2].uid);
        room_update__free_unpacked(u, NULL);
        GameStarting *gs = TAKE_PUSH(p[k].c, "p2/p3", GAME_STARTING, game_starting__descriptor, 3000);
        CHECK(gs->match_id != match && gs->match_id > 0);
        game_starting__free_unpacked(gs, NULL);
    }
    /* a queued player who drops leaves the queue at once */
    o = OK_CALL(p[4].c, QUICK_MATCH_REQUEST, &qm.base, QUICK_MATCH_RESPONSE, quick_match_response__descriptor);
    CHECK_EQ(o->queued, 1);
    quick_match_response__free_unpacked(o, NULL);
    CHECK_EQ(redis_int("LLEN %squickmatch%s", ""), 1);
    p_close(&p[4]);
    uint64_t t0 = h_now_ms();
    while (redis_int("LLEN %squickmatch%s", "") != 0 && h_now_ms() - t0 < 3000)
        h_sleep_ms(10);
    int drop_ms = (int)(h_now_ms() - t0);
    CHECK_EQ(redis_int("LLEN %squickmatch%s", ""), 0);
    o = OK_CALL(p[5].c, QUICK_MATCH_REQUEST, &qm.base, QUICK_MATCH_RESPONSE, quick_match_response__descriptor);
    CHECK_EQ(o->queued, 1);
    quick_match_response__free_unpacked(o, NULL);
    EXPECT_NO_PUSH(p[5].c, "p5", 200);
    /* LOGOUT leaves the queue */
    LogoutRequest lo = LOGOUT_REQUEST__INIT;
    LogoutResponse *lor = OK_CALL(p[5].c, LOGOUT_REQUEST, &lo.base, LOGOUT_RESPONSE, logout_response__descriptor);
    logout_response__free_unpacked(lor, NULL);
    CHECK_EQ(redis_int("LLEN %squickmatch%s", ""), 0);
    ERR_CALL(p[0].c, QUICK_MATCH_REQUEST, &qm.base, ALREADY_IN_ROOM); /* p0 is in its match's room */
    printf("ok quick match: p0 queued (queued=1), p1 (other gateway) matched it (queued=0): both got "
           "ROOM_UPDATE quick_match (2 members, both ready, IN_GAME) and GAME_STARTING match %llu on "
           "gamed id %u; p2 queued + cancelled, p3 then stayed queued alone (queue length 1, no push "
           "in 300 ms); p2 re-queued and matched p3 in a new match; a queued player who dropped left "
           "the queue within %d ms and the next one stayed queued; LOGOUT left the queue too\n",
           (unsigned long long)match, cl.game_id[0], drop_ms);
    for (int i = 0; i < 6; i++)
        if (p[i].c)
            p_close(&p[i]);
    cluster_down(&cl);
}

/* ========================================================================================== */

int main(int argc, char **argv)
{
    h_init("lobby");
    uint64_t t0 = h_now_ms();
    snprintf(RUN, sizeof RUN, "%05x", (unsigned)((getpid() * 2654435761u) ^ (unsigned)time(NULL)) & 0xfffff);
    h_pg_start();
    const char *only = getenv("LOBBY_ONLY"); /* run one scenario: LOBBY_ONLY=race */
#define RUN_S(tag, fn)                                                                         \
    if (!only || strcmp(only, tag) == 0) {                                                     \
        uint64_t _t = h_now_ms();                                                              \
        fn();                                                                                  \
        fprintf(stderr, "[%s: %.1f s]\n", tag, (double)(h_now_ms() - _t) / 1000.0);            \
    }
    RUN_S("flow", s_room_flow);
    RUN_S("race", s_join_race);
    RUN_S("spread", s_start_spread);
    RUN_S("dup", s_duplicate_login);
    RUN_S("resume", s_resume);
    RUN_S("gwstop", s_gateway_stop);
    RUN_S("nolobby", s_no_lobby_up);
    RUN_S("gwkill", s_gateway_killed);
    RUN_S("noauth", s_not_authenticated);
    RUN_S("storm", s_login_storm);
    RUN_S("hostile", s_hostile);
    RUN_S("quick", s_quick_match);
    RUN_S("errors", s_error_codes);
    RUN_S("limitrace", s_login_limit_race);
    h_pg_stop();
    printf("PASS lobby: every daemon exited 0 on SIGTERM; %d match pushes (types 200-299, the game "
           "daemon's) skipped; %.1f s\n", match_pushes_skipped, (double)(h_now_ms() - t0) / 1000.0);
    return 0;
}
