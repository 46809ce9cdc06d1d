/* mode_arena: the built-in co-op arena behind the mode seam: the simulation (sim.c) per
 * match, its events encoded as one GameStateUpdate per tick (packed once for every player),
 * its four client packets (snapshot, move, attack, item) with the simulation's refusals
 * mapped to error codes, MATCH_START's rules, and the results with the arena's own columns. */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "arena_events.h"
#include "game.h"
#include "log.h"

#define ARENA_MAX_PLAYERS 4

typedef struct arena {
    sim_t *sim;
    /* MATCH_START's players and rules, alive until the next describe */
    PlayerState ps[ARENA_MAX_PLAYERS];
    Vec2 pv[ARENA_MAX_PLAYERS];
    PlayerState *pp[ARENA_MAX_PLAYERS];
    MatchRules rules;
} arena_t;

static void player_state(const arena_t *a, const match_t *m, uint32_t i, PlayerState *ps, Vec2 *pos)
{
    const sim_player_t *p = sim_player(a->sim, i);
    player_state__init(ps);
    vec2__init(pos);
    pos->x = p->x;
    pos->y = p->y;
    ps->user_id = match_user(m, i);
    ps->username = (char *)match_user_name(m, i);
    ps->pos = pos;
    ps->hp = p->hp;
    ps->alive = p->alive;
    ps->potions = p->potions;
    ps->kills = p->kills;
    ps->score = p->score;
}

static void *arena_init(match_t *m, uint32_t *tick_ms, char *err, size_t errlen)
{
    game_t *g = m->g;
    if (match_players(m) > ARENA_MAX_PLAYERS) {
        snprintf(err, errlen, "the arena takes at most %d players", ARENA_MAX_PLAYERS);
        return NULL;
    }
    sim_config_t c = g->sim_base;
    c.seed = match_seed(m);
    arena_t *a = xcalloc(1, sizeof *a);
    a->sim = sim_new(&c, match_players(m));
    if (!a->sim) {
        xfree(a);
        snprintf(err, errlen, "the simulation refused the match");
        return NULL;
    }
    *tick_ms = c.tick_ms;
    return a;
}

static int arena_join(void *st, match_t *m, uint32_t idx)
{
    (void)st, (void)m, (void)idx; /* every player is in the simulation from sim_new */
    return 0;
}

static void arena_describe(void *st, match_t *m, MatchStart *s)
{
    arena_t *a = st;
    uint32_t n = match_players(m);
    for (uint32_t i = 0; i < n; i++) {
        player_state(a, m, i, &a->ps[i], &a->pv[i]);
        a->pp[i] = &a->ps[i];
    }
    const sim_config_t *sc = sim_config(a->sim);
    s->time_limit_ms = sc->time_limit_ms;
    s->waves = sc->waves;
    s->arena_w = sc->arena_w;
    s->arena_h = sc->arena_h;
    s->n_players = n;
    s->players = a->pp;
    MatchRules *r = &a->rules;
    match_rules__init(r);
    r->player_speed = sc->player_speed;
    r->speed_tolerance = sc->speed_tolerance;
    r->move_slack = sc->move_slack;
    r->move_window_ms = sc->move_window_ms;
    r->attack_range = sc->attack_range;
    r->attack_cooldown_ms = sc->attack_cooldown_ms;
    r->attack_damage = sc->attack_damage;
    r->player_hp = sc->player_hp;
    r->potions = sc->potions;
    r->potion_heal = sc->potion_heal;
    r->monster_speed = sc->monster_speed;
    r->monster_range = sc->monster_range;
    r->monster_damage = sc->monster_damage;
    r->monster_cooldown_ms = sc->monster_cooldown_ms;
    s->rules = r;
}

static int arena_loop(void *st, match_t *m)
{
    arena_t *a = st;
    uint32_t n = match_players(m);
    sim_tick(a->sim);
    const sim_event_t *ev;
    size_t nev = sim_events(a->sim, &ev);
    if (nev) {
        GameStateUpdate u = GAME_STATE_UPDATE__INIT;
        uint64_t users[ARENA_MAX_PLAYERS];
        for (uint32_t i = 0; i < n && i < ARENA_MAX_PLAYERS; i++)
            users[i] = match_user(m, i);
        int players_changed = arena_collect_events(users, n < ARENA_MAX_PLAYERS ? n : ARENA_MAX_PLAYERS, ev, nev, &u);
        PlayerState ps[ARENA_MAX_PLAYERS];
        Vec2 pv[ARENA_MAX_PLAYERS];
        PlayerState *pp[ARENA_MAX_PLAYERS];
        u.tick = (uint32_t)sim_ticks(a->sim);
        u.wave = sim_wave(a->sim);
        if (players_changed) {
            for (uint32_t i = 0; i < n; i++) {
                player_state(a, m, i, &ps[i], &pv[i]);
                pp[i] = &ps[i];
            }
            u.n_players = n;
            u.players = pp;
        }
        match_broadcast(m, PACKET_TYPE__GAME_STATE_UPDATE, &u.base, NULL, 0);
        sim_events_clear(a->sim);
    }
    if (sim_outcome(a->sim) != SIM_RUNNING)
        match_finish(m);
    return 0;
}

static void arena_leave(void *st, match_t *m, uint32_t idx, const char *reason)
{
    (void)st, (void)m, (void)idx, (void)reason; /* the co-op arena plays on without them */
}

static void arena_terminate(void *st, match_t *m, const char *reason)
{
    (void)st, (void)m, (void)reason; /* the results say what the simulation reached */
}

static MatchOutcome outcome_proto(sim_outcome_t o)
{
    switch (o) {
    case SIM_WIN: return MATCH_OUTCOME__WIN;
    case SIM_LOSS: return MATCH_OUTCOME__LOSS;
    case SIM_TIMEOUT: return MATCH_OUTCOME__TIMEOUT_REACHED;
    default: return MATCH_OUTCOME__ABORTED;
    }
}

/* What the authority refused or corrected, per player: an anti-cheat signal for ops. */
static void report_violations(arena_t *a, match_t *m)
{
    metrics_t *mt = backend_metrics(match_backend(m));
    metric_t *c_speed = metrics_counter(mt, "cluster_game_player_speed_violations_total",
                                        "moves clamped for speed (summed at match end)", NULL);
    metric_t *c_bounds = metrics_counter(mt, "cluster_game_player_bounds_violations_total",
                                         "moves clamped to the arena (summed at match end)", NULL);
    metric_t *c_refused = metrics_counter(mt, "cluster_game_player_refused_actions_total",
                                          "player inputs refused (range, cooldown, no item, no target, dead; summed at match end)",
                                          NULL);
    for (uint32_t i = 0; i < match_players(m); i++) {
        const sim_player_t *p = sim_player(a->sim, i);
        metric_add(c_speed, p->speed_violations);
        metric_add(c_bounds, p->bounds_violations);
        metric_add(c_refused, p->refused_actions);
        if (p->speed_violations || p->bounds_violations || p->refused_actions)
            log_info("player_violations", "match=%llu user=%llu speed=%u bounds=%u refused=%u",
                     (unsigned long long)match_id(m), (unsigned long long)match_user(m, i),
                     p->speed_violations, p->bounds_violations, p->refused_actions);
    }
}

static void arena_results(void *st, match_t *m, mode_result_t *out)
{
    arena_t *a = st;
    out->outcome = outcome_proto(sim_outcome(a->sim));
    for (uint32_t i = 0; i < match_players(m); i++) {
        const sim_player_t *p = sim_player(a->sim, i);
        mode_player_result_t *r = &out->players[i];
        r->kills = p->kills;
        r->damage_dealt = p->damage_dealt;
        r->damage_taken = p->damage_taken;
        r->deaths = p->deaths;
        r->score = p->score;
    }
    report_violations(a, m);
}

static void arena_free(void *st)
{
    arena_t *a = st;
    sim_free(a->sim);
    xfree(a);
}

/* ---- the arena's client packets ---- */

/* The client's error for each refusal of the simulation; any other code is INTERNAL. */
static const struct {
    int rc;
    ErrorCode code;
    const char *msg;
} REFUSALS[] = {
    {SIM_DEAD, ERROR_CODE__PLAYER_DEAD, "dead players can't act"},
    {SIM_OVER, ERROR_CODE__MATCH_OVER, "the match has ended"},
    {SIM_OUT_OF_RANGE, ERROR_CODE__OUT_OF_RANGE, "target out of range"},
    {SIM_COOLDOWN, ERROR_CODE__COOLDOWN, "attack still cooling down"},
    {SIM_NO_TARGET, ERROR_CODE__NO_TARGET, "no such live monster"},
    {SIM_NO_ITEM, ERROR_CODE__NO_ITEM, "no such item left"},
    {SIM_BAD_VALUE, ERROR_CODE__BAD_REQUEST, "bad coordinates"},
};

static void refuse(backend_t *be, const backend_req_t *req, int rc)
{
    for (size_t i = 0; i < sizeof REFUSALS / sizeof REFUSALS[0]; i++)
        if (REFUSALS[i].rc == rc) {
            backend_error(be, req, REFUSALS[i].code, REFUSALS[i].msg);
            return;
        }
    backend_error(be, req, ERROR_CODE__INTERNAL, sim_strerror(rc));
}

static void snapshot(arena_t *a, match_t *m, backend_t *be, const backend_req_t *req)
{
    uint32_t n = match_players(m);
    PlayerState ps[ARENA_MAX_PLAYERS];
    Vec2 pv[ARENA_MAX_PLAYERS];
    PlayerState *pp[ARENA_MAX_PLAYERS];
    for (uint32_t i = 0; i < n; i++) {
        player_state(a, m, i, &ps[i], &pv[i]);
        pp[i] = &ps[i];
    }
    uint32_t nm = sim_monster_count(a->sim);
    MonsterState *ms = xcalloc(nm ? nm : 1, sizeof *ms);
    MonsterState **mp = xcalloc(nm ? nm : 1, sizeof *mp);
    Vec2 *mv = xcalloc(nm ? nm : 1, sizeof *mv);
    for (uint32_t i = 0; i < nm; i++) {
        const sim_monster_t *mo = sim_monster(a->sim, i);
        monster_state__init(&ms[i]);
        vec2__init(&mv[i]);
        mv[i].x = mo->x;
        mv[i].y = mo->y;
        ms[i].id = mo->id;
        ms[i].pos = &mv[i];
        ms[i].hp = mo->hp;
        mp[i] = &ms[i];
    }
    const sim_config_t *sc = sim_config(a->sim);
    GameSnapshotResponse out = GAME_SNAPSHOT_RESPONSE__INIT;
    out.match_id = match_id(m);
    out.tick = (uint32_t)sim_ticks(a->sim);
    out.elapsed_ms = (uint32_t)sim_now_ms(a->sim);
    out.wave = sim_wave(a->sim);
    out.n_players = n;
    out.players = pp;
    out.n_monsters = nm;
    out.monsters = mp;
    out.tick_ms = sc->tick_ms;
    out.time_limit_ms = sc->time_limit_ms;
    backend_reply(be, req, PACKET_TYPE__GAME_SNAPSHOT_RESPONSE, &out.base);
    xfree(ms);
    xfree(mp);
    xfree(mv);
}

/* position, attack and use_item return the simulation's refusal (< 0), which arena_request
 * answers, or 0 once they replied. */
static int position(arena_t *a, uint32_t idx, backend_t *be, const backend_req_t *req,
                    const PlayerPositionUpdate *in)
{
    if (!in->pos) {
        backend_error(be, req, ERROR_CODE__BAD_REQUEST, "pos is required");
        return 0;
    }
    int rc = sim_move(a->sim, idx, in->pos->x, in->pos->y);
    if (rc < 0)
        return rc;
    const sim_player_t *sp = sim_player(a->sim, idx);
    Vec2 v = VEC2__INIT;
    v.x = sp->x;
    v.y = sp->y;
    PlayerPositionResponse out = PLAYER_POSITION_RESPONSE__INIT;
    out.pos = &v;
    out.clamped = rc == SIM_CLAMPED;
    backend_reply(be, req, PACKET_TYPE__PLAYER_POSITION_RESPONSE, &out.base);
    return 0;
}

static int attack(arena_t *a, uint32_t idx, backend_t *be, const backend_req_t *req,
                  const PlayerAttackMonster *in)
{
    const sim_monster_t *before = sim_monster_find(a->sim, in->monster_id);
    int32_t hp_before = before ? before->hp : 0;
    int rc = sim_attack(a->sim, idx, in->monster_id);
    if (rc < 0)
        return rc;
    const sim_monster_t *after = sim_monster_find(a->sim, in->monster_id);
    PlayerAttackResponse out = PLAYER_ATTACK_RESPONSE__INIT;
    out.monster_id = in->monster_id;
    out.monster_hp = after ? after->hp : 0;
    out.damage = hp_before - out.monster_hp;
    out.killed = after == NULL;
    backend_reply(be, req, PACKET_TYPE__PLAYER_ATTACK_RESPONSE, &out.base);
    return 0;
}

static int use_item(arena_t *a, uint32_t idx, backend_t *be, const backend_req_t *req,
                    const PlayerUseItem *in)
{
    int rc = sim_use_item(a->sim, idx, in->item);
    if (rc < 0)
        return rc;
    const sim_player_t *sp = sim_player(a->sim, idx);
    PlayerUseItemResponse out = PLAYER_USE_ITEM_RESPONSE__INIT;
    out.hp = sp->hp;
    out.remaining = sp->potions;
    backend_reply(be, req, PACKET_TYPE__PLAYER_USE_ITEM_RESPONSE, &out.base);
    return 0;
}

static int arena_request(void *st, match_t *m, uint32_t idx, const backend_req_t *req,
                         const ProtobufCMessage *msg)
{
    arena_t *a = st;
    backend_t *be = match_backend(m);
    int rc;
    switch (req->type) {
    case PACKET_TYPE__GAME_SNAPSHOT_REQUEST: snapshot(a, m, be, req); return 0;
    case PACKET_TYPE__PLAYER_POSITION_UPDATE:
        rc = position(a, idx, be, req, (const PlayerPositionUpdate *)msg);
        break;
    case PACKET_TYPE__PLAYER_ATTACK_MONSTER:
        rc = attack(a, idx, be, req, (const PlayerAttackMonster *)msg);
        break;
    case PACKET_TYPE__PLAYER_USE_ITEM: rc = use_item(a, idx, be, req, (const PlayerUseItem *)msg); break;
    default: return -1;
    }
    if (rc < 0)
        refuse(be, req, rc);
    return 0;
}

const mode_ops_t MODE_ARENA = {
    .name = "arena",
    .init = arena_init,
    .join = arena_join,
    .describe = arena_describe,
    .loop = arena_loop,
    .leave = arena_leave,
    .terminate = arena_terminate,
    .request = arena_request,
    .results = arena_results,
    .free = arena_free,
};
