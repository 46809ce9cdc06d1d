/* pg_metrics: pg_query with its metrics (see pg_metrics.h). */
#include "pg_metrics.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "log.h"
#include "schema.h"
#include "util.h"

typedef struct pgm {
    metrics_t *m;
    pg_cb cb;
    void *ud;
    uint64_t start_ns;
} pgm_t;

static const char PG_ERRORS[] = "cluster_pg_query_errors_total";
static const char PG_ERRORS_HELP[] = "PostgreSQL queries that failed, by reason";

static void on_pg_done(const PGresult *res, const char *err, const char *sqlstate, void *ud)
{
    pgm_t *q = ud;
    metrics_t *m = q->m;
    metric_observe_us(metrics_histogram(m, "cluster_pg_query_duration_seconds",
                                        "PostgreSQL query time, queueing included", NULL),
                      (mono_ns() - q->start_ns) / 1000u);
    if (!res) {
        const char *reason = "server";
        if (strcmp(err, "unavailable") == 0 || strcmp(err, "timeout") == 0 ||
            strcmp(err, "closed") == 0)
            reason = err;
        char labels[32];
        snprintf(labels, sizeof labels, "reason=%s", reason);
        metric_inc(metrics_counter(m, PG_ERRORS, PG_ERRORS_HELP, labels));
    }
    pg_cb cb = q->cb;
    void *cud = q->ud;
    xfree(q);
    cb(res, err, sqlstate, cud);
}

static void metrics_pg_init(metrics_t *m)
{
    static const char *reasons[] = {"unavailable", "timeout", "closed", "server"};
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        char labels[32];
        snprintf(labels, sizeof labels, "reason=%s", reasons[i]);
        (void)metrics_counter(m, PG_ERRORS, PG_ERRORS_HELP, labels);
    }
    (void)metrics_counter(m, "cluster_pg_queries_total", "PostgreSQL queries sent", NULL);
    (void)metrics_histogram(m, "cluster_pg_query_duration_seconds",
                            "PostgreSQL query time, queueing included", NULL);
}

int metrics_pg_query(metrics_t *m, pg_pool_t *p, const char *sql, int nparams,
                     const char *const *params, pg_cb cb, void *ud)
{
    if (!cb)
        return pg_query(p, sql, nparams, params, cb, ud);
    pgm_t *q = xmalloc(sizeof *q);
    q->m = m;
    q->cb = cb;
    q->ud = ud;
    q->start_ns = mono_ns();
    int rc = pg_query(p, sql, nparams, params, on_pg_done, q);
    if (rc != 0) {
        xfree(q);
        return rc;
    }
    metric_inc(metrics_counter(m, "cluster_pg_queries_total", "PostgreSQL queries sent", NULL));
    return 0;
}

int pg_ready_hook(void *pool, char *why, size_t n)
{
    if (pg_ready(pool))
        return 1;
    snprintf(why, n, "postgresql not ready");
    return 0;
}

static void collect_pg(metrics_t *m, void *pool)
{
    metrics_set_gauge(m, "cluster_pg_up", "1 while PostgreSQL is usable (a connection up, migrations done)",
                      NULL, pg_ready(pool));
    metrics_set_gauge(m, "cluster_pg_pending_queries", "PostgreSQL queries queued or running", NULL,
                      pg_pending(pool));
}

pg_pool_t *pg_daemon_pool(uv_loop_t *loop, const char *url, int size, metrics_t *m)
{
    pg_opts_t po = {
        .conninfo = url,
        .size = size,
        .queue_timeout_ms = 1500,
        .query_timeout_ms = 5000,
        .migrations = SCHEMA_MIGRATIONS,
        .nmigrations = SCHEMA_NMIGRATIONS,
    };
    pg_pool_t *p = pg_pool_new(loop, &po);
    if (!p) {
        log_error("bad_config", "option=DATABASE_URL reason=\"not a valid conninfo\"%s", "");
        return NULL;
    }
    metrics_pg_init(m);
    metrics_on_collect(m, collect_pg, p);
    return p;
}
