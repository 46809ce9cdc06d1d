/* test_netns_lobby: the link between a gateway and a lobby on another "host" (its own network
 * namespace, netns_util.h) cut for 4 s and restored (the lobby side of a partition): long
 * enough for both ends to declare the link dead (gateway LINK_DEAD_MS 1 s, lobby 3 x that), short
 * of the registry expiry. A logged-in player in a room must come out of it still online, still
 * in the room, and served again once the link is back; the lobby logs no
 * gateway_users_offline. During the cut, lobby requests get SERVICE_UNAVAILABLE.
 * Needs root for `ip netns`; without it the test says "skipped: why" and exits 77. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "faults_util.h"
#include "netns_util.h"

#define CUT_MS 4000

static nn_t nn;

/* GET_ROOM_LIST through the gateway: the response type (0: none in time). */
static uint16_t room_list(csync_t *s, int timeout_ms)
{
    GetRoomListRequest rq = GET_ROOM_LIST_REQUEST__INIT;
    fres_t r = fc_call(s, PACKET_TYPE__GET_ROOM_LIST_REQUEST, &rq.base, timeout_ms);
    uint16_t t = r.type;
    if (t == PACKET_TYPE__ERROR_RESPONSE && r.code != ERROR_CODE__SERVICE_UNAVAILABLE) {
        fprintf(stderr, "GET_ROOM_LIST: error %d\n", r.code);
        h_fail();
    }
    fres_free(&r);
    return t;
}

/* The user's online flag and room in Redis (user:<uid>). */
static void user_state(uint64_t uid, char *online, char *room, size_t n)
{
    redisReply *r = redisCommand(h_redis(), "HMGET %suser:%llu online room", h_prefix(),
                                 (unsigned long long)uid);
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
    snprintf(online, n, "%s", r->element[0]->str ? r->element[0]->str : "-");
    snprintf(room, n, "%s", r->element[1]->str ? r->element[1]->str : "-");
    freeReplyObject(r);
}

int main(void)
{
    h_init("netns_lobby");
    if (nn_setup(&nn) != 0) {
        printf("skipped: %s\n", nn.why);
        return NN_SKIP;
    }
    h_pg_start();
    h_new_prefix("nslobby");
    static const char *const lobby_env[] = {"HASH_OPSLIMIT=1", "HASH_MEMLIMIT_KIB=8192", NULL};
    proc_t *lobby = nn_spawn(&nn, LOBBYD_PATH, "lobbyd_ns", lobby_env);
    CHECK(h_wait_registered("Lobby", 1, 20000) >= 0);
    static const char *const gw_env[] = {"RATE_LIMIT=100000", "RATE_BURST=100000", NULL};
    fcluster_t c;
    memset(&c, 0, sizeof c);
    c.gw[0] = h_spawn_gateway(&c.port[0], gw_env);
    c.ngw = 1;
    fc_wait_lobby(&c, 0, 20000);

    char name[32];
    snprintf(name, sizeof name, "nl_%04x", (unsigned)(h_now_ms() & 0xffff));
    csync_t *s = csync_connect("127.0.0.1", c.port[0], 5000);
    CHECK(s != NULL);
    fc_register(s, name, "lobby-cut-pass-1");
    fres_t r = fc_login(s, name, "lobby-cut-pass-1");
    CHECK_EQ(r.type, PACKET_TYPE__LOGIN_RESPONSE);
    LoginResponse *lr = login_response__unpack(NULL, r.len, r.payload);
    CHECK(lr != NULL);
    uint64_t uid = lr->user_id;
    login_response__free_unpacked(lr, NULL);
    fres_free(&r);
    CreateRoomRequest cr = CREATE_ROOM_REQUEST__INIT;
    cr.name = (char *)"cut room";
    r = fc_call(s, PACKET_TYPE__CREATE_ROOM_REQUEST, &cr.base, 5000);
    CHECK_EQ(r.type, PACKET_TYPE__CREATE_ROOM_RESPONSE);
    fres_free(&r);
    char online0[32], room0[32];
    user_state(uid, online0, room0, sizeof online0);
    CHECK(strcmp(online0, "1") == 0 && strcmp(room0, "-") != 0);

    uint64_t t_cut = h_now_ms();
    nn_game_link(&nn, 0);
    /* refused while the link is down (at once once the gateway knows; before, when it dies) */
    int refused = 0;
    while (h_now_ms() - t_cut < CUT_MS) {
        uint16_t t = room_list(s, 3000);
        refused += t == PACKET_TYPE__ERROR_RESPONSE;
        h_sleep_ms(200);
    }
    CHECK(refused >= 1);
    CHECK(h_log_count(c.gw[0], "event=link_down type=Lobby") >= 1); /* the cut was seen */
    nn_game_link(&nn, 1);
    uint64_t t_back = h_now_ms();
    while (room_list(s, 2000) != PACKET_TYPE__GET_ROOM_LIST_RESPONSE) {
        if (h_now_ms() - t_back > 15000) {
            fprintf(stderr, "the lobby never answered again after the cut\n");
            h_fail();
        }
        h_sleep_ms(100);
    }
    uint64_t back_ms = h_now_ms() - t_back;
    h_sleep_ms(2500); /* two gateway sweeps of the lobby (every second) */
    char online[32], room[32];
    user_state(uid, online, room, sizeof online);
    CHECK(strcmp(online, "1") == 0);
    CHECK(strcmp(room, room0) == 0);
    CHECK_EQ(h_log_count(lobby, "event=gateway_users_offline"), 0);
    CHECK(csync_is_connected(s));
    printf("ok lobby link cut %d ms: %d lobby requests refused SERVICE_UNAVAILABLE during the cut, "
           "served again %llu ms after restore; the user stays online in room %s; no "
           "gateway_users_offline\n", CUT_MS, refused, (unsigned long long)back_ms, room);
    printf("row|netns gateway-lobby link cut %d ms|0|0|0|%llu\n", CUT_MS, (unsigned long long)back_ms);
    csync_close(s);
    h_kill(c.gw[0], SIGTERM);
    CHECK_EQ(h_wait_exit(c.gw[0], 20000), 0);
    h_kill(lobby, SIGTERM);
    CHECK_EQ(h_wait_exit(lobby, 20000), 0);
    printf("netns_lobby: all passed\n");
    return 0;
}
