/* rconn: reconnecting async Redis connection with a PING watchdog.
 *
 * The watchdog matters for two reasons: hiredis 0.14 has no command timeouts, and its libuv
 * adapter ignores uv_poll errors (POLLERR from a refused connect or a reset socket stops the
 * poll without telling hiredis), which would leave a connection hanging forever. A connect
 * that has not completed in time, or a PING unanswered in time, resets the connection. */
#include "rconn.h"

#include <hiredis/adapters/libuv.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "log.h"
#include "util.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
#define CONNECT_TIMEOUT_MS 2000
#define PING_EVERY_MS 1000
#define PING_TIMEOUT_MS 3000

typedef enum { R_IDLE, R_RESOLVING, R_CONNECTING, R_SETUP, R_UP } rstate_t;

struct rconn {
    uv_loop_t *loop;
    char *name;
    redis_url_t url;
    rconn_event_cb cb;
    void *ud;
    redisAsyncContext *ac;
    rstate_t state;
    uv_timer_t timer;      /* backoff, connect timeout, watchdog */
    uv_getaddrinfo_t gai;
    int gai_pending;
    unsigned backoff_ms;
    uint64_t ping_sent_ms;  /* 0 when no PING is outstanding */
    uint64_t last_rtt_us;
    uint64_t ping_sent_ns;
    uint64_t last_up_ms;
    int closing;
    int failures;
    int setup_pending;
    int subscriber;
};

static void schedule_reconnect(rconn_t *r);
static void start_connect(rconn_t *r);

static void maybe_free(rconn_t *r)
{
    if (r->closing == 2 && !r->gai_pending) {
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
    case R_CONNECTING:
    case R_SETUP:
        log_warn("redis_connect_timeout", "conn=%s host=%s port=%d", r->name, r->url.host,
                 r->url.port);
        rconn_reset(r);
        break;
    case R_UP:
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
    uv_timer_start(&r->timer, on_timer, PING_EVERY_MS, PING_EVERY_MS);
    r->cb(r, 1, r->ud);
}

static void on_setup_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    rconn_t *r = privdata;
    redisReply *rep = reply;
    if (!rep || ac->data != r || r->state != R_SETUP)
        return;
    if (rep->type == REDIS_REPLY_ERROR) {
        log_error("redis_setup_failed", "conn=%s error=\"%s\"", r->name, rep->str);
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
        redisAsyncCommand(ac, on_setup_reply, r, "AUTH %s", r->url.password);
        n++;
    }
    if (r->url.db) {
        redisAsyncCommand(ac, on_setup_reply, r, "SELECT %d", r->url.db);
        n++;
    }
    r->setup_pending = n;
    if (n == 0)
        set_up(r);
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

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    rconn_t *r = req->data;
    r->gai_pending = 0;
    if (r->closing) {
        if (res)
            uv_freeaddrinfo(res);
        maybe_free(r);
        return;
    }
    if (status < 0 || !res) {
        log_warn("redis_resolve_failed", "conn=%s host=%s error=%s", r->name, r->url.host,
                 uv_strerror(status));
        if (res)
            uv_freeaddrinfo(res);
        schedule_reconnect(r);
        return;
    }
    char ip[64];
    addr_host(res->ai_addr, ip, sizeof ip);
    uv_freeaddrinfo(res);
    redisAsyncContext *ac = redisAsyncConnect(ip, r->url.port);
    if (!ac || ac->err) {
        log_warn("redis_connect_failed", "conn=%s error=\"%s\"", r->name, ac ? ac->errstr : "oom");
        if (ac)
            redisAsyncFree(ac);
        schedule_reconnect(r);
        return;
    }
    ac->data = r;
    if (redisLibuvAttach(ac, r->loop) != REDIS_OK) {
        ac->data = NULL;
        redisAsyncFree(ac);
        schedule_reconnect(r);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    r->ac = ac;
    r->state = R_CONNECTING;
    uv_timer_start(&r->timer, on_timer, CONNECT_TIMEOUT_MS, 0);
}

static void start_connect(rconn_t *r)
{
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    r->state = R_RESOLVING;
    r->gai.data = r;
    r->gai_pending = 1;
    if (uv_getaddrinfo(r->loop, &r->gai, on_resolved, r->url.host, NULL, &hints) != 0) {
        r->gai_pending = 0;
        schedule_reconnect(r);
    }
}

static void schedule_reconnect(rconn_t *r)
{
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
    if (r->gai_pending)
        uv_cancel((uv_req_t *)&r->gai);
    uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->timer, on_timer_closed);
}
