/* lobby_cluster: the lobby scenarios' shared cluster, clients and checks (lobby_cluster.h). */
#include "lobby_cluster.h"

#include <ctype.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "conn.h"

const char *const GW_ENV[] = {"RATE_LIMIT=100000", "RATE_BURST=100000", NULL};

char RUN[8]; /* per-run tag in every username: one PostgreSQL serves all scenarios */

void stop_proc(proc_t *p) { h_stop_running(&p, 1, 15000); }

void cluster_lobby_env(cluster_t *cl, const char *const *extra, int real_hash)
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

proc_t *cluster_add_lobby(cluster_t *cl)
{
    int i = h_spawn_next(cl->lobby, cl->lobby_id, &cl->nlobby, LOBBYD_PATH, "lobbyd", "Lobby", cl->lobby_env,
                         5000);
    return cl->lobby[i];
}

proc_t *cluster_add_game(cluster_t *cl)
{
    int i = h_spawn_next(cl->game, cl->game_id, &cl->ngame, GAMED_PATH, "gamed", "Game", cl->game_env, 5000);
    /* placed on only once every gateway is linked to it (docs/matches.md, "Placement is
     * confirmed"): wait for the links, not just the registry */
    uint32_t ids[8] = {0};
    int n = 0;
    for (int k = 0; k < cl->ngame && n < 8; k++)
        ids[n++] = h_alive(cl->game[k]) ? cl->game_id[k] : 0;
    for (int g = 0; g < cl->ngw; g++)
        if (h_alive(cl->gw[g]))
            h_wait_echo_ids(cl->port[g], ECHO_TARGET__GAME, ids, n, 15000, "game links");
    return cl->game[i];
}

void wait_gateway_sees_lobbies(cluster_t *cl, int g)
{
    uint32_t ids[2] = {0, 0};
    for (int i = 0; i < cl->nlobby; i++)
        ids[i] = h_alive(cl->lobby[i]) ? cl->lobby_id[i] : 0;
    h_wait_echo_ids(cl->port[g], ECHO_TARGET__LOBBY, ids, cl->nlobby, 10000, "lobby links");
}

void cluster_add_gateway(cluster_t *cl)
{
    int i = cl->ngw++;
    cl->gw[i] = h_spawn_gateway(&cl->port[i], GW_ENV);
    cl->gw_id[i] = h_wait_server_id(cl->gw[i], 5000);
    if (cl->nlobby)
        wait_gateway_sees_lobbies(cl, i);
}

void cluster_up(cluster_t *cl, const char *tag, int ngw, int nlobby, int ngame,
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

void cluster_down(cluster_t *cl)
{
    h_stop_running(cl->gw, cl->ngw, 15000);
    h_stop_running(cl->lobby, cl->nlobby, 15000);
    h_stop_running(cl->game, cl->ngame, 15000);
}

void scenario_down(cluster_t *cl, player_t *p, int n)
{
    for (int i = 0; i < n; i++)
        p_close(&p[i]);
    cluster_down(cl);
}

int is_game_id(const cluster_t *cl, uint32_t id)
{
    for (int i = 0; i < cl->ngame; i++)
        if (cl->game_id[i] == id && h_alive(cl->game[i]))
            return 1;
    return 0;
}

void *ok_res(res_t r, uint16_t req_type, uint16_t want, const ProtobufCMessageDescriptor *d,
                    int line)
{
    return res_expect(r, NULL, req_type, want, d, line);
}

res_t err_res(res_t r, uint16_t req_type, int code, int line)
{
    res_expect_error(&r, NULL, req_type, code, line);
    return r;
}

void member_reqs_init(member_reqs_t *m, const char *text)
{
    *m = (member_reqs_t){.lv = LEAVE_ROOM_REQUEST__INIT, .pr = PREPARE_GAME_REQUEST__INIT,
                         .sg = START_GAME_REQUEST__INIT, .ch = ROOM_CHAT_REQUEST__INIT};
    m->pr.ready = 1;
    m->ch.text = (char *)text;
    m->all[0] = (typed_msg_t){PACKET_TYPE__LEAVE_ROOM_REQUEST, &m->lv.base};
    m->all[1] = (typed_msg_t){PACKET_TYPE__PREPARE_GAME_REQUEST, &m->pr.base};
    m->all[2] = (typed_msg_t){PACKET_TYPE__START_GAME_REQUEST, &m->sg.base};
    m->all[3] = (typed_msg_t){PACKET_TYPE__ROOM_CHAT_REQUEST, &m->ch.base};
}

void expect_refused_(csync_t *c, const typed_msg_t *msgs, int n, int code, int line)
{
    for (int i = 0; i < n; i++)
        err_res(call(c, msgs[i].type, msgs[i].msg), msgs[i].type, code, line);
}

int is_match_push(uint16_t t) { return t >= 200 && t < 300; }
int match_pushes_skipped;

int wait_lobby_push(csync_t *c, uint16_t *t, uint8_t **p, size_t *n, int timeout_ms)
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

void describe_push(uint16_t t, const uint8_t *p, size_t n, char *out, size_t cap)
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

void *take_push_(csync_t *c, const char *who, uint16_t want, const ProtobufCMessageDescriptor *d,
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

void expect_no_push_(csync_t *c, const char *who, int ms, int line)
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

int drain_pushes(csync_t *c, int ms)
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

void check_room_(const RoomState *r, const exp_room_t *e, const char *what, int line)
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

void expect_update_(csync_t *c, const char *who, const char *event, uint64_t actor,
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

void exp_add(exp_room_t *e, uint64_t uid)
{
    e->uid[e->n] = uid;
    e->ready[e->n] = 0;
    e->online[e->n] = 1;
    e->n++;
}

void exp_set(exp_room_t *e, uint64_t uid, int ready, int online)
{
    for (int i = 0; i < e->n; i++)
        if (e->uid[i] == uid) {
            if (ready >= 0)
                e->ready[i] = ready;
            if (online >= 0)
                e->online[i] = online;
        }
}

void exp_remove(exp_room_t *e, uint64_t uid)
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

void p_init(player_t *p, const char *scen, int i, int port) { p_account_init(p, 'u', RUN, scen, i, port); }

void p_connect(player_t *p)
{
    if (p->c)
        csync_close(p->c);
    p->c = csync_connect("127.0.0.1", p->port, 3000);
    CHECK(p->c != NULL);
}

void p_close(player_t *p)
{
    csync_close(p->c);
    p->c = NULL;
}

const ProtobufCMessage *account_msg(account_req_t *a, uint16_t type, const char *user, const char *pass)
{
    *a = (account_req_t){.rg = REGISTER_REQUEST__INIT, .li = LOGIN_REQUEST__INIT};
    a->rg.username = a->li.username = (char *)user;
    a->rg.password = a->li.password = (char *)pass;
    return type == PACKET_TYPE__REGISTER_REQUEST ? &a->rg.base : &a->li.base;
}

uint64_t p_register(player_t *p)
{
    account_req_t a;
    const ProtobufCMessage *m = account_msg(&a, PACKET_TYPE__REGISTER_REQUEST, p->name, p->pass);
    RegisterResponse *o = ok_res(call_unbusy(p->c, PACKET_TYPE__REGISTER_REQUEST, m),
                                 PACKET_TYPE__REGISTER_REQUEST, PACKET_TYPE__REGISTER_RESPONSE,
                                 &register_response__descriptor, __LINE__);
    uint64_t uid = o->user_id;
    register_response__free_unpacked(o, NULL);
    CHECK(uid > 0);
    return uid;
}

LoginResponse *p_login_full(player_t *p)
{
    account_req_t a;
    const ProtobufCMessage *m = account_msg(&a, PACKET_TYPE__LOGIN_REQUEST, p->name, p->pass);
    LoginResponse *o = ok_res(call_unbusy(p->c, PACKET_TYPE__LOGIN_REQUEST, m), PACKET_TYPE__LOGIN_REQUEST,
                              PACKET_TYPE__LOGIN_RESPONSE, &login_response__descriptor, __LINE__);
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

void p_login(player_t *p)
{
    LoginResponse *o = p_login_full(p);
    login_response__free_unpacked(o, NULL);
}

void p_signup(player_t *p)
{
    p_connect(p);
    p->uid = p_register(p);
    p_login(p);
}

/* Takes the "room" of a room response (fails the test if it has none) and frees the rest. */
static RoomState *take_room(void *response)
{
    ProtobufCMessage *o = response;
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(o->descriptor, "room");
    CHECK(f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE);
    RoomState **slot = (RoomState **)((char *)o + f->offset);
    RoomState *r = *slot;
    CHECK(r != NULL);
    *slot = NULL;
    protobuf_c_message_free_unpacked(o, NULL);
    return r;
}

RoomState *p_create(player_t *p, const char *name, uint32_t max)
{
    CreateRoomRequest rq = CREATE_ROOM_REQUEST__INIT;
    rq.name = (char *)name;
    rq.max_players = max;
    return take_room(
        OK_CALL(p->c, CREATE_ROOM_REQUEST, &rq.base, CREATE_ROOM_RESPONSE, create_room_response__descriptor));
}

RoomState *p_join(player_t *p, uint64_t room)
{
    JoinRoomRequest rq = JOIN_ROOM_REQUEST__INIT;
    rq.room_id = room;
    return take_room(
        OK_CALL(p->c, JOIN_ROOM_REQUEST, &rq.base, JOIN_ROOM_RESPONSE, join_room_response__descriptor));
}

RoomState *p_ready(player_t *p, int on)
{
    PrepareGameRequest rq = PREPARE_GAME_REQUEST__INIT;
    rq.ready = on;
    return take_room(
        OK_CALL(p->c, PREPARE_GAME_REQUEST, &rq.base, PREPARE_GAME_RESPONSE, prepare_game_response__descriptor));
}

void room_free(RoomState *r)
{
    if (r)
        room_state__free_unpacked(r, NULL);
}

GetRoomListResponse *p_list(player_t *p, uint32_t page, uint32_t size)
{
    GetRoomListRequest rq = GET_ROOM_LIST_REQUEST__INIT;
    rq.page = page;
    rq.page_size = size;
    return OK_CALL(p->c, GET_ROOM_LIST_REQUEST, &rq.base, GET_ROOM_LIST_RESPONSE,
                   get_room_list_response__descriptor);
}

int p_list_find(player_t *p, uint64_t id, RoomSummary *out, uint32_t *total)
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

void summary_free(RoomSummary *s)
{
    free(s->owner_name);
    free(s->name);
    s->owner_name = s->name = NULL;
}

void ac_event(client_t *c, int ev, int status, void *ud)
{
    ac_t *a = ud;
    if (ev == CLIENT_EV_CONNECTED)
        a->connected = 1;
    else {
        a->connected = 0;
        a->closed = 1;
    }
}

/* A copy of the n bytes at p the client's callback lends (a 1-byte buffer when n is 0). */
static uint8_t *bytes_copy(const uint8_t *p, size_t n)
{
    uint8_t *d = xmalloc(n ? n : 1);
    if (n)
        memcpy(d, p, n);
    return d;
}

void ac_push(client_t *c, uint16_t type, uint32_t seq, const uint8_t *p, size_t n, void *ud)
{
    ac_t *a = ud;
    apush_t *x = xmalloc(sizeof *x);
    *x = (apush_t){.type = type, .len = n, .p = bytes_copy(p, n)};
    if (a->pt)
        a->pt->next = x;
    else
        a->ph = x;
    a->pt = x;
    a->npush++;
}

void ac_resp(client_t *c, int status, uint16_t type, const uint8_t *p, size_t n, void *ud)
{
    ac_t *a = ud;
    a->busy = 0;
    a->status = status;
    a->rtype = type;
    a->err = 0;
    a->rtt_ms = h_now_ms() - a->sent_ms;
    xfree(a->p);
    a->p = bytes_copy(p, n);
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

void ap_on_timer(uv_timer_t *t)
{
    ap_t *ap = t->data;
    ap->fired = 1;
    uv_stop(&ap->loop); /* else a deadline due before the poll leaves it waiting without a timeout */
}

int ap_run(ap_t *ap, ap_cond cond, void *arg, int timeout_ms)
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

int cond_connected(ap_t *ap, void *arg)
{
    for (int i = 0; i < ap->n; i++)
        if (!ap->c[i].connected && !ap->c[i].closed)
            return 0;
    return 1;
}

int cond_idle(ap_t *ap, void *arg)
{
    for (int i = 0; i < ap->n; i++)
        if (ap->c[i].busy)
            return 0;
    return 1;
}

int cond_never(ap_t *ap, void *arg) { return 0; }

void ap_pump(ap_t *ap, int ms) { (void)ap_run(ap, cond_never, NULL, ms); }

ap_t *ap_new(int n)
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

ap_t *ap_up(const cluster_t *cl, int n)
{
    ap_t *ap = ap_new(n);
    for (int i = 0; i < n; i++)
        ap_connect(ap, i, cl->port[i % cl->ngw]);
    ap_wait_connected(ap);
    return ap;
}

void ap_send(ac_t *a, uint16_t type, const ProtobufCMessage *m)
{
    CHECK(!a->busy);
    a->busy = 1;
    a->sent_ms = h_now_ms();
    if (client_request(a->c, type, m, ac_resp, a) < 0) {
        fprintf(stderr, "client %d: request %s refused (connection closed)\n", a->idx, type_name(type));
        h_fail();
    }
}

void ap_wait_idle(ap_t *ap, int timeout_ms)
{
    if (ap_run(ap, cond_idle, NULL, timeout_ms) != 0) {
        int n = 0;
        for (int i = 0; i < ap->n; i++)
            n += ap->c[i].busy;
        fprintf(stderr, "%d requests still unanswered after %d ms\n", n, timeout_ms);
        h_fail();
    }
}

void *ac_decode(ac_t *a, uint16_t want, const ProtobufCMessageDescriptor *d, int line)
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

void apush_free(apush_t *x)
{
    xfree(x->p);
    xfree(x);
}

apush_t *ac_take(ac_t *a)
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

void ap_free(ap_t *ap)
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

int ap_signup(ap_t *ap, int from, int to, const char *scen, int window)
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

long long redis_int(const char *fmt, const char *arg)
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
/* the scenario runner */

int lobby_main(int argc, char **argv, const char *file, const lobby_scenario_t *s, int n)
{
    const char *only = argc > 1 ? argv[1] : NULL;
    int found = 0;
    for (int i = 0; i < n; i++)
        found += !only || strcmp(only, s[i].name) == 0;
    if (!found) {
        fprintf(stderr, "%s: no scenario '%s'; scenarios:", file, only);
        for (int i = 0; i < n; i++)
            fprintf(stderr, " %s", s[i].name);
        fprintf(stderr, "\n");
        return 2;
    }
    h_init(only ? only : "lobby");
    uint64_t t0 = h_now_ms();
    snprintf(RUN, sizeof RUN, "%05x", (unsigned)((getpid() * 2654435761u) ^ (unsigned)time(NULL)) & 0xfffff);
    h_pg_start();
    for (int i = 0; i < n; i++) {
        if (only && strcmp(only, s[i].name) != 0)
            continue;
        uint64_t t = h_now_ms();
        s[i].run();
        fprintf(stderr, "[%s: %.1f s]\n", s[i].name, (double)(h_now_ms() - t) / 1000.0);
    }
    h_pg_stop();
    printf("PASS %s %s: every daemon exited 0 on SIGTERM; %d match pushes (types 200-299, the game "
           "daemon's) skipped; %.1f s\n", file, only ? only : "(all)", match_pushes_skipped,
           (double)(h_now_ms() - t0) / 1000.0);
    return 0;
}
