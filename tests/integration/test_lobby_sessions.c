/* test_lobby_sessions: sessions and presence (docs/lobby.md): duplicate login across gateways;
 * a gateway stopped, killed -9, or closing sessions while no lobby is up, seen by a room member
 * on the other gateway; RESUME within the grace period, leaving after it, LOGOUT. Each scenario
 * is its own CTest test (integration_lobby_<name>). */
#include <ctype.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "alloc.h"
#include "conn.h"
#include "lobby_cluster.h"

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

/* A cluster (tag) of one lobby and ngw gateways; two players signed up, p[0] on the first gateway
 * and p[1] on the last, both in p[0]'s room called name; e is what that room looks like. */
typedef struct pair {
    cluster_t cl;
    player_t p[2];
    exp_room_t e;
} pair_t;

static void pair_up(pair_t *s, const char *tag, int ngw, const char *name)
{
    cluster_t *cl = &s->cl;
    player_t *p = s->p;
    exp_room_t *e = &s->e;
    cluster_up(cl, tag, ngw, 1, 0, NULL, 0);
    for (int i = 0; i < 2; i++) {
        p_init(&p[i], tag, i, cl->port[i ? ngw - 1 : 0]);
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

static void pair_down(pair_t *s) { scenario_down(&s->cl, s->p, 2); }

/* ========================================================================================== */
/* Scenario 5b: a gateway stopped gracefully (SIGTERM) reports its logged-in sessions to a lobby
 * before it closes its lobby links: a room member on the other gateway sees them go offline at
 * once (before, the reports were queued on links already closing and lost: the member stayed
 * "online" until it came back). */

static void s_gateway_stop(void)
{
    pair_t s;
    pair_up(&s, "gwstop", 2, "Stop room");

    uint64_t t0 = h_now_ms();
    stop_proc(s.cl.gw[1]); /* SIGTERM, exit 0 */
    exp_set(&s.e, s.p[1].uid, -1, 0);
    EXPECT_UPDATE(s.p[0].c, PAIR_WHO[0], "offline", s.p[1].uid, &s.e);
    int ms = (int)(h_now_ms() - t0);
    printf("ok gateway stop: the member on the stopped gateway was reported offline to the room %d ms "
           "after SIGTERM\n", ms);
    pair_down(&s);
}

/* ========================================================================================== */
/* Scenario 5c: a session closes while no lobby is up (the only one was killed -9): the gateway
 * queues the close and reports it to the next lobby link that comes up, so the room's other
 * member sees it go offline (before, the report was dropped: the user stayed "online" and
 * never left the room). */

static void s_no_lobby_up(void)
{
    pair_t s;
    pair_up(&s, "nolobby", 1, "No lobby room");

    h_kill(s.cl.lobby[0], SIGKILL);
    CHECK_EQ(h_wait_exit(s.cl.lobby[0], 5000), -1);
    CHECK(h_wait_log(s.cl.gw[0], "event=link_down type=Lobby", 1, 5000) >= 0);
    p_close(&s.p[1]); /* no lobby to tell */
    CHECK(h_wait_log(s.cl.gw[0], "event=session_close_queued", 1, 3000) >= 0);
    uint64_t t_new = h_now_ms();
    cluster_add_lobby(&s.cl);
    exp_set(&s.e, s.p[1].uid, -1, 0);
    EXPECT_UPDATE(s.p[0].c, PAIR_WHO[0], "offline", s.p[1].uid, &s.e);
    int ms = (int)(h_now_ms() - t_new);
    CHECK_EQ(h_log_count(s.cl.gw[0], "event=session_closes_reported count=1 "), 1);
    printf("ok no lobby up: a close queued by the gateway while no lobby was up reached the next lobby; "
           "the member saw the user offline %d ms after that lobby was started\n", ms);
    pair_down(&s);
}

/* ========================================================================================== */
/* Scenario 5d: a gateway killed -9 reports nothing: once its registry entry is gone, a lobby
 * marks its users offline as if their sessions had closed, so a room member on another gateway
 * sees them go offline (before, they stayed "online" and never left the room). */

static void s_gateway_killed(void)
{
    pair_t s;
    pair_up(&s, "gwkill", 2, "Killed gw room");

    uint64_t t0 = h_now_ms();
    h_kill(s.cl.gw[1], SIGKILL);
    CHECK_EQ(h_wait_exit(s.cl.gw[1], 5000), -1);
    /* the registry drops it after its expiry, the lobby sweeps every second */
    RoomUpdate *u = TAKE_PUSH(s.p[0].c, PAIR_WHO[0], ROOM_UPDATE, room_update__descriptor, 15000);
    int ms = (int)(h_now_ms() - t0);
    exp_set(&s.e, s.p[1].uid, -1, 0);
    if (strcmp(u->event, "offline") != 0 || u->actor_id != s.p[1].uid) {
        fprintf(stderr, "after the gateway's kill -9: ROOM_UPDATE %s actor %llu (expected offline, %llu)\n",
                u->event, (unsigned long long)u->actor_id, (unsigned long long)s.p[1].uid);
        h_fail();
    }
    CHECK_ROOM(u->room, &s.e, "ROOM_UPDATE after the gateway died");
    room_update__free_unpacked(u, NULL);
    printf("ok gateway killed: its user was marked offline in its room %d ms after kill -9 (registry expiry "
           "plus the lobby's sweep)\n", ms);
    pair_down(&s);
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
    scenario_down(&cl, p, 3);
}

/* ========================================================================================== */

static const lobby_scenario_t SCENARIOS[] = {
    {"dup", s_duplicate_login},
    {"resume", s_resume},
    {"gwstop", s_gateway_stop},
    {"nolobby", s_no_lobby_up},
    {"gwkill", s_gateway_killed},
};

int main(int argc, char **argv)
{
    return lobby_main(argc, argv, "test_lobby_sessions", SCENARIOS, (int)(sizeof SCENARIOS / sizeof SCENARIOS[0]));
}
