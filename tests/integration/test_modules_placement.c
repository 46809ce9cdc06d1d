/* test_modules_placement: placement by mode: two game daemons, one
 * without the module folder (it serves arena only): every module match goes to the daemon
 * serving it, arena matches to the least loaded; once the module daemon is gone, CREATE_ROOM,
 * QUICK_MATCH and START of a waiting tag room answer UNKNOWN_MODE and the arena still starts. */
#include "modules_util.h"

#include <sys/stat.h>

static char RUN[8];

static const char *const GAME_ENV[] = {MU_MODULES_DIR, "MATCH_TIME_LIMIT_MS=30000",
                                       "DRAIN_TIMEOUT_MS=500", NULL};

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
    scene_t *s = scene_new();
    lu_cluster_init(&s->cl, "place");
    lu_add_lobby(&s->cl, NULL);
    int gmod = lu_add_game(&s->cl, GAME_ENV);
    char empty[600], env_dir[640];
    snprintf(empty, sizeof empty, "%s/no-modules", h_dir());
    mkdir(empty, 0755);
    snprintf(env_dir, sizeof env_dir, "GAME_MODULES_DIR=%s", empty);
    const char *const plain_env[] = {env_dir, "MATCH_TIME_LIMIT_MS=30000", "DRAIN_TIMEOUT_MS=500",
                                     NULL};
    int gplain = lu_add_game(&s->cl, plain_env);
    lu_add_gateway(&s->cl);
    lu_wait_links(&s->cl);
    uint32_t mod_id = s->cl.game_id[gmod], plain_id = s->cl.game_id[gplain];
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
    scene_players(s, RUN, "pl", N, 0);
    /* 4 arena_lua matches: all on the module daemon, though it is then the busier one */
    for (int i = 0; i < 4; i++) {
        uint32_t g = solo_start(s->ps[i], "arena_lua");
        if (g != mod_id)
            DIE("arena_lua match placed on game %u, which does not serve it (module daemon %u)", g, mod_id);
    }
    /* 4 arena matches: the least loaded first, so the plain daemon takes them */
    int on_plain = 0;
    for (int i = 4; i < 8; i++)
        on_plain += solo_start(s->ps[i], "arena") == plain_id;
    CHECK(on_plain >= 3);
    /* a waiting tag room, then the module daemon goes away */
    uint64_t tag_room = mu_create_room(s->ps[8], "tag", 2, NULL);
    p_join_room(s->ps[9], tag_room);
    p_ready(s->ps[8]);
    p_ready(s->ps[9]);
    lu_stop(s->cl.game[gmod], 20000);
    if (h_wait_registered("Game", 1, 10000) < 0)
        DIE("the module daemon is still in the registry");
    StartGameRequest sg = START_GAME_REQUEST__INIT;
    ERR_CALL(s->ps[8], START_GAME_REQUEST, &sg.base, UNKNOWN_MODE);
    LeaveRoomRequest lv = LEAVE_ROOM_REQUEST__INIT;
    LeaveRoomResponse *lo = OK_CALL(s->ps[9], LEAVE_ROOM_REQUEST, &lv.base, LEAVE_ROOM_RESPONSE,
                                    leave_room_response__descriptor);
    leave_room_response__free_unpacked(lo, NULL);
    mu_create_err(s->ps[9], "tag", 2, ERROR_CODE__UNKNOWN_MODE, NULL, 0);
    mu_quick_err(s->ps[9], "arena_lua", ERROR_CODE__UNKNOWN_MODE);
    /* the arena is still served */
    uint32_t g = solo_start(s->ps[9], "arena");
    CHECK_EQ(g, plain_id);
    printf("placement: 4 arena_lua matches all on game %u (the only one serving it), %d of 4 arena "
           "matches on the idler game %u; with game %u gone: START of a waiting tag room, CREATE_ROOM "
           "tag and QUICK_MATCH arena_lua answer UNKNOWN_MODE, arena still starts on game %u\n",
           mod_id, on_plain, plain_id, mod_id, plain_id);
    scene_down(s);
}

int main(int argc, char **argv)
{
    static const lu_scenario_t sc[] = {{"placement", scenario_placement}};
    return lu_main(argc, argv, "modules_placement", RUN, sizeof RUN, sc, 1);
}
