/* test_room_view: the lobby's decoding of lobby.lua's flat room replies (src_lobby/room_view.c):
 * a room with members (integers as Redis integers and as strings, at an offset), the status
 * and flags mapped, the element after it returned; and every malformed reply refused with -1
 * and nothing left to free: not an array, too short for the room, more members than
 * ROOM_MAX_PLAYERS, fewer elements than the members announced, a missing name read as "". */
#include "check.h"
#include "room_view.h"

#define MAXEL 512

typedef struct fake {
    redisReply top;
    redisReply el[MAXEL];
    redisReply *ptrs[MAXEL];
    char text[MAXEL][32];
} fake_t;

static fake_t F;

static void start(void)
{
    memset(&F, 0, sizeof F);
    F.top.type = REDIS_REPLY_ARRAY;
    F.top.element = F.ptrs;
}

static void put_str(const char *s)
{
    size_t i = F.top.elements++;
    CHECK(i < MAXEL);
    snprintf(F.text[i], sizeof F.text[i], "%s", s);
    F.el[i].type = REDIS_REPLY_STRING;
    F.el[i].str = F.text[i];
    F.el[i].len = strlen(F.text[i]);
    F.ptrs[i] = &F.el[i];
}

static void put_int(long long v)
{
    size_t i = F.top.elements++;
    CHECK(i < MAXEL);
    F.el[i].type = REDIS_REPLY_INTEGER;
    F.el[i].integer = v;
    F.ptrs[i] = &F.el[i];
}

static void put_nil(void)
{
    size_t i = F.top.elements++;
    F.el[i].type = REDIS_REPLY_NIL;
    F.ptrs[i] = &F.el[i];
}

/* room 42 "den", owner 7, max 4, status, match 900, game 3, mode, then n members */
static void put_room(int status, const char *mode, int n_announced, int n_given)
{
    put_int(42);
    put_str("den");
    put_str("7");
    put_int(4);
    put_int(status);
    put_str("900");
    put_int(3);
    put_str(mode);
    put_int(n_announced);
    for (int k = 0; k < n_given; k++) {
        put_int(100 + k);
        char name[16];
        snprintf(name, sizeof name, "p%d", k);
        put_str(name);
        put_str(k % 2 ? "0" : "1");  /* ready */
        put_int(k == 1 ? 0 : 1);     /* online */
        put_int(k == 1 ? 0 : 2);     /* gateway */
        put_str(k == 1 ? "0" : "4294967296");
    }
}

static void test_good(void)
{
    start();
    put_str("room"); /* the reply's kind, as lobby.lua sends it */
    put_room(2, "tag", 2, 2);
    put_str("after");
    room_view_t v;
    int next = room_view_parse(&v, &F.top, 1);
    CHECK_EQ(next, 1 + 9 + 2 * 6);
    CHECK_STR(F.el[next].str, "after");
    CHECK_EQ(v.state.room_id, 42);
    CHECK_STR(v.state.name, "den");
    CHECK_EQ(v.state.owner_id, 7);
    CHECK_EQ(v.state.max_players, 4);
    CHECK_EQ(v.state.status, ROOM_STATUS__IN_GAME);
    CHECK_EQ(v.state.match_id, 900);
    CHECK_EQ(v.state.game_server_id, 3);
    CHECK_STR(v.state.mode, "tag");
    CHECK_EQ(v.state.n_members, 2);
    CHECK(v.state.members[0] == &v.members[0] && v.state.members[1] == &v.members[1]);
    CHECK_EQ(v.members[0].user_id, 100);
    CHECK_STR(v.members[0].username, "p0");
    CHECK(v.members[0].ready && v.members[0].online);
    CHECK(!v.members[1].ready && !v.members[1].online);
    CHECK_EQ(v.gw[0], 2);
    CHECK_EQ(v.sid[0], 4294967296ull);
    CHECK_EQ(v.gw[1], 0);
    CHECK_EQ(v.sid[1], 0);
    room_view_free(&v);
    CHECK(v.members == NULL && v.gw == NULL);
    /* waiting (any status but 2), no members */
    start();
    put_room(1, "", 0, 0);
    CHECK_EQ(room_view_parse(&v, &F.top, 0), 9);
    CHECK_EQ(v.state.status, ROOM_STATUS__WAITING);
    CHECK_EQ(v.state.n_members, 0);
    CHECK_STR(v.state.mode, "");
    room_view_free(&v);
    /* the most members a module may allow */
    start();
    put_room(1, "big", ROOM_MAX_PLAYERS, ROOM_MAX_PLAYERS);
    CHECK_EQ(room_view_parse(&v, &F.top, 0), 9 + ROOM_MAX_PLAYERS * 6);
    CHECK_EQ(v.members[ROOM_MAX_PLAYERS - 1].user_id, 100 + ROOM_MAX_PLAYERS - 1);
    room_view_free(&v);
    printf("good: a room in game with 2 members at offset 1; waiting and empty; 64 members\n");
}

static void test_bad(void)
{
    room_view_t v;
    /* not an array */
    start();
    F.top.type = REDIS_REPLY_STRING;
    CHECK_EQ(room_view_parse(&v, &F.top, 0), -1);
    /* too short for the room itself, at 0 and at an offset */
    start();
    put_room(1, "", 0, 0);
    CHECK_EQ(room_view_parse(&v, &F.top, 1), -1);
    F.top.elements = 8;
    CHECK_EQ(room_view_parse(&v, &F.top, 0), -1);
    /* more members than a room may have (even with the elements there) */
    start();
    put_room(1, "", ROOM_MAX_PLAYERS + 1, ROOM_MAX_PLAYERS + 1);
    CHECK_EQ(room_view_parse(&v, &F.top, 0), -1);
    /* members announced but missing, or one element short */
    start();
    put_room(1, "", 3, 2);
    CHECK_EQ(room_view_parse(&v, &F.top, 0), -1);
    start();
    put_room(1, "", 1, 1);
    F.top.elements--;
    CHECK_EQ(room_view_parse(&v, &F.top, 0), -1);
    /* a huge member count as a string: refused, nothing allocated */
    start();
    put_room(1, "", 0, 0);
    F.el[8].type = REDIS_REPLY_STRING;
    snprintf(F.text[8], sizeof F.text[8], "18446744073709551615");
    F.el[8].str = F.text[8];
    CHECK_EQ(room_view_parse(&v, &F.top, 0), -1);
    /* a nil name and a non-numeric id: "" and 0, not a crash */
    start();
    put_room(1, "x", 0, 0);
    F.el[1].type = REDIS_REPLY_NIL;
    F.el[1].str = NULL;
    F.el[0].type = REDIS_REPLY_STRING;
    snprintf(F.text[0], sizeof F.text[0], "abc");
    F.el[0].str = F.text[0];
    CHECK_EQ(room_view_parse(&v, &F.top, 0), 9);
    CHECK_STR(v.state.name, "");
    CHECK_EQ(v.state.room_id, 0);
    room_view_free(&v);
    put_nil();
    CHECK_EQ(reply_el_u64(&F.top, 9), 0);
    CHECK_STR(reply_el_str(&F.top, 9), "");
    CHECK_EQ(reply_el_u64(&F.top, 1000), 0);
    CHECK_STR(reply_el_str(&F.top, 1000), "");
    printf("bad: not an array, short room, over 64 members, missing members, huge count, nil name\n");
}

int main(void)
{
    test_good();
    test_bad();
    printf("room_view: all passed\n");
    return 0;
}
