/* pg: a small pool of asynchronous PostgreSQL connections on a libuv loop (libpq's
 * non-blocking API on uv_poll), with reconnects and versioned migrations applied at start
 * under an advisory lock. Only parameterised queries. */
#ifndef CLUSTER_PG_H
#define CLUSTER_PG_H

#include <libpq-fe.h>
#include <stdint.h>
#include <uv.h>

typedef struct pg_pool pg_pool_t;

/* One schema migration: applied once, in version order, each in its own transaction. */
typedef struct pg_migration {
    int version;
    const char *sql; /* may hold several statements; no parameters */
} pg_migration_t;

/* Called exactly once per query: res is the result (PGRES_TUPLES_OK or PGRES_COMMAND_OK) and
 * err NULL; or res NULL and err a short reason ("unavailable", "timeout", "closed", or the
 * server's error message, e.g. on a unique violation) with sqlstate the 5-char SQLSTATE or
 * "" when there is none. res is valid only during the call. */
typedef void (*pg_cb)(const PGresult *res, const char *err, const char *sqlstate, void *ud);

typedef struct pg_opts {
    const char *conninfo;           /* libpq conninfo or URI */
    int size;                       /* connections (default 4) */
    int64_t queue_timeout_ms;       /* a query waiting longer for a connection fails "timeout" (default 1500),
                                       or "unavailable" when no connection is up then */
    int64_t query_timeout_ms;       /* a running query longer than this fails "timeout" (default 5000); its
                                       connection is closed and reopened (PQcancel would block) */
    const pg_migration_t *migrations;
    int nmigrations;
    int64_t advisory_lock_key;      /* for migrations (0: a fixed constant) */
} pg_opts_t;

/* Starts connecting at once; never blocks (PQconnectStart/PQconnectPoll on uv_poll; host
 * names are resolved by libpq: use numeric hosts on the event loop). Migrations run on the
 * first connection that comes up; queries wait until they are done. The migrations (and
 * conninfo) are copied. With no migrations, schema_migrations is not touched. Returns NULL
 * only on a malformed conninfo or two migrations with the same version. */
pg_pool_t *pg_pool_new(uv_loop_t *loop, const pg_opts_t *opts);

/* Queues a parameterised query (text parameters, NULL = SQL NULL; text results); sql and
 * params are copied. Returns 0; the callback is always called later, never from inside
 * pg_query. When no connection is up the query fails with "unavailable" within
 * queue_timeout_ms (at once if the pool has been down for longer than that). A query that
 * was running when its connection failed fails "unavailable" and is not retried. Returns -1
 * (and never calls the callback) after pg_pool_close, or when sql or cb is NULL or nparams is
 * outside 0..65535. */
int pg_query(pg_pool_t *p, const char *sql, int nparams, const char *const *params, pg_cb cb,
             void *ud);

/* 1 when at least one connection is up and migrations are done. */
int pg_ready(const pg_pool_t *p);
/* Queries queued or running (every query whose callback has not run yet). */
unsigned pg_pending(const pg_pool_t *p);

/* Closes every connection; queued and running queries fail with "closed" (queries that had
 * already failed get their own error), all before pg_pool_close returns: no callback runs
 * after it. Frees once libuv is done with the handles. Safe inside a callback; a second call
 * does nothing. */
void pg_pool_close(pg_pool_t *p);

#endif
