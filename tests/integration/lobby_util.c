/* lobby_util: the match tests' shared cluster, players and record checks (lobby_util.h). */
#include "lobby_util.h"

const char *const LU_GW_ENV[] = {"RATE_LIMIT=100000", "RATE_BURST=100000", NULL};

const char *outcome_name(int o)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&match_outcome__descriptor, o);
    return v ? v->name : "?";
}

__attribute__((noreturn, format(printf, 2, 3))) void lu_die(int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAILED line %d: ", line);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    h_fail();
}

uint32_t lu_server_id(proc_t *p) { return h_wait_server_id(p, 10000); }

void lu_cluster_init(cluster_t *cl, const char *tag)
{
    static int scen;
    memset(cl, 0, sizeof *cl);
    h_new_prefix(tag);
    snprintf(cl->dburl, sizeof cl->dburl, "DATABASE_URL=%s", h_pg_conninfo());
    redisReply *r = redisCommand(h_redis(), "SET %smatch:seq %lld", h_prefix(),
                                 (long long)(++scen) * 1000000LL);
    CHECK(r != NULL);
    freeReplyObject(r);
}

proc_t *lu_add_lobby(cluster_t *cl, const char *const *extra)
{
    const char *own[] = {cl->dburl, "HASH_OPSLIMIT=1", "HASH_MEMLIMIT_KIB=8192", NULL}, *env[24];
    h_env_join(env, 21, extra, own);
    int i = h_spawn_next(cl->lobby, cl->lobby_id, &cl->nlobby, LOBBYD_PATH, "lobbyd", NULL, env, 10000);
    return cl->lobby[i];
}

int lu_add_game(cluster_t *cl, const char *const *extra)
{
    const char *own[] = {cl->dburl, NULL}, *env[24];
    h_env_join(env, 21, extra, own);
    return h_spawn_next(cl->game, cl->game_id, &cl->ngame, GAMED_PATH, "gamed", NULL, env, 10000);
}

int lu_game_index(const cluster_t *cl, uint32_t id)
{
    for (int i = 0; i < cl->ngame; i++)
        if (cl->game_id[i] == id)
            return i;
    return -1;
}

void lu_add_gateway(cluster_t *cl)
{
    int i = cl->ngw++;
    cl->gw[i] = h_spawn_gateway(&cl->port[i], LU_GW_ENV);
    cl->gw_id[i] = lu_server_id(cl->gw[i]);
}

void lu_wait_links(cluster_t *cl)
{
    for (int g = 0; g < cl->ngw; g++) {
        if (!h_alive(cl->gw[g]))
            continue;
        uint32_t lobbies[LU_MAX_LOBBY] = {0}, games[LU_MAX_GAME] = {0};
        for (int i = 0; i < cl->nlobby; i++)
            lobbies[i] = h_alive(cl->lobby[i]) ? cl->lobby_id[i] : 0;
        for (int i = 0; i < cl->ngame; i++)
            games[i] = h_alive(cl->game[i]) ? cl->game_id[i] : 0;
        h_wait_echo_ids(cl->port[g], ECHO_TARGET__LOBBY, lobbies, cl->nlobby, 15000, "lobby links");
        h_wait_echo_ids(cl->port[g], ECHO_TARGET__GAME, games, cl->ngame, 15000, "game links");
    }
}

void lu_stop(proc_t *p, int timeout_ms) { h_stop_running(&p, 1, timeout_ms); }

void lu_cluster_down(cluster_t *cl)
{
    for (int i = 0; i < cl->ngw; i++)
        lu_stop(cl->gw[i], 15000);
    for (int i = 0; i < cl->ngame; i++)
        if (h_alive(cl->game[i]))
            h_kill(cl->game[i], SIGTERM); /* in parallel: each may wait out its drain */
    for (int i = 0; i < cl->ngame; i++)
        lu_stop(cl->game[i], 20000);
    for (int i = 0; i < cl->nlobby; i++)
        lu_stop(cl->lobby[i], 15000);
}

long long lu_hget_num(const char *key, const char *field)
{
    redisReply *r = redisCommand(h_redis(), "HGET %s%s %s", h_prefix(), key, field);
    CHECK(r != NULL);
    long long v = -1;
    if (r->type == REDIS_REPLY_STRING)
        v = strtoll(r->str, NULL, 10);
    else if (r->type == REDIS_REPLY_INTEGER)
        v = r->integer;
    freeReplyObject(r);
    return v;
}

long long lu_game_field(uint32_t game_id, const char *field)
{
    char key[64];
    snprintf(key, sizeof key, "Server:Game:%u", game_id);
    return lu_hget_num(key, field);
}

int lu_wait_game_field(uint32_t game_id, const char *field, long long want, int timeout_ms)
{
    uint64_t t0 = h_now_ms();
    for (;;) {
        if (lu_game_field(game_id, field) == want)
            return (int)(h_now_ms() - t0);
        if (h_now_ms() - t0 > (uint64_t)timeout_ms)
            return -1;
        h_sleep_ms(20);
    }
}

void p_init(player_t *p, const char *run, const char *scen, int i, int port)
{
    p_account_init(p, 'm', run, scen, i, port);
}

void lu_free_match_msgs(MatchStart *start, GameOver *over, MatchAborted *aborted)
{
    void *msgs[] = {start, over, aborted};
    for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++)
        if (msgs[i])
            protobuf_c_message_free_unpacked(msgs[i], NULL);
}

void p_match_reset(player_t *p)
{
    lu_free_match_msgs(p->start, p->over, p->aborted);
    p->start = NULL;
    p->over = NULL;
    p->aborted = NULL;
    p->start_ms = p->over_ms = p->aborted_ms = 0;
    p->match_id = 0;
    p->nmons = 0;
    p->n_updates = 0;
    p->first_tick = p->last_tick = 0;
    p->tick_not_increasing = p->max_entities = p->updates_multi = p->foreign_uids = 0;
    p->died_seen = 0;
    p->n_over = p->n_aborted = 0;
    p->next_attack_ms = p->next_move_ms = 0;
    p->potion_used = 0;
    p->moves = p->clamped = p->attacks_ok = p->kills = 0;
    memset(p->refused, 0, sizeof p->refused);
}

void p_free(player_t *p)
{
    p_match_reset(p);
    if (p->c)
        csync_close(p->c);
    p->c = NULL;
}

lu_mon_t *p_mon(player_t *p, uint32_t id)
{
    for (int i = 0; i < p->nmons; i++)
        if (p->mons[i].id == id)
            return &p->mons[i];
    return NULL;
}

int p_in_match(const player_t *p, uint64_t uid)
{
    if (!p->start)
        return 0;
    for (size_t i = 0; i < p->start->n_players; i++)
        if (p->start->players[i]->user_id == uid)
            return 1;
    return 0;
}

void p_apply_state(player_t *p, const PlayerState *s)
{
    if (!s || s->user_id != p->uid)
        return;
    p->hp = s->hp;
    p->alive = s->alive;
    p->potions = s->potions;
}

void p_on_update(player_t *p, const GameStateUpdate *u)
{
    if (!p->start || p->over || p->aborted) {
        p->other_pushes++;
        return;
    }
    if (p->n_updates == 0)
        p->first_tick = u->tick;
    else if (u->tick <= p->last_tick)
        p->tick_not_increasing++;
    p->last_tick = u->tick;
    p->n_updates++;
    int ent = (int)(u->n_spawns + u->n_moves + u->n_attacks + u->n_damaged + u->n_monster_deaths +
                    u->n_player_moves);
    if (ent > p->max_entities)
        p->max_entities = ent;
    if (ent > 1)
        p->updates_multi++;
    for (size_t i = 0; i < u->n_spawns; i++) {
        const MonsterSpawn *s = u->spawns[i];
        lu_mon_t *m = p_mon(p, s->id);
        if (!m && p->nmons < LU_MAX_MONS)
            m = &p->mons[p->nmons++];
        if (m) {
            m->id = s->id;
            m->x = s->pos ? s->pos->x : 0;
            m->y = s->pos ? s->pos->y : 0;
            m->hp = s->hp;
        }
    }
    for (size_t i = 0; i < u->n_moves; i++) {
        lu_mon_t *m = p_mon(p, u->moves[i]->id);
        if (m && u->moves[i]->pos) {
            m->x = u->moves[i]->pos->x;
            m->y = u->moves[i]->pos->y;
        }
    }
    for (size_t i = 0; i < u->n_monster_deaths; i++) {
        for (int k = 0; k < p->nmons; k++)
            if (p->mons[k].id == u->monster_deaths[i]->id) {
                p->mons[k] = p->mons[--p->nmons];
                break;
            }
        if (u->monster_deaths[i]->killer_user_id && !p_in_match(p, u->monster_deaths[i]->killer_user_id))
            p->foreign_uids++;
    }
    for (size_t i = 0; i < u->n_damaged; i++) {
        const PlayerDamaged *d = u->damaged[i];
        if (!p_in_match(p, d->user_id))
            p->foreign_uids++;
        if (d->user_id == p->uid) {
            p->hp = d->hp;
            if (d->died) {
                p->alive = 0;
                p->died_seen = 1;
            }
        }
    }
    for (size_t i = 0; i < u->n_attacks; i++)
        if (!p_in_match(p, u->attacks[i]->target_user_id))
            p->foreign_uids++;
    for (size_t i = 0; i < u->n_player_moves; i++)
        if (!p_in_match(p, u->player_moves[i]->user_id))
            p->foreign_uids++;
    for (size_t i = 0; i < u->n_players; i++) {
        if (!p_in_match(p, u->players[i]->user_id))
            p->foreign_uids++;
        p_apply_state(p, u->players[i]);
    }
}

/* Push t's payload decoded as d (the caller frees it); fails the test when it does not decode. */
static void *p_decode(const player_t *p, uint16_t t, const ProtobufCMessageDescriptor *d, const uint8_t *b,
                      size_t n)
{
    void *m = protobuf_c_message_unpack(d, NULL, n, b);
    if (!m)
        DIE("%s: undecodable %s", p->name, type_name(t));
    return m;
}

/* p_decode, then frees old (a message the player kept from an earlier push, or NULL). */
static void *p_replace(const player_t *p, uint16_t t, void *old, const ProtobufCMessageDescriptor *d,
                       const uint8_t *b, size_t n)
{
    void *m = p_decode(p, t, d, b, n);
    if (old)
        protobuf_c_message_free_unpacked(old, NULL);
    return m;
}

void p_on_push(player_t *p, uint16_t t, const uint8_t *b, size_t n)
{
    uint64_t now = h_now_ms();
    switch (t) {
    case PACKET_TYPE__ROOM_UPDATE: {
        RoomUpdate *u = p_decode(p, t, &room_update__descriptor, b, n);
        if (p->nev == LU_MAX_EVENTS) { /* keep the newest */
            memmove(&p->ev[0], &p->ev[1], sizeof p->ev[0] * (LU_MAX_EVENTS - 1));
            p->nev--;
        }
        lu_room_ev_t *e = &p->ev[p->nev++];
        memset(e, 0, sizeof *e);
        snprintf(e->event, sizeof e->event, "%s", u->event);
        e->at_ms = now;
        if (u->room) {
            e->status = (int)u->room->status;
            e->nmembers = (int)u->room->n_members;
            for (size_t i = 0; i < u->room->n_members; i++)
                e->nready += u->room->members[i]->ready;
            e->match = u->room->match_id;
            e->game = u->room->game_server_id;
        }
        room_update__free_unpacked(u, NULL);
        break;
    }
    case PACKET_TYPE__GAME_STARTING: {
        GameStarting *g = p_decode(p, t, &game_starting__descriptor, b, n);
        p->n_starting++;
        p->starting_match = g->match_id;
        p->starting_game = g->game_server_id;
        game_starting__free_unpacked(g, NULL);
        break;
    }
    case PACKET_TYPE__MATCH_START: {
        MatchStart *s = p_decode(p, t, &match_start__descriptor, b, n);
        p_match_reset(p);
        p->start = s;
        p->start_ms = now;
        p->match_id = s->match_id;
        p->tick_ms = s->tick_ms;
        p->alive = 1;
        for (size_t i = 0; i < s->n_players; i++)
            if (s->players[i]->user_id == p->uid) {
                p->x = s->players[i]->pos ? s->players[i]->pos->x : 0;
                p->y = s->players[i]->pos ? s->players[i]->pos->y : 0;
                p_apply_state(p, s->players[i]);
            }
        p->pos_ms = now;
        break;
    }
    case PACKET_TYPE__GAME_STATE_UPDATE: {
        GameStateUpdate *u = p_decode(p, t, &game_state_update__descriptor, b, n);
        p_on_update(p, u);
        game_state_update__free_unpacked(u, NULL);
        break;
    }
    case PACKET_TYPE__GAME_OVER:
        p->over = p_replace(p, t, p->over, &game_over__descriptor, b, n);
        p->n_over++;
        p->over_ms = now;
        break;
    case PACKET_TYPE__MATCH_ABORTED:
        p->aborted = p_replace(p, t, p->aborted, &match_aborted__descriptor, b, n);
        p->n_aborted++;
        p->aborted_ms = now;
        break;
    case PACKET_TYPE__KICKED:
        p->kicked++;
        break;
    case PACKET_TYPE__SERVER_CLOSING:
        p->closing++;
        break;
    case PACKET_TYPE__MATCH_DATA: {
        MatchData *d = p_decode(p, t, &match_data__descriptor, b, n);
        p->n_match_data++;
        if (p->on_match_data)
            p->on_match_data(p, d);
        match_data__free_unpacked(d, NULL);
        break;
    }
    default:
        p->other_pushes++;
        break;
    }
}

void p_take_queued(player_t *p)
{
    while (p->c && csync_pushes(p->c) > 0) {
        uint16_t t;
        uint8_t *b;
        size_t n;
        if (csync_wait_push(p->c, &t, &b, &n, 0) != 0)
            break;
        p_on_push(p, t, b, n);
        xfree(b);
    }
}

void p_pump(player_t *p, int ms)
{
    if (!p->c)
        return;
    (void)csync_pump(p->c, ms > 0 ? ms : 1);
    p_take_queued(p);
}

int ps_wait(player_t **ps, int n, p_cond_fn cond, const void *arg, int timeout_ms)
{
    uint64_t t0 = h_now_ms();
    for (;;) {
        int all = 1;
        for (int i = 0; i < n; i++) {
            p_take_queued(ps[i]);
            if (!cond(ps[i], arg))
                all = 0;
        }
        if (all)
            return (int)(h_now_ms() - t0);
        if (h_now_ms() - t0 > (uint64_t)timeout_ms)
            return -1;
        for (int i = 0; i < n; i++)
            if (!cond(ps[i], arg))
                p_pump(ps[i], 2);
    }
}

int cond_started(const player_t *p, const void *arg)
{
    return p->start && p->match_id == *(const uint64_t *)arg;
}
int cond_over(const player_t *p, const void *arg) { return p->over != NULL; }
int cond_aborted(const player_t *p, const void *arg) { return p->aborted != NULL; }
int cond_starting(const player_t *p, const void *arg)
{
    return p->n_starting > *(const int *)arg;
}
int cond_event(const player_t *p, const void *arg)
{
    return p->nev > 0 && strcmp(p->ev[p->nev - 1].event, (const char *)arg) == 0;
}

const lu_room_ev_t *p_last_event(const player_t *p, const char *event)
{
    for (int i = p->nev - 1; i >= 0; i--)
        if (strcmp(p->ev[i].event, event) == 0)
            return &p->ev[i];
    return NULL;
}
int cond_has_event(const player_t *p, const void *arg)
{
    return p_last_event(p, (const char *)arg) != NULL;
}

void p_dump_events(const player_t *p)
{
    fprintf(stderr, "  %s's ROOM_UPDATE events:", p->name);
    for (int i = 0; i < p->nev; i++)
        fprintf(stderr, " %s(status=%d,match=%llu,ready=%d)", p->ev[i].event, p->ev[i].status,
                (unsigned long long)p->ev[i].match, p->ev[i].nready);
    fprintf(stderr, "\n");
}

/* The result of a request on a closed player: no response, CLIENT_ECLOSED. */
static res_t closed_res(void)
{
    res_t r;
    memset(&r, 0, sizeof r);
    r.rc = CLIENT_ECLOSED;
    return r;
}

res_t p_call_raw(player_t *pl, uint16_t type, const uint8_t *data, size_t n)
{
    if (!pl->c)
        return closed_res();
    res_t r = call_raw(pl->c, type, data, n);
    p_take_queued(pl);
    return r;
}

res_t p_call(player_t *pl, uint16_t type, const ProtobufCMessage *m)
{
    if (!pl->c)
        return closed_res();
    res_t r = call(pl->c, type, m);
    p_take_queued(pl);
    return r;
}

void *ok_res(res_t r, const char *who, uint16_t req_type, uint16_t want,
                              const ProtobufCMessageDescriptor *d, int line)
{
    return res_expect(r, who, req_type, want, d, line);
}

void err_res(res_t r, const char *who, uint16_t req_type, int code, int line)
{
    res_expect_error(&r, who, req_type, code, line);
}

void p_connect(player_t *p)
{
    if (p->c)
        csync_close(p->c);
    p->c = csync_connect("127.0.0.1", p->port, 3000);
    if (!p->c)
        DIE("%s: cannot connect to the gateway on %d", p->name, p->port);
}

void p_signup(player_t *p)
{
    p_connect(p);
    RegisterRequest rq = REGISTER_REQUEST__INIT;
    rq.username = p->name;
    rq.password = p->pass;
    res_t r = call_unbusy(p->c, PACKET_TYPE__REGISTER_REQUEST, &rq.base);
    p_take_queued(p);
    RegisterResponse *o = ok_res(r, p->name, PACKET_TYPE__REGISTER_REQUEST, PACKET_TYPE__REGISTER_RESPONSE,
                                 &register_response__descriptor, __LINE__);
    p->uid = o->user_id;
    register_response__free_unpacked(o, NULL);
    LoginRequest lq = LOGIN_REQUEST__INIT;
    lq.username = p->name;
    lq.password = p->pass;
    r = call_unbusy(p->c, PACKET_TYPE__LOGIN_REQUEST, &lq.base);
    p_take_queued(p);
    LoginResponse *l = ok_res(r, p->name, PACKET_TYPE__LOGIN_REQUEST, PACKET_TYPE__LOGIN_RESPONSE,
                              &login_response__descriptor, __LINE__);
    CHECK_EQ(l->user_id, p->uid);
    CHECK_EQ(strlen(l->token), 64);
    snprintf(p->token, sizeof p->token, "%s", l->token);
    login_response__free_unpacked(l, NULL);
}

void p_signup_all(player_t **ps, int n)
{
    for (int i = 0; i < n; i++)
        p_signup(ps[i]);
}

uint64_t p_create_room(player_t *p, uint32_t max)
{
    CreateRoomRequest rq = CREATE_ROOM_REQUEST__INIT;
    rq.name = p->name;
    rq.max_players = max;
    CreateRoomResponse *o = OK_CALL(p, CREATE_ROOM_REQUEST, &rq.base, CREATE_ROOM_RESPONSE,
                                    create_room_response__descriptor);
    CHECK(o->room != NULL);
    uint64_t id = o->room->room_id;
    create_room_response__free_unpacked(o, NULL);
    return id;
}

void p_join_room(player_t *p, uint64_t room)
{
    JoinRoomRequest rq = JOIN_ROOM_REQUEST__INIT;
    rq.room_id = room;
    JoinRoomResponse *o = OK_CALL(p, JOIN_ROOM_REQUEST, &rq.base, JOIN_ROOM_RESPONSE,
                                  join_room_response__descriptor);
    CHECK(o->room && o->room->room_id == room);
    join_room_response__free_unpacked(o, NULL);
}

void p_ready(player_t *p)
{
    PrepareGameRequest rq = PREPARE_GAME_REQUEST__INIT;
    rq.ready = 1;
    PrepareGameResponse *o = OK_CALL(p, PREPARE_GAME_REQUEST, &rq.base, PREPARE_GAME_RESPONSE,
                                     prepare_game_response__descriptor);
    prepare_game_response__free_unpacked(o, NULL);
}

void p_echo(player_t *p, EchoTarget target)
{
    EchoRequest e = ECHO_REQUEST__INIT;
    e.target = target;
    e.payload.data = (uint8_t *)"e";
    e.payload.len = 1;
    EchoResponse *o = OK_CALL(p, ECHO_REQUEST, &e.base, ECHO_RESPONSE, echo_response__descriptor);
    echo_response__free_unpacked(o, NULL);
}

uint64_t ps_room(player_t **ps, int n)
{
    uint64_t room = p_create_room(ps[0], (uint32_t)n);
    for (int i = 1; i < n; i++)
        p_join_room(ps[i], room);
    for (int i = 0; i < n; i++)
        p_ready(ps[i]);
    return room;
}

uint64_t p_try_start(player_t *p, uint32_t *game, char *why, size_t n)
{
    StartGameRequest rq = START_GAME_REQUEST__INIT;
    res_t r = p_call(p, PACKET_TYPE__START_GAME_REQUEST, &rq.base);
    uint64_t match = 0;
    if (r.rc == 0 && r.type == PACKET_TYPE__START_GAME_RESPONSE) {
        StartGameResponse *o = start_game_response__unpack(NULL, r.len, r.p);
        CHECK(o != NULL);
        match = o->match_id;
        if (game)
            *game = o->game_server_id;
        start_game_response__free_unpacked(o, NULL);
    } else if (why) {
        res_describe(&r, why, n);
    }
    res_free(&r);
    return match;
}

uint64_t ps_request_start(player_t **ps, int n, uint32_t *game)
{
    int before[16];
    CHECK(n <= 16);
    for (int i = 0; i < n; i++)
        before[i] = ps[i]->n_starting;
    StartGameRequest rq = START_GAME_REQUEST__INIT;
    StartGameResponse *o = OK_CALL(ps[0], START_GAME_REQUEST, &rq.base, START_GAME_RESPONSE,
                                   start_game_response__descriptor);
    uint64_t match = o->match_id;
    uint32_t g = o->game_server_id;
    start_game_response__free_unpacked(o, NULL);
    CHECK(match != 0 && g != 0);
    uint64_t t0 = h_now_ms();
    for (int i = 0; i < n; i++) {
        while (ps[i]->n_starting <= before[i]) {
            if (h_now_ms() - t0 > 5000)
                DIE("%s: no GAME_STARTING for match %llu", ps[i]->name, (unsigned long long)match);
            p_pump(ps[i], 5);
        }
        CHECK_EQ(ps[i]->starting_match, match);
        CHECK_EQ(ps[i]->starting_game, g);
    }
    *game = g;
    return match;
}

uint64_t ps_start(player_t **ps, int n, uint32_t *game)
{
    uint32_t g;
    uint64_t match = ps_request_start(ps, n, &g);
    if (ps_wait(ps, n, cond_started, &match, 5000) < 0) {
        for (int i = 0; i < n; i++)
            fprintf(stderr, "  %s: match_id=%llu start=%p\n", ps[i]->name,
                    (unsigned long long)ps[i]->match_id, (void *)ps[i]->start);
        DIE("not every player got MATCH_START for match %llu", (unsigned long long)match);
    }
    for (int i = 0; i < n; i++) {
        const MatchStart *s = ps[i]->start;
        CHECK_EQ(s->n_players, n);
        for (int k = 0; k < n; k++) {
            int found = 0;
            for (size_t j = 0; j < s->n_players; j++)
                if (s->players[j]->user_id == ps[k]->uid && strcmp(s->players[j]->username, ps[k]->name) == 0 &&
                    s->players[j]->alive && s->players[j]->hp > 0 && s->players[j]->potions == 3)
                    found = 1;
            if (!found)
                DIE("%s: MATCH_START lacks player %s", ps[i]->name, ps[k]->name);
        }
        CHECK(s->tick_ms > 0 && s->time_limit_ms > 0 && s->waves > 0 && s->arena_w > 0 && s->arena_h > 0);
        /* the rules the daemon enforces (the tests' own constants are sim.h's defaults) */
        CHECK(s->rules != NULL && s->rules->player_speed == LU_SPEED &&
              s->rules->attack_cooldown_ms == LU_COOLDOWN_MS && s->rules->attack_range == LU_RANGE &&
              s->rules->player_hp > 0 && s->rules->move_window_ms > 0);
    }
    if (game)
        *game = g;
    return match;
}

PGconn *lu_pg(void)
{
    PGconn *db = PQconnectdb(h_pg_conninfo());
    if (PQstatus(db) != CONNECTION_OK)
        DIE("cannot connect to PostgreSQL (%s): %s", h_pg_conninfo(), PQerrorMessage(db));
    return db;
}

long long lu_pg_num(PGconn *db, const char *sql, const char *param)
{
    const char *params[] = {param};
    PGresult *r = PQexecParams(db, sql, param ? 1 : 0, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        DIE("query failed: %s: %s", sql, PQerrorMessage(db));
    long long v = -1;
    if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

lu_rec_t lu_pg_record(uint64_t match)
{
    lu_rec_t rec;
    memset(&rec, 0, sizeof rec);
    PGconn *db = lu_pg();
    char id[24];
    snprintf(id, sizeof id, "%llu", (unsigned long long)match);
    const char *params[] = {id};
    PGresult *r = PQexecParams(db,
                               "SELECT game_server_id, room_id, outcome,"
                               " (extract(epoch FROM ended_at - started_at) * 1000)::bigint"
                               " FROM matches WHERE id = $1",
                               1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        DIE("matches query failed: %s", PQerrorMessage(db));
    if (PQntuples(r) > 1)
        DIE("%d matches rows for id %s", PQntuples(r), id);
    if (PQntuples(r) == 1) {
        rec.found = 1;
        rec.game = (uint32_t)strtoul(PQgetvalue(r, 0, 0), NULL, 10);
        rec.room = strtoull(PQgetvalue(r, 0, 1), NULL, 10);
        snprintf(rec.outcome, sizeof rec.outcome, "%s", PQgetvalue(r, 0, 2));
        rec.duration_ms = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
    }
    PQclear(r);
    r = PQexecParams(db,
                     "SELECT user_id, username, kills, damage_dealt, damage_taken, deaths, score"
                     " FROM match_players WHERE match_id = $1 ORDER BY user_id",
                     1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        DIE("match_players query failed: %s", PQerrorMessage(db));
    rec.nplayers = PQntuples(r);
    for (int i = 0; i < rec.nplayers && i < 8; i++) {
        rec.pl[i].uid = strtoull(PQgetvalue(r, i, 0), NULL, 10);
        snprintf(rec.pl[i].name, sizeof rec.pl[i].name, "%s", PQgetvalue(r, i, 1));
        rec.pl[i].kills = (uint32_t)strtoul(PQgetvalue(r, i, 2), NULL, 10);
        rec.pl[i].dd = (uint32_t)strtoul(PQgetvalue(r, i, 3), NULL, 10);
        rec.pl[i].dt = (uint32_t)strtoul(PQgetvalue(r, i, 4), NULL, 10);
        rec.pl[i].deaths = (uint32_t)strtoul(PQgetvalue(r, i, 5), NULL, 10);
        rec.pl[i].score = (uint32_t)strtoul(PQgetvalue(r, i, 6), NULL, 10);
    }
    PQclear(r);
    PQfinish(db);
    return rec;
}

int lu_pg_wait_record(uint64_t match, lu_rec_t *out, int timeout_ms)
{
    uint64_t t0 = h_now_ms();
    for (;;) {
        *out = lu_pg_record(match);
        if (out->found)
            return (int)(h_now_ms() - t0);
        if (h_now_ms() - t0 > (uint64_t)timeout_ms)
            return -1;
        h_sleep_ms(50);
    }
}

const char *lu_outcome_text(int o)
{
    switch (o) {
    case MATCH_OUTCOME__WIN: return "win";
    case MATCH_OUTCOME__LOSS: return "loss";
    case MATCH_OUTCOME__TIMEOUT_REACHED: return "timeout";
    case MATCH_OUTCOME__ABORTED: return "aborted";
    default: return "?";
    }
}

void lu_check_record_vs_over(const lu_rec_t *rec, const GameOver *go, uint32_t game, int line)
{
    if (!rec->found)
        lu_die(line, "no matches row for match %llu", (unsigned long long)go->match_id);
    if (strcmp(rec->outcome, lu_outcome_text(go->outcome)) != 0)
        lu_die(line, "record outcome %s, GAME_OVER said %s", rec->outcome, outcome_name(go->outcome));
    if (rec->game != game)
        lu_die(line, "record game_server_id %u, players were told %u", rec->game, game);
    if (rec->room != go->room_id)
        lu_die(line, "record room %llu, GAME_OVER room %llu", (unsigned long long)rec->room,
               (unsigned long long)go->room_id);
    if ((size_t)rec->nplayers != go->n_results)
        lu_die(line, "record has %d player rows, GAME_OVER %zu results", rec->nplayers, go->n_results);
    for (size_t i = 0; i < go->n_results; i++) {
        const PlayerResult *pr = go->results[i];
        int found = 0;
        for (int k = 0; k < rec->nplayers; k++) {
            if (rec->pl[k].uid != pr->user_id)
                continue;
            found = 1;
            if (rec->pl[k].kills != pr->kills || rec->pl[k].dd != pr->damage_dealt ||
                rec->pl[k].dt != pr->damage_taken || rec->pl[k].deaths != pr->deaths ||
                rec->pl[k].score != pr->score || strcmp(rec->pl[k].name, pr->username) != 0)
                lu_die(line,
                       "record of user %llu (%s k=%u dd=%u dt=%u d=%u s=%u) differs from GAME_OVER "
                       "(%s k=%u dd=%u dt=%u d=%u s=%u)",
                       (unsigned long long)pr->user_id, rec->pl[k].name, rec->pl[k].kills, rec->pl[k].dd,
                       rec->pl[k].dt, rec->pl[k].deaths, rec->pl[k].score, pr->username, pr->kills,
                       pr->damage_dealt, pr->damage_taken, pr->deaths, pr->score);
        }
        if (!found)
            lu_die(line, "no match_players row for user %llu", (unsigned long long)pr->user_id);
    }
}

void lu_run_tag(char *out, size_t n)
{
    static const char digits[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    unsigned long v = (unsigned long)getpid() * 7919ul + (unsigned long)time(NULL);
    size_t i = 0;
    for (; i + 1 < n && i < 5; i++) {
        out[i] = digits[v % 36];
        v /= 36;
    }
    out[i] = '\0';
}
