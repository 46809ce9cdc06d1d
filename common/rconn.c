/* rconn: reconnecting async Redis connection with a PING watchdog.
 *
 * The watchdog matters for two reasons: hiredis 0.14 has no command timeouts, and its libuv
 * adapter ignores uv_poll errors (POLLERR from a refused connect or a reset socket stops the
 * poll without telling hiredis), which would leave a connection hanging forever. A connect
 * that has not completed in time, or a PING unanswered in time, resets the connection.
 *
 * Sentinel mode (rconn_use_sentinels): each attempt first asks the Sentinels in turn for the
 * master (R_ASKING: resolve, connect, SENTINEL get-master-addr-by-name, all on the loop), then
 * connects there and checks ROLE; a second context on the Sentinel that answered subscribes to
 * +switch-master and resets the connection when the master moves. */
#include "rconn.h"

#include <hiredis/adapters/libuv.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "log.h"
#include "resolve.h"
#include "sentinel.h"
#include "util.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
#define CONNECT_TIMEOUT_MS 2000
#define PING_EVERY_MS 1000
#define PING_TIMEOUT_MS 3000

/* R_ASKING: resolving a Sentinel's name or waiting for its answer (Sentinel mode). */
typedef enum { R_IDLE, R_ASKING, R_RESOLVING, R_CONNECTING, R_SETUP, R_UP } rstate_t;

/* Sentinel mode, process-wide (rconn_use_sentinels). */
static sentinel_addr_t g_sentinels[SENTINEL_MAX];
static int g_nsentinels;
static char g_master_name[128];

struct rconn {
    uv_loop_t *loop;
    char *name;
    redis_url_t url;
    rconn_event_cb cb;
    void *ud;
    redisAsyncContext *ac;
    rstate_t state;
    uv_timer_t timer;      /* backoff, connect timeout, watchdog */
    resolve_t resolve;
    unsigned backoff_ms;
    uint64_t ping_sent_ms;  /* 0 when no PING is outstanding */
    uint64_t last_rtt_us;
    uint64_t ping_sent_ns;
    uint64_t last_up_ms;
    int closing;
    int failures;
    int setup_pending;
    int subscriber;
    /* Sentinel mode */
    int sidx;                 /* the Sentinel asked next */
    int sasked;               /* Sentinels asked in this round */
    int have_master;          /* url.host/port hold the master Sentinel named for this attempt */
    redisAsyncContext *sac;   /* the Sentinel being asked */
    redisAsyncContext *watch; /* SUBSCRIBE +switch-master on the Sentinel that answered */
    char sent_ip[64];  /* the Sentinel that named the master: watched for +switch-master */
    int sent_port;
    char asked_ip[64]; /* the Sentinel being asked */
    uint64_t watch_retry_ms;
};

int rconn_use_sentinels(const char *list, const char *master_name)
{
    if (!list || !*list) {
        g_nsentinels = 0;
        return 0;
    }
    int n = sentinel_list_parse(list, g_sentinels, SENTINEL_MAX);
    if (n < 0 || !master_name || !*master_name || strlen(master_name) >= sizeof g_master_name)
        return -1;
    g_nsentinels = n;
    snprintf(g_master_name, sizeof g_master_name, "%s", master_name);
    return 0;
}

static void schedule_reconnect(rconn_t *r);
static void start_connect(rconn_t *r);
static void next_sentinel(rconn_t *r);
static void watch_start(rconn_t *r);

/* Drops a hiredis context we own without hearing from it again. */
static void drop_ctx(redisAsyncContext **pac)
{
    redisAsyncContext *ac = *pac;
    *pac = NULL;
    if (ac) {
        ac->data = NULL;
        redisAsyncFree(ac);
    }
}

static void maybe_free(rconn_t *r)
{
    if (r->closing == 2 && !r->resolve.pending) {
        xfree(r->name);
        xfree(r);
    }
}

static void on_timer_closed(uv_handle_t *h)
{
    rconn_t *r = h->data;
    r->closing = 2;
    maybe_free(r);
}

static void on_ping(redisAsyncContext *ac, void *reply, void *privdata)
{
    rconn_t *r = privdata;
    if (!reply || ac->data != r)
        return;
    r->last_rtt_us = (mono_ns() - r->ping_sent_ns) / 1000u;
    r->ping_sent_ms = 0;
}

static void on_timer(uv_timer_t *t)
{
    rconn_t *r = t->data;
    switch (r->state) {
    case R_IDLE:
        start_connect(r);
        break;
    case R_ASKING:
        log_warn("redis_sentinel_timeout", "conn=%s sentinel=%s:%d", r->name,
                 g_sentinels[r->sidx].host, g_sentinels[r->sidx].port);
        next_sentinel(r);
        break;
    case R_CONNECTING:
    case R_SETUP:
        log_warn("redis_connect_timeout", "conn=%s host=%s port=%d", r->name, r->url.host,
                 r->url.port);
        rconn_reset(r);
        break;
    case R_UP:
        if (g_nsentinels && !r->watch && uv_now(r->loop) >= r->watch_retry_ms)
            watch_start(r);
        if (r->subscriber)
            break;
        if (r->ping_sent_ms) {
            if (uv_now(r->loop) - r->ping_sent_ms >= PING_TIMEOUT_MS) {
                log_warn("redis_timeout", "conn=%s waited_ms=%llu", r->name,
                         (unsigned long long)(uv_now(r->loop) - r->ping_sent_ms));
                rconn_reset(r);
            }
        } else if (redisAsyncCommand(r->ac, on_ping, r, "PING") == REDIS_OK) {
            r->ping_sent_ms = uv_now(r->loop);
            r->ping_sent_ns = mono_ns();
        }
        break;
    case R_RESOLVING:
        break;
    }
}

static void set_up(rconn_t *r)
{
    r->state = R_UP;
    r->backoff_ms = BACKOFF_MIN_MS;
    r->ping_sent_ms = 0;
    log_info("redis_up", "conn=%s host=%s port=%d after_failures=%d", r->name, r->url.host,
             r->url.port, r->failures);
    r->failures = 0;
    r->sasked = 0;
    uv_timer_start(&r->timer, on_timer, PING_EVERY_MS, PING_EVERY_MS);
    if (g_nsentinels && !r->watch)
        watch_start(r);
    r->cb(r, 1, r->ud);
}

static void on_setup_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    rconn_t *r = privdata;
    redisReply *rep = reply;
    if (!rep || ac->data != r || r->state != R_SETUP)
        return;
    if (rep->type == REDIS_REPLY_ERROR) {
        /* NOAUTH (no password in REDIS_URL), WRONGPASS / invalid password: the registry is
         * protected and this daemon does not have its password (docs/operations.md) */
        log_error("redis_setup_failed", "conn=%s host=%s port=%d error=\"%s\"", r->name, r->url.host,
                  r->url.port, rep->str);
        rconn_reset(r);
        return;
    }
    if (--r->setup_pending == 0)
        set_up(r);
}

/* Sentinel mode: the server Sentinel named must still be a master (a stale answer, or an old
 * master that came back as a replica, is not). */
static void on_role_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    rconn_t *r = privdata;
    redisReply *rep = reply;
    if (!rep || ac->data != r || r->state != R_SETUP)
        return;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 || !rep->element[0]->str ||
        strcmp(rep->element[0]->str, "master") != 0) {
        log_warn("redis_not_master", "conn=%s host=%s port=%d role=%s", r->name, r->url.host,
                 r->url.port,
                 rep->type == REDIS_REPLY_ARRAY && rep->elements && rep->element[0]->str
                     ? rep->element[0]->str
                     : "?");
        rconn_reset(r);
        return;
    }
    if (--r->setup_pending == 0)
        set_up(r);
}

static void on_connect(const redisAsyncContext *cac, int status)
{
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    rconn_t *r = ac->data;
    if (!r)
        return;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback. */
        if (r->failures == 0 || r->failures % 20 == 0)
            log_warn("redis_connect_failed", "conn=%s host=%s port=%d error=\"%s\" failures=%d",
                     r->name, r->url.host, r->url.port, ac->errstr, r->failures + 1);
        r->ac = NULL;
        schedule_reconnect(r);
        return;
    }
    r->state = R_SETUP;
    int n = 0;
    if (r->url.password[0]) {
        if (r->url.user[0]) /* an ACL user */
            redisAsyncCommand(ac, on_setup_reply, r, "AUTH %s %s", r->url.user, r->url.password);
        else
            redisAsyncCommand(ac, on_setup_reply, r, "AUTH %s", r->url.password);
        n++;
    }
    if (r->url.db) {
        redisAsyncCommand(ac, on_setup_reply, r, "SELECT %d", r->url.db);
        n++;
    }
    /* A server with requirepass answers NOAUTH to a connection without the password (REDIS_URL
     * has none): said here, once per connection attempt, instead of by every command after. */
    redisAsyncCommand(ac, on_setup_reply, r, "PING");
    n++;
    if (g_nsentinels) {
        redisAsyncCommand(ac, on_role_reply, r, "ROLE");
        n++;
    }
    r->setup_pending = n;
}

static void on_disconnect(const redisAsyncContext *cac, int status)
{
    rconn_t *r = cac->data;
    if (!r)
        return; /* a context we dropped on purpose */
    int was_up = r->state == R_UP;
    r->ac = NULL;
    r->state = R_IDLE;
    log_warn("redis_down", "conn=%s error=\"%s\"", r->name, cac->errstr[0] ? cac->errstr : "closed");
    if (was_up && r->cb)
        r->cb(r, 0, r->ud);
    if (!r->closing)
        schedule_reconnect(r);
}

/* ---- Sentinel mode ---- */

static void on_master_addr(redisAsyncContext *ac, void *reply, void *privdata)
{
    rconn_t *r = privdata;
    redisReply *rep = reply;
    if (!rep || ac->data != r || r->sac != ac)
        return; /* a failed Sentinel connection: its disconnect callback moves on */
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 || !rep->element[0]->str ||
        !rep->element[1]->str || strlen(rep->element[0]->str) >= sizeof r->url.host) {
        log_warn("redis_sentinel_no_master", "conn=%s sentinel=%s:%d master=%s error=\"%s\"", r->name,
                 g_sentinels[r->sidx].host, g_sentinels[r->sidx].port, g_master_name,
                 rep->type == REDIS_REPLY_ERROR ? rep->str : "unknown master");
        next_sentinel(r);
        return;
    }
    int port = atoi(rep->element[1]->str);
    if (port <= 0 || port > 65535) {
        next_sentinel(r);
        return;
    }
    snprintf(r->url.host, sizeof r->url.host, "%s", rep->element[0]->str);
    r->url.port = port;
    snprintf(r->sent_ip, sizeof r->sent_ip, "%s", r->asked_ip);
    r->sent_port = g_sentinels[r->sidx].port;
    log_info("redis_sentinel_master", "conn=%s master=%s host=%s port=%d sentinel=%s:%d", r->name,
             g_master_name, r->url.host, r->url.port, g_sentinels[r->sidx].host,
             g_sentinels[r->sidx].port);
    drop_ctx(&r->sac);
    r->have_master = 1;
    r->state = R_IDLE;
    uv_timer_stop(&r->timer);
    start_connect(r);
}

/* Opens an async connection to ip:port on r's loop, r as its data, the two callbacks set.
 * Returns NULL when hiredis could not start one (logged as redis_connect_failed when
 * log_failure is set); nothing is left to free then. */
static redisAsyncContext *async_open(rconn_t *r, const char *ip, int port,
                                     redisConnectCallback *on_conn,
                                     redisDisconnectCallback *on_disc, int log_failure)
{
    redisAsyncContext *ac = redisAsyncConnect(ip, port);
    if (!ac || ac->err) {
        if (log_failure)
            log_warn("redis_connect_failed", "conn=%s error=\"%s\"", r->name,
                     ac ? ac->errstr : "oom");
        if (ac)
            redisAsyncFree(ac);
        return NULL;
    }
    ac->data = r;
    if (redisLibuvAttach(ac, r->loop) != REDIS_OK) {
        ac->data = NULL;
        redisAsyncFree(ac);
        return NULL;
    }
    redisAsyncSetConnectCallback(ac, on_conn);
    redisAsyncSetDisconnectCallback(ac, on_disc);
    return ac;
}

static void on_sac_disconnect(const redisAsyncContext *cac, int status)
{
    rconn_t *r = cac->data;
    if (!r || r->sac != cac)
        return;
    r->sac = NULL; /* hiredis frees it */
    if (r->state == R_ASKING)
        next_sentinel(r);
}

static void on_sac_connect(const redisAsyncContext *cac, int status)
{
    rconn_t *r = cac->data;
    if (!r || r->sac != cac || status == REDIS_OK)
        return;
    r->sac = NULL; /* hiredis frees it after this callback */
    if (r->failures == 0 || r->failures % 20 == 0)
        log_warn("redis_sentinel_unreachable", "conn=%s sentinel=%s:%d error=\"%s\"", r->name,
                 g_sentinels[r->sidx].host, g_sentinels[r->sidx].port, cac->errstr);
    if (r->state == R_ASKING)
        next_sentinel(r);
}

static void ask_sentinel_at(rconn_t *r, const char *ip)
{
    snprintf(r->asked_ip, sizeof r->asked_ip, "%s", ip);
    redisAsyncContext *ac =
        async_open(r, ip, g_sentinels[r->sidx].port, on_sac_connect, on_sac_disconnect, 0);
    if (!ac) {
        next_sentinel(r);
        return;
    }
    r->sac = ac;
    uv_timer_start(&r->timer, on_timer, CONNECT_TIMEOUT_MS, 0);
    redisAsyncCommand(ac, on_master_addr, r, "SENTINEL get-master-addr-by-name %s", g_master_name);
}

static void on_resolved(resolve_t *rq, int status, const struct sockaddr *addr);

/* Asks Sentinel r->sidx (resolving its name first, never blocking the loop). */
static void ask_sentinel(rconn_t *r)
{
    r->state = R_ASKING;
    uv_timer_start(&r->timer, on_timer, CONNECT_TIMEOUT_MS, 0);
    if (resolve_start(r->loop, &r->resolve, g_sentinels[r->sidx].host, on_resolved, r) != 0)
        next_sentinel(r);
}

/* The Sentinel asked did not name a master: the next one, or after a whole round, backoff. */
static void next_sentinel(rconn_t *r)
{
    drop_ctx(&r->sac);
    r->sidx = (r->sidx + 1) % g_nsentinels;
    if (++r->sasked >= g_nsentinels) {
        r->sasked = 0;
        schedule_reconnect(r);
        return;
    }
    if (r->resolve.pending) { /* a timeout while resolving: wait for libuv to give the request back */
        schedule_reconnect(r);
        return;
    }
    ask_sentinel(r);
}

static void on_switch(redisAsyncContext *ac, void *reply, void *privdata)
{
    rconn_t *r = privdata;
    redisReply *rep = reply;
    if (!rep || ac->data != r)
        return;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3 || !rep->element[0]->str ||
        strcmp(rep->element[0]->str, "message") != 0 || !rep->element[2]->str)
        return;
    char host[256];
    int port;
    if (sentinel_switch_parse(rep->element[2]->str, g_master_name, host, sizeof host, &port) != 0)
        return;
    log_warn("redis_switch_master", "conn=%s master=%s old=%s:%d new=%s:%d", r->name, g_master_name,
             r->url.host, r->url.port, host, port);
    if (r->state == R_UP && (strcmp(host, r->url.host) != 0 || port != r->url.port))
        rconn_reset(r);
}

static void on_watch_connect(const redisAsyncContext *cac, int status)
{
    rconn_t *r = cac->data;
    if (status != REDIS_OK && r && r->watch == cac) {
        r->watch = NULL; /* hiredis frees it after this callback */
        r->watch_retry_ms = uv_now(r->loop) + BACKOFF_MAX_MS;
    }
}

static void on_watch_disconnect(const redisAsyncContext *cac, int status)
{
    rconn_t *r = cac->data;
    if (r && r->watch == cac) {
        r->watch = NULL;
        r->watch_retry_ms = uv_now(r->loop) + BACKOFF_MAX_MS;
    }
}

/* Follows +switch-master on the Sentinel that named the master (retried every second while
 * up if it drops). */
static void watch_start(rconn_t *r)
{
    if (!r->sent_ip[0] || r->closing)
        return;
    redisAsyncContext *ac =
        async_open(r, r->sent_ip, r->sent_port, on_watch_connect, on_watch_disconnect, 0);
    if (!ac)
        return;
    r->watch = ac;
    redisAsyncCommand(ac, on_switch, r, "SUBSCRIBE +switch-master");
}

static void on_resolved(resolve_t *rq, int status, const struct sockaddr *addr)
{
    rconn_t *r = rq->data;
    if (r->closing) {
        maybe_free(r);
        return;
    }
    if (r->state != R_ASKING && r->state != R_RESOLVING)
        return; /* timed out meanwhile: a new attempt is scheduled */
    if (status < 0) {
        log_warn("redis_resolve_failed", "conn=%s host=%s error=%s", r->name,
                 r->state == R_ASKING ? g_sentinels[r->sidx].host : r->url.host, uv_strerror(status));
        if (r->state == R_ASKING)
            next_sentinel(r);
        else
            schedule_reconnect(r);
        return;
    }
    char ip[64];
    addr_host(addr, ip, sizeof ip);
    if (r->state == R_ASKING) {
        ask_sentinel_at(r, ip);
        return;
    }
    redisAsyncContext *ac = async_open(r, ip, r->url.port, on_connect, on_disconnect, 1);
    if (!ac) {
        schedule_reconnect(r);
        return;
    }
    r->ac = ac;
    r->state = R_CONNECTING;
    uv_timer_start(&r->timer, on_timer, CONNECT_TIMEOUT_MS, 0);
}

static void start_connect(rconn_t *r)
{
    if (r->resolve.pending) { /* a resolution that timed out is still out: its request is busy */
        schedule_reconnect(r);
        return;
    }
    if (g_nsentinels && !r->have_master) {
        ask_sentinel(r);
        return;
    }
    r->have_master = 0; /* the next attempt asks again */
    r->state = R_RESOLVING;
    if (resolve_start(r->loop, &r->resolve, r->url.host, on_resolved, r) != 0)
        schedule_reconnect(r);
}

static void schedule_reconnect(rconn_t *r)
{
    r->have_master = 0;
    r->state = R_IDLE;
    r->failures++;
    uv_timer_start(&r->timer, on_timer, r->backoff_ms, 0);
    r->backoff_ms = r->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : r->backoff_ms * 2;
}

rconn_t *rconn_new(uv_loop_t *loop, const char *url, const char *name, rconn_event_cb cb, void *ud)
{
    rconn_t *r = xcalloc(1, sizeof *r);
    if (redis_url_parse(url, &r->url) < 0) {
        xfree(r);
        return NULL;
    }
    r->loop = loop;
    r->name = xstrdup(name);
    r->cb = cb;
    r->ud = ud;
    r->backoff_ms = BACKOFF_MIN_MS;
    uv_timer_init(loop, &r->timer);
    r->timer.data = r;
    start_connect(r);
    return r;
}

void rconn_set_subscriber(rconn_t *r) { r->subscriber = 1; }

int rconn_up(const rconn_t *r) { return r->state == R_UP; }

uint64_t rconn_last_rtt_us(const rconn_t *r) { return r->last_rtt_us; }

int rconn_cmd(rconn_t *r, redisCallbackFn *fn, void *privdata, const char *fmt, ...)
{
    if (r->state != R_UP || !r->ac)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    int rc = redisvAsyncCommand(r->ac, fn, privdata, fmt, ap);
    va_end(ap);
    return rc == REDIS_OK ? 0 : -1;
}

int rconn_cmdargv(rconn_t *r, redisCallbackFn *fn, void *privdata, int argc, const char **argv,
                  const size_t *argvlen)
{
    if (r->state != R_UP || !r->ac)
        return -1;
    return redisAsyncCommandArgv(r->ac, fn, privdata, argc, argv, argvlen) == REDIS_OK ? 0 : -1;
}

void rconn_reset(rconn_t *r)
{
    int was_up = r->state == R_UP;
    drop_ctx(&r->sac);
    redisAsyncContext *ac = r->ac;
    r->ac = NULL;
    r->state = R_IDLE;
    if (ac) {
        ac->data = NULL; /* our disconnect callback ignores it */
        redisAsyncFree(ac);
    }
    if (was_up && r->cb)
        r->cb(r, 0, r->ud);
    if (!r->closing)
        schedule_reconnect(r);
}

void rconn_close(rconn_t *r)
{
    if (r->closing)
        return;
    r->closing = 1;
    r->cb = NULL;
    redisAsyncContext *ac = r->ac;
    r->ac = NULL;
    r->state = R_IDLE;
    if (ac) {
        ac->data = NULL;
        redisAsyncFree(ac);
    }
    drop_ctx(&r->sac);
    drop_ctx(&r->watch);
    resolve_cancel(&r->resolve);
    uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->timer, on_timer_closed);
}

static void on_rqueue_pop(redisAsyncContext *ac, void *reply, void *privdata)
{
    (void)ac;
    rqueue_t *q = privdata;
    const redisReply *r = reply;
    q->pending = 0;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements)
        q->fn(q->ud, r);
}

void rqueue_poll(rqueue_t *q, rconn_t *r, const char *key, unsigned n, rqueue_fn fn, void *ud)
{
    if (q->pending)
        return;
    q->fn = fn;
    q->ud = ud;
    if (rconn_cmd(r, on_rqueue_pop, q, "LPOP %s %u", key, n) == 0)
        q->pending = 1;
}
