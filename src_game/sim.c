/* sim: the pure co-op arena simulation (see sim.h). No I/O, no clocks, no globals. */
#include "sim.h"

#include <math.h>
#include <string.h>

#include "alloc.h"

typedef struct player {
    sim_player_t pub;
    float ref_x, ref_y;      /* where sim_move measures from (see sim_move in sim.h) */
    uint64_t ref_ms;         /* when the player stood there */
    uint64_t pos_ms;         /* when pub.x/pub.y were accepted */
    uint64_t next_attack_ms; /* earliest time of its next attack */
} player_t;

typedef struct monster {
    sim_monster_t pub;
    uint64_t next_attack_ms;
} monster_t;

struct sim {
    sim_config_t cfg;
    uint64_t rng;
    uint64_t ticks, now_ms;
    sim_outcome_t outcome;

    uint32_t nplayers;
    player_t *players;

    monster_t *monsters; /* live ones, ordered by id (ids only grow; removal keeps order) */
    uint32_t nmonsters;
    uint32_t next_monster_id;

    uint32_t wave;          /* current wave, 1-based; 0 before the first */
    uint32_t waves_cleared;
    uint32_t pending;       /* monsters of the current wave yet to enter */
    bool wave_active;       /* started and not yet cleared */
    uint64_t next_wave_ms;  /* when the next wave may start (if !wave_active) */

    sim_event_t *ev;
    size_t nev, cap_ev;
    uint64_t dropped;
};

/* ---- small helpers */

static uint64_t rng_next(sim_t *s) /* splitmix64 */
{
    uint64_t z = (s->rng += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static float rng_unit(sim_t *s) /* [0, 1), 24 bits: exact in a float */
{
    return (float)(rng_next(s) >> 40) * (1.0f / 16777216.0f);
}

static float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

static float dist2(float ax, float ay, float bx, float by)
{
    float dx = bx - ax, dy = by - ay;
    return dx * dx + dy * dy;
}

static void emit(sim_t *s, uint32_t kind, uint32_t id, uint32_t other, float x, float y,
                 int32_t amount, int32_t hp)
{
    if (s->nev == s->cap_ev) {
        if (s->cap_ev >= SIM_MAX_EVENTS) {
            s->dropped++;
            return;
        }
        size_t cap = s->cap_ev ? s->cap_ev * 2 : 256;
        if (cap > SIM_MAX_EVENTS)
            cap = SIM_MAX_EVENTS;
        s->ev = xrealloc(s->ev, cap * sizeof *s->ev);
        s->cap_ev = cap;
    }
    s->ev[s->nev++] = (sim_event_t){
        .kind = kind, .id = id, .other = other, .x = x, .y = y, .amount = amount, .hp = hp};
}

/* Index of the live monster with this id, or -1 (binary search: the array is id-ordered). */
static long monster_index(const sim_t *s, uint32_t id)
{
    uint32_t lo = 0, hi = s->nmonsters;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        uint32_t mid_id = s->monsters[mid].pub.id;
        if (mid_id == id)
            return (long)mid;
        if (mid_id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* Common checks of every input: a valid player, a running match, a living player. */
static int input_check(sim_t *s, uint32_t player, player_t **out)
{
    if (player >= s->nplayers)
        return SIM_BAD_PLAYER;
    if (s->outcome != SIM_RUNNING)
        return SIM_OVER;
    player_t *p = &s->players[player];
    if (!p->pub.alive) {
        p->pub.refused_actions++;
        return SIM_DEAD;
    }
    *out = p;
    return SIM_OK;
}

static int refuse(player_t *p, int rc)
{
    p->pub.refused_actions++;
    return rc;
}

/* ---- config and lifetime */

void sim_config_default(sim_config_t *c)
{
    *c = (sim_config_t){
        .tick_ms = 50,
        .time_limit_ms = 180000,
        .waves = 5,
        .wave_base_monsters = 3,
        .wave_growth = 2,
        .wave_gap_ms = 3000,
        .spawn_per_tick = 2,
        .max_monsters = 512,
        .arena_w = 100.0f,
        .arena_h = 100.0f,
        .player_speed = 8.0f,
        .speed_tolerance = 1.5f,
        .move_slack = 0.05f,
        .move_window_ms = 500,
        .attack_range = 3.0f,
        .attack_cooldown_ms = 500,
        .attack_damage = 25,
        .player_hp = 100,
        .potions = 3,
        .potion_heal = 40,
        .monster_speed = 4.0f,
        .monster_hp = 50,
        .monster_damage = 8,
        .monster_range = 1.5f,
        .monster_cooldown_ms = 1000,
        .score_kill = 100,
        .score_wave = 250,
        .seed = 0,
    };
}

static bool finite_nonneg(float v) { return isfinite(v) && v >= 0.0f; }

int sim_config_check(const sim_config_t *c)
{
    if (!c || c->tick_ms == 0 || c->time_limit_ms == 0 || c->waves == 0 ||
        c->spawn_per_tick == 0 || c->max_monsters == 0 ||
        c->max_monsters > SIM_MAX_MONSTERS_LIMIT)
        return -1;
    if (!isfinite(c->arena_w) || !isfinite(c->arena_h) || c->arena_w <= 0.0f ||
        c->arena_h <= 0.0f)
        return -1;
    if (!finite_nonneg(c->player_speed) || !isfinite(c->speed_tolerance) ||
        c->speed_tolerance < 1.0f || !finite_nonneg(c->move_slack) ||
        !finite_nonneg(c->attack_range) || !finite_nonneg(c->monster_speed) ||
        !finite_nonneg(c->monster_range))
        return -1;
    if (c->attack_damage <= 0 || c->player_hp <= 0 || c->monster_hp <= 0 ||
        c->monster_damage < 0 || c->potion_heal < 0)
        return -1;
    return 0;
}

sim_t *sim_new(const sim_config_t *c, uint32_t nplayers)
{
    if (sim_config_check(c) != 0 || nplayers == 0 || nplayers > SIM_MAX_PLAYERS)
        return NULL;
    sim_t *s = xcalloc(1, sizeof *s);
    s->cfg = *c;
    s->rng = c->seed;
    s->outcome = SIM_RUNNING;
    s->nplayers = nplayers;
    s->players = xcalloc(nplayers, sizeof *s->players);
    s->monsters = xcalloc(c->max_monsters, sizeof *s->monsters);
    s->next_monster_id = 1;
    s->next_wave_ms = c->wave_gap_ms;

    /* Spawn spots: a grid of up to 4 columns, 3 units apart, centred in the arena. */
    uint32_t cols = nplayers < 4 ? nplayers : 4, rows = (nplayers + 3) / 4;
    for (uint32_t i = 0; i < nplayers; i++) {
        player_t *p = &s->players[i];
        float x = c->arena_w / 2 + ((float)(i % 4) - (float)(cols - 1) / 2) * 3.0f;
        float y = c->arena_h / 2 + ((float)(i / 4) - (float)(rows - 1) / 2) * 3.0f;
        p->pub.x = p->ref_x = clampf(x, 0.0f, c->arena_w);
        p->pub.y = p->ref_y = clampf(y, 0.0f, c->arena_h);
        p->pub.hp = p->pub.max_hp = c->player_hp;
        p->pub.alive = true;
        p->pub.potions = c->potions;
    }
    return s;
}

void sim_free(sim_t *s)
{
    if (!s)
        return;
    xfree(s->players);
    xfree(s->monsters);
    xfree(s->ev);
    xfree(s);
}

/* ---- inputs */

int sim_move(sim_t *s, uint32_t player, float x, float y)
{
    player_t *p;
    int rc = input_check(s, player, &p);
    if (rc != SIM_OK)
        return rc;
    if (!isfinite(x) || !isfinite(y))
        return refuse(p, SIM_BAD_VALUE);

    const sim_config_t *c = &s->cfg;
    int clamped = 0;
    float tx = clampf(x, 0.0f, c->arena_w), ty = clampf(y, 0.0f, c->arena_h);
    if (tx != x || ty != y) {
        p->pub.bounds_violations++;
        clamped = 1;
    }

    /* The first move of a tick measures from the last accepted position (from an earlier
     * tick); later moves of the same tick keep that reference. */
    if (p->pos_ms < s->now_ms) {
        p->ref_x = p->pub.x;
        p->ref_y = p->pub.y;
        p->ref_ms = p->pos_ms;
    }
    uint64_t elapsed = s->now_ms - p->ref_ms;
    if (elapsed > c->move_window_ms)
        elapsed = c->move_window_ms;
    float allowed = c->player_speed * ((float)elapsed / 1000.0f) * c->speed_tolerance +
                    c->move_slack;
    float dx = tx - p->ref_x, dy = ty - p->ref_y;
    float d = sqrtf(dx * dx + dy * dy);
    if (d > allowed) {
        float k = allowed / d;
        /* Rounding could step a hair outside: clamp again, without counting it. */
        tx = clampf(p->ref_x + dx * k, 0.0f, c->arena_w);
        ty = clampf(p->ref_y + dy * k, 0.0f, c->arena_h);
        p->pub.speed_violations++;
        clamped = 1;
    }
    p->pub.x = tx;
    p->pub.y = ty;
    p->pos_ms = s->now_ms;
    emit(s, SIM_EV_PLAYER_MOVED, player, 0, tx, ty, clamped, p->pub.hp);
    return clamped ? SIM_CLAMPED : SIM_OK;
}

int sim_attack(sim_t *s, uint32_t player, uint32_t monster_id)
{
    player_t *p;
    int rc = input_check(s, player, &p);
    if (rc != SIM_OK)
        return rc;
    long i = monster_index(s, monster_id);
    if (i < 0)
        return refuse(p, SIM_NO_TARGET);
    monster_t *m = &s->monsters[i];
    float r = s->cfg.attack_range;
    if (dist2(p->pub.x, p->pub.y, m->pub.x, m->pub.y) > r * r)
        return refuse(p, SIM_OUT_OF_RANGE);
    if (s->now_ms < p->next_attack_ms)
        return refuse(p, SIM_COOLDOWN);

    p->next_attack_ms = s->now_ms + s->cfg.attack_cooldown_ms;
    int32_t dmg = s->cfg.attack_damage < m->pub.hp ? s->cfg.attack_damage : m->pub.hp;
    m->pub.hp -= dmg;
    p->pub.damage_dealt += (uint32_t)dmg;
    emit(s, SIM_EV_MONSTER_DAMAGED, m->pub.id, player, m->pub.x, m->pub.y, dmg, m->pub.hp);
    if (m->pub.hp <= 0) {
        emit(s, SIM_EV_MONSTER_DIED, m->pub.id, player, m->pub.x, m->pub.y, 0, 0);
        p->pub.kills++;
        p->pub.score += s->cfg.score_kill;
        memmove(&s->monsters[i], &s->monsters[i + 1],
                (size_t)(s->nmonsters - (uint32_t)i - 1) * sizeof *s->monsters);
        s->nmonsters--;
    }
    return SIM_OK;
}

int sim_use_item(sim_t *s, uint32_t player, uint32_t item)
{
    player_t *p;
    int rc = input_check(s, player, &p);
    if (rc != SIM_OK)
        return rc;
    if (item != SIM_ITEM_POTION || p->pub.potions == 0)
        return refuse(p, SIM_NO_ITEM);
    p->pub.potions--;
    int32_t room = p->pub.max_hp - p->pub.hp;
    int32_t heal = s->cfg.potion_heal < room ? s->cfg.potion_heal : room;
    p->pub.hp += heal;
    emit(s, SIM_EV_ITEM_USED, player, item, p->pub.x, p->pub.y, heal, p->pub.hp);
    return SIM_OK;
}

/* ---- the tick */

static uint32_t wave_size(const sim_t *s, uint32_t wave)
{
    uint64_t per = (uint64_t)s->cfg.wave_base_monsters +
                   (uint64_t)s->cfg.wave_growth * (uint64_t)(wave - 1);
    uint64_t n = per * s->nplayers;
    return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

static void spawn_monster(sim_t *s)
{
    const sim_config_t *c = &s->cfg;
    uint32_t edge = (uint32_t)(rng_next(s) & 3u);
    float t = rng_unit(s);
    float x, y;
    switch (edge) {
    case 0: x = t * c->arena_w; y = 0.0f; break;
    case 1: x = c->arena_w; y = t * c->arena_h; break;
    case 2: x = t * c->arena_w; y = c->arena_h; break;
    default: x = 0.0f; y = t * c->arena_h; break;
    }
    monster_t *m = &s->monsters[s->nmonsters++];
    *m = (monster_t){
        .pub = {.id = s->next_monster_id++, .x = x, .y = y, .hp = c->monster_hp,
                .max_hp = c->monster_hp, .target = UINT32_MAX, .wave = s->wave},
        .next_attack_ms = s->now_ms,
    };
    emit(s, SIM_EV_MONSTER_SPAWN, m->pub.id, s->wave, x, y, 0, m->pub.hp);
}

static void waves_step(sim_t *s)
{
    if (!s->wave_active && s->wave < s->cfg.waves && s->now_ms >= s->next_wave_ms) {
        s->wave++;
        s->wave_active = true;
        s->pending = wave_size(s, s->wave);
        int32_t n = s->pending > INT32_MAX ? INT32_MAX : (int32_t)s->pending;
        emit(s, SIM_EV_WAVE_STARTED, s->wave, 0, 0.0f, 0.0f, n, 0);
    }
    for (uint32_t n = 0; n < s->cfg.spawn_per_tick && s->pending > 0 &&
                         s->nmonsters < s->cfg.max_monsters;
         n++) {
        s->pending--;
        spawn_monster(s);
    }
}

/* The nearest living player to (x, y), ties to the lowest index; -1 if none lives. */
static long nearest_player(const sim_t *s, float x, float y, float *d2_out)
{
    long best = -1;
    float best_d2 = 0.0f;
    for (uint32_t i = 0; i < s->nplayers; i++) {
        const player_t *p = &s->players[i];
        if (!p->pub.alive)
            continue;
        float d2 = dist2(x, y, p->pub.x, p->pub.y);
        if (best < 0 || d2 < best_d2) {
            best = (long)i;
            best_d2 = d2;
        }
    }
    *d2_out = best_d2;
    return best;
}

static void monster_step(sim_t *s, monster_t *m, float step)
{
    const sim_config_t *c = &s->cfg;
    float d2;
    long pi = nearest_player(s, m->pub.x, m->pub.y, &d2);
    if (pi < 0)
        return;
    player_t *p = &s->players[pi];
    m->pub.target = (uint32_t)pi;
    float range = c->monster_range;

    if (d2 > range * range) {
        /* Close in, stopping a little inside the range so rounding can't leave it short. */
        float d = sqrtf(d2);
        float want = d - range * 0.9f;
        float mv = step < want ? step : want;
        if (mv > 0.0f) {
            float nx = clampf(m->pub.x + (p->pub.x - m->pub.x) / d * mv, 0.0f, c->arena_w);
            float ny = clampf(m->pub.y + (p->pub.y - m->pub.y) / d * mv, 0.0f, c->arena_h);
            if (nx != m->pub.x || ny != m->pub.y) {
                m->pub.x = nx;
                m->pub.y = ny;
                emit(s, SIM_EV_MONSTER_MOVE, m->pub.id, (uint32_t)pi, nx, ny, 0, m->pub.hp);
            }
        }
        d2 = dist2(m->pub.x, m->pub.y, p->pub.x, p->pub.y);
    }
    if (d2 > range * range || s->now_ms < m->next_attack_ms)
        return;

    m->next_attack_ms = s->now_ms + c->monster_cooldown_ms;
    int32_t dmg = c->monster_damage < p->pub.hp ? c->monster_damage : p->pub.hp;
    emit(s, SIM_EV_MONSTER_ATTACK, m->pub.id, (uint32_t)pi, m->pub.x, m->pub.y, dmg, 0);
    if (dmg <= 0)
        return;
    p->pub.hp -= dmg;
    p->pub.damage_taken += (uint32_t)dmg;
    emit(s, SIM_EV_PLAYER_DAMAGED, (uint32_t)pi, m->pub.id, p->pub.x, p->pub.y, dmg, p->pub.hp);
    if (p->pub.hp <= 0) {
        p->pub.alive = false;
        p->pub.deaths++;
        emit(s, SIM_EV_PLAYER_DIED, (uint32_t)pi, m->pub.id, p->pub.x, p->pub.y, 0, 0);
    }
}

static bool anyone_alive(const sim_t *s)
{
    for (uint32_t i = 0; i < s->nplayers; i++)
        if (s->players[i].pub.alive)
            return true;
    return false;
}

void sim_tick(sim_t *s)
{
    if (s->outcome != SIM_RUNNING)
        return;
    const sim_config_t *c = &s->cfg;
    s->ticks++;
    s->now_ms = s->ticks * c->tick_ms;

    waves_step(s);

    float step = c->monster_speed * ((float)c->tick_ms / 1000.0f);
    for (uint32_t i = 0; i < s->nmonsters; i++)
        monster_step(s, &s->monsters[i], step);

    if (s->wave_active && s->pending == 0 && s->nmonsters == 0) {
        s->wave_active = false;
        s->waves_cleared++;
        for (uint32_t i = 0; i < s->nplayers; i++)
            if (s->players[i].pub.alive)
                s->players[i].pub.score += c->score_wave;
        emit(s, SIM_EV_WAVE_CLEARED, s->wave, 0, 0.0f, 0.0f, (int32_t)c->score_wave, 0);
        s->next_wave_ms = s->now_ms + c->wave_gap_ms;
    }

    if (s->waves_cleared == c->waves)
        s->outcome = SIM_WIN;
    else if (!anyone_alive(s))
        s->outcome = SIM_LOSS;
    else if (s->now_ms >= c->time_limit_ms)
        s->outcome = SIM_TIMEOUT;
    if (s->outcome != SIM_RUNNING)
        emit(s, SIM_EV_GAME_OVER, s->waves_cleared, 0, 0.0f, 0.0f, (int32_t)s->outcome, 0);
}

/* ---- events and accessors */

size_t sim_events(const sim_t *s, const sim_event_t **ev)
{
    *ev = s->ev;
    return s->nev;
}

void sim_events_clear(sim_t *s) { s->nev = 0; }

uint64_t sim_events_dropped(const sim_t *s) { return s->dropped; }

const sim_config_t *sim_config(const sim_t *s) { return &s->cfg; }
sim_outcome_t sim_outcome(const sim_t *s) { return s->outcome; }
uint64_t sim_now_ms(const sim_t *s) { return s->now_ms; }
uint64_t sim_ticks(const sim_t *s) { return s->ticks; }
uint32_t sim_wave(const sim_t *s) { return s->wave; }
uint32_t sim_waves_cleared(const sim_t *s) { return s->waves_cleared; }
uint32_t sim_player_count(const sim_t *s) { return s->nplayers; }
uint32_t sim_monster_count(const sim_t *s) { return s->nmonsters; }
uint32_t sim_monsters_pending(const sim_t *s) { return s->pending; }

const sim_player_t *sim_player(const sim_t *s, uint32_t i)
{
    return i < s->nplayers ? &s->players[i].pub : NULL;
}

const sim_monster_t *sim_monster(const sim_t *s, uint32_t i)
{
    return i < s->nmonsters ? &s->monsters[i].pub : NULL;
}

const sim_monster_t *sim_monster_find(const sim_t *s, uint32_t id)
{
    long i = monster_index(s, id);
    return i < 0 ? NULL : &s->monsters[i].pub;
}

const char *sim_strerror(int rc)
{
    switch (rc) {
    case SIM_CLAMPED: return "clamped";
    case SIM_OK: return "ok";
    case SIM_DEAD: return "player is dead";
    case SIM_OVER: return "match is over";
    case SIM_BAD_PLAYER: return "no such player";
    case SIM_BAD_VALUE: return "bad value";
    case SIM_OUT_OF_RANGE: return "out of range";
    case SIM_COOLDOWN: return "cooldown";
    case SIM_NO_TARGET: return "no such monster";
    case SIM_NO_ITEM: return "no such item left";
    default: return "unknown";
    }
}

const char *sim_outcome_name(sim_outcome_t o)
{
    switch (o) {
    case SIM_RUNNING: return "running";
    case SIM_WIN: return "win";
    case SIM_LOSS: return "loss";
    case SIM_TIMEOUT: return "timeout";
    default: return "unknown";
    }
}

const char *sim_event_name(uint32_t kind)
{
    static const char *const names[] = {
        [SIM_EV_MONSTER_SPAWN] = "MONSTER_SPAWN",   [SIM_EV_MONSTER_MOVE] = "MONSTER_MOVE",
        [SIM_EV_MONSTER_ATTACK] = "MONSTER_ATTACK", [SIM_EV_PLAYER_DAMAGED] = "PLAYER_DAMAGED",
        [SIM_EV_MONSTER_DAMAGED] = "MONSTER_DAMAGED", [SIM_EV_MONSTER_DIED] = "MONSTER_DIED",
        [SIM_EV_PLAYER_DIED] = "PLAYER_DIED",       [SIM_EV_PLAYER_MOVED] = "PLAYER_MOVED",
        [SIM_EV_ITEM_USED] = "ITEM_USED",           [SIM_EV_WAVE_STARTED] = "WAVE_STARTED",
        [SIM_EV_WAVE_CLEARED] = "WAVE_CLEARED",     [SIM_EV_GAME_OVER] = "GAME_OVER",
    };
    if (kind < sizeof names / sizeof names[0] && names[kind])
        return names[kind];
    return "unknown";
}
