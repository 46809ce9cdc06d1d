/* match: the runner every game mode shares: picks new matches up from the daemon's inbox in
 * Redis, binds the players' sessions to this daemon, follows them when they RESUME elsewhere,
 * ticks every match (one shared timer at TICK_MS; a mode with another rate gets its own),
 * pushes what the mode broadcasts (packed once per match), ends the match with GAME_OVER or
 * MATCH_ABORTED, has the record written exactly once (record.c) and hands the room back to
 * the lobby (matches:ended). What a mode plays is behind the seam of mode.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utlist.h>

#include "alloc.h"
#include "game.h"
#include "keys.h"
#include "log.h"
#include "rconn.h"
#include "util.h"

#define POLL_MS 100
#define CHECK_EVERY_POLLS 10
#define RECORD_RETRY_MS 1000

/* The tick time histogram on /metrics: cumulative, unlike g->tick_us (reset per log line). */
static metric_t *tick_metric;

/* Picks a match up from the inbox (docs/matches.md, "Placement is confirmed"): reads its room,
 * mode and players with where each is connected, and confirms the pickup (out of `placing`)
 * in the same step. Not ours any more (the lobby re-placed it past the bound): false. Draining,
 * or an online player's gateway without a live link to us (ARGV[3], ",id,id,"): not
 * confirmed, and marked due at once so the lobby re-places it now: {'refused', why}.
 * KEYS: match:<id>, placing. ARGV: prefix, our id, live gateways, draining, match id. */
static const char MATCH_INFO_LUA[] =
    "local m = redis.call('HMGET', KEYS[1], 'room', 'players', 'game', 'mode') "
    "if not m[1] or m[3] ~= ARGV[2] then return false end "
    "local function refuse(why) redis.call('ZADD', KEYS[2], 'XX', 0, ARGV[5]) return {'refused', why} end "
    "if ARGV[4] == '1' then return refuse('draining') end "
    "local out = {m[1], m[3] or '0', m[4] or ''} "
    "for uid in string.gmatch(m[2] or '', '%d+') do "
    "  local u = redis.call('HMGET', ARGV[1] .. 'user:' .. uid, 'name', 'gw', 'sid', 'online') "
    "  if u[4] == '1' and u[2] and not string.find(ARGV[3], ',' .. u[2] .. ',', 1, true) then "
    "    return refuse('gateway ' .. u[2] .. ' has no live link here') "
    "  end "
    "  table.insert(out, uid) table.insert(out, u[1] or '') "
    "  table.insert(out, u[2] or '0') table.insert(out, u[3] or '0') "
    "end "
    "redis.call('ZREM', KEYS[2], ARGV[5]) "
    "return out";
#define INFO_HEAD 3

static void load_changed(game_t *g) { backend_set_load(g->be, (int)g->nmatches, (int)g->nplayers); }

/* ---- the dispatcher (mode.h; what only reads the match_t: match_state.c) ---- */

backend_t *match_backend(const match_t *m) { return m->g->be; }

void match_broadcast(match_t *m, uint16_t type, const ProtobufCMessage *msg, const uint64_t *users,
                     size_t nusers)
{
    game_t *g = m->g;
    size_t n = protobuf_c_message_get_packed_size(msg);
    if (n > g->pack_cap) {
        g->pack_cap = n * 2;
        g->pack_buf = xrealloc(g->pack_buf, g->pack_cap);
    }
    protobuf_c_message_pack(msg, g->pack_buf);
    for (uint32_t i = 0; i < m->n; i++) {
        mplayer_t *p = &m->players[i];
        if (!p->gw || !p->sid || p->gone)
            continue;
        if (users) {
            size_t k = 0;
            while (k < nusers && users[k] != p->user_id)
                k++;
            if (k == nusers)
                continue;
        }
        (void)backend_push_packed(g->be, p->gw, p->sid, type, g->pack_buf, n);
    }
}

void match_fail(match_t *m, const char *kind, const char *reason)
{
    if (m->fail_kind[0])
        return; /* the first failure is the one reported */
    snprintf(m->fail_kind, sizeof m->fail_kind, "%s", kind);
    snprintf(m->fail_reason, sizeof m->fail_reason, "%s", reason);
    char labels[96];
    snprintf(labels, sizeof labels, "mode=%s,kind=%s", m->mode, kind);
    metric_inc(metrics_counter(backend_metrics(m->g->be), "cluster_game_module_errors_total",
                               "module matches ended by their module's failure, by mode and kind", labels));
}

/* ---- match lifecycle ---- */

static void on_timer_closed(uv_handle_t *h) { xfree(h); }

static void unbind_and_forget(game_t *g, match_t *m)
{
    for (uint32_t i = 0; i < m->n; i++) {
        mplayer_t *p = &m->players[i];
        /* a player gone to another match stays bound there; the unbind names this match, so a
         * gateway refuses it once the session is bound elsewhere (fencing, link-protocol.md) */
        if (p->gw && p->sid && !p->gone)
            (void)backend_bind_game(g->be, p->gw, p->sid, 0, m->id);
        mplayer_t *cur;
        HASH_FIND(hh, g->by_user, &p->user_id, sizeof p->user_id, cur);
        if (cur == p)
            HASH_DEL(g->by_user, p);
    }
    LL_DELETE(g->matches, m);
    g->nmatches--;
    g->nplayers -= m->n;
    if (m->st)
        m->ops->free(m->st);
    if (m->timer) {
        uv_timer_stop(m->timer);
        uv_close((uv_handle_t *)m->timer, on_timer_closed);
    }
    if (m->tick_gap_us && hist_count(m->tick_gap_us))
        log_info("module_match_ticks", "match=%llu mode=%s ticks=%llu tick_ms=%u gap_p50_us=%llu gap_p99_us=%llu "
                 "gap_max_us=%llu", (unsigned long long)m->id, m->mode, (unsigned long long)m->ticks, m->tick_ms,
                 (unsigned long long)hist_percentile(m->tick_gap_us, 50),
                 (unsigned long long)hist_percentile(m->tick_gap_us, 99),
                 (unsigned long long)hist_max(m->tick_gap_us));
    xfree(m->tick_gap_us);
    module_version_unref(m->module);
    xfree(m->players);
    xfree(m);
    load_changed(g);
}

static void report_ended(game_t *g, uint64_t match_id, const char *outcome)
{
    (void)rconn_cmd(backend_redis(g->be), NULL, NULL, "RPUSH %s %llu:%s",
                    key_matches_ended(backend_prefix(g->be)).s, (unsigned long long)match_id, outcome);
}

static const char *outcome_text(MatchOutcome o)
{
    switch (o) {
    case MATCH_OUTCOME__WIN: return "win";
    case MATCH_OUTCOME__LOSS: return "loss";
    case MATCH_OUTCOME__TIMEOUT_REACHED: return "timeout";
    case MATCH_OUTCOME__FINISHED: return "finished";
    default: return "aborted";
    }
}

/* The mode's results (the runner's defaults when the mode never started). */
static mode_result_t *results_of(match_t *m)
{
    mode_result_t *res = xcalloc(1, sizeof *res);
    res->players = xcalloc(m->n ? m->n : 1, sizeof *res->players);
    res->outcome = MATCH_OUTCOME__ABORTED;
    if (m->st)
        m->ops->results(m->st, m, res);
    return res;
}

static void free_results(mode_result_t *res)
{
    xfree(res->players);
    xfree(res);
}

/* The match ended: what its players are to be told waits, packed, until its record is durable
 * (record.c calls match_release); meanwhile it does not tick and answers MATCH_OVER. */
static void hold_announcement(match_t *m, uint16_t type, const ProtobufCMessage *msg, const char *outcome,
                              int tell_lobby)
{
    m->closing = 1;
    m->tell_lobby = tell_lobby;
    m->told_type = type;
    m->told_len = protobuf_c_message_get_packed_size(msg);
    m->told = xmalloc(m->told_len ? m->told_len : 1);
    protobuf_c_message_pack(msg, m->told);
    snprintf(m->told_outcome, sizeof m->told_outcome, "%s", outcome);
    if (m->timer)
        uv_timer_stop(m->timer);
}

void match_release(game_t *g, match_t *m)
{
    for (uint32_t i = 0; i < m->n; i++) {
        const mplayer_t *p = &m->players[i];
        if (p->gw && p->sid && !p->gone)
            (void)backend_push_packed(g->be, p->gw, p->sid, m->told_type, m->told, m->told_len);
    }
    if (m->tell_lobby)
        report_ended(g, m->id, m->told_outcome);
    xfree(m->told);
    m->told = NULL;
    unbind_and_forget(g, m); /* after the announcement: an unbound session gets no push */
}

static void finish(game_t *g, match_t *m)
{
    mode_result_t *res = results_of(m);
    PlayerResult *pr = xcalloc(m->n, sizeof *pr);
    PlayerResult **ptrs = xcalloc(m->n, sizeof *ptrs);
    for (uint32_t i = 0; i < m->n; i++) {
        const mode_player_result_t *p = &res->players[i];
        player_result__init(&pr[i]);
        pr[i].user_id = m->players[i].user_id;
        pr[i].username = m->players[i].name;
        pr[i].kills = p->kills;
        pr[i].damage_dealt = p->damage_dealt;
        pr[i].damage_taken = p->damage_taken;
        pr[i].deaths = p->deaths;
        pr[i].score = p->score;
        pr[i].outcome = (char *)p->outcome;
        ptrs[i] = &pr[i];
    }
    GameOver go = GAME_OVER__INIT;
    go.match_id = m->id;
    go.room_id = m->room;
    go.outcome = res->outcome;
    go.duration_ms = (uint32_t)match_now_ms(m);
    go.n_results = m->n;
    go.results = ptrs;
    go.mode = m->mode;
    go.summary = res->summary;
    const char *o = outcome_text(res->outcome);
    hold_announcement(m, PACKET_TYPE__GAME_OVER, &go.base, o, 1);
    log_info("match_over", "match=%llu mode=%s outcome=%s duration_ms=%u players=%u",
             (unsigned long long)m->id, m->mode, o, go.duration_ms, m->n);
    record_match(g, m, o, res, 1);
    xfree(pr);
    xfree(ptrs);
    free_results(res);
}

/* Ends the match as aborted. from_outside: the mode is told (terminate) first. */
static void abort_match(game_t *g, match_t *m, const char *reason, int tell_lobby, int from_outside)
{
    if (m->closing)
        return; /* ended already: its announcement waits for its record */
    if (from_outside && m->st && m->ops->terminate)
        m->ops->terminate(m->st, m, reason);
    mode_result_t *res = results_of(m);
    MatchAborted ma = MATCH_ABORTED__INIT;
    ma.match_id = m->id;
    ma.reason = (char *)reason;
    hold_announcement(m, PACKET_TYPE__MATCH_ABORTED, &ma.base, "aborted", tell_lobby);
    log_warn("match_aborted", "match=%llu mode=%s reason=\"%s\"", (unsigned long long)m->id, m->mode,
             reason);
    record_match(g, m, "aborted", res, 1);
    free_results(res);
}

void game_abort_all(game_t *g, const char *reason)
{
    match_t *m, *next;
    LL_FOREACH_SAFE(g->matches, m, next)
        abort_match(g, m, reason, 1, 1); /* a closing one is left to its record */
}

int game_busy(const game_t *g)
{
    return g->nmatches > 0 || record_undurable(g) > 0 || (pg_ready(g->pg) && record_writing(g) > 0);
}

/* ---- the tick ---- */

/* One tick of one match; ends it when the mode finished or failed. Returns 1 if it ended. */
static int tick_match(game_t *g, match_t *m)
{
    if (m->closing)
        return 0;
    m->ticks++;
    if (m->tick_gap_us) {
        uint64_t now = mono_ns();
        if (m->last_tick_ns)
            hist_record(m->tick_gap_us, (now - m->last_tick_ns) / 1000u);
        m->last_tick_ns = now;
    }
    m->ops->loop(m->st, m);
    /* the safety net of module matches: twice the time limit */
    if (m->module && !match_over(m) && match_now_ms(m) >= 2ull * g->sim_base.time_limit_ms)
        match_fail(m, "time_limit", "time limit");
    if (m->fail_kind[0]) {
        abort_match(g, m, m->fail_reason, 1, 0);
        return 1;
    }
    if (m->over) {
        finish(g, m);
        return 1;
    }
    return 0;
}

static void tick_stats(game_t *g)
{
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

static void on_tick(uv_timer_t *t)
{
    game_t *g = t->data;
    uint64_t t0 = mono_ns();
    match_t *m, *next;
    LL_FOREACH_SAFE(g->matches, m, next)
        if (!m->timer)
            (void)tick_match(g, m);
    uint64_t us = (mono_ns() - t0) / 1000u;
    hist_record(&g->tick_us, us ? us : 1);
    hist_record(&g->tick_window_us, us ? us : 1);
    metric_observe_us(tick_metric, us ? us : 1);
    g->ticks++;
    tick_stats(g);
}

/* A match with its own tick rate. */
static void on_match_tick(uv_timer_t *t)
{
    match_t *m = t->data;
    game_t *g = m->g;
    uint64_t t0 = mono_ns();
    (void)tick_match(g, m); /* may free m (not t: closed, freed in its close callback) */
    uint64_t us = (mono_ns() - t0) / 1000u;
    hist_record(&g->tick_us, us ? us : 1);
    hist_record(&g->tick_window_us, us ? us : 1);
    metric_observe_us(tick_metric, us ? us : 1);
}

/* ---- picking matches up ---- */

static void push_match_start(game_t *g, match_t *m)
{
    MatchStart s = MATCH_START__INIT;
    if (m->ops->describe)
        m->ops->describe(m->st, m, &s);
    s.match_id = m->id;
    s.room_id = m->room;
    s.tick_ms = m->tick_ms;
    if (!s.time_limit_ms)
        s.time_limit_ms = g->sim_base.time_limit_ms;
    s.mode = m->mode;
    PlayerState *ps = NULL, **pp = NULL;
    if (!s.n_players) {
        ps = xcalloc(m->n, sizeof *ps);
        pp = xcalloc(m->n, sizeof *pp);
        for (uint32_t i = 0; i < m->n; i++) {
            player_state__init(&ps[i]);
            ps[i].user_id = m->players[i].user_id;
            ps[i].username = m->players[i].name;
            ps[i].alive = 1;
            pp[i] = &ps[i];
        }
        s.n_players = m->n;
        s.players = pp;
    }
    match_broadcast(m, PACKET_TYPE__MATCH_START, &s.base, NULL, 0);
    xfree(ps);
    xfree(pp);
}

/* The mode of a placed match: "" is the arena; a module must be served here now. */
static int pick_mode(game_t *g, match_t *m, const char *mode)
{
    snprintf(m->mode, sizeof m->mode, "%s", mode && *mode ? mode : "arena");
    if (strcmp(m->mode, "arena") == 0) {
        m->ops = &MODE_ARENA;
        return 0;
    }
    m->module = modules_get(g->modules, m->mode);
    if (!m->module)
        return -1;
    m->ops = &MODE_LUA;
    m->tick_gap_us = xmalloc(sizeof *m->tick_gap_us);
    hist_init(m->tick_gap_us);
    if (m->n < m->module->min_players || m->n > m->module->max_players)
        return -1;
    return 0;
}

/* Links the players into the daemon's index and binds their sessions here. */
static void add_players(game_t *g, match_t *m, const redisReply *r)
{
    for (uint32_t i = 0; i < m->n; i++) {
        const redisReply *const *e = (const redisReply *const *)r->element + INFO_HEAD + i * 4;
        mplayer_t *p = &m->players[i];
        p->user_id = strtoull(e[0]->str ? e[0]->str : "0", NULL, 10);
        snprintf(p->name, sizeof p->name, "%s", e[1]->str ? e[1]->str : "");
        p->gw = (uint32_t)strtoul(e[2]->str ? e[2]->str : "0", NULL, 10);
        p->sid = strtoull(e[3]->str ? e[3]->str : "0", NULL, 10);
        p->idx = i;
        p->m = m;
        mplayer_t *old;
        HASH_FIND(hh, g->by_user, &p->user_id, sizeof p->user_id, old);
        if (old) {
            /* a stale match of the same user: this one wins; the old one's mode is told */
            HASH_DEL(g->by_user, old);
            old->gone = 1;
            if (old->m->st && old->m->ops->leave)
                old->m->ops->leave(old->m->st, old->m, old->idx, "placed in another match");
        }
        HASH_ADD(hh, g->by_user, user_id, sizeof p->user_id, p);
        if (p->gw && p->sid)
            (void)backend_bind_game(g->be, p->gw, p->sid, backend_id(g->be), m->id);
    }
}

static void start_match(game_t *g, uint64_t match_id, const redisReply *r)
{
    /* r: room, game, mode, then per player: uid, name, gw, sid */
    size_t np = (r->elements - INFO_HEAD) / 4;
    const char *mode = r->element[2]->type == REDIS_REPLY_STRING ? r->element[2]->str : "";
    if (np == 0 || np > MATCH_MAX_PLAYERS) {
        log_error("match_refused", "match=%llu players=%zu", (unsigned long long)match_id, np);
        report_ended(g, match_id, "aborted");
        return;
    }
    match_t *m = xcalloc(1, sizeof *m);
    m->g = g;
    m->id = match_id;
    m->room = strtoull(r->element[0]->str ? r->element[0]->str : "0", NULL, 10);
    m->n = (uint32_t)np;
    m->players = xcalloc(np, sizeof *m->players);
    m->started_wall_ms = wall_ms();
    m->seed = m->rng = match_id * 0x9E3779B97F4A7C15ull ^ (uint64_t)backend_id(g->be);
    m->tick_ms = g->sim_base.tick_ms;
    if (pick_mode(g, m, mode) != 0) {
        log_error("match_refused", "match=%llu mode=%s players=%zu reason=\"mode not served here or "
                  "wrong number of players\"", (unsigned long long)match_id, m->mode, np);
        report_ended(g, match_id, "aborted");
        xfree(m->tick_gap_us);
        module_version_unref(m->module);
        xfree(m->players);
        xfree(m);
        return;
    }
    LL_PREPEND(g->matches, m);
    g->nmatches++;
    g->nplayers += m->n;
    add_players(g, m, r);
    load_changed(g);

    char err[256] = "";
    m->st = m->ops->init(m, &m->tick_ms, err, sizeof err);
    if (!m->st) {
        abort_match(g, m, m->fail_reason[0] ? m->fail_reason : err, 1, 0);
        return;
    }
    for (uint32_t i = 0; i < m->n && !m->fail_kind[0]; i++)
        (void)m->ops->join(m->st, m, i);
    if (m->fail_kind[0]) {
        abort_match(g, m, m->fail_reason, 1, 0);
        return;
    }
    if (m->tick_ms != g->sim_base.tick_ms) {
        m->timer = xmalloc(sizeof *m->timer);
        uv_timer_init(g->loop, m->timer);
        m->timer->data = m;
        uv_timer_start(m->timer, on_match_tick, m->tick_ms, m->tick_ms);
    }
    push_match_start(g, m);
    metric_inc(metrics_counter(backend_metrics(g->be), "cluster_game_matches_started_total",
                               "matches started", NULL));
    log_info("match_started", "match=%llu room=%llu mode=%s version=%u players=%u tick_ms=%u",
             (unsigned long long)m->id, (unsigned long long)m->room, m->mode,
             m->module ? m->module->version : 0, m->n, m->tick_ms);
}

/* A Redis request about one match (its id) or one player (a user id) of this daemon. */
typedef struct game_rq {
    game_t *g;
    uint64_t id;
} game_rq_t;

static void on_match_info(redisAsyncContext *ac, void *reply, void *privdata)
{
    game_rq_t *q = privdata;
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_STRING &&
        strcmp(r->element[0]->str, "refused") == 0) {
        metric_inc(metrics_counter(backend_metrics(q->g->be), "cluster_game_pickups_refused_total",
                                   "matches placed here and handed back to the lobby to re-place "
                                   "(draining, or a player's gateway not linked here)", NULL));
        log_warn("match_pickup_refused", "match=%llu reason=\"%s\" action=\"the lobby places it again\"",
                 (unsigned long long)q->id,
                 r->element[1]->type == REDIS_REPLY_STRING ? r->element[1]->str : "");
    } else if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= INFO_HEAD && !backend_draining(q->g->be))
        start_match(q->g, q->id, r);
    else if (r && backend_draining(q->g->be))
        report_ended(q->g, q->id, "aborted"); /* placed just before we started draining */
    xfree(q);
}

static void on_inbox(void *ud, const redisReply *r)
{
    game_t *g = ud;
    char key[256], placing[256], self[16], mid[24];
    /* ",id,id," of the gateways with a live link here, for the pickup's check */
    uint32_t gws[256];
    size_t ngw = backend_gateways_live(g->be, gws, sizeof gws / sizeof gws[0]);
    char live[256 * 11 + 2] = ",";
    size_t at = 1;
    for (size_t k = 0; k < ngw; k++)
        at += (size_t)snprintf(live + at, sizeof live - at, "%u,", gws[k]);
    snprintf(placing, sizeof placing, "%splacing", backend_prefix(g->be));
    snprintf(self, sizeof self, "%u", backend_id(g->be));
    for (size_t i = 0; i < r->elements; i++) {
        if (r->element[i]->type != REDIS_REPLY_STRING)
            continue;
        game_rq_t *q = xmalloc(sizeof *q);
        q->g = g;
        q->id = strtoull(r->element[i]->str, NULL, 10);
        snprintf(key, sizeof key, "%s", key_match(backend_prefix(g->be), q->id).s);
        snprintf(mid, sizeof mid, "%llu", (unsigned long long)q->id);
        const char *argv[] = {"EVAL", MATCH_INFO_LUA, "2", key, placing, backend_prefix(g->be), self,
                              live, backend_draining(g->be) ? "1" : "0", mid};
        if (rconn_cmdargv(backend_redis(g->be), on_match_info, q, 10, argv, NULL) != 0)
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
 * (Reading every player's location each second instead costs Redis time in proportion to
 * all players, and Redis serves no other client meanwhile.) */

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
    match_t *m, *next;
    LL_FOREACH_SAFE(g->matches, m, next)
        if (!bsearch(&m->id, ids, n, sizeof *ids, cmp_u64))
            abort_match(g, m, "the lobby ended the match", 0, 1); /* frees m */
    xfree(ids);
}

static void check_matches(game_t *g)
{
    if (!g->nmatches || g->check_pending)
        return;
    if (rconn_cmd(backend_redis(g->be), on_check, g, "SMEMBERS %s",
                  key_game_matches(backend_prefix(g->be), backend_id(g->be)).s) == 0)
        g->check_pending = 1;
}

static void on_moved_where(redisAsyncContext *ac, void *reply, void *privdata)
{
    game_rq_t *q = privdata;
    redisReply *r = reply;
    mplayer_t *p;
    HASH_FIND(hh, q->g->by_user, &q->id, sizeof q->id, p);
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

static void on_moved(void *ud, const redisReply *r)
{
    game_t *g = ud;
    for (size_t i = 0; i < r->elements; i++) {
        if (r->element[i]->type != REDIS_REPLY_STRING)
            continue;
        uint64_t user = strtoull(r->element[i]->str, NULL, 10);
        mplayer_t *p;
        HASH_FIND(hh, g->by_user, &user, sizeof user, p);
        if (!p)
            continue; /* not (or no longer) in one of our matches */
        game_rq_t *q = xmalloc(sizeof *q);
        q->g = g;
        q->id = user;
        if (rconn_cmd(backend_redis(g->be), on_moved_where, q, "HMGET %s online gw sid",
                      key_user(backend_prefix(g->be), user).s) != 0)
            xfree(q);
    }
}

/* Once a second: the tick p99 of the last second against TICK_MS sets smooth / congested
 * (common/congestion.h: congested at CONGESTED_TICK_PCT, smooth after SMOOTH_AFTER_S seconds
 * below SMOOTH_TICK_PCT); the lobby places new matches on smooth daemons first. */
static void check_congestion(game_t *g)
{
    double load = NAN;
    uint64_t p99 = 0;
    if (hist_count(&g->tick_window_us)) {
        p99 = hist_percentile(&g->tick_window_us, 99);
        load = 100.0 * (double)p99 / ((double)g->sim_base.tick_ms * 1000.0);
    }
    hist_reset(&g->tick_window_us);
    if (congestion_feed(&g->congestion, load)) {
        char why[160];
        snprintf(why, sizeof why, "tick p99 %llu us = %.0f%% of TICK_MS %u (matches %u, players %u)",
                 (unsigned long long)p99, load, g->sim_base.tick_ms, g->nmatches, g->nplayers);
        backend_set_congested(g->be, g->congestion.congested, why);
    }
}

static void on_poll(uv_timer_t *t)
{
    game_t *g = t->data;
    uint32_t id = backend_id(g->be);
    if (!id || !rconn_up(backend_redis(g->be)))
        return;
    if (!backend_draining(g->be))
        rqueue_poll(&g->inbox, backend_redis(g->be), key_game_inbox(backend_prefix(g->be), id).s, 16, on_inbox, g);
    if (g->nmatches)
        rqueue_poll(&g->moved, backend_redis(g->be), key_game_moved(backend_prefix(g->be), id).s, 256, on_moved, g);
    if (++g->polls % CHECK_EVERY_POLLS == 0) {
        check_matches(g);
        check_congestion(g);
    }
}

static void game_collect(metrics_t *mt, void *ud)
{
    game_t *g = ud;
    metrics_set_gauge(mt, "cluster_game_matches_running", "matches running on this daemon", NULL, g->nmatches);
    metrics_set_gauge(mt, "cluster_game_players", "players in running matches", NULL, g->nplayers);
    record_gauges(g, mt);
    metrics_set_counter(mt, "cluster_game_ticks_total", "simulation ticks run", NULL, g->ticks);
}

static void on_retry(uv_timer_t *t) { record_retry_all(t->data); }

void game_start(game_t *g)
{
    metrics_t *mt = backend_metrics(g->be);
    tick_metric = metrics_histogram(mt, "cluster_game_tick_duration_seconds",
                                    "time of one whole tick (every match on the daemon)", NULL);
    (void)metrics_counter(mt, "cluster_game_matches_started_total", "matches started", NULL);
    (void)metrics_counter(mt, "cluster_game_match_records_written_total",
                          "match records written to PostgreSQL", NULL);
    metrics_on_collect(mt, game_collect, g);
    game_publish_modes(g);
    hist_init(&g->tick_us);
    hist_init(&g->tick_window_us);
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
    pg_pool_close(g->pg);
    record_drop_all(g);
}

/* ---- requests ---- */

/* Every packet of a match: the requesting player's match takes it (NOT_IN_GAME when the user
 * plays no match here). The player may have resumed on another connection: pushes follow. */
void game_match_request(backend_t *be, const backend_req_t *req, const ProtobufCMessage *msg, void *ud)
{
    game_t *g = ud;
    mplayer_t *p;
    HASH_FIND(hh, g->by_user, &req->user, sizeof req->user, p);
    if (!p) {
        backend_error(be, req, ERROR_CODE__NOT_IN_GAME, "not in a match on this server");
        return;
    }
    p->gw = req->gw_id;
    p->sid = req->session;
    match_t *m = p->m;
    if (match_over(m)) {
        backend_error(be, req, ERROR_CODE__MATCH_OVER, "the match has ended");
        return;
    }
    if (req->type == PACKET_TYPE__MATCH_DATA_SEND &&
        ((const MatchDataSend *)msg)->data.len > g->match_data_max) {
        char why[96];
        snprintf(why, sizeof why, "data is over MATCH_DATA_MAX (%zu bytes)", g->match_data_max);
        backend_error(be, req, ERROR_CODE__BAD_REQUEST, why);
        return;
    }
    if (m->ops->request(m->st, m, p->idx, req, msg) < 0) {
        char why[96];
        snprintf(why, sizeof why, "mode %s takes no packet of this type", m->mode);
        backend_error(be, req, ERROR_CODE__BAD_REQUEST, why);
    }
}
