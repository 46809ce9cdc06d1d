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
/* Creates the PostgreSQL series above at zero, so they are exported before the first query. */
void metrics_pg_init(metrics_t *m);
int metrics_pg_query(metrics_t *m, pg_pool_t *p, const char *sql, int nparams,
                     const char *const *params, pg_cb cb, void *ud);
/* /readyz for a daemon that needs PostgreSQL: 1 when usable, else 0 with the reason in why. */
int pg_ready_check(const pg_pool_t *p, char *why, size_t n);
/* cluster_pg_up: 1 while PostgreSQL is usable (a connection up, migrations done). */
void metrics_pg_up(metrics_t *m, const pg_pool_t *p);

#endif
