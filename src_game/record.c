/* record: the match record in PostgreSQL: one statement writes the match row and every
 * player row, or nothing; written exactly once (a retry after a lost answer finds the match
 * row and writes nothing again), retried every second until PostgreSQL takes it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "game.h"
#include "log.h"
#include "util.h"

#define RECORD_NPARAMS 17

struct record {
    record_t *next;
    game_t *g;
    uint64_t match_id;
    char *params[RECORD_NPARAMS];
    int attempts;
};

static void record_free(record_t *r)
{
    for (int i = 0; i < RECORD_NPARAMS; i++)
        xfree(r->params[i]);
    xfree(r);
}

static void record_send(game_t *g, record_t *r);

static void on_record(const PGresult *res, const char *err, const char *sqlstate, void *ud)
{
    (void)sqlstate;
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
        return; /* shutting down: freed by record_drop_all */
    log_warn("match_record_retry", "match=%llu attempts=%d error=\"%s\"",
             (unsigned long long)r->match_id, r->attempts, err);
    r->attempts = -r->attempts; /* negative: waiting for the retry timer */
}

static void record_send(game_t *g, record_t *r)
{
    r->attempts = abs(r->attempts) + 1;
    metrics_pg_query(backend_metrics(g->be), g->pg,
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

void record_retry_all(game_t *g)
{
    for (record_t *r = g->records; r; r = r->next)
        if (r->attempts < 0)
            record_send(g, r);
}

void record_drop_all(game_t *g)
{
    if (g->nrecords)
        log_error("match_records_lost", "count=%u", g->nrecords);
    while (g->records) {
        record_t *r = g->records;
        g->records = r->next;
        record_free(r);
    }
    g->nrecords = 0;
}

static char *fmt_u64(uint64_t v)
{
    char b[24];
    snprintf(b, sizeof b, "%llu", (unsigned long long)v);
    return xstrdup(b);
}

/* A growing PostgreSQL array literal: {e1,e2,...}, text elements quoted. */
typedef struct arr {
    char *s;
    size_t len, cap;
} arr_t;

static void arr_put(arr_t *a, const char *p, size_t n)
{
    if (a->len + n + 2 > a->cap) {
        a->cap = (a->len + n + 2) * 2;
        a->s = xrealloc(a->s, a->cap);
    }
    memcpy(a->s + a->len, p, n);
    a->len += n;
    a->s[a->len] = '\0';
}

static void arr_num(arr_t *a, uint64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof b, "%s%llu", a->len > 1 ? "," : "", (unsigned long long)v);
    arr_put(a, b, (size_t)n);
}

static void arr_text(arr_t *a, const char *t)
{
    if (a->len > 1)
        arr_put(a, ",", 1);
    arr_put(a, "\"", 1);
    for (const char *c = t; *c; c++) {
        if (*c == '"' || *c == '\\')
            arr_put(a, "\\", 1);
        arr_put(a, c, 1);
    }
    arr_put(a, "\"", 1);
}

void record_match(game_t *g, const match_t *m, const char *outcome, const mode_result_t *res)
{
    record_t *r = xcalloc(1, sizeof *r);
    r->g = g;
    r->match_id = m->id;
    char labels[64];
    snprintf(labels, sizeof labels, "outcome=%s", outcome);
    metric_inc(metrics_counter(backend_metrics(g->be), "cluster_game_matches_ended_total",
                               "matches ended, by outcome", labels));
    r->params[0] = fmt_u64(m->id);
    r->params[1] = fmt_u64(backend_id(g->be));
    r->params[2] = fmt_u64(m->room);
    r->params[3] = fmt_u64(m->started_wall_ms);
    r->params[4] = fmt_u64(wall_ms());
    r->params[5] = xstrdup(outcome);
    r->params[6] = xstrdup(m->mode);
    r->params[7] = xstrdup(res->summary);
    arr_t a[9];
    memset(a, 0, sizeof a);
    for (int k = 0; k < 9; k++)
        arr_put(&a[k], "{", 1);
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
        arr_put(&a[k], "}", 1);
        r->params[8 + k] = a[k].s;
    }
    r->next = g->records;
    g->records = r;
    g->nrecords++;
    record_send(g, r);
}
