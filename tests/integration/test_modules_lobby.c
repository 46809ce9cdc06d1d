/* test_modules_lobby: game modes in the lobby through the real cluster (issue 11, item 4).
 *
 * limits: UNKNOWN_MODE for a mode no daemon serves (CREATE_ROOM, QUICK_MATCH; a name no module
 * file could have too); room sizes within each mode's limits from the daemons' mode_limits
 * (tag 2-16, arena_lua and arena 1-4; 0 = the mode's max; BAD_REQUEST with the limits in the
 * message); the mode in RoomState and GET_ROOM_LIST; nothing created by the refusals.
 * quick: one queue per mode (QUICK_MATCH_SIZE=1, clamped into each mode's limits): arena_lua
 * forms a room of 1 at once, tag waits for a second tag player, and the queues never mix.
 * placement: two game daemons, one without the module folder (it serves arena only): every
 * module match goes to the daemon serving it, arena matches go to both (least loaded); once
 * the module daemon is gone, CREATE_ROOM, QUICK_MATCH and START of a waiting tag room answer
 * UNKNOWN_MODE. */
#include "modules_util.h"

#include <sys/stat.h>

static char RUN[8];

static const char *const GAME_ENV[] = {MU_MODULES_DIR, "MATCH_TIME_LIMIT_MS=30000",
                                       "DRAIN_TIMEOUT_MS=500", NULL};

static void players_up(player_t *pl, player_t **ps, int n, const char *scen, const cluster_t *cl)
{
    for (int i = 0; i < n; i++) {
        p_init(&pl[i], RUN, scen, i, cl->port[i % cl->ngw]);
        ps[i] = &pl[i];
    }
    p_signup_all(ps, n);
}

static long long room_seq(void)
{
    redisReply *r = redisCommand(h_redis(), "GET %sroom:seq", h_prefix());
    long long v = r && r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
    freeReplyObject(r);
    return v;
}

static void expect_limits(player_t *p, const char *mode, uint32_t max, const char *range)
{
    char msg[256];
    mu_create_err(p, mode, max, ERROR_CODE__BAD_REQUEST, msg, sizeof msg);
    if (!strstr(msg, range))
        DIE("CREATE_ROOM %s max_players=%u: message \"%s\" does not name the limits %s", mode, max,
            msg, range);
}

static void scenario_limits(void)
{
    cluster_t cl;
    lu_cluster_init(&cl, "limits");
    lu_add_lobby(&cl, NULL);
    lu_add_game(&cl, GAME_ENV);
    lu_add_gateway(&cl);
    lu_wait_links(&cl);
    player_t pl[5];
    player_t *ps[5];
    players_up(pl, ps, 5, "lim", &cl);

    long long seq0 = room_seq();
    mu_create_err(ps[0], "nosuch", 2, ERROR_CODE__UNKNOWN_MODE, NULL, 0);
    mu_create_err(ps[0], "../tag", 2, ERROR_CODE__UNKNOWN_MODE, NULL, 0);
    mu_create_err(ps[0], "tag tag", 0, ERROR_CODE__UNKNOWN_MODE, NULL, 0);
    char longname[80];
    memset(longname, 'a', 70);
    longname[70] = '\0';
    mu_create_err(ps[0], longname, 0, ERROR_CODE__UNKNOWN_MODE, NULL, 0);
    mu_quick_err(ps[0], "nosuch", ERROR_CODE__UNKNOWN_MODE);
    expect_limits(ps[0], "tag", 1, "2-16");
    expect_limits(ps[0], "tag", 17, "2-16");
    expect_limits(ps[0], "arena_lua", 5, "1-4");
    expect_limits(ps[0], "arena", 5, "1-4");
    mu_create_err(ps[0], "tag", 65, ERROR_CODE__BAD_REQUEST, NULL, 0);
    CHECK_EQ(room_seq(), seq0); /* nothing created by the refusals */
    /* and nobody was queued: a quick match in arena still works for ps[0] later */

    uint32_t max = 0;
    uint64_t tag_room = mu_create_room(ps[0], "tag", 0, &max);
    CHECK_EQ(max, 16);
    uint64_t lua_room = mu_create_room(ps[1], "arena_lua", 0, &max);
    CHECK_EQ(max, 4);
    uint64_t arena_room = mu_create_room(ps[2], "", 0, &max);
    CHECK_EQ(max, 4);
    uint64_t small = mu_create_room(ps[3], "tag", 2, &max);
    CHECK_EQ(max, 2);

    /* GET_ROOM_LIST shows each room's mode */
    GetRoomListRequest lr = GET_ROOM_LIST_REQUEST__INIT;
    lr.page_size = 50;
    GetRoomListResponse *l = OK_CALL(ps[4], GET_ROOM_LIST_REQUEST, &lr.base, GET_ROOM_LIST_RESPONSE,
                                     get_room_list_response__descriptor);
    int seen = 0;
    for (size_t i = 0; i < l->n_rooms; i++) {
        const RoomSummary *r = l->rooms[i];
        const char *want = r->room_id == tag_room || r->room_id == small ? "tag"
                           : r->room_id == lua_room                      ? "arena_lua"
                           : r->room_id == arena_room                    ? "arena"
                                                                         : NULL;
        if (!want)
            continue;
        seen++;
        if (strcmp(r->mode, want) != 0)
            DIE("room list: room %llu mode \"%s\", expected %s", (unsigned long long)r->room_id,
                r->mode, want);
    }
    CHECK_EQ(seen, 4);
    get_room_list_response__free_unpacked(l, NULL);

    /* the 2-player tag room fills at 2 */
    p_join_room(ps[4], small);
    LeaveRoomRequest lv = LEAVE_ROOM_REQUEST__INIT;
    LeaveRoomResponse *lo = OK_CALL(ps[0], LEAVE_ROOM_REQUEST, &lv.base, LEAVE_ROOM_RESPONSE,
                                    leave_room_response__descriptor);
    leave_room_response__free_unpacked(lo, NULL);
    JoinRoomRequest jr = JOIN_ROOM_REQUEST__INIT;
    jr.room_id = small;
    ERR_CALL(ps[0], JOIN_ROOM_REQUEST, &jr.base, ROOM_FULL);
    printf("limits: UNKNOWN_MODE for nosuch, ../tag, 'tag tag', a 70-byte name (create) and nosuch "
           "(quick match); BAD_REQUEST naming the limits for tag 1 and 17 (2-16), arena_lua 5 and "
           "arena 5 (1-4), tag 65; max_players 0 = 16 for tag, 4 for arena_lua and arena; the room "
           "list shows each mode; a tag room of 2 is full at 2\n");
    for (int i = 0; i < 5; i++)
        p_free(&pl[i]);
    lu_cluster_down(&cl);
}

static int starting_of(player_t *p, int timeout_ms)
{
    uint64_t t0 = h_now_ms();
    while (p->n_starting == 0 && h_now_ms() - t0 < (uint64_t)timeout_ms)
        p_pump(p, 5);
    return p->n_starting;
}

static void scenario_quick(void)
{
    static const char *const LOBBY_ENV[] = {"QUICK_MATCH_SIZE=1", NULL};
    cluster_t cl;
    lu_cluster_init(&cl, "quick");
    lu_add_lobby(&cl, LOBBY_ENV);
    lu_add_game(&cl, GAME_ENV);
    lu_add_gateway(&cl);
    lu_add_gateway(&cl);
    lu_wait_links(&cl);
    player_t pl[4];
    player_t *ps[4];
    players_up(pl, ps, 4, "qm", &cl);

    /* tag: QUICK_MATCH_SIZE 1 is clamped up to tag's 2: the first waits */
    CHECK_EQ(mu_quick(ps[0], "tag"), 1);
    /* arena_lua takes 1: a room forms at once, and the tag player is not taken into it */
    CHECK_EQ(mu_quick(ps[1], "arena_lua"), 0);
    CHECK(starting_of(ps[1], 5000) == 1);
    CHECK_EQ(ps[0]->n_starting, 0);
    /* a second arena_lua player gets a room of its own too */
    CHECK_EQ(mu_quick(ps[2], "arena_lua"), 0);
    CHECK(starting_of(ps[2], 5000) == 1);
    CHECK(ps[2]->starting_match != ps[1]->starting_match);
    p_pump(ps[0], 100);
    CHECK_EQ(ps[0]->n_starting, 0);
    /* the second tag player: the tag room forms with the two of them */
    CHECK_EQ(mu_quick(ps[3], "tag"), 0);
    CHECK(starting_of(ps[3], 5000) == 1 && starting_of(ps[0], 5000) == 1);
    CHECK_EQ(ps[0]->starting_match, ps[3]->starting_match);
    player_t *tag_ps[2] = {ps[0], ps[3]};
    if (ps_wait(tag_ps, 2, cond_started, &ps[0]->starting_match, 8000) < 0)
        DIE("the tag quick match did not start");
    for (int i = 0; i < 2; i++)
        if (strcmp(tag_ps[i]->start->mode, "tag") != 0 || tag_ps[i]->start->n_players != 2)
            DIE("%s: MATCH_START mode \"%s\" with %zu players, expected tag with 2", tag_ps[i]->name,
                tag_ps[i]->start->mode, tag_ps[i]->start->n_players);
    printf("quick: QUICK_MATCH_SIZE=1 clamped to tag's minimum 2 (the first tag player waited while "
           "two arena_lua players got a room each at once); the two tag players got one tag match "
           "of 2; the queues never mixed\n");
    for (int i = 0; i < 4; i++)
        p_free(&pl[i]);
    lu_cluster_down(&cl);
}

/* A room of mode for p alone (max 1 for arena/arena_lua), started; returns the daemon. */
static uint32_t solo_start(player_t *p, const char *mode)
{
    uint64_t room = mu_create_room(p, mode, 1, NULL);
    (void)room;
    p_ready(p);
    player_t *one[1] = {p};
    uint32_t game = 0;
    (void)mu_start(one, 1, mode, &game);
    return game;
}

static void scenario_placement(void)
{
    cluster_t cl;
    lu_cluster_init(&cl, "place");
    lu_add_lobby(&cl, NULL);
    int gmod = lu_add_game(&cl, GAME_ENV);
    char empty[600], env_dir[640];
    snprintf(empty, sizeof empty, "%s/no-modules", h_dir());
    mkdir(empty, 0755);
    snprintf(env_dir, sizeof env_dir, "GAME_MODULES_DIR=%s", empty);
    const char *const plain_env[] = {env_dir, "MATCH_TIME_LIMIT_MS=30000", "DRAIN_TIMEOUT_MS=500",
                                     NULL};
    int gplain = lu_add_game(&cl, plain_env);
    lu_add_gateway(&cl);
    lu_wait_links(&cl);
    uint32_t mod_id = cl.game_id[gmod], plain_id = cl.game_id[gplain];
    /* the registry says who serves what */
    for (int k = 0; k < 2; k++) {
        uint32_t id = k ? plain_id : mod_id;
        redisReply *r = NULL;
        for (int t = 0; t < 100; t++) {
            freeReplyObject(r);
            r = redisCommand(h_redis(), "HGET %sServer:Game:%u modes", h_prefix(), id);
            if (r && r->type == REDIS_REPLY_STRING)
                break;
            h_sleep_ms(20);
        }
        CHECK(r && r->type == REDIS_REPLY_STRING);
        if (k ? strcmp(r->str, "arena") != 0 : !strstr(r->str, "tag") || !strstr(r->str, "arena_lua"))
            DIE("game %u publishes modes \"%s\"", id, r->str);
        freeReplyObject(r);
    }

    enum { N = 10 };
    player_t pl[N];
    player_t *ps[N];
    players_up(pl, ps, N, "pl", &cl);
    /* 4 arena_lua matches: all on the module daemon, though it is then the busier one */
    for (int i = 0; i < 4; i++) {
        uint32_t g = solo_start(ps[i], "arena_lua");
        if (g != mod_id)
            DIE("arena_lua match placed on game %u, which does not serve it (module daemon %u)", g, mod_id);
    }
    /* 4 arena matches: the least loaded first, so the plain daemon takes them */
    int on_plain = 0;
    for (int i = 4; i < 8; i++)
        on_plain += solo_start(ps[i], "arena") == plain_id;
    CHECK(on_plain >= 3);
    /* a waiting tag room, then the module daemon goes away */
    uint64_t tag_room = mu_create_room(ps[8], "tag", 2, NULL);
    p_join_room(ps[9], tag_room);
    p_ready(ps[8]);
    p_ready(ps[9]);
    lu_stop(cl.game[gmod], 20000);
    if (h_wait_registered("Game", 1, 10000) < 0)
        DIE("the module daemon is still in the registry");
    StartGameRequest sg = START_GAME_REQUEST__INIT;
    ERR_CALL(ps[8], START_GAME_REQUEST, &sg.base, UNKNOWN_MODE);
    LeaveRoomRequest lv = LEAVE_ROOM_REQUEST__INIT;
    LeaveRoomResponse *lo = OK_CALL(ps[9], LEAVE_ROOM_REQUEST, &lv.base, LEAVE_ROOM_RESPONSE,
                                    leave_room_response__descriptor);
    leave_room_response__free_unpacked(lo, NULL);
    mu_create_err(ps[9], "tag", 2, ERROR_CODE__UNKNOWN_MODE, NULL, 0);
    mu_quick_err(ps[9], "arena_lua", ERROR_CODE__UNKNOWN_MODE);
    /* the arena is still served */
    uint32_t g = solo_start(ps[9], "arena");
    CHECK_EQ(g, plain_id);
    printf("placement: 4 arena_lua matches all on game %u (the only one serving it), %d of 4 arena "
           "matches on the idler game %u; with game %u gone: START of a waiting tag room, CREATE_ROOM "
           "tag and QUICK_MATCH arena_lua answer UNKNOWN_MODE, arena still starts on game %u\n",
           mod_id, on_plain, plain_id, mod_id, plain_id);
    for (int i = 0; i < N; i++)
        p_free(&pl[i]);
    lu_cluster_down(&cl);
}

int main(void)
{
    h_init("modules_lobby");
    lu_run_tag(RUN, sizeof RUN);
    h_pg_start();
    const char *only = getenv("MODULES_ONLY");
    if (!only || strcmp(only, "limits") == 0)
        scenario_limits();
    if (!only || strcmp(only, "quick") == 0)
        scenario_quick();
    if (!only || strcmp(only, "placement") == 0)
        scenario_placement();
    h_pg_stop();
    printf("PASS modules_lobby\n");
    return 0;
}
