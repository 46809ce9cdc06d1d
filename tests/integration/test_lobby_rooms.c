/* test_lobby_rooms: rooms through real gateways, lobbies, game daemons, Redis and PostgreSQL
 * (docs/lobby.md): the whole room flow over two gateways and two lobbies with a lobby killed -9
 * midway; 200 clients racing for a 4-player room; 100 concurrent starts spread over two game
 * daemons; quick match. Each scenario is its own CTest test (integration_lobby_<name>). */
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
    scenario_down(&cl, p, 5);
}

/* ========================================================================================== */
/* The crowd scenarios (2 and 3): a cluster (tag) of 2 gateways, 2 lobbies and ngame game
 * daemons, and n asynchronous clients connected to it. */

static ap_t *crowd_up(cluster_t *cl, const char *tag, int ngame, int n)
{
    cluster_up(cl, tag, 2, 2, ngame, NULL, 0);
    return ap_up(cl, n);
}

static void crowd_down(cluster_t *cl, ap_t *ap)
{
    ap_free(ap);
    cluster_down(cl);
}

/* ========================================================================================== */
/* Scenario 2: 200 clients race to join one 4-player room. */

static void s_join_race(void)
{
    uint64_t t_start = h_now_ms();
    cluster_t cl;
    const int N = 201;
    ap_t *ap = crowd_up(&cl, "race", 0, N);
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
    printf("ok join race: 201 accounts registered+logged in over 2 gateways/2 lobbies in %d ms (%d "
           "BUSY retried); 200 JOINs sent in one loop turn: 3 joined (responses with 2,3,4 members), "
           "197 ROOM_FULL, all answered in %d ms; owner saw exactly 3 'joined' updates ending with "
           "itself + the 3 winners; 0 pushes to losers; GET_ROOM_LIST 4/4; Redis: 4 members, 4 users "
           "with a room; %.1f s\n",
           auth_ms, busy, race_ms, (double)(h_now_ms() - t_start) / 1000.0);
    crowd_down(&cl, ap);
}

/* ========================================================================================== */
/* Scenario 3: 100 concurrent START_GAMEs over 2 game daemons. */

static void s_start_spread(void)
{
    uint64_t t_start = h_now_ms();
    cluster_t cl;
    const int N = 100;
    ap_t *ap = crowd_up(&cl, "spread", 2, N);
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
    printf("ok start spread: 100 one-player rooms ready, listed as pages of 50+50+0 (each room "
           "once, with its owner; default page 20), 100 START_GAMEs at once over 2 gateways/2 "
           "lobbies answered in %d ms: %d on gamed id %u, %d on gamed id %u (bound: differ by <= 1; "
           "Redis placement counts agree); 100 distinct match ids; each owner got 'started' + "
           "GAME_STARTING with its match; %.1f s\n",
           start_ms, count[0], cl.game_id[0], count[1], cl.game_id[1], (double)(h_now_ms() - t_start) / 1000.0);
    crowd_down(&cl, ap);
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
    scenario_down(&cl, p, 6);
}

/* ========================================================================================== */

static const lobby_scenario_t SCENARIOS[] = {
    {"flow", s_room_flow},
    {"race", s_join_race},
    {"spread", s_start_spread},
    {"quick", s_quick_match},
};

int main(int argc, char **argv)
{
    return lobby_main(argc, argv, "test_lobby_rooms", SCENARIOS, (int)(sizeof SCENARIOS / sizeof SCENARIOS[0]));
}
