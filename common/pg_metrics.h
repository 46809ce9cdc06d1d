/* pg_metrics: PostgreSQL queries counted and timed in a daemon's metrics (metrics.h), so the
 * metrics module itself needs nothing of PostgreSQL. */
#ifndef CLUSTER_PG_METRICS_H
#define CLUSTER_PG_METRICS_H

#include "metrics.h"
#include "pg.h"

/* pg_query with metrics: counts the query (cluster_pg_queries_total), its failure by reason
 * (cluster_pg_query_errors_total{reason=unavailable|timeout|closed|server}) and its duration
 * (cluster_pg_query_duration_seconds), then calls cb as pg_query would. Same contract and
 * return value as pg_query. */
int metrics_pg_query(metrics_t *m, pg_pool_t *p, const char *sql, int nparams,
                     const char *const *params, pg_cb cb, void *ud);

/* The pool of a daemon that keeps its data in PostgreSQL (lobbyd, gamed): the schema's
 * migrations run on each new connection; a query waits at most 1.5 s for a connection and 5 s
 * for its answer. Its series are in m from the start: the query counters above at zero and
 * cluster_pg_up (1 while a connection is up and the migrations are done) and
 * cluster_pg_pending_queries. NULL, logged as
 * bad_config, when url is not a valid conninfo. */
pg_pool_t *pg_daemon_pool(uv_loop_t *loop, const char *url, int size, metrics_t *m);
/* /readyz for a daemon that needs PostgreSQL (backend_set_ready with the pool as arg): 1 when
 * the pool is usable, else 0 with "postgresql not ready" in why. */
int pg_ready_hook(void *pool, char *why, size_t n);

#endif
