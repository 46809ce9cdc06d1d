/* test_module_games: the bot's players of the example modules (src_bot/module_games.c): the
 * ops' layouts (a record of the wrong size, an unknown op: refused, nothing taken), what the
 * broadcasts teach the bot, and the ops it picks (moves within the speed, attacks in range
 * after the cooldown, a potion when low; in tag, chasing when "it" and fleeing otherwise). */
#include <math.h>

#include "check.h"
#include "module_games.h"

#define MS UINT64_C(1000000)
#define SELF 1001
#define PEER 1002

static size_t put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
    return 4;
}
static size_t put_u64(uint8_t *p, uint64_t v)
{
    put_u32(p, (uint32_t)v);
    put_u32(p + 4, (uint32_t)(v >> 32));
    return 8;
}
static size_t put_f32(uint8_t *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return put_u32(p, u);
}
static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static float get_f32(const uint8_t *p)
{
    uint32_t u = get_u32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static int feed(const mg_game_t *game, mg_t *g, uint32_t op, const uint8_t *d, size_t n,
                uint64_t now, mg_news_t *news)
{
    return mg_on_data(game, g, op, d, n, now, news);
}

/* An op's record of a layout the game must refuse: the op and the record's size. */
typedef struct bad_layout {
    uint32_t op;
    size_t n;
} bad_layout_t;

/* The game of mode, with g reset to a fresh match seen by SELF; each of the nbad layouts is
 * refused. */
static const mg_game_t *game_start(const char *mode, mg_t *g, const bad_layout_t *bad, size_t nbad)
{
    const mg_game_t *game = mg_game_find(mode);
    CHECK(game != NULL);
    memset(g, 0, sizeof *g);
    mg_reset(g, SELF);
    uint8_t b[256] = {0};
    mg_news_t news;
    for (size_t i = 0; i < nbad; i++) {
        CHECK(bad[i].n <= sizeof b);
        CHECK_EQ(feed(game, g, bad[i].op, b, bad[i].n, 0, &news), -1);
    }
    return game;
}

static void arena(void)
{
    /* bad layouts: refused (game_start), nothing learned */
    static const bad_layout_t bad[] = {
        {101, 0}, {101, 21}, {100, 152} /* two RULES records */, {99, 8}, {114, 8},
    };
    mg_t g;
    const mg_game_t *game = game_start("arena_lua", &g, bad, sizeof bad / sizeof *bad);
    mg_news_t news;
    uint8_t b[128];
    size_t n;
    CHECK_EQ(g.mons.n, 0);

    /* RULES: speed 10, range 3, cooldown 500 */
    memset(b, 0, 76);
    put_f32(b + 12, 100.0f);
    put_f32(b + 16, 100.0f);
    put_f32(b + 20, 10.0f);
    put_f32(b + 36, 3.0f);
    put_u32(b + 40, 500);
    CHECK_EQ(feed(game, &g, 100, b, 76, 0, &news), 0);
    CHECK(g.have_rules && g.speed == 10.0f && g.cooldown_ms == 500);
    /* not placed yet: nothing to do */
    mg_action_t a;
    CHECK_EQ(mg_next(game, &g, 0, 100 * MS, &a), 0);
    /* PLAYER_STATE of self at (50, 50), 100 hp, 3 potions; another player's is ignored */
    n = put_u64(b, SELF);
    n += put_f32(b + n, 50.0f);
    n += put_f32(b + n, 50.0f);
    n += put_u32(b + n, 100);
    b[n++] = 1;
    n += put_u32(b + n, 3);
    n += put_u32(b + n, 0);
    n += put_u32(b + n, 0);
    CHECK_EQ(n, 33);
    memcpy(b + 33, b, 33);
    put_u64(b + 33, PEER);
    put_f32(b + 33 + 8, 1.0f);
    CHECK_EQ(feed(game, &g, 112, b, 66, 0, &news), 0);
    CHECK(g.have_pos && g.x == 50.0f && g.potions == 3);
    /* two monsters spawn; the nearer (id 8, 10 units east) is chased */
    n = put_u32(b, 7);
    n += put_u32(b + n, 1);
    n += put_f32(b + n, 50.0f);
    n += put_f32(b + n, 80.0f);
    n += put_u32(b + n, 50);
    n += put_u32(b + n, 8);
    n += put_u32(b + n, 1);
    n += put_f32(b + n, 60.0f);
    n += put_f32(b + n, 50.0f);
    n += put_u32(b + n, 50);
    CHECK_EQ(feed(game, &g, 101, b, n, 0, &news), 0);
    CHECK_EQ(g.mons.n, 2);
    CHECK_EQ(mg_next(game, &g, 0, 100 * MS, &a), 1);
    CHECK(a.op == 1 && a.len == 8 && a.is_move);
    float x = get_f32(a.data), y = get_f32(a.data + 4);
    CHECK(x > 50.0f && fabsf(x - 50.0f) <= 10.0f * 0.1f + 1e-4f && y == 50.0f);
    /* its echo: moved */
    n = put_u64(b, SELF);
    n += put_f32(b + n, 58.0f);
    n += put_f32(b + n, 50.0f);
    b[n++] = 0;
    CHECK_EQ(feed(game, &g, 108, b, n, 0, &news), 0);
    CHECK(news.moved && !news.clamped && g.x == 58.0f);
    /* in range: attack monster 8, then not again within the cooldown */
    CHECK_EQ(mg_next(game, &g, 1000 * MS, 100 * MS, &a), 1);
    CHECK(a.op == 2 && a.len == 4 && get_u32(a.data) == 8);
    CHECK_EQ(mg_next(game, &g, 1100 * MS, 100 * MS, &a), 0);
    CHECK_EQ(mg_next(game, &g, 1700 * MS, 100 * MS, &a), 1);
    CHECK_EQ(a.op, 2);
    /* it dies, killed by self: gone from the list */
    n = put_u32(b, 8);
    n += put_u64(b + n, SELF);
    CHECK_EQ(feed(game, &g, 106, b, n, 0, &news), 0);
    CHECK(news.killed && g.mons.n == 1);
    /* hurt to 50: a potion first (once, until ITEM_USED says how many are left) */
    n = put_u64(b, SELF);
    n += put_u32(b + n, 7);
    n += put_u32(b + n, 50);
    n += put_u32(b + n, 50);
    CHECK_EQ(feed(game, &g, 104, b, n, 0, &news), 0);
    CHECK_EQ(g.hp, 50);
    CHECK_EQ(mg_next(game, &g, 2000 * MS, 100 * MS, &a), 1);
    CHECK(a.op == 3 && get_u32(a.data) == 1);
    /* a refusal names the op and the code */
    put_u32(b, 2);
    put_u32(b + 4, (uint32_t)-6);
    CHECK_EQ(feed(game, &g, 113, b, 8, 0, &news), 0);
    CHECK(news.refused && news.refused_op == 2 && news.refused_code == -6);
    CHECK(mg_refusal_expected(-6) && !mg_refusal_expected(-4) && !mg_refusal_expected(-9));
    /* dead: nothing more to send */
    n = put_u64(b, SELF);
    n += put_u32(b + n, 7);
    CHECK_EQ(feed(game, &g, 107, b, n, 0, &news), 0);
    CHECK(news.died && !g.alive);
    CHECK_EQ(mg_next(game, &g, 3000 * MS, 100 * MS, &a), 0);
    /* a new match forgets the last */
    mg_reset(&g, SELF);
    CHECK(g.mons.n == 0 && g.alive && !g.have_pos);
    mg_free(&g);
}

static size_t position(uint8_t *b, uint64_t uid, float x, float y)
{
    size_t n = put_u64(b, uid);
    n += put_f32(b + n, x);
    n += put_f32(b + n, y);
    b[n++] = 0;
    return n;
}

static void tag(void)
{
    static const bad_layout_t bad[] = {{101, 16}, {105, 8}};
    mg_t g;
    const mg_game_t *game = game_start("tag", &g, bad, sizeof bad / sizeof *bad);
    mg_news_t news;
    uint8_t b[64];
    mg_action_t a;
    size_t n = position(b, SELF, 20.0f, 20.0f);
    n += position(b + n, PEER, 24.0f, 20.0f);
    CHECK_EQ(feed(game, &g, 101, b, n, 0, &news), 0);
    CHECK(news.moved && g.peers.n == 1);
    /* nobody is "it" yet: wait */
    CHECK_EQ(mg_next(game, &g, 0, 100 * MS, &a), 0);
    /* the draw makes self "it": chase the peer (east) */
    put_u64(b, 0);
    put_u64(b + 8, SELF);
    CHECK_EQ(feed(game, &g, 102, b, 16, 5 * MS, &news), 0);
    CHECK(news.tagged && !news.tagged_by_player && g.it == SELF);
    CHECK_EQ(mg_next(game, &g, 0, 100 * MS, &a), 1);
    CHECK(a.op == 1 && get_f32(a.data) > 20.0f);
    /* the peer is tagged by self: now flee from it (west, away from x = 24) */
    put_u64(b, SELF);
    put_u64(b + 8, PEER);
    CHECK_EQ(feed(game, &g, 102, b, 16, 0, &news), 0);
    CHECK(!news.tagged && g.it == PEER);
    g.x = 20.0f;
    CHECK_EQ(mg_next(game, &g, 0, 100 * MS, &a), 1);
    CHECK(get_f32(a.data) < 20.0f);
    /* tagged back by the peer: counted as a tag by a player */
    put_u64(b, PEER);
    put_u64(b + 8, SELF);
    CHECK_EQ(feed(game, &g, 102, b, 16, 0, &news), 0);
    CHECK(news.tagged && news.tagged_by_player);
    /* SCORES: own score taken; a peer flagged as gone leaves the picture */
    n = put_u64(b, SELF);
    n += put_u32(b + n, 42);
    b[n++] = 1;
    n += put_u64(b + n, PEER);
    n += put_u32(b + n, 7);
    b[n++] = 2;
    CHECK_EQ(feed(game, &g, 103, b, n, 0, &news), 0);
    CHECK(g.score == 42 && g.peers.n == 0);
    mg_free(&g);
}

static void passive(void)
{
    CHECK(mg_game_find("my_studio_game") == NULL);
    mg_t g;
    memset(&g, 0, sizeof g);
    mg_reset(&g, SELF);
    mg_news_t news;
    mg_action_t a;
    uint8_t b[4] = {0};
    CHECK_EQ(mg_on_data(NULL, &g, 5, b, sizeof b, 0, &news), 0);
    CHECK_EQ(mg_next(NULL, &g, 0, 100 * MS, &a), 0);
    mg_free(&g);
}

int main(void)
{
    arena();
    tag();
    passive();
    printf("module_games: ok\n");
    return 0;
}
