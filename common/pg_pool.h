/* pg_pool: the insides of the PostgreSQL pool (pg.c) that its migrations (pg_migrate.c) share.
 * Not for pg.h's users. */
#ifndef CLUSTER_PG_POOL_H
#define CLUSTER_PG_POOL_H

#include <libpq-fe.h>
#include <sys/types.h>
#include <uv.h>

#include "pg.h"
#include "resolve.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
#define CONNECT_TIMEOUT_MS 5000
#define MIGRATE_STEP_TIMEOUT_MS 60000
#define DEFAULT_SIZE 4
#define DEFAULT_QUEUE_TIMEOUT_MS 1500
#define DEFAULT_QUERY_TIMEOUT_MS 5000
#define DEFAULT_LOCK_KEY INT64_C(0x636c7573746572) /* "cluster" */
#define MAX_PARAMS 65535

static const char ERR_UNAVAILABLE[] = "unavailable";
static const char ERR_TIMEOUT[] = "timeout";
static const char ERR_CLOSED[] = "closed";

typedef struct pg_req {
    struct pg_req *prev, *next; /* in one utlist DL: the pool's queue or deferred list */
    pg_cb cb;
    void *ud;
    uint64_t deadline;  /* loop ms: fails when still queued then */
    const char *err;    /* a deferred failure: one of the ERR_* strings */
    int nparams;
    const char *sql;
    const char **params; /* nparams entries; NULL = SQL NULL */
    /* the params array, then the SQL and parameter texts, live in the same block */
} pg_req_t;

typedef enum { C_DOWN, C_CONNECTING, C_IDLE, C_BUSY, C_MIGRATING } cstate_t;

/* A migration's steps, in the order they run (pg_migrate.c goes from one to the next + 1, from
 * M_LOCK to M_CREATE and from M_BEGIN to M_COMMIT). */
typedef enum {
    M_LOCK,
    M_CREATE,
    M_LIST,
    M_BEGIN,
    M_SQL,
    M_RECORD,
    M_COMMIT,
    M_UNLOCK,
    M_ROLLBACK,
} mstep_t;

typedef struct pg_conn {
    pg_pool_t *p;
    int idx;
    PGconn *pg;
    cstate_t state;
    uv_poll_t *poll;   /* NULL when no socket is watched */
    int poll_fd;
    ino_t poll_ino;
    int poll_events;   /* what poll is started with; 0 after an error stopped it */
    uv_timer_t timer;  /* backoff (down), connect timeout, query or migration step timeout */
    resolve_t resolve;    /* the host name before a connect */
    unsigned backoff_ms;
    int failures;      /* failed connects since the last success */
    int flushing;      /* PQflush returned 1: still bytes to send */
    int in_cmd;        /* a command was sent and PQgetResult has not returned NULL yet */
    pg_req_t *req;     /* the running query (C_BUSY) */
    PGresult *result;  /* the result kept until the command completes */
} pg_conn_t;

struct pg_pool {
    uv_loop_t *loop;
    char *conninfo;
    char *resolve_host;       /* a host name libpq would resolve synchronously; NULL if none */
    int size;
    uint64_t queue_timeout_ms;
    uint64_t query_timeout_ms;
    int64_t lock_key;
    pg_migration_t *migs;  /* sorted by version, SQL copied */
    int nmigs;
    unsigned char *applied;
    pg_conn_t *conns;

    pg_req_t *queue;          /* waiting for a connection (FIFO) */
    pg_req_t *deferred;       /* failed, callback due on the next loop turn (FIFO) */
    unsigned npending;        /* queries whose callback has not run yet */
    uv_timer_t queue_timer;   /* the head of the queue's deadline */
    uv_timer_t mig_timer;     /* retry of failed migrations */
    uv_idle_t defer;          /* delivers the failed list */

    int nup;                  /* connections up (idle, busy or migrating) */
    int migrated;
    int migrating;
    int mig_retry_pending;
    unsigned mig_backoff_ms;
    mstep_t mig_step;
    int mig_index;            /* position in migs of the migration being applied */
    uint64_t mig_started_ms;
    int was_ready;
    uint64_t unready_since;   /* loop ms when the pool last stopped being ready */

    int closing;
    int nhandles;             /* open libuv handles: freed when 0 after closing */
};

/* pg.c */
const char *pgi_log_text(char *out, size_t n, const char *in);
uint64_t pgi_now_ms(const pg_pool_t *p);
void pgi_note_ready(pg_pool_t *p);
/* The connection failed (or we gave up on it): fail what ran on it, reconnect after backoff. */
void pgi_conn_lost(pg_conn_t *c, const char *why);
/* Hands queued queries to idle connections. */
void pgi_pump(pg_pool_t *p);
/* Sends one command on an up connection: params NULL and multi = 1 sends it as a simple
 * query (several statements allowed). Returns 0 or -1 (the connection is broken). */
int pgi_conn_send(pg_conn_t *c, const char *sql, int nparams, const char *const *params, int multi,
                  uint64_t timeout_ms);
int pgi_result_ok(const PGresult *r);

/* pg_migrate.c: the schema migrations, applied once by the first connection up, under an
 * advisory lock, one transaction each. */
void pgi_migrate_start(pg_conn_t *c);
/* The migrating connection failed or went away: try again later, on whichever is up. */
void pgi_migrate_abort(pg_pool_t *p);
/* The migration step's command completed on c (its result in c->result). */
void pgi_migrate_step_done(pg_conn_t *c);

#endif
