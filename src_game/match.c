/* match: runs matches on the game daemon: picks new ones up from the daemon's inbox in Redis,
 * binds the players' sessions to this daemon, ticks every match at a fixed rate with one
 * batched update per player per tick, validates every action, ends with GAME_OVER, writes the
 * record to PostgreSQL exactly once (retried until written) and hands the room back to the
 * lobby (matches:ended). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "game.h"
#include "log.h"
#include "rconn.h"
#include "util.h"

#define POLL_MS 100
#define CHECK_EVERY_POLLS 10
#define RECORD_RETRY_MS 1000

/* The tick time histogram on /metrics: cumulative, unlike g->tick_us (reset per log line). */
static metric_t *tick_metric;

/* Reads a match's room and players with where each is connected. */
static const char MATCH_INFO_LUA[] =
    "local m = redis.call('HMGET', KEYS[1], 'room', 'players', 'game') "
    "if not m[1] then return false end "
    "local out = {m[1], m[3] or '0'} "
    "for uid in string.gmatch(m[2] or '', '%d+') do "
    "  local u = redis.call('HMGET', ARGV[1] .. 'user:' .. uid, 'name', 'gw', 'sid') "
    "  table.insert(out, uid) table.insert(out, u[1] or '') "
    "  table.insert(out, u[2] or '0') table.insert(out, u[3] or '0') "
    "end "
    "return out";

struct record {
    record_t *next;
    game_t *g;
    uint64_t match_id;
    char *params[13];
    int attempts;
};

static void load_changed(game_t *g) { backend_set_load(g->be, (int)g->nmatches, (int)g->nplayers); }

static const char *outcome_text(sim_outcome_t o)
{
    switch (o) {
    case SIM_WIN: return "win";
    case SIM_LOSS: return "loss";
    case SIM_TIMEOUT: return "timeout";
    default: return "aborted";
    }
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

static void player_state(const match_t *m, uint32_t i, PlayerState *ps, Vec2 *pos)
{
    const sim_player_t *p = sim_player(m->sim, i);
    player_state__init(ps);
    vec2__init(pos);
    pos->x = p->x;
    pos->y = p->y;
    ps->user_id = m->players[i].user_id;
    ps->username = (char *)m->players[i].name;
    ps->pos = pos;
    ps->hp = p->hp;
    ps->alive = p->alive;
    ps->potions = p->potions;
    ps->kills = p->kills;
    ps->score = p->score;
}

/* Sends msg to every player of the match: packed once, copied into each player's frame. */
static void push_all(game_t *g, match_t *m, uint16_t type, const ProtobufCMessage *msg)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    if (n > g->pack_cap) {
        g->pack_cap = n * 2;
        g->pack_buf = xrealloc(g->pack_buf, g->pack_cap);
    }
    protobuf_c_message_pack(msg, g->pack_buf);
    for (uint32_t i = 0; i < m->n; i++)
        if (m->players[i].gw && m->players[i].sid)
            (void)backend_push_packed(g->be, m->players[i].gw, m->players[i].sid, type, g->pack_buf, n);
}

/* ---- records ---- */

static void record_free(record_t *r)
{
    for (int i = 0; i < 13; i++)
        xfree(r->params[i]);
    xfree(r);
}

static void record_send(game_t *g, record_t *r);

static void on_record(const PGresult *res, const char *err, const char *sqlstate, void *ud)
{
    record_t *r = ud;
    game_t *g = r->g;
    if (res) {
        /* No rows: the match row existed (ON CONFLICT DO NOTHING). After a retry that is our
         * own first write whose answer was lost; on the first attempt another match holds
         * the id and this record is not stored: say so loudly. */
        const char *rows = PQcmdTuples((PGresult *)res);
        if (rows && strcmp(rows, "0") == 0 && r->attempts == 1) {
            metric_inc(metrics_counter(backend_metrics(g->be), "cluster_game_match_record_conflicts_total",
                                       "match records not written: another match already has the id", NULL));
            log_error("match_record_conflict", "match=%llu reason=\"a match with this id is already recorded\"",
                      (unsigned long long)r->match_id);
        } else {
            metric_inc(metrics_counter(backend_metrics(g->be), "cluster_game_match_records_written_total",
                                       "match records written to PostgreSQL", NULL));
            log_info("match_recorded", "match=%llu attempts=%d", (unsigned long long)r->match_id,
                     r->attempts);
        }
        for (record_t **pp = &g->records; *pp; pp = &(*pp)->next)
            if (*pp == r) {
                *pp = r->next;
                break;
            }
        g->nrecords--;
        record_free(r);
        return;
    }
    if (strcmp(err, "closed") == 0)
        return; /* shutting down: freed by game_stop */
    log_warn("match_record_retry", "match=%llu attempts=%d error=\"%s\"",
             (unsigned long long)r->match_id, r->attempts, err);
    r->attempts = -r->attempts; /* negative: waiting for the retry timer */
}

static void record_send(game_t *g, record_t *r)
{
    r->attempts = abs(r->attempts) + 1;
    /* One statement: the match row and every player row, or nothing; a retry after a lost
     * answer finds the match row and writes nothing again. */
    metrics_pg_query(backend_metrics(g->be), g->pg,
             "WITH m AS (INSERT INTO matches (id, game_server_id, room_id, started_at, ended_at, outcome)"
             " VALUES ($1, $2, $3, to_timestamp($4::bigint / 1000.0), to_timestamp($5::bigint / 1000.0), $6)"
             " ON CONFLICT (id) DO NOTHING RETURNING id)"
             " INSERT INTO match_players (match_id, user_id, username, kills, damage_dealt,"
             " damage_taken, deaths, score)"
             " SELECT m.id, p.u, p.n, p.k, p.dd, p.dt, p.d, p.s FROM m,"
             " unnest($7::bigint[], $8::text[], $9::int[], $10::int[], $11::int[], $12::int[], $13::int[])"
             " AS p(u, n, k, dd, dt, d, s)",
             13, (const char *const *)r->params, on_record, r);
}

static void on_retry(uv_timer_t *t)
{
    game_t *g = t->data;
    for (record_t *r = g->records; r; r = r->next)
        if (r->attempts < 0)
            record_send(g, r);
}

static char *fmt_u64(uint64_t v)
{
    char b[24];
    snprintf(b, sizeof b, "%llu", (unsigned long long)v);
    return xstrdup(b);
}

static void record_match(game_t *g, match_t *m, const char *outcome)
{
    record_t *r = xcalloc(1, sizeof *r);
    r->g = g;
    r->match_id = m->id;
    char labels[32];
    snprintf(labels, sizeof labels, "outcome=%s", outcome);
    metric_inc(metrics_counter(backend_metrics(g->be), "cluster_game_matches_ended_total",
                               "matches ended, by outcome", labels));
    /* What the authority refused or corrected, per player: an anti-cheat signal for ops. */
    metrics_t *mt = backend_metrics(g->be);
    metric_t *c_speed = metrics_counter(mt, "cluster_game_player_speed_violations_total",
                                        "moves clamped for speed (summed at match end)", NULL);
    metric_t *c_bounds = metrics_counter(mt, "cluster_game_player_bounds_violations_total",
                                         "moves clamped to the arena (summed at match end)", NULL);
    metric_t *c_refused = metrics_counter(mt, "cluster_game_player_refused_actions_total",
                                          "player inputs refused (range, cooldown, no item, no target, dead; summed at match end)",
                                          NULL);
    for (uint32_t i = 0; i < m->n; i++) {
        const sim_player_t *p = sim_player(m->sim, i);
        metric_add(c_speed, p->speed_violations);
        metric_add(c_bounds, p->bounds_violations);
        metric_add(c_refused, p->refused_actions);
        if (p->speed_violations || p->bounds_violations || p->refused_actions)
            log_info("player_violations", "match=%llu user=%llu speed=%u bounds=%u refused=%u",
                     (unsigned long long)m->id, (unsigned long long)m->players[i].user_id,
                     p->speed_violations, p->bounds_violations, p->refused_actions);
    }
    r->params[0] = fmt_u64(m->id);
    r->params[1] = fmt_u64(backend_id(g->be));
    r->params[2] = fmt_u64(m->room);
    r->params[3] = fmt_u64(m->started_wall_ms);
    r->params[4] = fmt_u64(wall_ms());
    r->params[5] = xstrdup(outcome);
    char arr[7][MATCH_MAX_PLAYERS * 40 + 8];
    for (int k = 0; k < 7; k++)
        snprintf(arr[k], sizeof arr[k], "{");
    for (uint32_t i = 0; i < m->n; i++) {
        const sim_player_t *p = sim_player(m->sim, i);
        const char *sep = i ? "," : "";
        size_t l;
#define APPEND(k, fmt, ...) l = strlen(arr[k]); snprintf(arr[k] + l, sizeof arr[k] - l, fmt, __VA_ARGS__)
        APPEND(0, "%s%llu", sep, (unsigned long long)m->players[i].user_id);
        APPEND(1, "%s%s", sep, m->players[i].name[0] ? m->players[i].name : "unknown");
        APPEND(2, "%s%u", sep, p->kills);
        APPEND(3, "%s%u", sep, p->damage_dealt);
        APPEND(4, "%s%u", sep, p->damage_taken);
        APPEND(5, "%s%u", sep, p->deaths);
        APPEND(6, "%s%u", sep, p->score);
#undef APPEND
    }
    for (int k = 0; k < 7; k++) {
        size_t l = strlen(arr[k]);
        snprintf(arr[k] + l, sizeof arr[k] - l, "}");
        r->params[6 + k] = xstrdup(arr[k]);
    }
    r->next = g->records;
    g->records = r;
    g->nrecords++;
    record_send(g, r);
}

/* ---- match lifecycle ---- */

static void unbind_and_forget(game_t *g, match_t *m)
{
    for (uint32_t i = 0; i < m->n; i++) {
        mplayer_t *p = &m->players[i];
        if (p->gw && p->sid)
            (void)backend_bind_game(g->be, p->gw, p->sid, 0, 0);
        mplayer_t *cur;
        HASH_FIND(hh, g->by_user, &p->user_id, sizeof p->user_id, cur);
        if (cur == p)
            HASH_DEL(g->by_user, p);
    }
    for (match_t **pp = &g->matches; *pp; pp = &(*pp)->next)
        if (*pp == m) {
            *pp = m->next;
            break;
        }
    g->nmatches--;
    g->nplayers -= m->n;
    sim_free(m->sim);
    xfree(m);
    load_changed(g);
}

static void report_ended(game_t *g, uint64_t match_id, const char *outcome)
{
    (void)rconn_cmd(backend_redis(g->be), NULL, NULL, "RPUSH %smatches:ended %llu:%s",
                    backend_prefix(g->be), (unsigned long long)match_id, outcome);
}

static void finish(game_t *g, match_t *m)
{
    sim_outcome_t o = sim_outcome(m->sim);
    PlayerResult res[MATCH_MAX_PLAYERS];
    PlayerResult *ptrs[MATCH_MAX_PLAYERS];
    for (uint32_t i = 0; i < m->n; i++) {
        const sim_player_t *p = sim_player(m->sim, i);
        player_result__init(&res[i]);
        res[i].user_id = m->players[i].user_id;
        res[i].username = m->players[i].name;
        res[i].kills = p->kills;
        res[i].damage_dealt = p->damage_dealt;
        res[i].damage_taken = p->damage_taken;
        res[i].deaths = p->deaths;
        res[i].score = p->score;
        ptrs[i] = &res[i];
    }
    GameOver go = GAME_OVER__INIT;
    go.match_id = m->id;
    go.room_id = m->room;
    go.outcome = outcome_proto(o);
    go.duration_ms = (uint32_t)sim_now_ms(m->sim);
    go.n_results = m->n;
    go.results = ptrs;
    push_all(g, m, PACKET_TYPE__GAME_OVER, &go.base);
    log_info("match_over", "match=%llu outcome=%s duration_ms=%u players=%u",
             (unsigned long long)m->id, outcome_text(o), go.duration_ms, m->n);
    record_match(g, m, outcome_text(o));
    report_ended(g, m->id, outcome_text(o));
    unbind_and_forget(g, m);
}

static void abort_match(game_t *g, match_t *m, const char *reason, int tell_lobby)
{
    MatchAborted ma = MATCH_ABORTED__INIT;
    ma.match_id = m->id;
    ma.reason = (char *)reason;
    push_all(g, m, PACKET_TYPE__MATCH_ABORTED, &ma.base);
    log_warn("match_aborted", "match=%llu reason=\"%s\"", (unsigned long long)m->id, reason);
    record_match(g, m, "aborted");
    if (tell_lobby)
        report_ended(g, m->id, "aborted");
    unbind_and_forget(g, m);
}

void game_abort_all(game_t *g, const char *reason)
{
    while (g->matches)
        abort_match(g, g->matches, reason, 1);
}

int game_busy(const game_t *g) { return g->nmatches > 0 || g->nrecords > 0; }

/* ---- the tick ---- */

#define UPD_MAX 512

static void tick_match(game_t *g, match_t *m)
{
    sim_tick(m->sim);
    const sim_event_t *ev;
    size_t n = sim_events(m->sim, &ev);
    if (n) {
        /* One update for this tick, the same for every player of this co-op match. */
        static MonsterSpawn spawns[UPD_MAX];
        static MonsterMove moves[UPD_MAX];
        static MonsterAttack attacks[UPD_MAX];
        static PlayerDamaged damaged[UPD_MAX];
        static MonsterDied deaths[UPD_MAX];
        static PlayerMoved pmoves[UPD_MAX];
        static Vec2 vecs[UPD_MAX * 3];
        static void *p_spawns[UPD_MAX], *p_moves[UPD_MAX], *p_attacks[UPD_MAX],
            *p_damaged[UPD_MAX], *p_deaths[UPD_MAX], *p_pmoves[UPD_MAX];
        size_t ns = 0, nm = 0, na = 0, nd = 0, nk = 0, np = 0, nv = 0;
        int players_changed = 0;
        for (size_t i = 0; i < n; i++) {
            const sim_event_t *e = &ev[i];
            switch (e->kind) {
            case SIM_EV_MONSTER_SPAWN:
                if (ns < UPD_MAX && nv < UPD_MAX * 3) {
                    monster_spawn__init(&spawns[ns]);
                    vec2__init(&vecs[nv]);
                    vecs[nv].x = e->x;
                    vecs[nv].y = e->y;
                    spawns[ns].id = e->id;
                    spawns[ns].pos = &vecs[nv++];
                    spawns[ns].hp = e->hp;
                    p_spawns[ns] = &spawns[ns];
                    ns++;
                }
                break;
            case SIM_EV_MONSTER_MOVE:
                if (nm < UPD_MAX && nv < UPD_MAX * 3) {
                    monster_move__init(&moves[nm]);
                    vec2__init(&vecs[nv]);
                    vecs[nv].x = e->x;
                    vecs[nv].y = e->y;
                    moves[nm].id = e->id;
                    moves[nm].pos = &vecs[nv++];
                    p_moves[nm] = &moves[nm];
                    nm++;
                }
                break;
            case SIM_EV_MONSTER_ATTACK:
                if (na < UPD_MAX && e->other < m->n) {
                    monster_attack__init(&attacks[na]);
                    attacks[na].id = e->id;
                    attacks[na].target_user_id = m->players[e->other].user_id;
                    attacks[na].damage = e->amount;
                    p_attacks[na] = &attacks[na];
                    na++;
                }
                break;
            case SIM_EV_PLAYER_DAMAGED:
            case SIM_EV_PLAYER_DIED:
                players_changed = 1;
                if (e->kind == SIM_EV_PLAYER_DAMAGED && nd < UPD_MAX && e->id < m->n) {
                    player_damaged__init(&damaged[nd]);
                    damaged[nd].user_id = m->players[e->id].user_id;
                    damaged[nd].damage = e->amount;
                    damaged[nd].hp = e->hp;
                    damaged[nd].died = e->hp <= 0;
                    p_damaged[nd] = &damaged[nd];
                    nd++;
                }
                break;
            case SIM_EV_MONSTER_DIED:
                players_changed = 1;
                if (nk < UPD_MAX) {
                    monster_died__init(&deaths[nk]);
                    deaths[nk].id = e->id;
                    deaths[nk].killer_user_id = e->other < m->n ? m->players[e->other].user_id : 0;
                    p_deaths[nk] = &deaths[nk];
                    nk++;
                }
                break;
            case SIM_EV_PLAYER_MOVED:
                if (np < UPD_MAX && nv < UPD_MAX * 3 && e->id < m->n) {
                    player_moved__init(&pmoves[np]);
                    vec2__init(&vecs[nv]);
                    vecs[nv].x = e->x;
                    vecs[nv].y = e->y;
                    pmoves[np].user_id = m->players[e->id].user_id;
                    pmoves[np].pos = &vecs[nv++];
                    p_pmoves[np] = &pmoves[np];
                    np++;
                }
                break;
            default:
                players_changed = 1; /* items, waves, the end: scores and hp may have changed */
                break;
            }
        }
        PlayerState ps[MATCH_MAX_PLAYERS];
        Vec2 pv[MATCH_MAX_PLAYERS];
        PlayerState *pp[MATCH_MAX_PLAYERS];
        GameStateUpdate u = GAME_STATE_UPDATE__INIT;
        u.tick = (uint32_t)sim_ticks(m->sim);
        u.wave = sim_wave(m->sim);
        u.n_spawns = ns;
        u.spawns = (MonsterSpawn **)p_spawns;
        u.n_moves = nm;
        u.moves = (MonsterMove **)p_moves;
        u.n_attacks = na;
        u.attacks = (MonsterAttack **)p_attacks;
        u.n_damaged = nd;
        u.damaged = (PlayerDamaged **)p_damaged;
        u.n_monster_deaths = nk;
        u.monster_deaths = (MonsterDied **)p_deaths;
        u.n_player_moves = np;
        u.player_moves = (PlayerMoved **)p_pmoves;
        if (players_changed) {
            for (uint32_t i = 0; i < m->n; i++) {
                player_state(m, i, &ps[i], &pv[i]);
                pp[i] = &ps[i];
            }
            u.n_players = m->n;
            u.players = pp;
        }
        push_all(g, m, PACKET_TYPE__GAME_STATE_UPDATE, &u.base);
        sim_events_clear(m->sim);
    }
    if (sim_outcome(m->sim) != SIM_RUNNING)
        finish(g, m);
}

static void on_tick(uv_timer_t *t)
{
    game_t *g = t->data;
    uint64_t t0 = mono_ns();
    for (match_t *m = g->matches, *next; m; m = next) {
        next = m->next;
        tick_match(g, m);
    }
    uint64_t us = (mono_ns() - t0) / 1000u;
    hist_record(&g->tick_us, us ? us : 1);
    metric_observe_us(tick_metric, us ? us : 1);
    g->ticks++;
    uint64_t now = uv_now(g->loop);
    if (g->nmatches && now - g->last_tick_log_ms >= g->tick_log_ms) {
        /* percentiles over the ticks since the last line */
        g->last_tick_log_ms = now;
        log_info("tick_stats", "matches=%u players=%u ticks=%llu tick_p50_us=%llu tick_p90_us=%llu "
                 "tick_p99_us=%llu tick_p999_us=%llu tick_max_us=%llu",
                 g->nmatches, g->nplayers, (unsigned long long)hist_count(&g->tick_us),
                 (unsigned long long)hist_percentile(&g->tick_us, 50),
                 (unsigned long long)hist_percentile(&g->tick_us, 90),
                 (unsigned long long)hist_percentile(&g->tick_us, 99),
                 (unsigned long long)hist_percentile(&g->tick_us, 99.9),
                 (unsigned long long)hist_max(&g->tick_us));
        hist_reset(&g->tick_us);
    }
}

/* ---- picking matches up ---- */

static void start_match(game_t *g, uint64_t match_id, const redisReply *r)
{
    /* r: room, game, then per player: uid, name, gw, sid */
    size_t np = (r->elements - 2) / 4;
    if (np == 0 || np > MATCH_MAX_PLAYERS) {
        log_error("match_refused", "match=%llu players=%zu", (unsigned long long)match_id, np);
        report_ended(g, match_id, "aborted");
        return;
    }
    match_t *m = xcalloc(1, sizeof *m);
    m->id = match_id;
    m->room = strtoull(r->element[0]->str ? r->element[0]->str : "0", NULL, 10);
    m->n = (uint32_t)np;
    m->started_wall_ms = wall_ms();
    sim_config_t c = g->sim_base;
    c.seed = match_id * 0x9E3779B97F4A7C15ull ^ (uint64_t)backend_id(g->be);
    m->sim = sim_new(&c, m->n);
    if (!m->sim) {
        xfree(m);
        report_ended(g, match_id, "aborted");
        return;
    }
    for (uint32_t i = 0; i < m->n; i++) {
        const redisReply *const *e = (const redisReply *const *)r->element + 2 + i * 4;
        mplayer_t *p = &m->players[i];
        p->user_id = strtoull(e[0]->str ? e[0]->str : "0", NULL, 10);
        snprintf(p->name, sizeof p->name, "%s", e[1]->str ? e[1]->str : "");
        p->gw = (uint32_t)strtoul(e[2]->str ? e[2]->str : "0", NULL, 10);
        p->sid = strtoull(e[3]->str ? e[3]->str : "0", NULL, 10);
        p->idx = i;
        p->m = m;
        mplayer_t *old;
        HASH_FIND(hh, g->by_user, &p->user_id, sizeof p->user_id, old);
        if (old)
            HASH_DEL(g->by_user, old); /* a stale match of the same user: this one wins */
        HASH_ADD(hh, g->by_user, user_id, sizeof p->user_id, p);
        if (p->gw && p->sid)
            (void)backend_bind_game(g->be, p->gw, p->sid, backend_id(g->be), m->id);
    }
    m->next = g->matches;
    g->matches = m;
    g->nmatches++;
    g->nplayers += m->n;
    load_changed(g);

    PlayerState ps[MATCH_MAX_PLAYERS];
    Vec2 pv[MATCH_MAX_PLAYERS];
    PlayerState *pp[MATCH_MAX_PLAYERS];
    for (uint32_t i = 0; i < m->n; i++) {
        player_state(m, i, &ps[i], &pv[i]);
        pp[i] = &ps[i];
    }
    const sim_config_t *sc = sim_config(m->sim);
    MatchStart s = MATCH_START__INIT;
    s.match_id = m->id;
    s.room_id = m->room;
    s.tick_ms = sc->tick_ms;
    s.time_limit_ms = sc->time_limit_ms;
    s.waves = sc->waves;
    s.arena_w = sc->arena_w;
    s.arena_h = sc->arena_h;
    s.n_players = m->n;
    s.players = pp;
    MatchRules rules = MATCH_RULES__INIT;
    rules.player_speed = sc->player_speed;
    rules.speed_tolerance = sc->speed_tolerance;
    rules.move_slack = sc->move_slack;
    rules.move_window_ms = sc->move_window_ms;
    rules.attack_range = sc->attack_range;
    rules.attack_cooldown_ms = sc->attack_cooldown_ms;
    rules.attack_damage = sc->attack_damage;
    rules.player_hp = sc->player_hp;
    rules.potions = sc->potions;
    rules.potion_heal = sc->potion_heal;
    rules.monster_speed = sc->monster_speed;
    rules.monster_range = sc->monster_range;
    rules.monster_damage = sc->monster_damage;
    rules.monster_cooldown_ms = sc->monster_cooldown_ms;
    s.rules = &rules;
    push_all(g, m, PACKET_TYPE__MATCH_START, &s.base);
    metric_inc(metrics_counter(backend_metrics(g->be), "cluster_game_matches_started_total",
                               "matches started", NULL));
    log_info("match_started", "match=%llu room=%llu players=%u", (unsigned long long)m->id,
             (unsigned long long)m->room, m->n);
}

typedef struct info_rq {
    game_t *g;
    uint64_t match_id;
} info_rq_t;

static void on_match_info(redisAsyncContext *ac, void *reply, void *privdata)
{
    info_rq_t *q = privdata;
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 2 && !backend_draining(q->g->be))
        start_match(q->g, q->match_id, r);
    else if (r && backend_draining(q->g->be))
        report_ended(q->g, q->match_id, "aborted"); /* placed just before we started draining */
    xfree(q);
}

static void on_inbox(redisAsyncContext *ac, void *reply, void *privdata)
{
    game_t *g = privdata;
    redisReply *r = reply;
    g->inbox_pending = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return;
    char key[256];
    for (size_t i = 0; i < r->elements; i++) {
        if (r->element[i]->type != REDIS_REPLY_STRING)
            continue;
        info_rq_t *q = xmalloc(sizeof *q);
        q->g = g;
        q->match_id = strtoull(r->element[i]->str, NULL, 10);
        snprintf(key, sizeof key, "%smatch:%llu", backend_prefix(g->be), (unsigned long long)q->match_id);
        const char *argv[] = {"EVAL", MATCH_INFO_LUA, "1", key, backend_prefix(g->be)};
        if (rconn_cmdargv(backend_redis(g->be), on_match_info, q, 5, argv, NULL) != 0)
            xfree(q);
    }
}

/* ---- where the lobby says things changed ----
 *
 * Once a second: which of our matches does the lobby still count as placed here
 * (SMEMBERS game:<id>:matches, one command whatever the number of matches). A running match
 * missing there was ended by the lobby (a gateway lost this daemon, e.g. while it was
 * stopped): its players were told and moved on, so stop it here too.
 * Every poll: players of our matches whose session moved (a RESUME or a new login on another
 * connection): the lobby queues their ids in game:<id>:moved, we read where they are now, so
 * pushes follow them before they send a game packet.
 * (This replaced a Lua script that read every player's location every second: 36 ms of
 * Redis time per call at 12,000 players, blocking every other client meanwhile.) */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void on_check(redisAsyncContext *ac, void *reply, void *privdata)
{
    game_t *g = privdata;
    redisReply *r = reply;
    g->check_pending = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return; /* Redis down or an error: check again next time */
    uint64_t *ids = xmalloc((r->elements ? r->elements : 1) * sizeof *ids);
    size_t n = 0;
    for (size_t i = 0; i < r->elements; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING)
            ids[n++] = strtoull(r->element[i]->str, NULL, 10);
    qsort(ids, n, sizeof *ids, cmp_u64);
    for (match_t *m = g->matches, *next; m; m = next) {
        next = m->next;
        if (!bsearch(&m->id, ids, n, sizeof *ids, cmp_u64))
            abort_match(g, m, "the lobby ended the match", 0); /* frees m */
    }
    xfree(ids);
}

static void check_matches(game_t *g)
{
    if (!g->nmatches || g->check_pending)
        return;
    if (rconn_cmd(backend_redis(g->be), on_check, g, "SMEMBERS %sgame:%u:matches", backend_prefix(g->be),
                  backend_id(g->be)) == 0)
        g->check_pending = 1;
}

typedef struct moved_rq {
    game_t *g;
    uint64_t user;
} moved_rq_t;

static void on_moved_where(redisAsyncContext *ac, void *reply, void *privdata)
{
    moved_rq_t *q = privdata;
    redisReply *r = reply;
    mplayer_t *p;
    HASH_FIND(hh, q->g->by_user, &q->user, sizeof q->user, p);
    if (p && r && r->type == REDIS_REPLY_ARRAY && r->elements == 3) {
        const redisReply *on = r->element[0], *gw = r->element[1], *sid = r->element[2];
        if (on->type == REDIS_REPLY_STRING && strcmp(on->str, "1") == 0 && gw->type == REDIS_REPLY_STRING &&
            sid->type == REDIS_REPLY_STRING) {
            p->gw = (uint32_t)strtoul(gw->str, NULL, 10);
            p->sid = strtoull(sid->str, NULL, 10);
        }
    }
    xfree(q);
}

static void on_moved(redisAsyncContext *ac, void *reply, void *privdata)
{
    game_t *g = privdata;
    redisReply *r = reply;
    g->moved_pending = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return;
    for (size_t i = 0; i < r->elements; i++) {
        if (r->element[i]->type != REDIS_REPLY_STRING)
            continue;
        uint64_t user = strtoull(r->element[i]->str, NULL, 10);
        mplayer_t *p;
        HASH_FIND(hh, g->by_user, &user, sizeof user, p);
        if (!p)
            continue; /* not (or no longer) in one of our matches */
        moved_rq_t *q = xmalloc(sizeof *q);
        q->g = g;
        q->user = user;
        if (rconn_cmd(backend_redis(g->be), on_moved_where, q, "HMGET %suser:%llu online gw sid",
                      backend_prefix(g->be), (unsigned long long)user) != 0)
            xfree(q);
    }
}

static void on_poll(uv_timer_t *t)
{
    game_t *g = t->data;
    uint32_t id = backend_id(g->be);
    if (!id || !rconn_up(backend_redis(g->be)))
        return;
    if (!g->inbox_pending && !backend_draining(g->be) &&
        rconn_cmd(backend_redis(g->be), on_inbox, g, "LPOP %sgame:%u:inbox 16",
                  backend_prefix(g->be), id) == 0)
        g->inbox_pending = 1;
    if (g->nmatches && !g->moved_pending &&
        rconn_cmd(backend_redis(g->be), on_moved, g, "LPOP %sgame:%u:moved 256", backend_prefix(g->be), id) == 0)
        g->moved_pending = 1;
    if (++g->polls % CHECK_EVERY_POLLS == 0)
        check_matches(g);
}

/* /readyz: the game daemon needs PostgreSQL for its match records. */
static int game_ready(void *ud, char *why, size_t n)
{
    game_t *g = ud;
    if (pg_ready(g->pg))
        return 1;
    snprintf(why, n, "postgresql not ready");
    return 0;
}

static void game_collect(metrics_t *mt, void *ud)
{
    game_t *g = ud;
    metrics_set_gauge(mt, "cluster_game_matches_running", "matches running on this daemon", NULL, g->nmatches);
    metrics_set_gauge(mt, "cluster_game_players", "players in running matches", NULL, g->nplayers);
    metrics_set_gauge(mt, "cluster_game_match_records_pending", "match records not yet written", NULL,
                      g->nrecords);
    metrics_set_counter(mt, "cluster_game_ticks_total", "simulation ticks run", NULL, g->ticks);
    metrics_set_gauge(mt, "cluster_pg_up", "1 while PostgreSQL is usable (a connection up, migrations done)",
                      NULL, pg_ready(g->pg));
    metrics_set_gauge(mt, "cluster_pg_pending_queries", "PostgreSQL queries queued or running", NULL,
                      pg_pending(g->pg));
}

void game_start(game_t *g)
{
    metrics_t *mt = backend_metrics(g->be);
    tick_metric = metrics_histogram(mt, "cluster_game_tick_duration_seconds",
                                    "time of one whole tick (every match on the daemon)", NULL);
    (void)metrics_counter(mt, "cluster_game_matches_started_total", "matches started", NULL);
    (void)metrics_counter(mt, "cluster_game_match_records_written_total",
                          "match records written to PostgreSQL", NULL);
    metrics_pg_init(mt);
    metrics_on_collect(mt, game_collect, g);
    backend_set_ready(g->be, game_ready);
    (void)backend_set_field(g->be, "modes", "arena");
    (void)backend_set_field(g->be, "mode_limits", "arena:1-4");
    hist_init(&g->tick_us);
    uv_timer_init(g->loop, &g->tick_timer);
    uv_timer_init(g->loop, &g->poll_timer);
    uv_timer_init(g->loop, &g->retry_timer);
    g->tick_timer.data = g->poll_timer.data = g->retry_timer.data = g;
    uv_timer_start(&g->tick_timer, on_tick, g->sim_base.tick_ms, g->sim_base.tick_ms);
    uv_timer_start(&g->poll_timer, on_poll, POLL_MS, POLL_MS);
    uv_timer_start(&g->retry_timer, on_retry, RECORD_RETRY_MS, RECORD_RETRY_MS);
}

void game_stop(game_t *g)
{
    if (g->matches)
        game_abort_all(g, "the game server stopped");
    uv_close((uv_handle_t *)&g->tick_timer, NULL);
    uv_close((uv_handle_t *)&g->poll_timer, NULL);
    uv_close((uv_handle_t *)&g->retry_timer, NULL);
    if (g->nrecords)
        log_error("match_records_lost", "count=%u", g->nrecords);
    pg_pool_close(g->pg);
    while (g->records) {
        record_t *r = g->records;
        g->records = r->next;
        record_free(r);
    }
    g->nrecords = 0;
}

/* ---- requests ---- */

/* The requesting player, or NULL after answering NOT_IN_GAME. */
static mplayer_t *player_of(game_t *g, backend_t *be, const backend_req_t *req)
{
    mplayer_t *p;
    HASH_FIND(hh, g->by_user, &req->user, sizeof req->user, p);
    if (!p) {
        backend_error(be, req, ERROR_CODE__NOT_IN_GAME, "not in a match on this server");
        return NULL;
    }
    /* the player may have resumed on another connection: push there from now on */
    p->gw = req->gw_id;
    p->sid = req->session;
    return p;
}

static int refuse(backend_t *be, const backend_req_t *req, int rc)
{
    switch (rc) {
    case SIM_DEAD: backend_error(be, req, ERROR_CODE__PLAYER_DEAD, "dead players can't act"); break;
    case SIM_OVER: backend_error(be, req, ERROR_CODE__MATCH_OVER, "the match has ended"); break;
    case SIM_OUT_OF_RANGE: backend_error(be, req, ERROR_CODE__OUT_OF_RANGE, "target out of range"); break;
    case SIM_COOLDOWN: backend_error(be, req, ERROR_CODE__COOLDOWN, "attack still cooling down"); break;
    case SIM_NO_TARGET: backend_error(be, req, ERROR_CODE__NO_TARGET, "no such live monster"); break;
    case SIM_NO_ITEM: backend_error(be, req, ERROR_CODE__NO_ITEM, "no such item left"); break;
    case SIM_BAD_VALUE: backend_error(be, req, ERROR_CODE__BAD_REQUEST, "bad coordinates"); break;
    default: backend_error(be, req, ERROR_CODE__INTERNAL, sim_strerror(rc)); break;
    }
    return rc;
}

void game_snapshot(backend_t *be, const backend_req_t *req, const ProtobufCMessage *msg, void *ud)
{
    game_t *g = ud;
    mplayer_t *p = player_of(g, be, req);
    if (!p)
        return;
    match_t *m = p->m;
    PlayerState ps[MATCH_MAX_PLAYERS];
    Vec2 pv[MATCH_MAX_PLAYERS];
    PlayerState *pp[MATCH_MAX_PLAYERS];
    for (uint32_t i = 0; i < m->n; i++) {
        player_state(m, i, &ps[i], &pv[i]);
        pp[i] = &ps[i];
    }
    uint32_t nm = sim_monster_count(m->sim);
    MonsterState *ms = xcalloc(nm ? nm : 1, sizeof *ms);
    MonsterState **mp = xcalloc(nm ? nm : 1, sizeof *mp);
    Vec2 *mv = xcalloc(nm ? nm : 1, sizeof *mv);
    for (uint32_t i = 0; i < nm; i++) {
        const sim_monster_t *mo = sim_monster(m->sim, i);
        monster_state__init(&ms[i]);
        vec2__init(&mv[i]);
        mv[i].x = mo->x;
        mv[i].y = mo->y;
        ms[i].id = mo->id;
        ms[i].pos = &mv[i];
        ms[i].hp = mo->hp;
        mp[i] = &ms[i];
    }
    const sim_config_t *sc = sim_config(m->sim);
    GameSnapshotResponse out = GAME_SNAPSHOT_RESPONSE__INIT;
    out.match_id = m->id;
    out.tick = (uint32_t)sim_ticks(m->sim);
    out.elapsed_ms = (uint32_t)sim_now_ms(m->sim);
    out.wave = sim_wave(m->sim);
    out.n_players = m->n;
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

void game_position(backend_t *be, const backend_req_t *req, const ProtobufCMessage *msg, void *ud)
{
    game_t *g = ud;
    const PlayerPositionUpdate *in = (const PlayerPositionUpdate *)msg;
    mplayer_t *p = player_of(g, be, req);
    if (!p)
        return;
    if (!in->pos) {
        backend_error(be, req, ERROR_CODE__BAD_REQUEST, "pos is required");
        return;
    }
    int rc = sim_move(p->m->sim, p->idx, in->pos->x, in->pos->y);
    if (rc < 0) {
        refuse(be, req, rc);
        return;
    }
    const sim_player_t *sp = sim_player(p->m->sim, p->idx);
    Vec2 v = VEC2__INIT;
    v.x = sp->x;
    v.y = sp->y;
    PlayerPositionResponse out = PLAYER_POSITION_RESPONSE__INIT;
    out.pos = &v;
    out.clamped = rc == SIM_CLAMPED;
    backend_reply(be, req, PACKET_TYPE__PLAYER_POSITION_RESPONSE, &out.base);
}

void game_attack(backend_t *be, const backend_req_t *req, const ProtobufCMessage *msg, void *ud)
{
    game_t *g = ud;
    const PlayerAttackMonster *in = (const PlayerAttackMonster *)msg;
    mplayer_t *p = player_of(g, be, req);
    if (!p)
        return;
    const sim_monster_t *before = sim_monster_find(p->m->sim, in->monster_id);
    int32_t hp_before = before ? before->hp : 0;
    int rc = sim_attack(p->m->sim, p->idx, in->monster_id);
    if (rc < 0) {
        refuse(be, req, rc);
        return;
    }
    const sim_monster_t *after = sim_monster_find(p->m->sim, in->monster_id);
    PlayerAttackResponse out = PLAYER_ATTACK_RESPONSE__INIT;
    out.monster_id = in->monster_id;
    out.monster_hp = after ? after->hp : 0;
    out.damage = hp_before - out.monster_hp;
    out.killed = after == NULL;
    backend_reply(be, req, PACKET_TYPE__PLAYER_ATTACK_RESPONSE, &out.base);
}

void game_use_item(backend_t *be, const backend_req_t *req, const ProtobufCMessage *msg, void *ud)
{
    game_t *g = ud;
    const PlayerUseItem *in = (const PlayerUseItem *)msg;
    mplayer_t *p = player_of(g, be, req);
    if (!p)
        return;
    int rc = sim_use_item(p->m->sim, p->idx, in->item);
    if (rc < 0) {
        refuse(be, req, rc);
        return;
    }
    const sim_player_t *sp = sim_player(p->m->sim, p->idx);
    PlayerUseItemResponse out = PLAYER_USE_ITEM_RESPONSE__INIT;
    out.hp = sp->hp;
    out.remaining = sp->potions;
    backend_reply(be, req, PACKET_TYPE__PLAYER_USE_ITEM_RESPONSE, &out.base);
}
