/* test_pg: the asynchronous PostgreSQL pool (common/pg.c) against a real server started by the
 * harness: migrations (once, under concurrency, rolled back on failure), parameterised round
 * trips, server errors with their SQLSTATE, concurrency on a small pool, query and queue
 * timeouts, a PostgreSQL stop and start under a live loop, and close with queries pending. */
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "alloc.h"
#include "harness.h"
#include "log.h"
#include "pg.h"

static uv_loop_t loop;

/* ---- the loop: a 5 ms ticker keeps it turning and measures its responsiveness */

static uv_timer_t ticker;
static uint64_t last_tick_ms, max_gap_ms;

static void on_tick(uv_timer_t *t)
{
    uint64_t now = h_now_ms();
    if (now - last_tick_ms > max_gap_ms)
        max_gap_ms = now - last_tick_ms;
    last_tick_ms = now;
}

typedef int (*pred_fn)(void *arg);

/* Runs the loop until pred(arg) holds or timeout_ms pass; returns elapsed ms or -1. */
static int run_until(pred_fn pred, void *arg, int timeout_ms)
{
    uint64_t start = h_now_ms();
    last_tick_ms = start; /* blocking harness calls before this are not the loop's fault */
    while (!pred(arg)) {
        if (h_now_ms() - start > (uint64_t)timeout_ms)
            return -1;
        uv_run(&loop, UV_RUN_ONCE);
    }
    return (int)(h_now_ms() - start);
}

static int never(void *arg) { return 0; }
static void run_for(int ms) { run_until(never, NULL, ms); }

/* ---- queries */

typedef struct qres {
    int done;
    int ok;
    char err[256];
    char sqlstate[8];
    int ntuples;
    char val[3][256];
    int isnull[3];
    uint64_t t0, t1;
} qres_t;

static int in_pg_query; /* callbacks must never run inside pg_query */

static void on_result(const PGresult *res, const char *err, const char *sqlstate, void *ud)
{
    CHECK(!in_pg_query);
    qres_t *r = ud;
    r->done++;
    r->t1 = h_now_ms();
    if (res) {
        CHECK(err == NULL);
        CHECK(PQresultStatus(res) == PGRES_TUPLES_OK || PQresultStatus(res) == PGRES_COMMAND_OK);
        r->ok = 1;
        r->ntuples = PQntuples(res);
        for (int i = 0; i < 3 && i < PQnfields(res) && r->ntuples > 0; i++) {
            r->isnull[i] = PQgetisnull(res, 0, i);
            snprintf(r->val[i], sizeof r->val[i], "%s", PQgetvalue(res, 0, i));
        }
    } else {
        CHECK(err != NULL && sqlstate != NULL);
        snprintf(r->err, sizeof r->err, "%s", err);
        snprintf(r->sqlstate, sizeof r->sqlstate, "%s", sqlstate);
    }
}

static void query(pg_pool_t *p, qres_t *r, const char *sql, int n, const char *const *params)
{
    memset(r, 0, sizeof *r);
    r->t0 = h_now_ms();
    in_pg_query = 1;
    int rc = pg_query(p, sql, n, params, on_result, r);
    in_pg_query = 0;
    CHECK_EQ(rc, 0);
    CHECK_EQ(r->done, 0);
}

static int is_done(void *arg) { return ((qres_t *)arg)->done > 0; }

static void wait_done(qres_t *r, int timeout_ms)
{
    if (run_until(is_done, r, timeout_ms) < 0) {
        fprintf(stderr, "query did not complete in %d ms\n", timeout_ms);
        h_fail();
    }
    CHECK_EQ(r->done, 1);
}

/* Runs one query to completion; returns its result. */
static qres_t q_sync(pg_pool_t *p, const char *sql, int n, const char *const *params)
{
    qres_t r;
    query(p, &r, sql, n, params);
    wait_done(&r, 10000);
    if (!r.ok)
        fprintf(stderr, "query \"%s\": err=\"%s\" sqlstate=%s\n", sql, r.err, r.sqlstate);
    return r;
}

typedef struct many {
    qres_t *r;
    int n;
} many_t;

static int all_done(void *arg)
{
    many_t *m = arg;
    for (int i = 0; i < m->n; i++)
        if (!m->r[i].done)
            return 0;
    return 1;
}

static int pool_is_ready(void *arg) { return pg_ready(arg); }

static int pools_ready(void *arg)
{
    pg_pool_t **pp = arg;
    return pg_ready(pp[0]) && pg_ready(pp[1]);
}

/* ---- a blocking connection for checking what is in the database (tests may block) */

static PGconn *db;

static void db_connect(void)
{
    if (db)
        PQfinish(db);
    db = PQconnectdb(h_pg_conninfo());
    if (PQstatus(db) != CONNECTION_OK) {
        fprintf(stderr, "check connection: %s\n", PQerrorMessage(db));
        h_fail();
    }
}

/* The first cell of a query's result as text ("" when none); into a static buffer. */
static const char *db_text(const char *sql)
{
    static char out[512];
    PGresult *r = PQexec(db, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "check query \"%s\": %s\n", sql, PQresultErrorMessage(r));
        PQclear(r);
        h_fail();
    }
    snprintf(out, sizeof out, "%s", PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return out;
}

/* ---- scenarios */

/* Given out of order on purpose: the pool applies them by version. */
/* Each counts its attempts in a sequence, which (unlike a table) a rollback does not undo: a
 * second process trying a migration at the same time would show. The sleep in the first one
 * holds the window open. */
static const pg_migration_t MIGS[] = {
    {3, "SELECT nextval('mig_attempts'); INSERT INTO mig_runs VALUES (3);"
        " CREATE INDEX users_bio ON users(bio)"},
    {1, "SELECT nextval('mig_attempts'); SELECT pg_sleep(0.2);"
        " CREATE TABLE users(id bigserial PRIMARY KEY, name text NOT NULL UNIQUE, bio text)"},
    {2, "SELECT nextval('mig_attempts');\nCREATE TABLE mig_runs(version int NOT NULL);\n"
        "INSERT INTO mig_runs VALUES (2);"},
};
#define NMIGS 3

/* The versions in a table, in order, comma-separated. */
#define VERSIONS_SQL(table) "SELECT string_agg(version::text, ',' ORDER BY version) FROM " table

static pg_opts_t opts_for(int size, const pg_migration_t *m, int n)
{
    pg_opts_t o;
    memset(&o, 0, sizeof o);
    o.conninfo = h_pg_conninfo();
    o.size = size;
    o.migrations = m;
    o.nmigrations = n;
    return o;
}

static void close_and_drain(pg_pool_t *p)
{
    pg_pool_close(p);
    run_for(50); /* the close callbacks */
}

static void scenario_close_early(size_t start)
{
    /* closed while every connection is still connecting, with a query waiting */
    pg_opts_t o = opts_for(3, MIGS, NMIGS);
    pg_pool_t *p = pg_pool_new(&loop, &o);
    CHECK(p != NULL);
    qres_t r;
    query(p, &r, "SELECT 1", 0, NULL);
    CHECK_EQ(pg_pending(p), 1);
    pg_pool_close(p);
    CHECK_EQ(r.done, 1);
    CHECK_STR(r.err, "closed");
    CHECK_STR(r.sqlstate, "");
    in_pg_query = 1; /* after close: refused, no callback */
    CHECK_EQ(pg_query(p, "SELECT 1", 0, NULL, on_result, &r), -1);
    in_pg_query = 0;
    run_for(50);
    CHECK_EQ(alloc_used(), start);

    /* a malformed conninfo is the only NULL */
    pg_opts_t bad = o;
    bad.conninfo = "host=127.0.0.1 port";
    CHECK(pg_pool_new(&loop, &bad) == NULL);
    CHECK_EQ(alloc_used(), start);
    printf("close_early: ok\n");
}

static void scenario_migrations(pg_pool_t **a_out)
{
    /* Two pools at once on a fresh database: the advisory lock lets one apply them. */
    db_connect();
    PQclear(PQexec(db, "CREATE SEQUENCE mig_attempts"));
    CHECK_STR(db_text("SELECT count(*) FROM pg_tables WHERE tablename = 'schema_migrations'"), "0");
    pg_opts_t o = opts_for(2, MIGS, NMIGS);
    pg_pool_t *pools[2];
    pools[0] = pg_pool_new(&loop, &o);
    pools[1] = pg_pool_new(&loop, &o);
    CHECK(pools[0] && pools[1]);
    CHECK(!pg_ready(pools[0]));
    int ms = run_until(pools_ready, pools, 15000);
    CHECK(ms >= 0);
    printf("migrations: two pools ready in %d ms\n", ms);
    CHECK_STR(db_text("SELECT last_value FROM mig_attempts"), "3"); /* one attempt each */
    CHECK_STR(db_text(VERSIONS_SQL("schema_migrations")),
              "1,2,3");
    CHECK_STR(db_text(VERSIONS_SQL("mig_runs")), "2,3");
    CHECK_STR(db_text("SELECT count(*) FROM pg_indexes WHERE indexname = 'users_bio'"), "1");
    close_and_drain(pools[1]);

    /* A later start with one more migration applies only that one. */
    pg_migration_t more[NMIGS + 1];
    memcpy(more, MIGS, sizeof MIGS);
    more[NMIGS].version = 4;
    more[NMIGS].sql = "INSERT INTO mig_runs VALUES (4)";
    pg_opts_t o4 = opts_for(1, more, NMIGS + 1);
    pg_pool_t *p4 = pg_pool_new(&loop, &o4);
    CHECK(run_until(pool_is_ready, p4, 10000) >= 0);
    CHECK_STR(db_text(VERSIONS_SQL("schema_migrations")),
              "1,2,3,4");
    CHECK_STR(db_text(VERSIONS_SQL("mig_runs")),
              "2,3,4");
    close_and_drain(p4);

    /* A failing migration is rolled back as a whole and never marks the pool ready: queries
     * fail "unavailable" (at once, once the pool has been unready longer than the queue
     * timeout). */
    pg_migration_t broken[NMIGS + 1];
    memcpy(broken, MIGS, sizeof MIGS);
    broken[NMIGS].version = 5;
    broken[NMIGS].sql = "INSERT INTO mig_runs VALUES (5); SELECT no_such_column FROM users";
    pg_opts_t o5 = opts_for(2, broken, NMIGS + 1);
    o5.queue_timeout_ms = 400;
    pg_pool_t *p5 = pg_pool_new(&loop, &o5);
    qres_t r;
    query(p5, &r, "SELECT 1", 0, NULL);
    wait_done(&r, 3000);
    CHECK(!r.ok);
    CHECK_STR(r.err, "unavailable");
    printf("migrations: broken migration, query failed after %d ms\n", (int)(r.t1 - r.t0));
    CHECK(r.t1 - r.t0 < 1500);
    run_for(1000); /* a few retries */
    CHECK(!pg_ready(p5));
    query(p5, &r, "SELECT 1", 0, NULL);
    wait_done(&r, 1000);
    CHECK_STR(r.err, "unavailable");
    CHECK(r.t1 - r.t0 < 200); /* down longer than the queue timeout: at once */
    CHECK_STR(db_text("SELECT count(*) FROM mig_runs WHERE version = 5"), "0");
    CHECK_STR(db_text("SELECT count(*) FROM schema_migrations WHERE version = 5"), "0");
    close_and_drain(p5);
    /* and the advisory lock is released with the connections (their backends exit
     * asynchronously, so give them a moment) */
    uint64_t t0 = h_now_ms();
    while (strcmp(db_text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"), "0") != 0 &&
           h_now_ms() - t0 < 3000)
        h_sleep_ms(20);
    CHECK_STR(db_text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"), "0");
    *a_out = pools[0];
    printf("migrations: ok\n");
}

static void scenario_round_trip(pg_pool_t *p)
{
    const char *name = "O'Brien \"Bobby\" \\ back; -- not a comment";
    const char *bio = "'); DROP TABLE users; --";
    const char *ins[] = {name, bio};
    qres_t r = q_sync(p, "INSERT INTO users(name, bio) VALUES ($1, $2) RETURNING id", 2, ins);
    CHECK(r.ok);
    CHECK_EQ(r.ntuples, 1);
    char id[sizeof r.val[0]];
    snprintf(id, sizeof id, "%s", r.val[0]);
    const char *sel[] = {id};
    r = q_sync(p, "SELECT name, bio, length(bio) FROM users WHERE id = $1", 1, sel);
    CHECK(r.ok);
    CHECK_EQ(r.ntuples, 1);
    CHECK_STR(r.val[0], name);
    CHECK_STR(r.val[1], bio);
    CHECK_EQ(atoi(r.val[2]), (int)strlen(bio));
    CHECK_STR(db_text("SELECT count(*) FROM information_schema.tables WHERE table_name = 'users'"),
              "1");

    /* NULL parameters are SQL NULL; UTF-8 passes through */
    const char *ins2[] = {"Zoë ☃", NULL};
    r = q_sync(p, "INSERT INTO users(name, bio) VALUES ($1, $2) RETURNING bio, name", 2, ins2);
    CHECK(r.ok);
    CHECK_EQ(r.isnull[0], 1);
    CHECK_STR(r.val[1], "Zoë ☃");

    /* a statement that returns no rows is COMMAND_OK */
    r = q_sync(p, "UPDATE users SET bio = $1 WHERE name = $2", 2,
               (const char *const[]){"x", "nobody"});
    CHECK(r.ok);
    CHECK_EQ(r.ntuples, 0);

    /* server errors: message and SQLSTATE, the connection stays usable */
    r = q_sync(p, "INSERT INTO users(name, bio) VALUES ($1, $2)", 2, ins);
    CHECK(!r.ok);
    CHECK_STR(r.sqlstate, "23505");
    CHECK(strstr(r.err, "duplicate key") != NULL);
    printf("round_trip: unique violation err=\"%s\"\n", r.err);
    r = q_sync(p, "SELEC 1", 0, NULL);
    CHECK(!r.ok);
    CHECK_STR(r.sqlstate, "42601");
    r = q_sync(p, "SELECT $1::int", 1, (const char *const[]){"not a number"});
    CHECK(!r.ok);
    CHECK_STR(r.sqlstate, "22P02");
    r = q_sync(p, "SELECT count(*) FROM users", 0, NULL);
    CHECK(r.ok);
    CHECK_STR(r.val[0], "2");
    CHECK_EQ(pg_pending(p), 0);
    printf("round_trip: ok\n");
}

static void scenario_concurrency(pg_pool_t *p)
{
    enum { N = 50 };
    qres_t r[N];
    char num[N][16];
    uint64_t t0 = h_now_ms();
    for (int i = 0; i < N; i++) {
        snprintf(num[i], sizeof num[i], "%d", i);
        const char *params[] = {num[i]};
        query(p, &r[i], "SELECT $1::int * 2, pg_sleep(0.02)", 1, params);
    }
    CHECK_EQ(pg_pending(p), N);
    many_t m = {r, N};
    CHECK(run_until(all_done, &m, 20000) >= 0);
    uint64_t ms = h_now_ms() - t0;
    uint64_t max_latency = 0;
    for (int i = 0; i < N; i++) {
        CHECK_EQ(r[i].done, 1);
        CHECK(r[i].ok);
        CHECK_EQ(atoi(r[i].val[0]), 2 * i);
        if (r[i].t1 - r[i].t0 > max_latency)
            max_latency = r[i].t1 - r[i].t0;
    }
    CHECK_EQ(pg_pending(p), 0);
    printf("concurrency: %d queries of 20 ms on 4 connections in %llu ms (max latency %llu ms)\n",
           N, (unsigned long long)ms, (unsigned long long)max_latency);
    /* 4 at a time: at least 13 rounds of 20 ms */
    CHECK(ms >= 200);
}

static void scenario_timeouts(void)
{
    pg_opts_t o = opts_for(1, MIGS, NMIGS);
    o.query_timeout_ms = 800;
    o.queue_timeout_ms = 300;
    pg_pool_t *p = pg_pool_new(&loop, &o);
    CHECK(run_until(pool_is_ready, p, 10000) >= 0);
    qres_t slow, queued;
    query(p, &slow, "SELECT pg_sleep(5)", 0, NULL);
    query(p, &queued, "SELECT 1", 0, NULL);
    wait_done(&queued, 3000);
    CHECK_STR(queued.err, "timeout"); /* the pool is up but its one connection is busy */
    wait_done(&slow, 3000);
    CHECK_STR(slow.err, "timeout");
    printf("timeouts: queue timeout after %d ms (300), query timeout after %d ms (800)\n",
           (int)(queued.t1 - queued.t0), (int)(slow.t1 - slow.t0));
    CHECK(queued.t1 - queued.t0 >= 250 && queued.t1 - queued.t0 < 700);
    CHECK(slow.t1 - slow.t0 >= 750 && slow.t1 - slow.t0 < 1500);
    /* the abandoned connection comes back by itself */
    uint64_t t0 = h_now_ms();
    qres_t r;
    do {
        r = q_sync(p, "SELECT 42", 0, NULL);
    } while (!r.ok && h_now_ms() - t0 < 3000);
    CHECK(r.ok);
    CHECK_STR(r.val[0], "42");
    printf("timeouts: usable again after %d ms\n", (int)(h_now_ms() - t0));
    close_and_drain(p);
}

static void scenario_restart(pg_pool_t *p)
{
    /* a query running when the server stops fails "unavailable" (no automatic retry) */
    qres_t running;
    query(p, &running, "SELECT pg_sleep(3)", 0, NULL);
    run_for(200);
    CHECK_EQ(running.done, 0);
    uint64_t stop0 = h_now_ms();
    h_pg_stop();
    printf("restart: pg.sh stop took %d ms\n", (int)(h_now_ms() - stop0));
    wait_done(&running, 3000);
    CHECK_STR(running.err, "unavailable");

    /* queries while it is down: each fails within ~2 s; the loop stays responsive */
    enum { N = 30 };
    qres_t r[N];
    max_gap_ms = 0;
    uint64_t t0 = h_now_ms();
    for (int i = 0; i < N; i++) {
        query(p, &r[i], "SELECT 1", 0, NULL);
        run_for(100);
    }
    many_t m = {r, N};
    CHECK(run_until(all_done, &m, 5000) >= 0);
    uint64_t worst = 0;
    int unavailable = 0, timeout = 0;
    for (int i = 0; i < N; i++) {
        CHECK(!r[i].ok);
        CHECK(strcmp(r[i].err, "unavailable") == 0 || strcmp(r[i].err, "timeout") == 0);
        unavailable += strcmp(r[i].err, "unavailable") == 0;
        timeout += strcmp(r[i].err, "timeout") == 0;
        if (r[i].t1 - r[i].t0 > worst)
            worst = r[i].t1 - r[i].t0;
    }
    printf("restart: %d queries over %d ms while down: %d unavailable, %d timeout, "
           "slowest failure %llu ms, last %llu ms; loop max gap %llu ms (5 ms timer)\n",
           N, (int)(h_now_ms() - t0), unavailable, timeout, (unsigned long long)worst,
           (unsigned long long)(r[N - 1].t1 - r[N - 1].t0), (unsigned long long)max_gap_ms);
    CHECK(worst < 2500);
    CHECK(r[N - 1].t1 - r[N - 1].t0 < 200); /* down for long: at once */
    CHECK(max_gap_ms < 100);
    CHECK(!pg_ready(p));

    /* started again: the pool reconnects by itself */
    uint64_t start0 = h_now_ms();
    h_pg_start();
    uint64_t up0 = h_now_ms();
    printf("restart: pg.sh start took %d ms\n", (int)(up0 - start0));
    qres_t ok;
    int tries = 0;
    do {
        tries++;
        query(p, &ok, "SELECT count(*) FROM users", 0, NULL);
        wait_done(&ok, 5000);
        if (!ok.ok)
            run_for(100);
    } while (!ok.ok && h_now_ms() - up0 < 10000);
    CHECK(ok.ok);
    CHECK_STR(ok.val[0], "2"); /* the data survived */
    printf("restart: queries succeed again %d ms after the server answered (%d tries)\n",
           (int)(h_now_ms() - up0), tries);
    CHECK(h_now_ms() - up0 < 5000);
    CHECK(pg_ready(p));
}

/* libpq moves on to the next host with a new socket (usually with the same descriptor
 * number): the pool must follow it. */
/* A host given by name: the pool resolves it in libuv's thread pool (libpq would block the
 * loop in getaddrinfo) and connects to the address; an unknown name fails and is retried. */
static void scenario_host_name(void)
{
    char ci[256];
    snprintf(ci, sizeof ci, "host=localhost port=%d user=postgres dbname=cluster", h_pg_port());
    pg_opts_t o = opts_for(2, MIGS, NMIGS);
    o.conninfo = ci;
    pg_pool_t *p = pg_pool_new(&loop, &o);
    int ms = run_until(pool_is_ready, p, 5000);
    CHECK(ms >= 0);
    qres_t r = q_sync(p, "SELECT inet_server_port()", 0, NULL);
    CHECK(r.ok);
    CHECK_EQ(atoi(r.val[0]), h_pg_port());
    close_and_drain(p);

    snprintf(ci, sizeof ci, "host=no-such-host.invalid port=%d user=postgres dbname=cluster", h_pg_port());
    o.conninfo = ci;
    p = pg_pool_new(&loop, &o);
    CHECK(p != NULL);
    CHECK(run_until(pool_is_ready, p, 500) < 0);
    close_and_drain(p); /* with a resolution possibly in flight */
    printf("host_name: 'localhost' resolved off the loop, ready in %d ms; an unknown name stays unready\n", ms);
}

static void scenario_host_list(void)
{
    char ci[256];
    snprintf(ci, sizeof ci, "host=127.0.0.1,127.0.0.1 port=%d,%d user=postgres dbname=cluster",
             h_free_port(), h_pg_port());
    pg_opts_t o = opts_for(2, MIGS, NMIGS);
    o.conninfo = ci;
    log_set_level(LOG_DEBUG);
    pg_pool_t *p = pg_pool_new(&loop, &o);
    int ms = run_until(pool_is_ready, p, 5000);
    log_set_level(LOG_INFO);
    CHECK(ms >= 0);
    qres_t r = q_sync(p, "SELECT inet_server_port()", 0, NULL);
    CHECK(r.ok);
    CHECK_EQ(atoi(r.val[0]), h_pg_port());
    printf("host_list: ready in %d ms past a dead first host\n", ms);
    close_and_drain(p);
}

/* Callbacks that query again, and one that closes the pool under the others. */
typedef struct chain {
    pg_pool_t *p;
    int left, done;
    qres_t r;
} chain_t;

static void on_chain(const PGresult *res, const char *err, const char *sqlstate, void *ud)
{
    chain_t *c = ud;
    CHECK(!in_pg_query);
    CHECK(res != NULL);
    c->done++;
    if (--c->left > 0) {
        in_pg_query = 1;
        CHECK_EQ(pg_query(c->p, "SELECT 1", 0, NULL, on_chain, c), 0);
        in_pg_query = 0;
    }
}

static int chain_done(void *arg) { return ((chain_t *)arg)->left == 0; }

static pg_pool_t *closer_pool;
static int closer_called;
static qres_t closer_late;

static void on_closer(const PGresult *res, const char *err, const char *sqlstate, void *ud)
{
    CHECK(res != NULL);
    closer_called++;
    pg_pool_close(closer_pool);
    pg_pool_close(closer_pool); /* twice is harmless */
    CHECK_EQ(pg_query(closer_pool, "SELECT 1", 0, NULL, on_result, &closer_late), -1);
}

static int closer_done(void *arg) { return closer_called > 0; }

static void scenario_callbacks(void)
{
    pg_opts_t o = opts_for(2, MIGS, NMIGS);
    pg_pool_t *p = pg_pool_new(&loop, &o);
    CHECK(run_until(pool_is_ready, p, 10000) >= 0);
    chain_t ch = {p, 20, 0, {0}};
    CHECK_EQ(pg_query(p, "SELECT 1", 0, NULL, on_chain, &ch), 0);
    CHECK(run_until(chain_done, &ch, 10000) >= 0);
    CHECK_EQ(ch.done, 20);

    closer_pool = p;
    qres_t r[5];
    query(p, &r[0], "SELECT pg_sleep(2)", 0, NULL);
    CHECK_EQ(pg_query(p, "SELECT 1", 0, NULL, on_closer, NULL), 0);
    for (int i = 1; i < 5; i++)
        query(p, &r[i], "SELECT pg_sleep(2)", 0, NULL);
    CHECK(run_until(closer_done, NULL, 5000) >= 0);
    for (int i = 0; i < 5; i++)
        CHECK_STR(r[i].err, "closed");
    CHECK_EQ(closer_late.done, 0);
    run_for(50);
    printf("callbacks: chained 20, closed from a callback with 5 pending\n");
}

static void scenario_close_pending(pg_pool_t *p)
{
    enum { N = 10 };
    qres_t r[N];
    for (int i = 0; i < N; i++)
        query(p, &r[i], "SELECT pg_sleep(2)", 0, NULL);
    run_for(100); /* 4 running, 6 waiting */
    CHECK_EQ(pg_pending(p), N);
    pg_pool_close(p);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(r[i].done, 1);
        CHECK_STR(r[i].err, "closed");
    }
    printf("close_pending: %d callbacks \"closed\"\n", N);
}

int main(void)
{
    log_init("test_pg", LOG_INFO);
    size_t start = alloc_used();
    h_init("pg");
    h_pg_start();
    printf("postgres: %s\n", h_pg_conninfo());
    CHECK(h_pg_port() > 0);
    CHECK_EQ(uv_loop_init(&loop), 0);
    uv_timer_init(&loop, &ticker);
    uv_timer_start(&ticker, on_tick, 5, 5);

    scenario_close_early(start);

    pg_pool_t *a = NULL;
    scenario_migrations(&a);
    scenario_round_trip(a);
    close_and_drain(a);

    pg_opts_t o = opts_for(4, MIGS, NMIGS);
    pg_pool_t *p = pg_pool_new(&loop, &o);
    CHECK(run_until(pool_is_ready, p, 10000) >= 0);
    scenario_concurrency(p);
    scenario_host_list();
    scenario_host_name();
    scenario_callbacks();
    scenario_timeouts();
    scenario_restart(p);
    scenario_close_pending(p);

    uv_close((uv_handle_t *)&ticker, NULL);
    CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    CHECK_EQ(uv_loop_close(&loop), 0);
    CHECK_EQ(alloc_used(), start);
    PQfinish(db);
    printf("test_pg: ok\n");
    return 0;
}
