/* pg_migrate: the pool's schema migrations (see pg_pool.h): lock, create the table of applied
 * versions, list them, then each missing one in its own transaction, then unlock. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pg_pool.h"

static const char *const mstep_names[] = {"lock", "create", "list", "begin", "sql",
                                          "record", "commit", "unlock", "rollback"};

static void on_mig_timer(uv_timer_t *t)
{
    pg_pool_t *p = t->data;
    p->mig_retry_pending = 0;
    if (p->migrated || p->migrating)
        return;
    for (int i = 0; i < p->size; i++)
        if (p->conns[i].state == C_IDLE) {
            pgi_migrate_start(&p->conns[i]);
            return;
        }
    /* none up: the next connection that comes up starts them */
}

/* The migrating connection failed or went away: try again later, on whichever is up. */
void pgi_migrate_abort(pg_pool_t *p)
{
    p->migrating = 0;
    p->mig_retry_pending = 1;
    uv_timer_start(&p->mig_timer, on_mig_timer, p->mig_backoff_ms, 0);
    p->mig_backoff_ms =
        p->mig_backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : p->mig_backoff_ms * 2;
}

/* ---- migrations */

static int migrate_send(pg_conn_t *c)
{
    pg_pool_t *p = c->p;
    char key[32], ver[16];
    const char *params[1] = {key};
    snprintf(key, sizeof key, "%" PRId64, p->lock_key);
    switch (p->mig_step) {
    case M_LOCK:
        return pgi_conn_send(c, "SELECT pg_advisory_lock($1::bigint)", 1, params, 0,
                         MIGRATE_STEP_TIMEOUT_MS);
    case M_CREATE:
        return pgi_conn_send(c,
                         "CREATE TABLE IF NOT EXISTS schema_migrations(version int PRIMARY KEY, "
                         "applied_at timestamptz NOT NULL DEFAULT now())",
                         0, NULL, 0, MIGRATE_STEP_TIMEOUT_MS);
    case M_LIST:
        return pgi_conn_send(c, "SELECT version FROM schema_migrations", 0, NULL, 0,
                         MIGRATE_STEP_TIMEOUT_MS);
    case M_BEGIN:
        return pgi_conn_send(c, "BEGIN", 0, NULL, 0, MIGRATE_STEP_TIMEOUT_MS);
    case M_SQL:
        return pgi_conn_send(c, p->migs[p->mig_index].sql, 0, NULL, 1, MIGRATE_STEP_TIMEOUT_MS);
    case M_RECORD:
        snprintf(ver, sizeof ver, "%d", p->migs[p->mig_index].version);
        params[0] = ver;
        return pgi_conn_send(c, "INSERT INTO schema_migrations(version) VALUES ($1::int)", 1, params,
                         0, MIGRATE_STEP_TIMEOUT_MS);
    case M_COMMIT:
        return pgi_conn_send(c, "COMMIT", 0, NULL, 0, MIGRATE_STEP_TIMEOUT_MS);
    case M_UNLOCK:
        return pgi_conn_send(c, "SELECT pg_advisory_unlock($1::bigint)", 1, params, 0,
                         MIGRATE_STEP_TIMEOUT_MS);
    case M_ROLLBACK:
        return pgi_conn_send(c, "ROLLBACK", 0, NULL, 0, MIGRATE_STEP_TIMEOUT_MS);
    }
    return -1;
}

static void migrate_go(pg_conn_t *c, mstep_t step)
{
    c->p->mig_step = step;
    if (migrate_send(c) < 0)
        pgi_conn_lost(c, NULL);
}

void pgi_migrate_start(pg_conn_t *c)
{
    pg_pool_t *p = c->p;
    p->migrating = 1;
    p->mig_index = 0;
    memset(p->applied, 0, (size_t)p->nmigs);
    c->state = C_MIGRATING;
    log_info("migrations_start", "conn=%d known=%d", c->idx, p->nmigs);
    migrate_go(c, M_LOCK);
}

/* The next migration not yet applied, or the unlock when none is left. */
static void migrate_next(pg_conn_t *c)
{
    pg_pool_t *p = c->p;
    while (p->mig_index < p->nmigs && p->applied[p->mig_index])
        p->mig_index++;
    if (p->mig_index == p->nmigs) {
        migrate_go(c, M_UNLOCK);
        return;
    }
    p->mig_started_ms = pgi_now_ms(p);
    migrate_go(c, M_BEGIN);
}

static void migrate_done(pg_conn_t *c)
{
    pg_pool_t *p = c->p;
    uv_timer_stop(&c->timer);
    p->migrating = 0;
    p->migrated = 1;
    p->mig_backoff_ms = BACKOFF_MIN_MS;
    c->state = C_IDLE;
    log_info("migrations_done", "conn=%d known=%d", c->idx, p->nmigs);
    pgi_note_ready(p);
    pgi_pump(p);
}

void pgi_migrate_step_done(pg_conn_t *c)
{
    pg_pool_t *p = c->p;
    PGresult *res = c->result;
    c->result = NULL;
    if (!res || PQstatus(c->pg) == CONNECTION_BAD) {
        if (res)
            PQclear(res);
        pgi_conn_lost(c, NULL);
        return;
    }
    if (p->mig_step == M_ROLLBACK) {
        /* after a failure: drop the connection (and with it the advisory lock) */
        PQclear(res);
        pgi_conn_lost(c, "migration failed");
        return;
    }
    /* COMMIT of a transaction that failed answers "ROLLBACK", without an error */
    int rolled_back = p->mig_step == M_COMMIT && strcmp(PQcmdStatus(res), "COMMIT") != 0;
    if (!pgi_result_ok(res) || rolled_back) {
        char msg[300];
        const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        pgi_log_text(msg, sizeof msg,
                 rolled_back ? "transaction rolled back"
                             : primary ? primary : PQresultErrorMessage(res));
        log_error("migration_failed", "conn=%d step=%s version=%d sqlstate=%s error=\"%s\"",
                  c->idx, mstep_names[p->mig_step],
                  p->mig_step >= M_BEGIN && p->mig_step <= M_COMMIT ? p->migs[p->mig_index].version
                                                                    : 0,
                  code ? code : "", msg);
        PQclear(res);
        migrate_go(c, M_ROLLBACK);
        return;
    }
    switch (p->mig_step) {
    case M_LOCK:
    case M_CREATE:
    case M_BEGIN:
    case M_SQL:
    case M_RECORD:
        migrate_go(c, (mstep_t)(p->mig_step + 1)); /* mstep_t lists the steps in order */
        break;
    case M_LIST:
        for (int r = 0; r < PQntuples(res); r++) {
            int v = atoi(PQgetvalue(res, r, 0));
            for (int i = 0; i < p->nmigs; i++)
                if (p->migs[i].version == v)
                    p->applied[i] = 1;
        }
        migrate_next(c);
        break;
    case M_COMMIT:
        log_info("migration_applied", "conn=%d version=%d ms=%" PRIu64, c->idx,
                 p->migs[p->mig_index].version, pgi_now_ms(p) - p->mig_started_ms);
        p->applied[p->mig_index] = 1;
        migrate_next(c);
        break;
    case M_UNLOCK:
        migrate_done(c);
        break;
    case M_ROLLBACK:
        break;
    }
    PQclear(res);
}

