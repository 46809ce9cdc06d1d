/* test_sim: the pure match simulation (src_game/sim.c): replayed inputs, exact outcomes. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "check.h"
#include "sim.h"

#define CHECK_NEAR(a, b, eps)                                                              \
    do {                                                                                   \
        double near_a_ = (a), near_b_ = (b);                                               \
        if (!(fabs(near_a_ - near_b_) <= (eps))) {                                         \
            fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s ~ %s (%.9g vs %.9g)\n", __FILE__, \
                    __LINE__, #a, #b, near_a_, near_b_);                                   \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

/* ---- helpers */

/* An event log the tests fill tick by tick, as the daemon would consume the buffer. */
typedef struct evlog {
    sim_event_t *ev;
    size_t n, cap;
} evlog_t;

static void log_take(evlog_t *l, sim_t *s)
{
    const sim_event_t *ev;
    size_t n = sim_events(s, &ev);
    if (l) {
        if (l->n + n > l->cap) {
            size_t cap = l->cap ? l->cap : 1024;
            while (cap < l->n + n)
                cap *= 2;
            l->ev = xrealloc(l->ev, cap * sizeof *l->ev);
            l->cap = cap;
        }
        if (n)
            memcpy(l->ev + l->n, ev, n * sizeof *ev);
        l->n += n;
    }
    sim_events_clear(s);
}

static size_t log_count(const evlog_t *l, uint32_t kind)
{
    size_t c = 0;
    for (size_t i = 0; i < l->n; i++)
        c += l->ev[i].kind == kind;
    return c;
}

static void log_free(evlog_t *l)
{
    xfree(l->ev);
    *l = (evlog_t){0};
}

/* How many events of a kind are in the buffer now. */
static size_t pending_count(const sim_t *s, uint32_t kind)
{
    const sim_event_t *ev;
    size_t n = sim_events(s, &ev), c = 0;
    for (size_t i = 0; i < n; i++)
        c += ev[i].kind == kind;
    return c;
}

static float distf(float ax, float ay, float bx, float by)
{
    return sqrtf((bx - ax) * (bx - ax) + (by - ay) * (by - ay));
}

/* The fields of sim_config_t the tests change, by name. */
typedef enum { FIELD_U32, FIELD_I32, FIELD_F32, FIELD_U64 } field_type_t;

typedef struct config_field {
    const char *name;
    size_t at;
    field_type_t type;
} config_field_t;

#define FIELD(name, type) {#name, offsetof(sim_config_t, name), FIELD_##type}

static const config_field_t FIELDS[] = {
    FIELD(time_limit_ms, U32),  FIELD(waves, U32),         FIELD(wave_base_monsters, U32),
    FIELD(wave_growth, U32),    FIELD(wave_gap_ms, U32),   FIELD(spawn_per_tick, U32),
    FIELD(max_monsters, U32),   FIELD(arena_w, F32),       FIELD(arena_h, F32),
    FIELD(player_speed, F32),   FIELD(attack_range, F32),  FIELD(attack_cooldown_ms, U32),
    FIELD(player_hp, I32),      FIELD(potions, U32),       FIELD(potion_heal, I32),
    FIELD(monster_speed, F32),  FIELD(monster_damage, I32), FIELD(monster_cooldown_ms, U32),
    FIELD(seed, U64),
};

/* Sets the fields named in changes ("max_monsters=5 monster_speed=20"); an unknown name or a
 * value the field cannot hold exactly fails the test. */
static void config_change(sim_config_t *c, const char *changes)
{
    char name[64];
    double v;
    int used;
    const char *p = changes;
    while (sscanf(p, " %63[a-z_]=%lf%n", name, &v, &used) == 2) {
        p += used;
        const config_field_t *f = NULL;
        for (size_t i = 0; i < sizeof FIELDS / sizeof *FIELDS && !f; i++)
            if (strcmp(FIELDS[i].name, name) == 0)
                f = &FIELDS[i];
        if (!f) {
            fprintf(stderr, "config_change: no field %s\n", name);
            exit(1);
        }
        char *at = (char *)c + f->at;
        switch (f->type) {
        case FIELD_U32:
            CHECK(v >= 0 && v <= UINT32_MAX && v == (double)(uint32_t)v);
            *(uint32_t *)at = (uint32_t)v;
            break;
        case FIELD_I32:
            CHECK(v >= INT32_MIN && v <= INT32_MAX && v == (double)(int32_t)v);
            *(int32_t *)at = (int32_t)v;
            break;
        case FIELD_F32:
            CHECK(v == (double)(float)v);
            *(float *)at = (float)v;
            break;
        case FIELD_U64:
            CHECK(v >= 0 && v < 0x1p53 && v == (double)(uint64_t)v);
            *(uint64_t *)at = (uint64_t)v;
            break;
        }
    }
    while (*p == ' ')
        p++;
    CHECK(*p == '\0');
}

/* A small, quick match: one wave of one monster that stands still and does no harm. */
static void quiet_config(sim_config_t *c)
{
    sim_config_default(c);
    config_change(c, "seed=7 waves=1 wave_base_monsters=1 wave_growth=0 wave_gap_ms=0 monster_speed=0 "
                     "monster_damage=0");
}

/* Ticks until the first monster has entered; returns it. */
static const sim_monster_t *first_monster(sim_t *s)
{
    for (int i = 0; i < 100 && sim_monster_count(s) == 0; i++)
        sim_tick(s);
    CHECK(sim_monster_count(s) > 0);
    return sim_monster(s, 0);
}

/* Walks a player toward (x, y) at its legal speed, one move per tick, until within `near`. */
static void walk_to(sim_t *s, uint32_t pi, float x, float y, float near, evlog_t *l)
{
    const sim_config_t *c = sim_config(s);
    float step = c->player_speed * ((float)c->tick_ms / 1000.0f);
    for (int i = 0; i < 10000; i++) {
        const sim_player_t *p = sim_player(s, pi);
        float d = distf(p->x, p->y, x, y);
        if (d <= near)
            return;
        float mv = d - near * 0.5f < step ? d - near * 0.5f : step;
        CHECK_EQ(sim_move(s, pi, p->x + (x - p->x) / d * mv, p->y + (y - p->y) / d * mv),
                 SIM_OK);
        sim_tick(s);
        log_take(l, s);
    }
    fprintf(stderr, "walk_to: never arrived\n");
    exit(1);
}

/* The scripted player: potion when low, else close in on the nearest monster and hit it. */
static void bot_act(sim_t *s, uint32_t pi)
{
    const sim_config_t *c = sim_config(s);
    const sim_player_t *p = sim_player(s, pi);
    if (!p->alive)
        return;
    if (p->hp < p->max_hp / 2 && p->potions > 0) {
        CHECK_EQ(sim_use_item(s, pi, SIM_ITEM_POTION), SIM_OK);
        return;
    }
    const sim_monster_t *best = NULL;
    float best_d = 0.0f;
    for (uint32_t i = 0; i < sim_monster_count(s); i++) {
        const sim_monster_t *m = sim_monster(s, i);
        float d = distf(p->x, p->y, m->x, m->y);
        if (!best || d < best_d) {
            best = m;
            best_d = d;
        }
    }
    if (!best)
        return;
    float step = c->player_speed * ((float)c->tick_ms / 1000.0f);
    if (best_d > c->attack_range * 0.8f) {
        float mv = best_d - c->attack_range * 0.5f < step ? best_d - c->attack_range * 0.5f
                                                           : step;
        CHECK_EQ(sim_move(s, pi, p->x + (best->x - p->x) / best_d * mv,
                          p->y + (best->y - p->y) / best_d * mv),
                 SIM_OK);
    }
    int rc = sim_attack(s, pi, best->id);
    CHECK(rc == SIM_OK || rc == SIM_COOLDOWN || rc == SIM_OUT_OF_RANGE);
}

static void bot_config(sim_config_t *c)
{
    sim_config_default(c);
    config_change(c, "waves=3 wave_base_monsters=2 wave_growth=1 wave_gap_ms=200 monster_damage=5");
}

/* Plays a bot match to its end (or max_ticks); every event goes to l. */
static void play_bots(sim_t *s, evlog_t *l, int max_ticks)
{
    for (int t = 0; t < max_ticks && sim_outcome(s) == SIM_RUNNING; t++) {
        for (uint32_t i = 0; i < sim_player_count(s); i++)
            bot_act(s, i);
        sim_tick(s);
        log_take(l, s);
    }
}

/* A test on one new match of `players`: the config is base's with the changes. */
typedef struct sim_case {
    const char *name;
    void (*run)(sim_t *s, const sim_config_t *c);
    uint32_t players;
    void (*base)(sim_config_t *c);
    const char *changes;
} sim_case_t;

static void run_case(const sim_case_t *k)
{
    sim_config_t c;
    k->base(&c);
    config_change(&c, k->changes);
    sim_t *s = sim_new(&c, k->players);
    CHECK(s != NULL);
    k->run(s, &c);
    sim_free(s);
}

/* ---- tests */

static void test_config(void)
{
    sim_config_t c;
    sim_config_default(&c);
    CHECK_EQ(sim_config_check(&c), 0);
    CHECK_EQ(c.tick_ms, 50);
    CHECK(sim_new(&c, 0) == NULL);
    CHECK(sim_new(&c, SIM_MAX_PLAYERS + 1) == NULL);

    sim_config_t bad = c;
    bad.tick_ms = 0;
    CHECK(sim_new(&bad, 1) == NULL);
    bad = c;
    bad.arena_w = NAN;
    CHECK(sim_new(&bad, 1) == NULL);
    bad = c;
    bad.speed_tolerance = 0.5f;
    CHECK(sim_new(&bad, 1) == NULL);
    bad = c;
    bad.max_monsters = 0;
    CHECK(sim_new(&bad, 1) == NULL);
    bad = c;
    bad.attack_damage = 0;
    CHECK(sim_new(&bad, 1) == NULL);

    /* Four players at distinct spots inside the arena, full hp and potions. */
    sim_t *s = sim_new(&c, 4);
    CHECK(s);
    CHECK_EQ(sim_player_count(s), 4);
    CHECK(sim_player(s, 4) == NULL);
    for (uint32_t i = 0; i < 4; i++) {
        const sim_player_t *p = sim_player(s, i);
        CHECK(p->alive);
        CHECK_EQ(p->hp, c.player_hp);
        CHECK_EQ(p->potions, c.potions);
        CHECK(p->x >= 0 && p->x <= c.arena_w && p->y >= 0 && p->y <= c.arena_h);
        for (uint32_t j = 0; j < i; j++)
            CHECK(distf(p->x, p->y, sim_player(s, j)->x, sim_player(s, j)->y) > 1.0f);
    }
    CHECK_EQ(sim_outcome(s), SIM_RUNNING);
    CHECK_EQ(sim_now_ms(s), 0);
    CHECK_EQ(sim_wave(s), 0);
    CHECK_EQ(sim_move(s, 4, 1, 1), SIM_BAD_PLAYER);
    CHECK_EQ(sim_attack(s, 99, 1), SIM_BAD_PLAYER);
    CHECK_EQ(sim_use_item(s, 4, SIM_ITEM_POTION), SIM_BAD_PLAYER);
    CHECK_STR(sim_strerror(SIM_COOLDOWN), "cooldown");
    CHECK_STR(sim_outcome_name(SIM_WIN), "win");
    CHECK_STR(sim_event_name(SIM_EV_GAME_OVER), "GAME_OVER");
    CHECK_STR(sim_event_name(999), "unknown");
    sim_free(s);
    sim_free(NULL);
}

static void test_determinism(void)
{
    sim_config_t c;
    bot_config(&c);
    c.seed = 42;
    evlog_t a = {0}, b = {0}, d = {0};
    sim_t *s1 = sim_new(&c, 2), *s2 = sim_new(&c, 2);
    play_bots(s1, &a, 5000);
    play_bots(s2, &b, 5000);
    CHECK(a.n > 100);
    CHECK_EQ(a.n, b.n);
    CHECK_MEM(a.ev, b.ev, a.n * sizeof *a.ev);
    CHECK_EQ(sim_outcome(s1), sim_outcome(s2));
    CHECK_EQ(sim_now_ms(s1), sim_now_ms(s2));
    for (uint32_t i = 0; i < 2; i++)
        CHECK_MEM(sim_player(s1, i), sim_player(s2, i), sizeof(sim_player_t));

    /* Another seed: other spawn points. */
    c.seed = 43;
    sim_t *s3 = sim_new(&c, 2);
    play_bots(s3, &d, 5000);
    size_t ia = 0, id = 0, differ = 0, compared = 0;
    while (compared < 10) {
        while (ia < a.n && a.ev[ia].kind != SIM_EV_MONSTER_SPAWN)
            ia++;
        while (id < d.n && d.ev[id].kind != SIM_EV_MONSTER_SPAWN)
            id++;
        if (ia == a.n || id == d.n)
            break;
        differ += a.ev[ia].x != d.ev[id].x || a.ev[ia].y != d.ev[id].y;
        compared++;
        ia++;
        id++;
    }
    CHECK(compared >= 4);
    CHECK(differ >= compared - 1);
    log_free(&a);
    log_free(&b);
    log_free(&d);
    sim_free(s1);
    sim_free(s2);
    sim_free(s3);
}

static void test_speed_clamp(sim_t *s, const sim_config_t *c)
{
    float x0 = sim_player(s, 0)->x, y0 = sim_player(s, 0)->y;

    /* Before any tick: only the slack. */
    CHECK_EQ(sim_move(s, 0, x0 + 30, y0), SIM_CLAMPED);
    CHECK_NEAR(sim_player(s, 0)->x, x0 + c->move_slack, 1e-4);
    CHECK_EQ(sim_player(s, 0)->speed_violations, 1);
    CHECK_EQ(sim_move(s, 0, x0, y0), SIM_OK); /* back to the reference: fine */
    sim_tick(s);
    sim_events_clear(s);

    /* One tick later: speed * 0.05 s * 1.5 + slack = 0.8 units, along the direction asked. */
    float allowed = c->player_speed * (50.0f / 1000.0f) * c->speed_tolerance + c->move_slack;
    CHECK_NEAR(allowed, 0.8, 1e-6);
    CHECK_EQ(sim_move(s, 0, x0 + 30, y0 + 40), SIM_CLAMPED);
    const sim_player_t *p = sim_player(s, 0);
    CHECK_NEAR(distf(x0, y0, p->x, p->y), allowed, 1e-4);
    CHECK_NEAR(p->x - x0, allowed * 0.6f, 1e-4);
    CHECK_NEAR(p->y - y0, allowed * 0.8f, 1e-4);
    CHECK_EQ(p->speed_violations, 2);
    CHECK_EQ(p->bounds_violations, 0);
    CHECK_EQ(pending_count(s, SIM_EV_PLAYER_MOVED), 1);
    const sim_event_t *ev;
    CHECK_EQ(sim_events(s, &ev), 1);
    CHECK_EQ(ev[0].amount, 1);
    CHECK(ev[0].x == p->x && ev[0].y == p->y);

    /* More moves in the same tick measure from the same reference: no gain from spamming. */
    CHECK_EQ(sim_move(s, 0, x0 + 0.7f, y0), SIM_OK);
    CHECK_EQ(sim_move(s, 0, x0 + 5.0f, y0), SIM_CLAMPED);
    CHECK_NEAR(sim_player(s, 0)->x, x0 + allowed, 1e-4);
    CHECK_EQ(sim_player(s, 0)->speed_violations, 3);

    /* A late packet bunched with the next one: two ticks with no move, then two one-tick
     * moves in the same tick both fit. */
    sim_tick(s);
    float xr = sim_player(s, 0)->x;
    sim_tick(s);
    float step = c->player_speed * 0.05f;
    CHECK_EQ(sim_move(s, 0, xr + step, y0), SIM_OK);
    CHECK_EQ(sim_move(s, 0, xr + 2 * step, y0), SIM_OK);
    CHECK_EQ(sim_player(s, 0)->speed_violations, 3);

    /* Standing still banks at most move_window_ms. */
    for (int i = 0; i < 100; i++)
        sim_tick(s);
    float x1 = sim_player(s, 0)->x, y1 = sim_player(s, 0)->y;
    float window = c->player_speed * ((float)c->move_window_ms / 1000.0f) * c->speed_tolerance +
                   c->move_slack;
    CHECK_EQ(sim_move(s, 0, x1, y1 - 40), SIM_CLAMPED);
    CHECK_NEAR(sim_player(s, 0)->y, y1 - window, 1e-4);
    CHECK_NEAR(sim_player(s, 0)->x, x1, 1e-6);
    CHECK_EQ(sim_player(s, 0)->speed_violations, 4);
    CHECK_EQ(sim_player(s, 0)->refused_actions, 0);
}

static void test_bounds_clamp(sim_t *s, const sim_config_t *c)
{
    CHECK_NEAR(sim_player(s, 0)->x, 2.0, 1e-6);
    for (int i = 0; i < 20; i++)
        sim_tick(s);
    CHECK_EQ(sim_move(s, 0, -1.0f, 3.0f), SIM_CLAMPED);
    CHECK(sim_player(s, 0)->x == 0.0f && sim_player(s, 0)->y == 3.0f);
    CHECK_EQ(sim_player(s, 0)->bounds_violations, 1);
    CHECK_EQ(sim_player(s, 0)->speed_violations, 0);
    sim_tick(s);
    for (int i = 0; i < 20; i++)
        sim_tick(s);
    CHECK_EQ(sim_move(s, 0, 1e9f, 5.0f), SIM_CLAMPED);
    /* (4, 4) is 4.12 away from (0, 3): within the 7.55 a 500 ms window allows. */
    CHECK(sim_player(s, 0)->x == 4.0f && sim_player(s, 0)->y == 4.0f);
    CHECK_EQ(sim_player(s, 0)->bounds_violations, 2);
    CHECK_EQ(sim_player(s, 0)->speed_violations, 0);
    CHECK_EQ(sim_move(s, 0, 4.0f, 4.0f), SIM_OK);
}

static void test_bad_values(sim_t *s, const sim_config_t *c)
{
    sim_tick(s);
    float x0 = sim_player(s, 0)->x, y0 = sim_player(s, 0)->y;
    CHECK_EQ(sim_move(s, 0, NAN, y0), SIM_BAD_VALUE);
    CHECK_EQ(sim_move(s, 0, x0, NAN), SIM_BAD_VALUE);
    CHECK_EQ(sim_move(s, 0, INFINITY, y0), SIM_BAD_VALUE);
    CHECK_EQ(sim_move(s, 0, x0, -INFINITY), SIM_BAD_VALUE);
    CHECK(sim_player(s, 0)->x == x0 && sim_player(s, 0)->y == y0);
    CHECK_EQ(sim_player(s, 0)->refused_actions, 4);
    CHECK_EQ(sim_player(s, 0)->speed_violations + sim_player(s, 0)->bounds_violations, 0);
    CHECK_EQ(pending_count(s, SIM_EV_PLAYER_MOVED), 0);
    CHECK_EQ(sim_attack(s, 0, 0), SIM_NO_TARGET);
    CHECK_EQ(sim_attack(s, 0, 12345), SIM_NO_TARGET);
    CHECK_EQ(sim_use_item(s, 0, 0), SIM_NO_ITEM);
    CHECK_EQ(sim_use_item(s, 0, 77), SIM_NO_ITEM);
    CHECK_EQ(sim_player(s, 0)->potions, c->potions);
    CHECK_EQ(sim_player(s, 0)->refused_actions, 8);
}

static void test_attack(sim_t *s, const sim_config_t *c)
{
    const sim_monster_t *m = first_monster(s);
    uint32_t id = m->id;
    float mx = m->x, my = m->y;
    CHECK_EQ(id, 1);
    CHECK_EQ(m->hp, c->monster_hp);
    CHECK(mx == 0.0f || mx == c->arena_w || my == 0.0f || my == c->arena_h); /* on an edge */
    sim_events_clear(s);

    /* From the centre: out of range, refused, nothing changes, no cooldown started. */
    CHECK_EQ(sim_attack(s, 0, id), SIM_OUT_OF_RANGE);
    CHECK_EQ(sim_monster_find(s, id)->hp, c->monster_hp);
    CHECK_EQ(sim_player(s, 0)->refused_actions, 1);

    walk_to(s, 0, mx, my, c->attack_range * 0.9f, NULL);
    CHECK_EQ(sim_attack(s, 0, id), SIM_OK);
    CHECK_EQ(sim_monster_find(s, id)->hp, c->monster_hp - c->attack_damage);
    CHECK_EQ(sim_player(s, 0)->damage_dealt, c->attack_damage);
    const sim_event_t *ev;
    CHECK_EQ(sim_events(s, &ev), 1);
    CHECK_EQ(ev[0].kind, SIM_EV_MONSTER_DAMAGED);
    CHECK_EQ(ev[0].id, id);
    CHECK_EQ(ev[0].other, 0);
    CHECK_EQ(ev[0].amount, c->attack_damage);
    CHECK_EQ(ev[0].hp, c->monster_hp - c->attack_damage);
    sim_events_clear(s);

    /* Cooldown: 500 ms = 10 ticks. Refused at 0..9 ticks later, fine at 10. */
    CHECK_EQ(sim_attack(s, 0, id), SIM_COOLDOWN);
    for (int t = 1; t < 10; t++) {
        sim_tick(s);
        CHECK_EQ(sim_attack(s, 0, id), SIM_COOLDOWN);
    }
    CHECK_EQ(sim_monster_find(s, id)->hp, c->monster_hp - c->attack_damage);
    CHECK_EQ(sim_player(s, 0)->refused_actions, 11);
    sim_tick(s);
    sim_events_clear(s);
    CHECK_EQ(sim_attack(s, 0, id), SIM_OK);

    /* Second hit kills: died event with the killer, credited, gone from the list. */
    CHECK(sim_monster_find(s, id) == NULL);
    CHECK_EQ(sim_monster_count(s), 0);
    CHECK_EQ(sim_events(s, &ev), 2);
    CHECK_EQ(ev[0].kind, SIM_EV_MONSTER_DAMAGED);
    CHECK_EQ(ev[0].hp, 0);
    CHECK_EQ(ev[1].kind, SIM_EV_MONSTER_DIED);
    CHECK_EQ(ev[1].id, id);
    CHECK_EQ(ev[1].other, 0);
    const sim_player_t *p = sim_player(s, 0);
    CHECK_EQ(p->kills, 1);
    CHECK_EQ(p->score, c->score_kill);
    CHECK_EQ(p->damage_dealt, c->monster_hp);
    /* The wave is cleared at the next tick (bonus), wave 2 brings monster 2: ids are never
     * reused, and past the cooldown the old id is simply gone. */
    for (int t = 0; t < 10; t++)
        sim_tick(s);
    CHECK_EQ(sim_outcome(s), SIM_RUNNING);
    CHECK_EQ(sim_waves_cleared(s), 1);
    CHECK_EQ(sim_wave(s), 2);
    CHECK_EQ(p->score, c->score_kill + c->score_wave);
    CHECK_EQ(sim_monster_count(s), 1);
    CHECK_EQ(sim_monster(s, 0)->id, 2);
    CHECK_EQ(sim_attack(s, 0, id), SIM_NO_TARGET);
}

static void test_potion(sim_t *s, const sim_config_t *c)
{
    for (int i = 0; i < 5; i++)
        sim_tick(s);
    CHECK_EQ(sim_player(s, 0)->hp, 70);
    CHECK_EQ(sim_player(s, 0)->damage_taken, 30);
    sim_events_clear(s);

    CHECK_EQ(sim_use_item(s, 0, SIM_ITEM_POTION), SIM_OK);
    CHECK_EQ(sim_player(s, 0)->hp, 100); /* 70 + 40, capped at 100 */
    CHECK_EQ(sim_player(s, 0)->potions, 1);
    const sim_event_t *ev;
    CHECK_EQ(sim_events(s, &ev), 1);
    CHECK_EQ(ev[0].kind, SIM_EV_ITEM_USED);
    CHECK_EQ(ev[0].other, SIM_ITEM_POTION);
    CHECK_EQ(ev[0].amount, 30);
    CHECK_EQ(ev[0].hp, 100);

    CHECK_EQ(sim_use_item(s, 0, SIM_ITEM_POTION), SIM_OK); /* at full hp: spent, heals 0 */
    CHECK_EQ(sim_player(s, 0)->hp, 100);
    CHECK_EQ(sim_player(s, 0)->potions, 0);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(sim_use_item(s, 0, SIM_ITEM_POTION), SIM_NO_ITEM);
        CHECK_EQ(sim_player(s, 0)->potions, 0);
    }
    CHECK_EQ(sim_player(s, 0)->refused_actions, 3);
    CHECK_EQ(pending_count(s, SIM_EV_ITEM_USED), 2);
}

/* Monsters chase the nearest living player, attack in range on cooldown, kill, retarget;
 * the dead can't act. */
static void test_chase_attack_death(sim_t *s, const sim_config_t *c)
{
    const sim_monster_t *m = first_monster(s);
    uint32_t id = m->id;
    sim_events_clear(s);

    /* Which player is nearer? */
    const sim_player_t *p0 = sim_player(s, 0), *p1 = sim_player(s, 1);
    uint32_t near = distf(m->x, m->y, p0->x, p0->y) <= distf(m->x, m->y, p1->x, p1->y) ? 0 : 1;
    uint32_t far = 1 - near;
    const sim_player_t *pn = sim_player(s, near);
    float step = c->monster_speed * 0.05f;

    /* It closes in by exactly speed * dt per tick, one MONSTER_MOVE per tick. */
    float d = distf(m->x, m->y, pn->x, pn->y);
    int ticks = 0;
    while (d > c->monster_range + step) {
        sim_tick(s);
        ticks++;
        m = sim_monster_find(s, id);
        CHECK_EQ(m->target, near);
        float nd = distf(m->x, m->y, pn->x, pn->y);
        CHECK_NEAR(d - nd, step, 1e-3);
        d = nd;
        const sim_event_t *ev;
        CHECK_EQ(sim_events(s, &ev), 1);
        CHECK_EQ(ev[0].kind, SIM_EV_MONSTER_MOVE);
        CHECK_EQ(ev[0].id, id);
        CHECK_EQ(ev[0].other, near);
        CHECK(ev[0].x == m->x && ev[0].y == m->y);
        sim_events_clear(s);
        CHECK(ticks < 1000);
    }
    CHECK(ticks > 5);

    /* Arrives and attacks; then stands (no MONSTER_MOVE), attacking every 20 ticks. */
    evlog_t l = {0};
    uint64_t first_attack = 0;
    while (!first_attack) {
        sim_tick(s);
        if (pending_count(s, SIM_EV_MONSTER_ATTACK))
            first_attack = sim_ticks(s);
        log_take(&l, s);
        CHECK(sim_ticks(s) < 2000);
    }
    CHECK_EQ(sim_player(s, near)->hp, 60);
    log_free(&l);
    for (int t = 1; t < 20; t++) {
        sim_tick(s);
        CHECK_EQ(pending_count(s, SIM_EV_MONSTER_MOVE), 0);
        CHECK_EQ(pending_count(s, SIM_EV_MONSTER_ATTACK), 0);
        sim_events_clear(s);
    }
    CHECK_EQ(sim_player(s, near)->hp, 60);
    sim_tick(s); /* 20 ticks after the first attack */
    CHECK_EQ(pending_count(s, SIM_EV_MONSTER_ATTACK), 1);
    CHECK_EQ(pending_count(s, SIM_EV_PLAYER_DAMAGED), 1);
    CHECK_EQ(sim_player(s, near)->hp, 20);
    sim_events_clear(s);
    for (int t = 0; t < 20; t++)
        sim_tick(s);
    /* Third hit: 40 damage on 20 hp kills, counting only the 20 hp lost. */
    const sim_player_t *dead = sim_player(s, near);
    CHECK(!dead->alive);
    CHECK_EQ(dead->hp, 0);
    CHECK_EQ(dead->deaths, 1);
    CHECK_EQ(dead->damage_taken, 100);
    CHECK_EQ(pending_count(s, SIM_EV_PLAYER_DIED), 1);
    const sim_event_t *ev;
    size_t n = sim_events(s, &ev);
    CHECK_EQ(ev[n - 1].kind, SIM_EV_PLAYER_DIED);
    CHECK_EQ(ev[n - 1].id, near);
    CHECK_EQ(ev[n - 1].other, id);
    CHECK_EQ(sim_outcome(s), SIM_RUNNING); /* the other one lives */
    sim_events_clear(s);

    /* The dead can't act; nothing about them changes. */
    float dx = dead->x, dy = dead->y;
    uint32_t refused = dead->refused_actions;
    CHECK_EQ(sim_move(s, near, dx + 0.1f, dy), SIM_DEAD);
    CHECK_EQ(sim_attack(s, near, id), SIM_DEAD);
    CHECK_EQ(sim_use_item(s, near, SIM_ITEM_POTION), SIM_DEAD);
    CHECK(dead->x == dx && dead->y == dy);
    CHECK_EQ(dead->potions, c->potions);
    CHECK_EQ(dead->refused_actions, refused + 3);
    CHECK_EQ(sim_events(s, &ev), 0);

    /* The monster turns to the living player. */
    sim_tick(s);
    CHECK_EQ(sim_monster_find(s, id)->target, far);
}

static void check_over_once(sim_t *s, const evlog_t *l, sim_outcome_t want)
{
    CHECK_EQ(sim_outcome(s), want);
    CHECK_EQ(log_count(l, SIM_EV_GAME_OVER), 1);
    CHECK_EQ(l->ev[l->n - 1].kind, SIM_EV_GAME_OVER); /* and it is the last word */
    CHECK_EQ(l->ev[l->n - 1].amount, want);
    CHECK_EQ(l->ev[l->n - 1].id, sim_waves_cleared(s));
    uint64_t ticks = sim_ticks(s);
    for (int i = 0; i < 50; i++)
        sim_tick(s);
    CHECK_EQ(sim_ticks(s), ticks);
    const sim_event_t *ev;
    CHECK_EQ(sim_events(s, &ev), 0);
    for (uint32_t i = 0; i < sim_player_count(s); i++) {
        uint32_t refused = sim_player(s, i)->refused_actions;
        CHECK_EQ(sim_move(s, i, 1, 1), SIM_OVER);
        CHECK_EQ(sim_attack(s, i, 1), SIM_OVER);
        CHECK_EQ(sim_use_item(s, i, SIM_ITEM_POTION), SIM_OVER);
        CHECK_EQ(sim_player(s, i)->refused_actions, refused);
    }
    CHECK_EQ(sim_events(s, &ev), 0);
}

static void test_loss(sim_t *s, const sim_config_t *c)
{
    evlog_t l = {0};
    for (int t = 0; t < 4000 && sim_outcome(s) == SIM_RUNNING; t++) {
        sim_tick(s);
        log_take(&l, s);
    }
    check_over_once(s, &l, SIM_LOSS);
    CHECK(sim_now_ms(s) < c->time_limit_ms);
    for (uint32_t i = 0; i < 2; i++) {
        CHECK(!sim_player(s, i)->alive);
        CHECK_EQ(sim_player(s, i)->deaths, 1);
        CHECK_EQ(sim_player(s, i)->damage_taken, c->player_hp);
        CHECK_EQ(sim_player(s, i)->score, 0);
    }
    CHECK_EQ(log_count(&l, SIM_EV_PLAYER_DIED), 2);
    CHECK_EQ(log_count(&l, SIM_EV_WAVE_STARTED), 1);
    log_free(&l);
}

static void test_win(sim_t *s, const sim_config_t *c)
{
    evlog_t l = {0};
    play_bots(s, &l, 5000);
    check_over_once(s, &l, SIM_WIN);
    CHECK_EQ(sim_waves_cleared(s), 3);
    CHECK_EQ(sim_wave(s), 3);
    uint32_t total = (2 + 3 + 4) * 2, kills = 0;
    CHECK_EQ(log_count(&l, SIM_EV_MONSTER_SPAWN), total);
    CHECK_EQ(log_count(&l, SIM_EV_MONSTER_DIED), total);
    CHECK_EQ(log_count(&l, SIM_EV_WAVE_STARTED), 3);
    CHECK_EQ(log_count(&l, SIM_EV_WAVE_CLEARED), 3);
    for (uint32_t i = 0; i < 2; i++) {
        const sim_player_t *p = sim_player(s, i);
        kills += p->kills;
        CHECK_EQ(p->speed_violations, 0);
        CHECK_EQ(p->bounds_violations, 0);
        CHECK_EQ(p->damage_dealt, p->kills * (uint32_t)c->monster_hp);
        if (p->alive)
            CHECK_EQ(p->score, p->kills * c->score_kill + 3 * c->score_wave);
    }
    CHECK_EQ(kills, total);
    printf("win: %llu ticks (%.1f s of play), kills %u/%u, hp %d/%d\n",
           (unsigned long long)sim_ticks(s), (double)sim_now_ms(s) / 1000.0,
           sim_player(s, 0)->kills, sim_player(s, 1)->kills, sim_player(s, 0)->hp,
           sim_player(s, 1)->hp);

    /* Monster ids: unique and increasing over the match. */
    uint32_t last = 0;
    for (size_t i = 0; i < l.n; i++)
        if (l.ev[i].kind == SIM_EV_MONSTER_SPAWN) {
            CHECK(l.ev[i].id > last);
            last = l.ev[i].id;
        }
    CHECK_EQ(last, total);
    log_free(&l);
}

static void test_timeout(sim_t *s, const sim_config_t *c)
{
    evlog_t l = {0};
    for (int t = 0; t < 19; t++) {
        sim_tick(s);
        log_take(&l, s);
    }
    CHECK_EQ(sim_outcome(s), SIM_RUNNING);
    CHECK_EQ(log_count(&l, SIM_EV_GAME_OVER), 0);
    sim_tick(s);
    log_take(&l, s);
    CHECK_EQ(sim_now_ms(s), 1000);
    check_over_once(s, &l, SIM_TIMEOUT);
    CHECK(sim_player(s, 0)->alive);
    log_free(&l);
}

/* max_monsters alive at most; the rest of the wave waits, and all of it comes in the end. */
static void test_monster_cap(sim_t *s, const sim_config_t *c)
{
    evlog_t l = {0};
    sim_tick(s);
    CHECK_EQ(sim_monster_count(s), 3);
    CHECK_EQ(sim_monsters_pending(s), 17);
    sim_tick(s);
    CHECK_EQ(sim_monster_count(s), 5);
    CHECK_EQ(sim_monsters_pending(s), 15);
    for (int t = 0; t < 10; t++)
        sim_tick(s);
    CHECK_EQ(sim_monster_count(s), 5);
    CHECK_EQ(sim_monsters_pending(s), 15);
    log_take(&l, s);
    for (int t = 0; t < 1000 && sim_outcome(s) == SIM_RUNNING; t++) {
        if (t % 3 == 0 && sim_monster_count(s) > 0)
            CHECK_EQ(sim_attack(s, 0, sim_monster(s, 0)->id), SIM_OK);
        sim_tick(s);
        CHECK(sim_monster_count(s) <= 5);
        log_take(&l, s);
    }
    CHECK_EQ(sim_outcome(s), SIM_WIN);
    CHECK_EQ(log_count(&l, SIM_EV_MONSTER_SPAWN), 20);
    CHECK_EQ(sim_player(s, 0)->kills, 20);
    log_free(&l);
}

/* A caller that never clears: memory stops at SIM_MAX_EVENTS, the rest is counted. */
static void test_event_cap(sim_t *s, const sim_config_t *c)
{
    for (int t = 0; t < 6000; t++)
        sim_tick(s);
    const sim_event_t *ev;
    CHECK_EQ(sim_events(s, &ev), SIM_MAX_EVENTS);
    CHECK(sim_events_dropped(s) > 0);
    sim_events_clear(s);
    sim_tick(s);
    CHECK(sim_events(s, &ev) > 0);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Information only: ticks per second with 4 players circling and ~200 monsters chasing. */
static void measure_tick_rate(sim_t *s, const sim_config_t *c)
{
    sim_tick(s);
    sim_events_clear(s);
    CHECK_EQ(sim_monster_count(s), 200);
    const int ticks = 20000;
    size_t events = 0;
    float step = c->player_speed * 0.05f;
    double t0 = now_s();
    for (int t = 0; t < ticks; t++) {
        for (uint32_t i = 0; i < 4; i++) {
            const sim_player_t *p = sim_player(s, i);
            float a = (float)(t + (int)i * 30) * 0.02f;
            sim_move(s, i, p->x + step * cosf(a), p->y + step * sinf(a));
            if (t % 10 == 0 && sim_monster_count(s) > 0)
                sim_attack(s, i, sim_monster(s, (uint32_t)t % sim_monster_count(s))->id);
        }
        sim_tick(s);
        const sim_event_t *ev;
        events += sim_events(s, &ev);
        sim_events_clear(s);
    }
    double dt = now_s() - t0;
    CHECK_EQ(sim_outcome(s), SIM_RUNNING);
    printf("tick rate: 4 players, 200 -> %u monsters: %d ticks in %.3f s = %.0f ticks/s "
           "(%.2f us/tick, %.0f events/tick)\n",
           sim_monster_count(s), ticks, dt, ticks / dt, dt / ticks * 1e6,
           (double)events / ticks);
}

/* The tests on one match, each with its players and config. */
static const sim_case_t CASES[] = {
    /* no monsters during these two */
    {"speed_clamp", test_speed_clamp, 1, quiet_config, "wave_gap_ms=100000 player_speed=10"},
    {"bounds_clamp", test_bounds_clamp, 1, quiet_config, "wave_gap_ms=100000 arena_w=4 arena_h=4"},
    {"bad_values", test_bad_values, 1, quiet_config, ""},
    {"attack", test_attack, 1, quiet_config, "waves=2"},
    /* the monster reaches the player in one tick, and hits once */
    {"potion", test_potion, 1, quiet_config,
     "monster_speed=1000 monster_damage=30 monster_cooldown_ms=1000000 potions=2 potion_heal=40"},
    /* a cooldown of 20 ticks; one monster at a time: the wave's second one waits */
    {"chase_attack_death", test_chase_attack_death, 2, quiet_config,
     "monster_speed=4 monster_damage=40 monster_cooldown_ms=1000 max_monsters=1"},
    {"loss", test_loss, 2, sim_config_default, "seed=5 wave_gap_ms=0"},
    {"win", test_win, 2, bot_config, "seed=11"},
    {"timeout", test_timeout, 1, quiet_config, "time_limit_ms=1000 monster_speed=4"},
    /* the attack range reaches anything: this test is about the cap */
    {"monster_cap", test_monster_cap, 1, quiet_config,
     "max_monsters=5 wave_base_monsters=20 spawn_per_tick=3 monster_speed=20 attack_range=1000 "
     "attack_cooldown_ms=50"},
    /* from arrival on, 200 attacks a tick */
    {"event_cap", test_event_cap, 2, sim_config_default,
     "seed=3 wave_gap_ms=0 wave_base_monsters=100 max_monsters=200 spawn_per_tick=200 monster_damage=0 "
     "monster_speed=5 monster_cooldown_ms=50 time_limit_ms=100000000"},
    /* hits land, but nobody dies */
    {"tick_rate", measure_tick_rate, 4, sim_config_default,
     "seed=99 wave_gap_ms=0 wave_base_monsters=50 spawn_per_tick=200 monster_damage=1 player_hp=1000000 "
     "time_limit_ms=4294967295"},
};

int main(void)
{
    size_t used0 = alloc_used();
    test_config();
    test_determinism();
    for (size_t i = 0; i < sizeof CASES / sizeof *CASES; i++)
        run_case(&CASES[i]);
    CHECK_EQ(alloc_used(), used0);
    printf("test_sim: ok\n");
    return 0;
}
