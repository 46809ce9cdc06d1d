/* module_games: the bot's players of the example modules arena_lua and tag (see
 * module_games.h; the op layouts are those at the top of modules/arena_lua.lua and
 * modules/tag.lua). */
#include "module_games.h"

#include <math.h>
#include <string.h>

#include "alloc.h"

#define MS UINT64_C(1000000)
#define POTION_HP 60                /* drink at or below this hp (a potion heals 40 of 100) */
#define REACH_OF_RANGE 0.87         /* attack a monster last seen this close (x range) */
#define APPROACH 2.0                /* walk up to this far from the monster */
#define MIN_STEP 0.05
#define TICK_MARGIN_MS 100          /* on top of the cooldown: two ticks of slack */
/* Moves cover this share of speed x interval: the module measures a move over the ticks
 * since the last one, and two moves 100 ms apart may land one tick (50 ms) apart; 0.75 of
 * two ticks' worth still fits one tick's 1.5x allowance. */
#define STEP_SHARE 0.75

struct mg_game {
    const char *mode;
    /* takes one record r of op (sizes[op - 100] bytes) */
    void (*record)(mg_t *g, uint32_t op, const uint8_t *r, uint64_t now, mg_news_t *news);
    int (*next)(mg_t *g, uint64_t now, uint64_t interval_ns, mg_action_t *out);
    const uint16_t *sizes; /* record size per op, from op 100 */
    uint32_t nsizes;
};

/* ---- little-endian fields */

static uint32_t rd_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static int32_t rd_i32(const uint8_t *p) { return (int32_t)rd_u32(p); }
static uint64_t rd_u64(const uint8_t *p) { return rd_u32(p) | (uint64_t)rd_u32(p + 4) << 32; }
static float rd_f32(const uint8_t *p)
{
    uint32_t u = rd_u32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
static void wr_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static void wr_f32(uint8_t *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    wr_u32(p, u);
}

static void act_move(mg_action_t *out, float x, float y)
{
    out->op = 1;
    wr_f32(out->data, x);
    wr_f32(out->data + 4, y);
    out->len = 8;
    out->is_move = 1;
}

static void act_u32(mg_action_t *out, uint32_t op, uint32_t v)
{
    out->op = op;
    wr_u32(out->data, v);
    out->len = 4;
    out->is_move = 0;
}

static float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

/* ---- the bot's picture of the match */

void mg_reset(mg_t *g, uint64_t self)
{
    mg_spots_t mons = g->mons, peers = g->peers; /* their arrays, kept */
    memset(g, 0, sizeof *g);
    g->mons = mons;
    g->peers = peers;
    g->mons.n = g->peers.n = 0;
    g->self = self;
    g->speed = 8.0f;
    g->it_speed = 9.0f;
    g->range = 3.0f;
    g->field_w = g->field_h = 100.0f;
    g->cooldown_ms = 500;
    g->freeze_ms = 1500;
    g->alive = 1;
    g->hp = 100;
}

void mg_spots_free(mg_spots_t *s)
{
    xfree(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

void mg_free(mg_t *g)
{
    mg_spots_free(&g->mons);
    mg_spots_free(&g->peers);
}

mg_spot_t *mg_spots_find(mg_spots_t *s, uint64_t id)
{
    for (uint32_t i = 0; i < s->n; i++)
        if (s->v[i].id == id)
            return &s->v[i];
    return NULL;
}

void mg_spots_set(mg_spots_t *s, uint64_t id, float x, float y)
{
    mg_spot_t *p = mg_spots_find(s, id);
    if (!p) {
        if (s->n == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 16;
            s->v = xrealloc(s->v, s->cap * sizeof *s->v);
        }
        p = &s->v[s->n++];
        p->id = id;
    }
    p->x = x;
    p->y = y;
}

void mg_spots_del(mg_spots_t *s, uint64_t id)
{
    mg_spot_t *p = mg_spots_find(s, id);
    if (p)
        *p = s->v[--s->n];
}

const mg_spot_t *mg_spots_nearest(const mg_spots_t *s, float x, float y, int ties_by_id,
                                  double *dist)
{
    const mg_spot_t *best = NULL;
    double bd = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        double dx = (double)s->v[i].x - x, dy = (double)s->v[i].y - y;
        double d = sqrt(dx * dx + dy * dy);
        if (!best || d < bd || (ties_by_id && d == bd && s->v[i].id < best->id)) {
            best = &s->v[i];
            bd = d;
        }
    }
    *dist = bd;
    return best;
}

static void refused(const uint8_t *r, mg_news_t *news)
{
    news->refused = 1;
    news->refused_op = rd_u32(r);
    news->refused_code = rd_i32(r + 4);
}

static void self_moved(mg_t *g, const uint8_t *r, mg_news_t *news)
{
    g->x = rd_f32(r + 8);
    g->y = rd_f32(r + 12);
    g->have_pos = 1;
    news->moved = 1;
    news->clamped |= r[16] != 0;
}

/* The rules record's field size and player speed: three f32 in a row in both games. */
static void rules_field(mg_t *g, const uint8_t *r)
{
    g->field_w = rd_f32(r);
    g->field_h = rd_f32(r + 4);
    g->speed = rd_f32(r + 8);
    g->have_rules = 1;
}

/* ---- arena_lua */

static const uint16_t ARENA_SIZES[] = {76, 20, 12, 16, 20, 20, 12, 12, 17, 24, 8, 8, 33, 8};

static void arena_rules(mg_t *g, const uint8_t *r)
{
    rules_field(g, r + 12);
    g->range = rd_f32(r + 36);
    g->cooldown_ms = rd_u32(r + 40);
}

static void arena_record(mg_t *g, uint32_t op, const uint8_t *r, uint64_t now, mg_news_t *news)
{
    (void)now;
    switch (op) {
    case 100: arena_rules(g, r); break;
    case 101: mg_spots_set(&g->mons, rd_u32(r), rd_f32(r + 8), rd_f32(r + 12)); break;
    case 102: mg_spots_set(&g->mons, rd_u32(r), rd_f32(r + 4), rd_f32(r + 8)); break;
    case 104:
        if (rd_u64(r) == g->self)
            g->hp = rd_i32(r + 16);
        break;
    case 106:
        mg_spots_del(&g->mons, rd_u32(r));
        news->killed |= rd_u64(r + 4) == g->self;
        break;
    case 107:
        if (rd_u64(r) == g->self && g->alive) {
            g->alive = 0;
            news->died = 1;
        }
        break;
    case 108:
        if (rd_u64(r) == g->self)
            self_moved(g, r, news);
        break;
    case 109:
        if (rd_u64(r) == g->self) {
            g->hp = rd_i32(r + 16);
            g->potions = rd_u32(r + 20);
        }
        break;
    case 112:
        if (rd_u64(r) == g->self) {
            g->x = rd_f32(r + 8);
            g->y = rd_f32(r + 12);
            g->have_pos = 1;
            g->hp = rd_i32(r + 16);
            if (!r[20] && g->alive) {
                g->alive = 0;
                news->died = 1;
            }
            g->potions = rd_u32(r + 21);
            g->score = rd_u32(r + 29);
        }
        break;
    case 113: refused(r, news); break;
    default: break; /* 103, 105, 110, 111: nothing the bot needs */
    }
}

static int arena_next(mg_t *g, uint64_t now, uint64_t interval_ns, mg_action_t *out)
{
    if (!g->alive || !g->have_pos)
        return 0;
    if (g->hp <= POTION_HP && g->potions > 0) {
        g->potions--; /* not again before ITEM_USED says how many are left */
        act_u32(out, 3, 1);
        return 1;
    }
    double bd;
    const mg_spot_t *best = mg_spots_nearest(&g->mons, g->x, g->y, 1, &bd);
    if (!best)
        return 0;
    if (bd <= g->range * REACH_OF_RANGE) {
        if (now < g->next_attack_ns)
            return 0;
        g->next_attack_ns = now + (uint64_t)(g->cooldown_ms + TICK_MARGIN_MS) * MS;
        act_u32(out, 2, (uint32_t)best->id); /* a monster id: 32 bits */
        return 1;
    }
    double step = STEP_SHARE * g->speed * (double)interval_ns / 1e9, want = bd - APPROACH;
    if (step > want)
        step = want;
    if (step < MIN_STEP)
        return 0;
    double k = step / bd;
    float x = (float)(g->x + (best->x - g->x) * k), y = (float)(g->y + (best->y - g->y) * k);
    act_move(out, x, y);
    g->x = x; /* the echo (PLAYER_MOVED) corrects it if the module disagrees */
    g->y = y;
    return 1;
}

/* ---- tag */

static const uint16_t TAG_SIZES[] = {44, 17, 16, 13, 8};

static void tag_record(mg_t *g, uint32_t op, const uint8_t *r, uint64_t now, mg_news_t *news)
{
    switch (op) {
    case 100:
        rules_field(g, r + 8);
        g->it_speed = rd_f32(r + 20);
        g->freeze_ms = rd_u32(r + 40);
        break;
    case 101:
        if (rd_u64(r) == g->self)
            self_moved(g, r, news);
        else
            mg_spots_set(&g->peers, rd_u64(r), rd_f32(r + 8), rd_f32(r + 12));
        break;
    case 102:
        g->it = rd_u64(r + 8);
        if (g->it == g->self) {
            g->it_since_ns = now;
            news->tagged = 1;
            news->tagged_by_player = rd_u64(r) != 0;
        }
        break;
    case 103:
        if (rd_u64(r) == g->self)
            g->score = rd_u32(r + 8);
        else if (r[12] & 2)
            mg_spots_del(&g->peers, rd_u64(r));
        break;
    case 104: refused(r, news); break;
    }
}

/* Runs from (fx, fy): straight away, or along the wall toward the centre when the wall is
 * near. */
static void flee_dir(const mg_t *g, float fx, float fy, double *dx, double *dy)
{
    double ax = g->x - fx, ay = g->y - fy, n = sqrt(ax * ax + ay * ay);
    if (n < 1e-6) {
        ax = 1;
        ay = 0;
        n = 1;
    }
    ax /= n;
    ay /= n;
    double margin = 2.0;
    if (g->x + ax * margin < 0 || g->x + ax * margin > g->field_w || g->y + ay * margin < 0 ||
        g->y + ay * margin > g->field_h) {
        /* a right angle, whichever of the two heads for the centre */
        double px = -ay, py = ax, cx = g->field_w / 2 - g->x, cy = g->field_h / 2 - g->y;
        if (px * cx + py * cy < 0) {
            px = -px;
            py = -py;
        }
        ax = px;
        ay = py;
    }
    *dx = ax;
    *dy = ay;
}

static int tag_next(mg_t *g, uint64_t now, uint64_t interval_ns, mg_action_t *out)
{
    if (!g->have_pos || !g->it)
        return 0;
    double dx, dy, step;
    if (g->it == g->self) {
        double bd;
        const mg_spot_t *best = mg_spots_nearest(&g->peers, g->x, g->y, 0, &bd);
        if (!best || bd < 0.3)
            return 0;
        step = STEP_SHARE * g->it_speed * (double)interval_ns / 1e9;
        if (step > bd)
            step = bd;
        dx = (best->x - g->x) / bd;
        dy = (best->y - g->y) / bd;
    } else {
        const mg_spot_t *it = mg_spots_find(&g->peers, g->it);
        if (!it)
            return 0;
        flee_dir(g, it->x, it->y, &dx, &dy);
        step = STEP_SHARE * g->speed * (double)interval_ns / 1e9;
    }
    (void)now;
    float x = clampf((float)(g->x + dx * step), 0.0f, g->field_w);
    float y = clampf((float)(g->y + dy * step), 0.0f, g->field_h);
    act_move(out, x, y);
    g->x = x;
    g->y = y;
    return 1;
}

/* ---- the table */

static const mg_game_t GAMES[] = {
    {"arena_lua", arena_record, arena_next, ARENA_SIZES, sizeof ARENA_SIZES / sizeof ARENA_SIZES[0]},
    {"tag", tag_record, tag_next, TAG_SIZES, sizeof TAG_SIZES / sizeof TAG_SIZES[0]},
};

const mg_game_t *mg_game_find(const char *mode)
{
    for (size_t i = 0; i < sizeof GAMES / sizeof GAMES[0]; i++)
        if (strcmp(GAMES[i].mode, mode) == 0)
            return &GAMES[i];
    return NULL;
}

int mg_on_data(const mg_game_t *game, mg_t *g, uint32_t op, const uint8_t *data, size_t len,
               uint64_t now_ns, mg_news_t *news)
{
    memset(news, 0, sizeof *news);
    if (!game)
        return 0;
    if (op < 100 || op - 100 >= game->nsizes)
        return -1;
    size_t size = game->sizes[op - 100];
    if (len == 0 || len % size != 0 || (op == 100 && len != size))
        return -1;
    for (size_t off = 0; off < len; off += size)
        game->record(g, op, data + off, now_ns, news);
    return 0;
}

int mg_next(const mg_game_t *game, mg_t *g, uint64_t now_ns, uint64_t interval_ns,
            mg_action_t *out)
{
    return game ? game->next(g, now_ns, interval_ns, out) : 0;
}

int mg_refusal_expected(int32_t code)
{
    /* -1 dead, -2 over, -5 out of range, -6 cooldown, -7 no such monster */
    return code == -1 || code == -2 || code == -5 || code == -6 || code == -7;
}
