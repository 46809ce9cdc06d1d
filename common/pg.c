/* pg: a pool of asynchronous libpq connections on a libuv loop.
 *
 * Each connection is a small state machine (down -> connecting -> idle <-> busy, or
 * migrating) driven by a uv_poll_t on PQsocket() and one uv_timer_t (backoff, connect
 * timeout, query timeout). Nothing here blocks: PQconnectStartParams/PQconnectPoll to
 * connect, PQsetnonblocking + PQsendQueryParams + PQflush to send, PQconsumeInput +
 * PQisBusy + PQgetResult to read. PQcancel would block (it opens its own connection
 * synchronously), so a query past its timeout is abandoned by closing its connection.
 *
 * Callbacks run either from a poll callback (server results) or from a uv_idle "defer"
 * handle (every failure the pool decides on: unavailable, timeout), never from inside
 * pg_query; pg_pool_close delivers what is left synchronously, with "closed".
 *
 * The poll handle is recreated whenever the socket changes. libpq may close its socket and
 * open another while connecting (several hosts or addresses, SSL/GSS fallbacks), and the new
 * one usually gets the same descriptor number: libuv would keep a watcher whose epoll
 * registration the kernel dropped with the old socket. So the socket is identified by
 * descriptor and inode, and a poll handle never outlives the socket it was made for. */
#include "pg.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <utlist.h>

#include "alloc.h"
#include "log.h"
#include "pg_pool.h"
#include "util.h"


/* ---- small helpers */

/* Copies text into out for a log value in double quotes: no quotes, no line breaks. */
const char *pgi_log_text(char *out, size_t n, const char *in)
{
    size_t j = 0;
    for (size_t i = 0; in && in[i] && j + 1 < n; i++) {
        char ch = in[i];
        if (ch == '"')
            ch = '\'';
        else if (ch == '\n' || ch == '\r' || ch == '\t')
            ch = ' ';
        out[j++] = ch;
    }
    while (j > 0 && out[j - 1] == ' ')
        j--;
    out[j] = '\0';
    return out;
}

uint64_t pgi_now_ms(const pg_pool_t *p) { return uv_now(p->loop); }

static int pool_ready(const pg_pool_t *p) { return p->migrated && p->nup > 0; }

/* Call after nup or migrated change: remembers when the pool stopped being ready. */
void pgi_note_ready(pg_pool_t *p)
{
    int r = pool_ready(p);
    if (p->was_ready && !r)
        p->unready_since = pgi_now_ms(p);
    p->was_ready = r;
}

static void maybe_free(pg_pool_t *p)
{
    if (!p->closing || p->nhandles > 0)
        return;
    for (int i = 0; i < p->nmigs; i++)
        xfree((char *)p->migs[i].sql);
    xfree(p->migs);
    xfree(p->applied);
    xfree(p->conns);
    xfree(p->conninfo);
    xfree(p->resolve_host);
    xfree(p);
}

static void on_handle_closed(uv_handle_t *h)
{
    pg_pool_t *p = h->data;
    p->nhandles--;
    maybe_free(p);
}

static void on_poll_closed(uv_handle_t *h)
{
    pg_conn_t *c = h->data;
    pg_pool_t *p = c->p;
    xfree(h);
    p->nhandles--;
    maybe_free(p);
}

static void on_notice(void *arg, const char *message)
{
    pg_conn_t *c = arg;
    char buf[512];
    log_debug("pg_notice", "conn=%d msg=\"%s\"", c->idx, pgi_log_text(buf, sizeof buf, message));
}

/* ---- requests */

static pg_req_t *req_new(const char *sql, int nparams, const char *const *params, pg_cb cb,
                         void *ud)
{
    size_t n = sizeof(pg_req_t) + (size_t)nparams * sizeof(char *) + strlen(sql) + 1;
    for (int i = 0; i < nparams; i++)
        if (params[i])
            n += strlen(params[i]) + 1;
    pg_req_t *q = xmalloc(n);
    memset(q, 0, sizeof *q);
    q->cb = cb;
    q->ud = ud;
    q->nparams = nparams;
    q->params = (const char **)(q + 1);
    char *s = (char *)(q->params + nparams);
    size_t l = strlen(sql) + 1;
    memcpy(s, sql, l);
    q->sql = s;
    s += l;
    for (int i = 0; i < nparams; i++) {
        if (!params[i]) {
            q->params[i] = NULL;
            continue;
        }
        l = strlen(params[i]) + 1;
        memcpy(s, params[i], l);
        q->params[i] = s;
        s += l;
    }
    return q;
}

/* Runs the callback with a failure and frees the request. */
static void req_fail_now(pg_pool_t *p, pg_req_t *q, const char *err)
{
    p->npending--;
    q->cb(NULL, err, "", q->ud);
    xfree(q);
}

static void on_defer(uv_idle_t *h)
{
    pg_pool_t *p = h->data;
    /* One at a time from the pool's list: a callback may close the pool, which then
     * delivers the rest itself. */
    while (p->deferred && !p->closing) {
        pg_req_t *q = p->deferred;
        DL_DELETE(p->deferred, q);
        req_fail_now(p, q, q->err);
    }
    if (!p->closing && !p->deferred)
        uv_idle_stop(&p->defer);
}

/* Fails a request on the next loop turn (never inside the caller's stack). */
static void req_fail_later(pg_pool_t *p, pg_req_t *q, const char *err)
{
    q->err = err;
    DL_APPEND(p->deferred, q);
    uv_idle_start(&p->defer, on_defer);
}

/* ---- the wait queue */

static void on_queue_timer(uv_timer_t *t);

static void arm_queue_timer(pg_pool_t *p)
{
    if (!p->queue) {
        uv_timer_stop(&p->queue_timer);
        return;
    }
    uint64_t now = pgi_now_ms(p);
    uint64_t wait = p->queue->deadline > now ? p->queue->deadline - now : 0;
    uv_timer_start(&p->queue_timer, on_queue_timer, wait, 0);
}

static pg_req_t *queue_pop(pg_pool_t *p)
{
    pg_req_t *q = p->queue;
    if (q)
        DL_DELETE(p->queue, q);
    return q;
}

static void on_queue_timer(uv_timer_t *t)
{
    pg_pool_t *p = t->data;
    uint64_t now = pgi_now_ms(p);
    /* Waiting with the pool up means every connection is busy: "timeout". */
    const char *err = pool_ready(p) ? ERR_TIMEOUT : ERR_UNAVAILABLE;
    while (p->queue && p->queue->deadline <= now)
        req_fail_later(p, queue_pop(p), err);
    arm_queue_timer(p);
}

/* ---- the socket */

static void on_poll(uv_poll_t *h, int status, int events);

static void poll_release(pg_conn_t *c)
{
    if (!c->poll)
        return;
    uv_close((uv_handle_t *)c->poll, on_poll_closed);
    c->poll = NULL;
    c->poll_events = 0;
}

/* Watches PQsocket() for events, making a new poll handle when the socket changed.
 * Returns 0 or -1 (no socket, or libuv refused it). */
static int watch(pg_conn_t *c, int events)
{
    int fd = PQsocket(c->pg);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        return -1;
    if (c->poll && (c->poll_fd != fd || c->poll_ino != st.st_ino)) {
        log_debug("pg_socket_changed", "conn=%d old_fd=%d fd=%d same_number=%d", c->idx,
                  c->poll_fd, fd, c->poll_fd == fd);
        poll_release(c);
    }
    if (!c->poll) {
        uv_poll_t *h = xmalloc(sizeof *h);
        int rc = uv_poll_init(c->p->loop, h, fd);
        if (rc != 0) {
            log_error("pg_poll_failed", "conn=%d fd=%d error=%s", c->idx, fd, uv_strerror(rc));
            xfree(h);
            return -1;
        }
        h->data = c;
        c->p->nhandles++;
        c->poll = h;
        c->poll_fd = fd;
        c->poll_ino = st.st_ino;
        c->poll_events = 0;
    }
    if (c->poll_events != events) {
        /* uv_poll_start re-registers with epoll: only when the events change */
        if (uv_poll_start(c->poll, events, on_poll) != 0)
            return -1;
        c->poll_events = events;
    }
    return 0;
}

/* Sends what libpq has buffered; watches for writability while some is left. */
static int conn_flush(pg_conn_t *c)
{
    int r = PQflush(c->pg);
    if (r < 0)
        return -1;
    c->flushing = r == 1;
    return watch(c, c->flushing ? UV_READABLE | UV_WRITABLE : UV_READABLE);
}

/* ---- connection life */

static void on_conn_timer(uv_timer_t *t);

/* Drops libpq and the socket watch; the conn's timer stays. */
static void conn_reset(pg_conn_t *c)
{
    poll_release(c); /* before PQfinish closes the descriptor */
    if (c->result) {
        PQclear(c->result);
        c->result = NULL;
    }
    if (c->pg) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
    c->flushing = 0;
    c->in_cmd = 0;
    uv_timer_stop(&c->timer);
}

static void schedule_reconnect(pg_conn_t *c)
{
    c->state = C_DOWN;
    uv_timer_start(&c->timer, on_conn_timer, c->backoff_ms, 0);
    c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
}

/* The connection failed (or we gave up on it): fail what ran on it, reconnect after backoff. */
void pgi_conn_lost(pg_conn_t *c, const char *why)
{
    pg_pool_t *p = c->p;
    int was_up = c->state == C_IDLE || c->state == C_BUSY || c->state == C_MIGRATING;
    char msg[300];
    pgi_log_text(msg, sizeof msg, why ? why : (c->pg ? PQerrorMessage(c->pg) : "closed"));
    pg_req_t *q = c->req;
    c->req = NULL;
    if (c->state == C_MIGRATING)
        pgi_migrate_abort(p);
    conn_reset(c);
    if (was_up) {
        p->nup--;
        log_warn("pg_down", "conn=%d error=\"%s\" up=%d", c->idx, msg, p->nup);
        pgi_note_ready(p);
    } else {
        c->failures++;
        if (c->failures == 1 || c->failures % 20 == 0)
            log_warn("pg_connect_failed", "conn=%d error=\"%s\" failures=%d", c->idx, msg,
                     c->failures);
    }
    if (q)
        req_fail_later(p, q, ERR_UNAVAILABLE);
    schedule_reconnect(c);
}

static void connect_to(pg_conn_t *c, const char *hostaddr)
{
    pg_pool_t *p = c->p;
    /* expand_dbname: the conninfo (or URI) given as dbname is expanded into its parts;
     * fallback_application_name comes first so the conninfo can override it; a hostaddr we
     * resolved comes last, so libpq connects there without resolving the host itself (it
     * keeps `host` for authentication and TLS). */
    const char *const keys[] = {"fallback_application_name", "dbname", hostaddr ? "hostaddr" : NULL, NULL};
    const char *const vals[] = {"cluster", p->conninfo, hostaddr, NULL};
    c->pg = PQconnectStartParams(keys, vals, 1);
    if (!c->pg) {
        log_error("pg_connect_failed", "conn=%d error=\"out of memory\"", c->idx);
        schedule_reconnect(c);
        return;
    }
    PQsetNoticeProcessor(c->pg, on_notice, c);
    c->state = C_CONNECTING;
    /* Until PQconnectPoll has been called, behave as if it returned PGRES_POLLING_WRITING. */
    if (PQstatus(c->pg) == CONNECTION_BAD || watch(c, UV_WRITABLE) < 0) {
        pgi_conn_lost(c, NULL);
        return;
    }
    uv_timer_start(&c->timer, on_conn_timer, CONNECT_TIMEOUT_MS, 0);
}

/* libpq resolves host names with a blocking getaddrinfo inside PQconnectPoll: resolve them
 * first in libuv's thread pool, then hand libpq the address. */
static void on_resolved(resolve_t *rq, int status, const struct sockaddr *addr)
{
    pg_conn_t *c = rq->data;
    pg_pool_t *p = c->p;
    p->nhandles--;
    if (p->closing) {
        maybe_free(p);
        return;
    }
    if (status < 0) {
        c->failures++;
        if (c->failures == 1 || c->failures % 20 == 0)
            log_warn("pg_resolve_failed", "conn=%d host=%s error=%s failures=%d", c->idx,
                     p->resolve_host, uv_strerror(status), c->failures);
        schedule_reconnect(c);
        return;
    }
    char ip[64];
    addr_host(addr, ip, sizeof ip);
    connect_to(c, ip);
}

static void start_connect(pg_conn_t *c)
{
    pg_pool_t *p = c->p;
    if (!p->resolve_host) {
        connect_to(c, NULL);
        return;
    }
    if (c->resolve.pending)
        return;
    p->nhandles++; /* the pool outlives the request */
    if (resolve_start(p->loop, &c->resolve, p->resolve_host, on_resolved, c) != 0) {
        p->nhandles--;
        schedule_reconnect(c);
    }
}

static void conn_up(pg_conn_t *c)
{
    pg_pool_t *p = c->p;
    if (PQsetnonblocking(c->pg, 1) != 0 || watch(c, UV_READABLE) < 0) {
        pgi_conn_lost(c, NULL);
        return;
    }
    uv_timer_stop(&c->timer);
    c->state = C_IDLE;
    c->backoff_ms = BACKOFF_MIN_MS;
    p->nup++;
    log_info("pg_up", "conn=%d host=%s port=%s server_version=%d after_failures=%d up=%d",
             c->idx, PQhost(c->pg), PQport(c->pg), PQserverVersion(c->pg), c->failures, p->nup);
    c->failures = 0;
    if (!p->migrated) {
        if (!p->migrating && !p->mig_retry_pending)
            pgi_migrate_start(c);
        return;
    }
    pgi_note_ready(p);
    pgi_pump(p);
}

static void connect_step(pg_conn_t *c)
{
    switch (PQconnectPoll(c->pg)) {
    case PGRES_POLLING_OK:
        conn_up(c);
        return;
    case PGRES_POLLING_READING:
        if (watch(c, UV_READABLE) < 0)
            pgi_conn_lost(c, NULL);
        return;
    case PGRES_POLLING_WRITING:
        if (watch(c, UV_WRITABLE) < 0)
            pgi_conn_lost(c, NULL);
        return;
    default:
        pgi_conn_lost(c, NULL);
        return;
    }
}

static void on_conn_timer(uv_timer_t *t)
{
    pg_conn_t *c = t->data;
    pg_pool_t *p = c->p;
    switch (c->state) {
    case C_DOWN:
        start_connect(c);
        break;
    case C_CONNECTING:
        pgi_conn_lost(c, "connect timeout");
        break;
    case C_BUSY: {
        /* PQcancel would block the loop; abandoning the connection is the async cancel
         * (the server stops the query when it notices, at the latest on its next write). */
        pg_req_t *q = c->req;
        c->req = NULL;
        log_warn("pg_query_timeout", "conn=%d timeout_ms=%" PRIu64, c->idx, p->query_timeout_ms);
        req_fail_later(p, q, ERR_TIMEOUT);
        pgi_conn_lost(c, "query timeout");
        break;
    }
    case C_MIGRATING:
        pgi_conn_lost(c, "migration step timeout");
        break;
    case C_IDLE:
        break;
    }
}

/* ---- commands */

/* Sends one command on an up connection: params NULL and multi = 1 sends it as a simple
 * query (several statements allowed). Returns 0 or -1 (the connection is broken). */
int pgi_conn_send(pg_conn_t *c, const char *sql, int nparams, const char *const *params,
                     int multi, uint64_t timeout_ms)
{
    int ok = multi ? PQsendQuery(c->pg, sql)
                   : PQsendQueryParams(c->pg, sql, nparams, NULL, params, NULL, NULL, 0);
    if (!ok || conn_flush(c) < 0)
        return -1;
    c->in_cmd = 1;
    uv_timer_start(&c->timer, on_conn_timer, timeout_ms, 0);
    return 0;
}

int pgi_result_ok(const PGresult *r)
{
    ExecStatusType s = PQresultStatus(r);
    return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

/* Keeps one result per command: the first error, else the last result. */
static void keep_result(pg_conn_t *c, PGresult *r)
{
    if (!c->result) {
        c->result = r;
    } else if (!pgi_result_ok(c->result)) {
        PQclear(r);
    } else {
        PQclear(c->result);
        c->result = r;
    }
}

static void run_query(pg_conn_t *c, pg_req_t *q)
{
    pg_pool_t *p = c->p;
    c->req = q;
    c->state = C_BUSY;
    if (pgi_conn_send(c, q->sql, q->nparams, q->params, 0, p->query_timeout_ms) < 0)
        pgi_conn_lost(c, NULL); /* fails q "unavailable", on the next turn */
}

/* Hands queued queries to idle connections. Sends only; never runs a callback. */
void pgi_pump(pg_pool_t *p)
{
    if (p->closing || !p->migrated)
        return;
    for (int i = 0; i < p->size && p->queue; i++) {
        pg_conn_t *c = &p->conns[i];
        if (c->state == C_IDLE)
            run_query(c, queue_pop(p));
    }
    arm_queue_timer(p);
}

static void query_done(pg_conn_t *c)
{
    pg_pool_t *p = c->p;
    pg_req_t *q = c->req;
    PGresult *res = c->result;
    c->req = NULL;
    c->result = NULL;
    uv_timer_stop(&c->timer);
    if (!res || PQstatus(c->pg) == CONNECTION_BAD) {
        /* the connection failed mid-query: its error is not the query's */
        if (res)
            PQclear(res);
        c->req = q;
        pgi_conn_lost(c, NULL);
        return;
    }
    c->state = C_IDLE;
    p->npending--;
    if (pgi_result_ok(res)) {
        q->cb(res, NULL, NULL, q->ud);
    } else {
        const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        if (!msg || !*msg)
            msg = PQresultStatus(res) == PGRES_EMPTY_QUERY ? "empty query"
                                                           : PQresStatus(PQresultStatus(res));
        q->cb(NULL, msg, code ? code : "", q->ud);
    }
    PQclear(res);
    xfree(q);
    pgi_pump(p); /* no-op when the callback closed the pool */
}

/* ---- the socket callback */

static void on_poll(uv_poll_t *h, int status, int events)
{
    pg_conn_t *c = h->data;
    if (c->state == C_CONNECTING) {
        /* An error (a refused connect shows as POLLERR) is libpq's to read and report;
         * libuv stopped the handle, so watch() must start it again. */
        if (status < 0)
            c->poll_events = 0;
        connect_step(c);
        return;
    }
    if (status < 0) {
        pgi_conn_lost(c, uv_strerror(status));
        return;
    }
    if ((events & UV_READABLE) && !PQconsumeInput(c->pg)) {
        pgi_conn_lost(c, NULL);
        return;
    }
    if (c->flushing && conn_flush(c) < 0) {
        pgi_conn_lost(c, NULL);
        return;
    }
    if (!c->in_cmd) {
        /* idle: only the server closing (restart, admin) or stray notifications */
        PGnotify *n;
        while ((n = PQnotifies(c->pg)) != NULL)
            PQfreemem(n);
        if (PQstatus(c->pg) == CONNECTION_BAD)
            pgi_conn_lost(c, NULL);
        return;
    }
    while (!PQisBusy(c->pg)) {
        PGresult *r = PQgetResult(c->pg);
        if (!r) {
            c->in_cmd = 0;
            if (c->state == C_BUSY)
                query_done(c);
            else
                pgi_migrate_step_done(c);
            return;
        }
        ExecStatusType s = PQresultStatus(r);
        if (s == PGRES_COPY_IN || s == PGRES_COPY_OUT || s == PGRES_COPY_BOTH) {
            PQclear(r);
            pgi_conn_lost(c, "COPY is not supported");
            return;
        }
        keep_result(c, r);
    }
    if (PQstatus(c->pg) == CONNECTION_BAD)
        pgi_conn_lost(c, NULL);
}

/* ---- public API */

static int mig_cmp(const void *a, const void *b)
{
    int x = ((const pg_migration_t *)a)->version, y = ((const pg_migration_t *)b)->version;
    return (x > y) - (x < y);
}

pg_pool_t *pg_pool_new(uv_loop_t *loop, const pg_opts_t *opts)
{
    char *errmsg = NULL;
    PQconninfoOption *parsed = PQconninfoParse(opts->conninfo ? opts->conninfo : "", &errmsg);
    if (!parsed) {
        char buf[300];
        log_error("pg_bad_conninfo", "error=\"%s\"",
                  pgi_log_text(buf, sizeof buf, errmsg ? errmsg : "out of memory"));
        if (errmsg)
            PQfreemem(errmsg);
        return NULL;
    }
    /* One host given by name (not an address, not a socket folder, not a list) and no
     * hostaddr: we resolve it ourselves, without blocking the loop. */
    const char *host = NULL, *hostaddr = NULL;
    for (PQconninfoOption *o = parsed; o->keyword; o++) {
        if (strcmp(o->keyword, "host") == 0)
            host = o->val;
        else if (strcmp(o->keyword, "hostaddr") == 0)
            hostaddr = o->val;
    }
    char *resolve_host = NULL;
    if (host && *host && host[0] != '/' && !strchr(host, ',') && !(hostaddr && *hostaddr)) {
        unsigned char buf[sizeof(struct in6_addr)];
        if (uv_inet_pton(AF_INET, host, buf) != 0 && uv_inet_pton(AF_INET6, host, buf) != 0)
            resolve_host = xstrdup(host);
    }
    PQconninfoFree(parsed);

    pg_migration_t *migs = NULL;
    int nmigs = opts->nmigrations > 0 ? opts->nmigrations : 0;
    if (nmigs) {
        migs = xmalloc((size_t)nmigs * sizeof *migs);
        memcpy(migs, opts->migrations, (size_t)nmigs * sizeof *migs);
        qsort(migs, (size_t)nmigs, sizeof *migs, mig_cmp);
        for (int i = 1; i < nmigs; i++)
            if (migs[i].version == migs[i - 1].version) {
                log_error("pg_bad_migrations", "error=\"duplicate version\" version=%d",
                          migs[i].version);
                xfree(migs);
                xfree(resolve_host);
                return NULL;
            }
        for (int i = 0; i < nmigs; i++)
            migs[i].sql = xstrdup(migs[i].sql);
    }

    pg_pool_t *p = xcalloc(1, sizeof *p);
    p->loop = loop;
    p->conninfo = xstrdup(opts->conninfo ? opts->conninfo : "");
    p->resolve_host = resolve_host;
    p->size = opts->size > 0 ? opts->size : DEFAULT_SIZE;
    p->queue_timeout_ms = opts->queue_timeout_ms > 0 ? (uint64_t)opts->queue_timeout_ms
                                                     : DEFAULT_QUEUE_TIMEOUT_MS;
    p->query_timeout_ms = opts->query_timeout_ms > 0 ? (uint64_t)opts->query_timeout_ms
                                                     : DEFAULT_QUERY_TIMEOUT_MS;
    p->lock_key = opts->advisory_lock_key ? opts->advisory_lock_key : DEFAULT_LOCK_KEY;
    p->migs = migs;
    p->nmigs = nmigs;
    p->applied = xcalloc(1, (size_t)nmigs);
    p->migrated = nmigs == 0;
    p->mig_backoff_ms = BACKOFF_MIN_MS;
    uv_update_time(loop); /* the caller may have blocked since the loop last ran */
    p->unready_since = pgi_now_ms(p);

    uv_timer_init(loop, &p->queue_timer);
    p->queue_timer.data = p;
    uv_timer_init(loop, &p->mig_timer);
    p->mig_timer.data = p;
    uv_idle_init(loop, &p->defer);
    p->defer.data = p;
    p->nhandles = 3;

    p->conns = xcalloc((size_t)p->size, sizeof *p->conns);
    for (int i = 0; i < p->size; i++) {
        pg_conn_t *c = &p->conns[i];
        c->p = p;
        c->idx = i;
        c->backoff_ms = BACKOFF_MIN_MS;
        uv_timer_init(loop, &c->timer);
        c->timer.data = c;
        p->nhandles++;
    }
    for (int i = 0; i < p->size; i++)
        start_connect(&p->conns[i]);
    return p;
}

int pg_query(pg_pool_t *p, const char *sql, int nparams, const char *const *params, pg_cb cb,
             void *ud)
{
    if (p->closing || !sql || !cb || nparams < 0 || nparams > MAX_PARAMS || (nparams && !params))
        return -1;
    pg_req_t *q = req_new(sql, nparams, params, cb, ud);
    p->npending++;
    uv_update_time(p->loop);
    uint64_t now = pgi_now_ms(p);
    if (!pool_ready(p) && now - p->unready_since > p->queue_timeout_ms) {
        req_fail_later(p, q, ERR_UNAVAILABLE);
        return 0;
    }
    q->deadline = now + p->queue_timeout_ms;
    DL_APPEND(p->queue, q);
    if (p->queue == q)
        arm_queue_timer(p);
    pgi_pump(p);
    return 0;
}

int pg_ready(const pg_pool_t *p) { return pool_ready(p); }

unsigned pg_pending(const pg_pool_t *p) { return p->npending; }

void pg_pool_close(pg_pool_t *p)
{
    if (!p || p->closing)
        return;
    p->closing = 1;
    /* Collect every request whose callback is due, in the order they were given up on:
     * those already failed, those running, those waiting. */
    pg_req_t *due = p->deferred, *q, *tmp;
    p->deferred = NULL;
    for (int i = 0; i < p->size; i++) {
        pg_conn_t *c = &p->conns[i];
        if (c->req) {
            c->req->err = ERR_CLOSED;
            DL_APPEND(due, c->req);
            c->req = NULL;
        }
        if (c->state == C_IDLE || c->state == C_BUSY || c->state == C_MIGRATING)
            log_info("pg_down", "conn=%d error=\"closed\"", c->idx);
        conn_reset(c);
        c->state = C_DOWN;
        resolve_cancel(&c->resolve); /* on_resolved still runs, with UV_EAI_CANCELED */
        uv_close((uv_handle_t *)&c->timer, on_handle_closed);
        c->timer.data = p;
    }
    p->nup = 0;
    DL_FOREACH(p->queue, q)
        q->err = ERR_CLOSED;
    DL_CONCAT(due, p->queue);
    p->queue = NULL;
    uv_close((uv_handle_t *)&p->queue_timer, on_handle_closed);
    uv_close((uv_handle_t *)&p->mig_timer, on_handle_closed);
    uv_close((uv_handle_t *)&p->defer, on_handle_closed);
    /* Callbacks last: the pool's memory lives until the close callbacks, so a callback may
     * do anything but use the pool (pg_query returns -1 now). */
    DL_FOREACH_SAFE(due, q, tmp)
        req_fail_now(p, q, q->err);
}
