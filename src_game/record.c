/* record: the match record. It is made durable before the players are told (GAME_OVER,
 * MATCH_ABORTED): written into the Redis hash <prefix>records:pending (record_codec.h) and to
 * PostgreSQL; whichever answers first releases the match's announcement (match_release), and
 * once PostgreSQL has it the Redis copy is deleted. PostgreSQL's statement writes the match row
 * and every player row, or nothing, exactly once (ON CONFLICT on the match id), and is retried
 * every second while it fails. Every game daemon also delivers the records other daemons left
 * in Redis (a daemon killed, or stopped, while PostgreSQL was down): docs/faults.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utlist.h>

#include "alloc.h"
#include "game.h"
#include "keys.h"
#include "log.h"
#include "record_codec.h"
#include "sbuf.h"
#include "util.h"

#define RECORD_NPARAMS RECORD_FIELDS
#define RECORD_HOLD_MS 2000        /* longest a match's end waits for its record to be durable */
#define RECORD_FOREIGN_AGE_MS 3000 /* another daemon's record is taken over after this long */
#define RECORD_FOREIGN_MAX 100     /* other daemons' records in flight at once */

struct record {
    record_t *next;
    game_t *g;
    uint64_t match_id;
    char *params[RECORD_NPARAMS];
    int attempts;       /* PostgreSQL attempts; negative: waiting for the retry timer */
    int foreign;        /* another daemon's record, taken from Redis */
    int stored;         /* in the Redis hash */
    int written;        /* PostgreSQL has it */
    int redis_inflight; /* an HSET or HDEL not answered yet */
    int orphan;         /* dropped at stop while Redis had a command of it: freed by its reply */
    uint64_t created_ms;
    match_t *hold;      /* the match whose announcement waits for this record to be durable */
};

static metrics_t *mt_of(const game_t *g) { return backend_metrics(g->be); }

/* HSET <prefix><key> <match id> <bytes> (binary-safe). */
static int hset(game_t *g, redisCallbackFn *fn, void *privdata, rkey_t key, uint64_t id, const char *blob,
                size_t len)
{
    char f[24];
    snprintf(f, sizeof f, "%llu", (unsigned long long)id);
    const char *argv[] = {"HSET", key.s, f, blob};
    const size_t lens[] = {4, strlen(key.s), strlen(f), len};
    return rconn_cmdargv(backend_redis(g->be), fn, privdata, 4, argv, lens);
}

static void count(game_t *g, const char *name, const char *help)
{
    metric_inc(metrics_counter(mt_of(g), name, help, NULL));
}

static void record_free(record_t *r)
{
    for (int i = 0; i < RECORD_NPARAMS; i++)
        xfree(r->params[i]);
    xfree(r);
}

static void unlink_record(game_t *g, record_t *r)
{
    record_t *x;
    LL_FOREACH(g->records, x)
        if (x == r) {
            LL_DELETE(g->records, r);
            g->nrecords--;
            return;
        }
}

/* Durable somewhere (Redis or PostgreSQL): the players may be told. */
static void durable(record_t *r)
{
    if (r->hold) {
        match_t *m = r->hold;
        r->hold = NULL;
        match_release(r->g, m);
    }
}

static void on_deleted(redisAsyncContext *c, void *reply, void *privdata)
{
    (void)c;
    (void)reply; /* an entry left behind by a failed HDEL is delivered again: idempotent */
    record_free(privdata);
}

/* PostgreSQL has it: forget it, here and in Redis. */
static void done(game_t *g, record_t *r)
{
    unlink_record(g, r);
    if (r->stored && rconn_cmd(backend_redis(g->be), on_deleted, r, "HDEL %s %llu",
                               key_records_pending(backend_prefix(g->be)).s, (unsigned long long)r->match_id) == 0) {
        r->redis_inflight = 1;
        r->orphan = 1; /* freed by on_deleted whatever happens */
        return;
    }
    record_free(r);
}

static void on_stored(redisAsyncContext *c, void *reply, void *privdata)
{
    (void)c;
    record_t *r = privdata;
    redisReply *rep = reply;
    r->redis_inflight = 0;
    if (r->orphan) {
        record_free(r);
        return;
    }
    if (!rep || rep->type != REDIS_REPLY_INTEGER) {
        log_warn("match_record_not_stored", "match=%llu error=\"%s\"", (unsigned long long)r->match_id,
                 rep && rep->type == REDIS_REPLY_ERROR ? rep->str : "redis unavailable");
        return; /* PostgreSQL alone now: held until it answers, or RECORD_HOLD_MS */
    }
    r->stored = 1;
    durable(r);
    if (r->written)
        done(r->g, r);
}

static void record_send(game_t *g, record_t *r);

static void outage_over(game_t *g)
{
    if (!g->rec_outage_since)
        return;
    log_info("match_records_flowing", "outage_ms=%llu still_pending=%u",
             (unsigned long long)(wall_ms() - g->rec_outage_since), g->nrecords);
    g->rec_outage_since = 0;
}

/* PostgreSQL refused the record itself (a constraint, a bad value): retrying cannot help. It is
 * moved to records:unreadable for a person to look at. */
static void refused(game_t *g, record_t *r, const char *err, const char *sqlstate)
{
    count(g, "cluster_game_match_records_refused_total",
          "match records PostgreSQL refused (bad data): moved to records:unreadable");
    log_error("match_record_refused", "match=%llu sqlstate=%s error=\"%s\" action=moved_to_records:unreadable",
              (unsigned long long)r->match_id, sqlstate, err);
    size_t len;
    char *blob = record_encode(backend_id(g->be), r->created_ms, r->params, &len);
    (void)hset(g, NULL, NULL, key_records_unreadable(backend_prefix(g->be)), r->match_id, blob, len);
    xfree(blob);
    r->stored = 1; /* so that done() deletes the pending entry */
    durable(r);
    if (!r->redis_inflight)
        done(g, r);
    else
        r->written = 1; /* on_stored finishes it */
}

static void on_record(const PGresult *res, const char *err, const char *sqlstate, void *ud)
{
    record_t *r = ud;
    game_t *g = r->g;
    if (res) {
        /* No rows: the match row existed (ON CONFLICT DO NOTHING). After a retry, or for a
         * record taken over from Redis, that is an earlier write whose answer (or whose Redis
         * clean-up) was lost; on an own first attempt another match holds the id and this
         * record is not stored: say so loudly. */
        const char *rows = PQcmdTuples((PGresult *)res);
        int none = rows && strcmp(rows, "0") == 0;
        /* (an aborted match may have been recorded by a lobby while this daemon was away) */
        if (none && r->attempts == 1 && !r->foreign && strcmp(r->params[5], "aborted") != 0) {
            count(g, "cluster_game_match_record_conflicts_total",
                  "match records not written: another match already has the id");
            log_error("match_record_conflict", "match=%llu reason=\"a match with this id is already recorded\"",
                      (unsigned long long)r->match_id);
        } else if (none) {
            count(g, "cluster_game_match_records_already_written_total",
                  "match records found already in PostgreSQL (an earlier write's answer was lost)");
        } else {
            count(g, "cluster_game_match_records_written_total", "match records written to PostgreSQL");
            if (r->foreign)
                count(g, "cluster_game_match_records_taken_over_total",
                      "other game daemons' records delivered from Redis by this one");
            log_info("match_recorded", "match=%llu attempts=%d%s", (unsigned long long)r->match_id,
                     r->attempts, r->foreign ? " taken_over=1" : "");
        }
        outage_over(g);
        r->written = 1;
        durable(r);
        if (!r->redis_inflight)
            done(g, r);
        return;
    }
    if (strcmp(err, "closed") == 0)
        return; /* shutting down: record_drop_all decides */
    if (sqlstate && (strncmp(sqlstate, "22", 2) == 0 || strncmp(sqlstate, "23", 2) == 0)) {
        refused(g, r, err, sqlstate); /* data exception, integrity constraint */
        return;
    }
    /* One line per outage, with the count, not one per record per second. */
    if (!g->rec_outage_since) {
        g->rec_outage_since = wall_ms();
        log_warn("match_records_waiting", "pending=%u error=\"%s\" retry_ms=1000", g->nrecords, err);
    }
    log_debug("match_record_retry", "match=%llu attempts=%d error=\"%s\"", (unsigned long long)r->match_id,
              r->attempts, err);
    r->attempts = -r->attempts; /* negative: waiting for the retry timer */
}

static void record_send(game_t *g, record_t *r)
{
    r->attempts = abs(r->attempts) + 1;
    metrics_pg_query(mt_of(g), g->pg,
             "WITH m AS (INSERT INTO matches (id, game_server_id, room_id, started_at, ended_at, outcome,"
             " mode, summary)"
             " VALUES ($1, $2, $3, to_timestamp($4::bigint / 1000.0), to_timestamp($5::bigint / 1000.0), $6,"
             " $7, $8)"
             " ON CONFLICT (id) DO NOTHING RETURNING id)"
             " INSERT INTO match_players (match_id, user_id, username, kills, damage_dealt,"
             " damage_taken, deaths, score, outcome, stats)"
             " SELECT m.id, p.u, p.n, p.k, p.dd, p.dt, p.d, p.s, p.o, p.j FROM m,"
             " unnest($9::bigint[], $10::text[], $11::int[], $12::int[], $13::int[], $14::int[],"
             " $15::int[], $16::text[], $17::jsonb[])"
             " AS p(u, n, k, dd, dt, d, s, o, j)",
             RECORD_NPARAMS, (const char *const *)r->params, on_record, r);
}

static int has_record(const game_t *g, uint64_t id)
{
    const record_t *r;
    LL_SEARCH_SCALAR(g->records, r, match_id, id);
    return r != NULL;
}

/* Another daemon's record found in Redis: deliver it. */
static void take_over(game_t *g, const char *field, const char *blob, size_t len)
{
    uint64_t id = strtoull(field, NULL, 10);
    if (!id || has_record(g, id))
        return;
    record_blob_t b;
    if (record_decode(blob, len, &b) < 0) {
        /* kept aside for a person to look at, out of the way of the delivery */
        count(g, "cluster_game_match_records_unreadable_total", "pending records in Redis that do not decode");
        log_error("match_record_unreadable", "match=%s bytes=%zu action=moved_to_records:unreadable", field, len);
        (void)hset(g, NULL, NULL, key_records_unreadable(backend_prefix(g->be)), strtoull(field, NULL, 10), blob,
                   len);
        (void)rconn_cmd(backend_redis(g->be), NULL, NULL, "HDEL %s %s", key_records_pending(backend_prefix(g->be)).s,
                        field);
        return;
    }
    if (b.owner != backend_id(g->be) && wall_ms() < b.created_ms + RECORD_FOREIGN_AGE_MS) {
        record_blob_free(&b); /* its daemon is probably delivering it right now */
        return;
    }
    record_t *r = xcalloc(1, sizeof *r);
    r->g = g;
    r->match_id = id;
    r->foreign = 1;
    r->stored = 1;
    r->created_ms = b.created_ms;
    for (int i = 0; i < RECORD_NPARAMS; i++)
        r->params[i] = b.fields[i];
    LL_PREPEND(g->records, r);
    g->nrecords++;
    record_send(g, r);
}

static void on_scan(redisAsyncContext *c, void *reply, void *privdata)
{
    (void)c;
    game_t *g = privdata;
    redisReply *rep = reply;
    g->rec_scan_pending = 0;
    if (g->stopping || !rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        rep->element[0]->type != REDIS_REPLY_STRING || rep->element[1]->type != REDIS_REPLY_ARRAY)
        return;
    snprintf(g->rec_cursor, sizeof g->rec_cursor, "%s", rep->element[0]->str);
    redisReply *kv = rep->element[1];
    for (size_t i = 0; i + 1 < kv->elements; i += 2)
        if (kv->element[i]->type == REDIS_REPLY_STRING && kv->element[i + 1]->type == REDIS_REPLY_STRING)
            take_over(g, kv->element[i]->str, kv->element[i + 1]->str, kv->element[i + 1]->len);
}

static void on_hlen(redisAsyncContext *c, void *reply, void *privdata)
{
    (void)c;
    game_t *g = privdata;
    redisReply *rep = reply;
    if (rep && rep->type == REDIS_REPLY_INTEGER)
        g->rec_in_redis = rep->integer;
}

void record_retry_all(game_t *g)
{
    uint64_t now = wall_ms();
    unsigned foreign = 0;
    record_t *r, *next;
    LL_FOREACH_SAFE(g->records, r, next) {
        foreign += r->foreign;
        if (r->hold && now >= r->created_ms + RECORD_HOLD_MS) {
            count(g, "cluster_game_matches_told_before_durable_total",
                  "match ends announced before Redis or PostgreSQL had the record (both unavailable)");
            log_warn("match_told_before_durable", "match=%llu waited_ms=%d", (unsigned long long)r->match_id,
                     RECORD_HOLD_MS);
            durable(r);
        }
        if (r->attempts < 0)
            record_send(g, r);
    }
    rconn_t *rc = backend_redis(g->be);
    (void)rconn_cmd(rc, on_hlen, g, "HLEN %s", key_records_pending(backend_prefix(g->be)).s);
    /* Other daemons' records: only while PostgreSQL takes ours. */
    if (pg_ready(g->pg) && !g->rec_outage_since && !g->rec_scan_pending && foreign < RECORD_FOREIGN_MAX &&
        rconn_cmd(rc, on_scan, g, "HSCAN %s %s COUNT 100", key_records_pending(backend_prefix(g->be)).s,
                  g->rec_cursor[0] ? g->rec_cursor : "0") == 0)
        g->rec_scan_pending = 1;
}

unsigned record_writing(const game_t *g)
{
    unsigned n = 0;
    for (const record_t *r = g->records; r; r = r->next)
        n += !r->written && !r->foreign && r->attempts > 0;
    return n;
}

unsigned record_undurable(const game_t *g)
{
    unsigned n = 0;
    const record_t *r;
    LL_FOREACH(g->records, r)
        n += !r->stored && !r->written && !r->foreign;
    return n;
}

void record_gauges(game_t *g, metrics_t *mt)
{
    uint64_t oldest = 0, now = wall_ms();
    const record_t *r;
    LL_FOREACH(g->records, r)
        if (now > r->created_ms && now - r->created_ms > oldest)
            oldest = now - r->created_ms;
    metrics_set_gauge(mt, "cluster_game_match_records_pending",
                      "records this daemon has not yet written to PostgreSQL (its own and taken over)", NULL,
                      g->nrecords);
    metrics_set_gauge(mt, "cluster_game_match_records_oldest_pending_seconds",
                      "age of the oldest of them", NULL, (double)oldest / 1000.0);
    metrics_set_gauge(mt, "cluster_match_records_pending_in_redis",
                      "records of every game daemon waiting in Redis for PostgreSQL (HLEN, each second)", NULL,
                      (double)g->rec_in_redis);
}

void record_drop_all(game_t *g)
{
    g->stopping = 1;
    unsigned lost = 0, left = 0;
    while (g->records) {
        record_t *r = g->records;
        LL_DELETE(g->records, r);
        durable(r); /* the process ends: tell what there is to tell */
        if (!r->written) {
            if (r->stored)
                left++;
            else
                lost++;
        }
        if (r->redis_inflight)
            r->orphan = 1; /* freed by its Redis reply (a NULL one when the connection closes) */
        else
            record_free(r);
    }
    g->nrecords = 0;
    if (left)
        log_warn("match_records_left_in_redis", "count=%u (any game daemon delivers them)", left);
    if (lost)
        log_error("match_records_lost", "count=%u", lost);
}

static char *fmt_u64(uint64_t v)
{
    char b[24];
    snprintf(b, sizeof b, "%llu", (unsigned long long)v);
    return xstrdup(b);
}

/* PostgreSQL array literals ({e1,e2,...}, text elements quoted) grow in an sbuf_t. */

static void arr_num(sbuf_t *a, uint64_t v)
{
    sbuf_printf(a, "%s%llu", a->len > 1 ? "," : "", (unsigned long long)v);
}

static void arr_text(sbuf_t *a, const char *t)
{
    if (a->len > 1)
        sbuf_put(a, ",", 1);
    sbuf_put(a, "\"", 1);
    for (const char *c = t; *c; c++) {
        if (*c == '"' || *c == '\\')
            sbuf_put(a, "\\", 1);
        sbuf_put(a, c, 1);
    }
    sbuf_put(a, "\"", 1);
}

void record_match(game_t *g, match_t *m, const char *outcome, const mode_result_t *res, int hold)
{
    record_t *r = xcalloc(1, sizeof *r);
    r->g = g;
    r->match_id = m->id;
    r->created_ms = wall_ms();
    char labels[64];
    snprintf(labels, sizeof labels, "outcome=%s", outcome);
    metric_inc(metrics_counter(backend_metrics(g->be), "cluster_game_matches_ended_total",
                               "matches ended, by outcome", labels));
    r->params[0] = fmt_u64(m->id);
    r->params[1] = fmt_u64(backend_id(g->be));
    r->params[2] = fmt_u64(m->room);
    r->params[3] = fmt_u64(m->started_wall_ms);
    r->params[4] = fmt_u64(r->created_ms);
    r->params[5] = xstrdup(outcome);
    r->params[6] = xstrdup(m->mode);
    r->params[7] = xstrdup(res->summary);
    sbuf_t a[9];
    memset(a, 0, sizeof a);
    for (int k = 0; k < 9; k++)
        sbuf_put(&a[k], "{", 1);
    for (uint32_t i = 0; i < m->n; i++) {
        const mode_player_result_t *p = &res->players[i];
        arr_num(&a[0], m->players[i].user_id);
        arr_text(&a[1], m->players[i].name[0] ? m->players[i].name : "unknown");
        arr_num(&a[2], p->kills);
        arr_num(&a[3], p->damage_dealt);
        arr_num(&a[4], p->damage_taken);
        arr_num(&a[5], p->deaths);
        arr_num(&a[6], p->score);
        arr_text(&a[7], p->outcome);
        arr_text(&a[8], p->stats_json[0] ? p->stats_json : "{}");
    }
    for (int k = 0; k < 9; k++) {
        sbuf_put(&a[k], "}", 1);
        r->params[8 + k] = a[k].p;
    }
    LL_PREPEND(g->records, r);
    g->nrecords++;
    size_t blen;
    char *blob = record_encode(backend_id(g->be), r->created_ms, r->params, &blen);
    if (hset(g, on_stored, r, key_records_pending(backend_prefix(g->be)), r->match_id, blob, blen) == 0)
        r->redis_inflight = 1;
    xfree(blob);
    r->hold = hold ? m : NULL;
    record_send(g, r);
}
