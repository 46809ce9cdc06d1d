/* matches: the lobby's side of matches: rooms back to waiting when a match ends or its game
 * daemon is lost, and GET_MATCH_HISTORY from PostgreSQL. */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "keys.h"
#include "lobby.h"
#include "log.h"
#include "rconn.h"
#include "util.h"

static MatchOutcome outcome_from(const char *s)
{
    if (strcmp(s, "win") == 0)
        return MATCH_OUTCOME__WIN;
    if (strcmp(s, "loss") == 0)
        return MATCH_OUTCOME__LOSS;
    if (strcmp(s, "timeout") == 0)
        return MATCH_OUTCOME__TIMEOUT_REACHED;
    if (strcmp(s, "finished") == 0)
        return MATCH_OUTCOME__FINISHED;
    return MATCH_OUTCOME__ABORTED;
}

/* ---- rooms back to waiting ---- */

static void on_room_back(lobby_t *lb, redisReply *r, void *ud)
{
    room_view_t v;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements > 1 && r->element[0]->str &&
        strcmp(r->element[0]->str, "room") == 0 && room_view_parse(&v, r, 1) >= 0) {
        room_view_push(lb, &v, (const char *)ud, 0);
        room_view_free(&v);
    }
}

static void on_ended(void *ud, const redisReply *r)
{
    lobby_t *lb = ud;
    char now[24];
    snprintf(now, sizeof now, "%llu", (unsigned long long)wall_ms());
    for (size_t i = 0; i < r->elements; i++) {
        if (r->element[i]->type != REDIS_REPLY_STRING)
            continue;
        /* "<match id>:<outcome>" */
        char match[24];
        snprintf(match, sizeof match, "%llu", strtoull(r->element[i]->str, NULL, 10));
        const char *argv[] = {match, now};
        const char *event = strstr(r->element[i]->str, ":aborted") ? "match_aborted" : "match_ended";
        (void)lobby_script(lb, on_room_back, (void *)event, "match_end", 2, argv);
    }
}

void lobby_matches_tick(lobby_t *lb)
{
    rqueue_poll(&lb->ended, backend_redis(lb->be), key_matches_ended(backend_prefix(lb->be)).s, 50, on_ended, lb);
}

static void on_game_lost_done(lobby_t *lb, redisReply *r, void *ud)
{
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return;
    if (r->elements > 1 || ud)
        log_info("game_lost_handled", "game=%u rooms=%zu", (unsigned)(uintptr_t)ud,
                 r->elements ? (r->elements - 1) / 2 : 0);
    /* pairs: room id, event (match_ended when the daemon had reported the match over) */
    for (size_t i = 1; i + 1 < r->elements; i += 2) {
        char room[24];
        if (r->element[i]->type == REDIS_REPLY_INTEGER)
            snprintf(room, sizeof room, "%lld", r->element[i]->integer);
        else if (r->element[i]->type == REDIS_REPLY_STRING)
            snprintf(room, sizeof room, "%s", r->element[i]->str);
        else
            continue;
        const char *event = r->element[i + 1]->type == REDIS_REPLY_STRING &&
                                    strcmp(r->element[i + 1]->str, "match_ended") == 0
                                ? "match_ended"
                                : "match_aborted";
        const char *argv[] = {room};
        (void)lobby_script(lb, on_room_back, (void *)event, "state", 1, argv);
    }
}

/* A room member went offline with its dead gateway: the room's members hear it. */
typedef struct offline_push {
    uint64_t user;
} offline_push_t;

static void on_offline_room(lobby_t *lb, redisReply *r, void *ud)
{
    offline_push_t *o = ud;
    room_view_t v;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements > 1 && r->element[0]->str &&
        strcmp(r->element[0]->str, "room") == 0 && room_view_parse(&v, r, 1) >= 0) {
        room_view_push(lb, &v, "offline", o->user);
        room_view_free(&v);
    }
    xfree(o);
}

static void on_gateway_swept(lobby_t *lb, redisReply *r, void *ud)
{
    uint32_t gw = (uint32_t)(uintptr_t)ud;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1)
        return;
    size_t users = 0;
    for (size_t i = 1; i + 1 < r->elements; i += 2) {
        if (r->element[i]->type != REDIS_REPLY_STRING || r->element[i + 1]->type != REDIS_REPLY_STRING)
            continue;
        users++;
        if (strcmp(r->element[i + 1]->str, "0") == 0)
            continue;
        offline_push_t *o = xmalloc(sizeof *o);
        o->user = strtoull(r->element[i]->str, NULL, 10);
        const char *argv[] = {r->element[i + 1]->str};
        if (lobby_script(lb, on_offline_room, o, "state", 1, argv) != 0)
            xfree(o);
    }
    log_warn("gateway_users_offline", "gateway=%u users=%zu reason=\"the gateway left the registry without "
             "reporting its sessions\"", gw, users);
}

static void on_gone_gateways(lobby_t *lb, redisReply *r, void *ud)
{
    (void)ud;
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return;
    char deadline[24];
    snprintf(deadline, sizeof deadline, "%llu", (unsigned long long)(wall_ms() + (uint64_t)lb->resume_grace_ms));
    for (size_t i = 1; i < r->elements; i++) {
        if (r->element[i]->type != REDIS_REPLY_STRING)
            continue;
        uint32_t gw = (uint32_t)strtoul(r->element[i]->str, NULL, 10);
        /* Still linked to us: alive, only cut off from Redis (its entry expired). Its sessions
         * are real; it reports their closes itself. */
        if (backend_gateway_linked(lb->be, gw))
            continue;
        const char *argv[] = {r->element[i]->str, deadline};
        (void)lobby_script(lb, on_gateway_swept, (void *)(uintptr_t)gw, "sweep_gateway", 2, argv);
    }
}

/* Users of gateways that died without reporting their sessions (kill -9, a crashed host). */
void lobby_gateways_sweep(lobby_t *lb)
{
    (void)lobby_script(lb, on_gone_gateways, NULL, "gone_gateways", 0, NULL);
}

void lobby_games_sweep(lobby_t *lb)
{
    char now[24];
    snprintf(now, sizeof now, "%llu", (unsigned long long)wall_ms());
    const char *argv[] = {"0", now};
    (void)lobby_script(lb, on_game_lost_done, (void *)(uintptr_t)0, "sweep_games", 2, argv);
}

void lobby_game_lost(backend_t *be, uint32_t gw_id, uint32_t game_id, void *ud)
{
    lobby_t *lb = ud;
    char game[16], now[24];
    snprintf(game, sizeof game, "%u", game_id);
    snprintf(now, sizeof now, "%llu", (unsigned long long)wall_ms());
    log_warn("game_lost", "game=%u reported_by_gateway=%u", game_id, gw_id);
    const char *argv[] = {game, now};
    (void)lobby_script(lb, on_game_lost_done, (void *)(uintptr_t)game_id, "game_lost", 2, argv);
}

/* ---- GET_MATCH_HISTORY ---- */

typedef struct hist_rq {
    lobby_t *lb;
    backend_req_t req;
    uint32_t page;
} hist_rq_t;

static void on_history(const PGresult *res, const char *err, const char *sqlstate, void *ud)
{
    hist_rq_t *q = ud;
    if (!res) {
        backend_error(q->lb->be, &q->req, ERROR_CODE__SERVICE_UNAVAILABLE, "match records unavailable");
        xfree(q);
        return;
    }
    int n = PQntuples(res);
    MatchRecord *recs = xcalloc((size_t)(n ? n : 1), sizeof *recs);
    MatchRecord **ptrs = xcalloc((size_t)(n ? n : 1), sizeof *ptrs);
    PlayerResult *me = xcalloc((size_t)(n ? n : 1), sizeof *me);
    for (int i = 0; i < n; i++) {
        match_record__init(&recs[i]);
        player_result__init(&me[i]);
        recs[i].match_id = strtoull(PQgetvalue(res, i, 0), NULL, 10);
        recs[i].game_server_id = (uint32_t)strtoul(PQgetvalue(res, i, 1), NULL, 10);
        recs[i].started_at_ms = strtoull(PQgetvalue(res, i, 2), NULL, 10);
        recs[i].ended_at_ms = strtoull(PQgetvalue(res, i, 3), NULL, 10);
        recs[i].outcome = outcome_from(PQgetvalue(res, i, 4));
        me[i].user_id = q->req.user;
        me[i].username = PQgetvalue(res, i, 5);
        me[i].kills = (uint32_t)strtoul(PQgetvalue(res, i, 6), NULL, 10);
        me[i].damage_dealt = (uint32_t)strtoul(PQgetvalue(res, i, 7), NULL, 10);
        me[i].damage_taken = (uint32_t)strtoul(PQgetvalue(res, i, 8), NULL, 10);
        me[i].deaths = (uint32_t)strtoul(PQgetvalue(res, i, 9), NULL, 10);
        me[i].score = (uint32_t)strtoul(PQgetvalue(res, i, 10), NULL, 10);
        me[i].outcome = PQgetvalue(res, i, 11);
        recs[i].mode = PQgetvalue(res, i, 12);
        recs[i].summary = PQgetvalue(res, i, 13);
        recs[i].me = &me[i];
        ptrs[i] = &recs[i];
    }
    GetMatchHistoryResponse out = GET_MATCH_HISTORY_RESPONSE__INIT;
    out.n_matches = (size_t)n;
    out.matches = ptrs;
    out.page = q->page;
    backend_reply(q->lb->be, &q->req, PACKET_TYPE__GET_MATCH_HISTORY_RESPONSE, &out.base);
    xfree(recs);
    xfree(ptrs);
    xfree(me);
    xfree(q);
}

void lobby_match_history(backend_t *be, const backend_req_t *req, const ProtobufCMessage *msg, void *ud)
{
    lobby_t *lb = ud;
    const GetMatchHistoryRequest *in = (const GetMatchHistoryRequest *)msg;
    uint32_t size = in->page_size ? in->page_size : 10;
    if (size > 50 || in->page > 100000) {
        backend_error(be, req, ERROR_CODE__BAD_REQUEST, "page_size must be 1-50, page at most 100000");
        return;
    }
    hist_rq_t *q = xmalloc(sizeof *q);
    q->lb = lb;
    q->req = *req;
    q->page = in->page;
    char uid[24], limit[16], offset[24];
    snprintf(uid, sizeof uid, "%llu", (unsigned long long)req->user);
    snprintf(limit, sizeof limit, "%u", size);
    snprintf(offset, sizeof offset, "%llu", (unsigned long long)in->page * size);
    const char *params[] = {uid, limit, offset};
    metrics_pg_query(backend_metrics(lb->be), lb->pg,
             "SELECT m.id, m.game_server_id,"
             " (extract(epoch FROM m.started_at) * 1000)::bigint,"
             " (extract(epoch FROM m.ended_at) * 1000)::bigint, m.outcome,"
             " p.username, p.kills, p.damage_dealt, p.damage_taken, p.deaths, p.score,"
             " p.outcome, m.mode, m.summary"
             " FROM match_players p JOIN matches m ON m.id = p.match_id"
             " WHERE p.user_id = $1 ORDER BY m.ended_at DESC, m.id DESC LIMIT $2 OFFSET $3",
             3, params, on_history, q);
}
