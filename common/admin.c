/* admin: /metrics, /healthz, /readyz, /drain, /log-level, /kick and the daemon's reloads over
 * libmicrohttpd. */
#include "admin.h"

#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "log.h"
#include "pb.h"
#include "util.h"

#define KICK_WAIT_MS 3000
#define REASON_MAX 200

static const char *LEVEL_NAMES[] = {"debug", "info", "warn", "error"};

struct admin {
    uv_loop_t *loop;
    metrics_t *m;
    admin_hooks_t h;
    struct MHD_Daemon *d;
    char host[256];
    int port;
    uv_timer_t timer;
    uv_async_t async;
    int handles_open;

    /* Shared with the HTTP thread: everything below is read and written under mu. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int closed;
    /* published by the loop */
    char *text;
    size_t text_len;
    uint64_t snap_ns; /* mono_ns() of the last snapshot */
    int ready;
    char why[256];
    int level;
    /* asked by the HTTP thread, taken by the loop */
    int want_drain;
    int want_level; /* -1: none */
    int kick_state; /* 0 idle, 1 asked, 2 answered */
    uint64_t kick_session;
    char kick_reason[REASON_MAX + 1];
    int kick_result;
    /* POST <reload path>: work on the HTTP thread, apply on the loop */
    struct {
        char path[32];
        admin_reload_work_fn work;
        admin_reload_apply_fn apply;
        void *ud;
    } reloads[ADMIN_RELOADS_MAX];
    int nreloads;
    int reload_state; /* 0 idle, 1 asked, 2 answered */
    int reload_which; /* index into reloads of the one asked */
    void *reload_prepared;
    int reload_status;
    char reload_msg[ADMIN_RELOAD_MSG_MAX];
};

/* ---- the loop side ---- */

static int current_level(void)
{
    for (int l = LOG_DEBUG; l <= LOG_ERROR; l++)
        if (log_enabled((log_level_t)l))
            return l;
    return LOG_ERROR;
}

static void publish(admin_t *a)
{
    metric_set(metrics_gauge(a->m, "cluster_heap_bytes", "bytes allocated through the daemon's allocator",
                             NULL), (double)alloc_used());
    size_t len;
    char *text = metrics_render(a->m, &len);
    char why[256] = "";
    int ready = a->h.ready(a->h.ud, why, sizeof why);
    int level = current_level();
    pthread_mutex_lock(&a->mu);
    char *old = a->text;
    a->text = text;
    a->text_len = len;
    a->snap_ns = mono_ns();
    a->ready = ready;
    snprintf(a->why, sizeof a->why, "%s", ready ? "ready" : why);
    a->level = level;
    pthread_mutex_unlock(&a->mu);
    xfree(old);
}

static void on_timer(uv_timer_t *t) { publish(t->data); }

static void on_async(uv_async_t *h)
{
    admin_t *a = h->data;
    pthread_mutex_lock(&a->mu);
    int drain = a->want_drain, level = a->want_level, kick = a->kick_state == 1;
    uint64_t session = a->kick_session;
    char reason[REASON_MAX + 1];
    memcpy(reason, a->kick_reason, sizeof reason);
    a->want_drain = 0;
    a->want_level = -1;
    pthread_mutex_unlock(&a->mu);

    if (level >= 0) {
        log_set_level((log_level_t)level);
        log_write(LOG_INFO, "log_level", "level=%s source=admin", LEVEL_NAMES[level]);
    }
    if (kick) {
        int rc = a->h.kick ? a->h.kick(a->h.ud, session, reason) : -1;
        log_info("admin_kick", "session=%llu found=%d", (unsigned long long)session, rc == 0);
        pthread_mutex_lock(&a->mu);
        a->kick_result = rc;
        a->kick_state = 2;
        pthread_cond_broadcast(&a->cv);
        pthread_mutex_unlock(&a->mu);
    }
    pthread_mutex_lock(&a->mu);
    int reload = a->reload_state == 1, which = a->reload_which;
    void *prepared = a->reload_prepared;
    pthread_mutex_unlock(&a->mu);
    if (reload) {
        static char msg[ADMIN_RELOAD_MSG_MAX];
        msg[0] = '\0';
        int status = a->reloads[which].apply(a->reloads[which].ud, prepared, msg, sizeof msg);
        pthread_mutex_lock(&a->mu);
        a->reload_status = status;
        memcpy(a->reload_msg, msg, sizeof msg);
        a->reload_state = 2;
        pthread_cond_broadcast(&a->cv);
        pthread_mutex_unlock(&a->mu);
    }
    if (drain) {
        log_info("admin_drain", "%s", "action=drain");
        a->h.drain(a->h.ud);
    }
    publish(a);
}

/* ---- the HTTP thread ---- */

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, const char *ctype,
                               char *body, size_t len, int take)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, body, take ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);
    if (!r) {
        if (take)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", ctype);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum MHD_Result text(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof buf)
        n = sizeof buf - 1;
    return respond(c, status, "text/plain; charset=utf-8", buf, (size_t)n, 0);
}

/* Hands work to the loop. Returns 0, or -1 when the admin is closing. Call with mu held. */
static int wake_loop(admin_t *a)
{
    if (a->closed)
        return -1;
    uv_async_send(&a->async);
    return 0;
}

/* Under a->mu, with *state just set to 1 (asked): wakes the loop and waits, at most
 * KICK_WAIT_MS, for it to set *state to 2 (answered). Returns 1 when it did. */
static int wake_and_wait(admin_t *a, const int *state)
{
    int rc = wake_loop(a);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += KICK_WAIT_MS / 1000;
    while (rc == 0 && *state != 2 && !a->closed)
        if (pthread_cond_timedwait(&a->cv, &a->mu, &until) == ETIMEDOUT)
            break;
    return *state == 2;
}

static enum MHD_Result get_metrics(admin_t *a, struct MHD_Connection *c)
{
    pthread_mutex_lock(&a->mu);
    char *copy = malloc(a->text_len + 1);
    if (copy)
        memcpy(copy, a->text, a->text_len + 1);
    size_t len = a->text_len;
    pthread_mutex_unlock(&a->mu);
    if (!copy)
        return text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    return respond(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", copy, len, 1);
}

static enum MHD_Result get_health(admin_t *a, struct MHD_Connection *c, int readiness)
{
    pthread_mutex_lock(&a->mu);
    uint64_t age_ms = (mono_ns() - a->snap_ns) / 1000000u;
    int ready = a->ready;
    char why[256];
    snprintf(why, sizeof why, "%s", a->why);
    pthread_mutex_unlock(&a->mu);
    if (age_ms >= ADMIN_STALE_MS)
        return text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "loop stalled: last snapshot %llu ms ago\n",
                    (unsigned long long)age_ms);
    if (!readiness)
        return text(c, MHD_HTTP_OK, "ok\n");
    return text(c, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, "%s\n", why);
}

static enum MHD_Result post_drain(admin_t *a, struct MHD_Connection *c)
{
    pthread_mutex_lock(&a->mu);
    a->want_drain = 1;
    int rc = wake_loop(a);
    pthread_mutex_unlock(&a->mu);
    if (rc < 0)
        return text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "stopping\n");
    return text(c, MHD_HTTP_ACCEPTED, "draining\n");
}

static enum MHD_Result log_level(admin_t *a, struct MHD_Connection *c, int set)
{
    if (!set) {
        pthread_mutex_lock(&a->mu);
        int level = a->level;
        pthread_mutex_unlock(&a->mu);
        return text(c, MHD_HTTP_OK, "%s\n", LEVEL_NAMES[level]);
    }
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "level");
    int level = v ? log_level_parse(v) : -1;
    if (level < 0)
        return text(c, MHD_HTTP_BAD_REQUEST, "level must be debug, info, warn or error\n");
    pthread_mutex_lock(&a->mu);
    a->want_level = level;
    a->level = level;
    int rc = wake_loop(a);
    pthread_mutex_unlock(&a->mu);
    if (rc < 0)
        return text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "stopping\n");
    return text(c, MHD_HTTP_OK, "%s\n", LEVEL_NAMES[level]);
}

int admin_add_reload(admin_t *a, const char *path, admin_reload_work_fn work,
                     admin_reload_apply_fn apply, void *ud)
{
    pthread_mutex_lock(&a->mu);
    int k = a->nreloads;
    if (k == ADMIN_RELOADS_MAX || strlen(path) >= sizeof a->reloads[k].path) {
        pthread_mutex_unlock(&a->mu);
        return -1;
    }
    snprintf(a->reloads[k].path, sizeof a->reloads[k].path, "%s", path);
    a->reloads[k].work = work;
    a->reloads[k].apply = apply;
    a->reloads[k].ud = ud;
    a->nreloads++;
    pthread_mutex_unlock(&a->mu);
    return 0;
}

/* The index of the reload served at url, or -1. */
static int find_reload(admin_t *a, const char *url)
{
    pthread_mutex_lock(&a->mu);
    int k = a->nreloads - 1;
    while (k >= 0 && strcmp(a->reloads[k].path, url) != 0)
        k--;
    pthread_mutex_unlock(&a->mu);
    return k;
}

static enum MHD_Result post_reload(admin_t *a, struct MHD_Connection *c, int which)
{
    pthread_mutex_lock(&a->mu);
    admin_reload_work_fn work = a->reloads[which].work;
    void *ud = a->reloads[which].ud;
    pthread_mutex_unlock(&a->mu);
    void *prepared = work(ud); /* file reads, parsing, compiles: here, never on the loop */
    pthread_mutex_lock(&a->mu);
    a->reload_prepared = prepared;
    a->reload_which = which;
    a->reload_state = 1;
    int answered = wake_and_wait(a, &a->reload_state), status = a->reload_status;
    char *msg = malloc(ADMIN_RELOAD_MSG_MAX);
    if (msg)
        memcpy(msg, a->reload_msg, ADMIN_RELOAD_MSG_MAX);
    if (answered)
        a->reload_state = 0; /* else the loop applies it later and the slot frees then */
    pthread_mutex_unlock(&a->mu);
    if (!msg)
        return text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    if (!answered) {
        free(msg);
        return text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "the daemon did not answer\n");
    }
    return respond(c, (unsigned)status, "text/plain; charset=utf-8", msg, strlen(msg), 1);
}

static enum MHD_Result post_kick(admin_t *a, struct MHD_Connection *c)
{
    if (!a->h.kick)
        return text(c, MHD_HTTP_NOT_FOUND, "this daemon has no sessions\n");
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "session");
    char *end = NULL;
    errno = 0;
    unsigned long long session = v && *v ? strtoull(v, &end, 10) : 0;
    if (!v || !*v || *end || errno || session == 0)
        return text(c, MHD_HTTP_BAD_REQUEST, "session=<id> required\n");
    const char *reason = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "reason");
    if (!reason || !*reason)
        reason = "kicked by an operator";
    if (strlen(reason) > REASON_MAX || !utf8_valid((const uint8_t *)reason, strlen(reason)))
        return text(c, MHD_HTTP_BAD_REQUEST, "reason must be UTF-8, at most %d bytes\n", REASON_MAX);

    pthread_mutex_lock(&a->mu);
    /* One HTTP thread: requests are served one at a time, so one kick slot is enough. */
    a->kick_session = session;
    snprintf(a->kick_reason, sizeof a->kick_reason, "%s", reason);
    a->kick_state = 1;
    int answered = wake_and_wait(a, &a->kick_state), result = a->kick_result;
    a->kick_state = 0;
    pthread_mutex_unlock(&a->mu);
    if (!answered)
        return text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "the daemon did not answer\n");
    if (result != 0)
        return text(c, MHD_HTTP_NOT_FOUND, "no session %llu\n", session);
    return text(c, MHD_HTTP_OK, "kicked %llu\n", session);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size, void **state)
{
    admin_t *a = cls;
    static int first_call_marker;
    if (*state == NULL) {
        *state = &first_call_marker; /* the headers are in: wait for the body */
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0; /* bodies carry nothing here: skip them */
        return MHD_YES;
    }
    int get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    int post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    int put = strcmp(method, MHD_HTTP_METHOD_PUT) == 0;
    if (strcmp(url, "/metrics") == 0 && get)
        return get_metrics(a, c);
    if (strcmp(url, "/healthz") == 0 && get)
        return get_health(a, c, 0);
    if (strcmp(url, "/readyz") == 0 && get)
        return get_health(a, c, 1);
    if (strcmp(url, "/drain") == 0 && post)
        return post_drain(a, c);
    if (strcmp(url, "/log-level") == 0 && (get || post || put))
        return log_level(a, c, !get);
    if (strcmp(url, "/kick") == 0 && post)
        return post_kick(a, c);
    int reload = find_reload(a, url);
    if (reload >= 0 && post)
        return post_reload(a, c, reload);
    if (strcmp(url, "/") == 0 && get) {
        char reloads[ADMIN_RELOADS_MAX * 48] = "";
        size_t off = 0;
        pthread_mutex_lock(&a->mu);
        for (int k = 0; k < a->nreloads; k++)
            off += (size_t)snprintf(reloads + off, sizeof reloads - off, "POST %s\n", a->reloads[k].path);
        pthread_mutex_unlock(&a->mu);
        return text(c, MHD_HTTP_OK,
                    "GET /metrics\nGET /healthz\nGET /readyz\nPOST /drain\n"
                    "GET|PUT|POST /log-level?level=debug|info|warn|error\n%s%s",
                    a->h.kick ? "POST /kick?session=ID[&reason=TEXT]\n" : "", reloads);
    }
    if (reload >= 0)
        return text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method %s not allowed on %s\n", method, url);
    static const char *const known[] = {"/metrics", "/healthz", "/readyz", "/drain",
                                        "/log-level", "/kick", "/"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(url, known[i]) == 0)
            return text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method %s not allowed on %s\n", method, url);
    return text(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

/* ---- setup and teardown ---- */

int admin_enabled(const char *addr) { return addr && *addr; }
int admin_port(const admin_t *a) { return a->port; }

admin_t *admin_new(uv_loop_t *loop, const char *addr, metrics_t *m, const admin_hooks_t *hooks)
{
    char host[256];
    int port;
    struct sockaddr_storage ss;
    if (addr_split(addr, host, sizeof host, &port) < 0 || addr_make(host, port, &ss) != 0) {
        log_error("bad_config", "option=ADMIN_ADDR value=\"%s\" reason=\"numeric host:port expected\"", addr);
        return NULL;
    }
    admin_t *a = xcalloc(1, sizeof *a);
    a->loop = loop;
    a->m = m;
    a->h = *hooks;
    a->want_level = -1;
    snprintf(a->host, sizeof a->host, "%s", host);
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    /* The first snapshot exists before the HTTP thread can ask for it. */
    uv_async_init(loop, &a->async, on_async);
    a->async.data = a;
    uv_timer_init(loop, &a->timer);
    a->timer.data = a;
    a->handles_open = 2;
    metric_set(metrics_gauge(m, "process_start_time_seconds", "start time of the process, unix seconds",
                             NULL), (double)wall_ms() / 1000.0);
    publish(a);

    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    a->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, a,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)32,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
                            MHD_OPTION_END);
    if (!a->d) {
        log_error("admin_listen_failed", "addr=%s", addr);
        admin_close(a);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(a->d, MHD_DAEMON_INFO_BIND_PORT);
    a->port = info ? info->port : port;
    uv_timer_start(&a->timer, on_timer, ADMIN_SNAPSHOT_MS, ADMIN_SNAPSHOT_MS);
    log_info("admin_listening", "addr=%s port=%d", host, a->port);
    return a;
}

void admin_publish(const admin_t *a, registry_t *reg, const char *advertise)
{
    int any = strcmp(a->host, "0.0.0.0") == 0 || strcmp(a->host, "::") == 0;
    registry_set_admin(reg, any ? advertise : a->host, a->port);
}

static void on_closed(uv_handle_t *h)
{
    admin_t *a = h->data;
    if (--a->handles_open > 0)
        return;
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    xfree(a->text);
    xfree(a);
}

void admin_close(admin_t *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    a->closed = 1;
    pthread_cond_broadcast(&a->cv); /* a kick waiting on us gives up */
    pthread_mutex_unlock(&a->mu);
    if (a->d) {
        MHD_stop_daemon(a->d); /* joins the HTTP thread */
        a->d = NULL;
        log_info("admin_stopped", "port=%d", a->port);
    }
    uv_timer_stop(&a->timer);
    uv_close((uv_handle_t *)&a->timer, on_closed);
    uv_close((uv_handle_t *)&a->async, on_closed);
}
