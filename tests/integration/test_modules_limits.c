/* test_modules_limits: game modes at CREATE_ROOM and QUICK_MATCH:
 * UNKNOWN_MODE for a mode no daemon serves (and names no module file could have); room sizes
 * within each mode's limits from the daemons' mode_limits (tag 2-16, arena_lua and arena 1-4;
 * 0 = the mode's max; BAD_REQUEST with the limits in the message); the mode in RoomState and
 * GET_ROOM_LIST; nothing created by the refusals; a tag room of 2 is full at 2. */
#include "modules_util.h"

static char RUN[8];

static const char *const GAME_ENV[] = {MU_MODULES_DIR, "MATCH_TIME_LIMIT_MS=30000",
                                       "DRAIN_TIMEOUT_MS=500", NULL};

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

static const sc_spec_t SCENE = {"limits", NULL, GAME_ENV, 1, 1, "lim", 5, 0};

static void scenario_limits(void)
{
    scene_t *s = scene_up(&SCENE, RUN);

    long long seq0 = room_seq();
    mu_create_err(s->ps[0], "nosuch", 2, ERROR_CODE__UNKNOWN_MODE, NULL, 0);
    mu_create_err(s->ps[0], "../tag", 2, ERROR_CODE__UNKNOWN_MODE, NULL, 0);
    mu_create_err(s->ps[0], "tag tag", 0, ERROR_CODE__UNKNOWN_MODE, NULL, 0);
    char longname[80];
    memset(longname, 'a', 70);
    longname[70] = '\0';
    mu_create_err(s->ps[0], longname, 0, ERROR_CODE__UNKNOWN_MODE, NULL, 0);
    mu_quick_err(s->ps[0], "nosuch", ERROR_CODE__UNKNOWN_MODE);
    expect_limits(s->ps[0], "tag", 1, "2-16");
    expect_limits(s->ps[0], "tag", 17, "2-16");
    expect_limits(s->ps[0], "arena_lua", 5, "1-4");
    expect_limits(s->ps[0], "arena", 5, "1-4");
    mu_create_err(s->ps[0], "tag", 65, ERROR_CODE__BAD_REQUEST, NULL, 0);
    CHECK_EQ(room_seq(), seq0); /* nothing created by the refusals */
    /* and nobody was queued: a quick match in arena still works for ps[0] later */

    uint32_t max = 0;
    uint64_t tag_room = mu_create_room(s->ps[0], "tag", 0, &max);
    CHECK_EQ(max, 16);
    uint64_t lua_room = mu_create_room(s->ps[1], "arena_lua", 0, &max);
    CHECK_EQ(max, 4);
    uint64_t arena_room = mu_create_room(s->ps[2], "", 0, &max);
    CHECK_EQ(max, 4);
    uint64_t small = mu_create_room(s->ps[3], "tag", 2, &max);
    CHECK_EQ(max, 2);

    /* GET_ROOM_LIST shows each room's mode */
    GetRoomListRequest lr = GET_ROOM_LIST_REQUEST__INIT;
    lr.page_size = 50;
    GetRoomListResponse *l = OK_CALL(s->ps[4], GET_ROOM_LIST_REQUEST, &lr.base, GET_ROOM_LIST_RESPONSE,
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
    p_join_room(s->ps[4], small);
    LeaveRoomRequest lv = LEAVE_ROOM_REQUEST__INIT;
    LeaveRoomResponse *lo = OK_CALL(s->ps[0], LEAVE_ROOM_REQUEST, &lv.base, LEAVE_ROOM_RESPONSE,
                                    leave_room_response__descriptor);
    leave_room_response__free_unpacked(lo, NULL);
    JoinRoomRequest jr = JOIN_ROOM_REQUEST__INIT;
    jr.room_id = small;
    ERR_CALL(s->ps[0], JOIN_ROOM_REQUEST, &jr.base, ROOM_FULL);
    printf("limits: UNKNOWN_MODE for nosuch, ../tag, 'tag tag', a 70-byte name (create) and nosuch "
           "(quick match); BAD_REQUEST naming the limits for tag 1 and 17 (2-16), arena_lua 5 and "
           "arena 5 (1-4), tag 65; max_players 0 = 16 for tag, 4 for arena_lua and arena; the room "
           "list shows each mode; a tag room of 2 is full at 2\n");
    scene_down(s);
}

int main(int argc, char **argv)
{
    static const lu_scenario_t sc[] = {{"limits", scenario_limits}};
    return lu_main(argc, argv, "modules_limits", RUN, sizeof RUN, sc, 1);
}
