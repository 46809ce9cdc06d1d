/* client_sync: runs a private loop until a response, a push, a close or a deadline. */
#include "client_sync.h"

#include <string.h>
#include <utlist.h>
#include <uv.h>

#include "alloc.h"
#include "frame.h"
#include "log.h"
#include "util.h"

typedef struct push {
    struct push *prev, *next;
    uint16_t type;
    uint32_t seq;
    size_t len;
    uint8_t *payload;
} push_t;

/* One csync_request's outcome. Freed by the request when it finishes in time; when it times
 * out it is marked abandoned and freed by the response callback, which always comes (at the
 * latest with CLIENT_ECLOSED from csync_close). */
typedef struct waiter {
    int done, abandoned, status;
    uint16_t type;
    uint8_t *payload;
    size_t len;
} waiter_t;

struct csync {
    uv_loop_t loop;
    conn_loop_t *cl;
    client_t *c;
    uv_timer_t timer; /* deadline of the current wait */
    int timed_out;
    int connected;
    int closed;
    push_t *pushes; /* utlist DL, in arrival order */
    size_t npush;
};

typedef int (*cond_fn)(const csync_t *s, const void *arg);

static void on_deadline(uv_timer_t *t)
{
    csync_t *s = t->data;
    s->timed_out = 1;
    uv_stop(&s->loop); /* a deadline already due must not leave UV_RUN_ONCE polling forever */
}

/* Runs the loop until cond holds or timeout_ms passed. Returns 0 or CLIENT_ETIMEDOUT. */
static int run_until(csync_t *s, cond_fn cond, const void *arg, int timeout_ms)
{
    if (cond(s, arg))
        return 0;
    s->timed_out = 0;
    uv_update_time(&s->loop); /* the caller may have spent time outside the loop */
    uv_timer_start(&s->timer, on_deadline, timeout_ms > 0 ? (uint64_t)timeout_ms : 0, 0);
    while (!cond(s, arg) && !s->timed_out)
        uv_run(&s->loop, UV_RUN_ONCE);
    uv_timer_stop(&s->timer);
    return cond(s, arg) ? 0 : CLIENT_ETIMEDOUT;
}

static uint8_t *copy_bytes(const uint8_t *p, size_t n)
{
    uint8_t *d = xmalloc(n ? n : 1);
    if (n)
        memcpy(d, p, n);
    return d;
}

static void on_event(client_t *c, int event, int status, void *ud)
{
    csync_t *s = ud;
    if (event == CLIENT_EV_CONNECTED) {
        s->connected = 1;
    } else {
        s->connected = 0;
        s->closed = 1;
    }
}

static void on_push(client_t *c, uint16_t type, uint32_t seq, const uint8_t *payload, size_t len,
                    void *ud)
{
    csync_t *s = ud;
    push_t *p = xmalloc(sizeof *p);
    p->type = type;
    p->seq = seq;
    p->len = len;
    p->payload = copy_bytes(payload, len);
    DL_APPEND(s->pushes, p);
    s->npush++;
}

static void on_response(client_t *c, int status, uint16_t type, const uint8_t *payload,
                        size_t len, void *ud)
{
    waiter_t *w = ud;
    if (w->abandoned) {
        xfree(w);
        return;
    }
    w->done = 1;
    w->status = status;
    w->type = type;
    w->len = len;
    if (status == 0)
        w->payload = copy_bytes(payload, len);
}

static int cond_settled(const csync_t *s, const void *arg) { return s->connected || s->closed; }
static int cond_closed(const csync_t *s, const void *arg) { return s->closed; }
static int cond_push(const csync_t *s, const void *arg) { return s->npush > 0 || s->closed; }
static int cond_never(const csync_t *s, const void *arg) { return 0; }
static int cond_waiter(const csync_t *s, const void *arg) { return ((const waiter_t *)arg)->done; }

csync_t *csync_connect(const char *host, int port, int timeout_ms)
{
    return csync_connect_x(host, port, NULL, timeout_ms);
}

csync_t *csync_connect_x(const char *host, int port, xport_t *x, int timeout_ms)
{
    return csync_connect_from_x(host, port, NULL, x, timeout_ms);
}

csync_t *csync_connect_from(const char *host, int port, const char *source, int timeout_ms)
{
    return csync_connect_from_x(host, port, source, NULL, timeout_ms);
}

csync_t *csync_connect_from_x(const char *host, int port, const char *source, xport_t *x,
                              int timeout_ms)
{
    struct sockaddr_storage src;
    if (source && addr_make(source, 0, &src) != 0)
        return NULL;
    csync_t *s = xcalloc(1, sizeof *s);
    if (uv_loop_init(&s->loop) != 0) {
        xfree(s);
        return NULL;
    }
    s->cl = conn_loop_new(&s->loop);
    uv_timer_init(&s->loop, &s->timer);
    s->timer.data = s;
    s->c = client_new(&s->loop, s->cl, FRAME_DEFAULT_MAX);
    client_set_timeout(s->c, 0); /* each call has its own deadline */
    client_set_push_cb(s->c, on_push, s);
    if (x)
        client_set_xport(s->c, x);
    if (source)
        client_set_source(s->c, (const struct sockaddr *)&src);
    if (client_connect(s->c, host, port, on_event, s) != 0 ||
        run_until(s, cond_settled, NULL, timeout_ms) != 0 || !s->connected) {
        csync_close(s);
        return NULL;
    }
    return s;
}

int csync_request_raw(csync_t *s, uint16_t type, const uint8_t *data, size_t data_len,
                      uint16_t *resp_type, uint8_t **payload, size_t *len, int timeout_ms)
{
    if (!s->connected)
        return CLIENT_ECLOSED;
    waiter_t *w = xcalloc(1, sizeof *w);
    uv_update_time(&s->loop);
    if (client_request_raw(s->c, type, data, data_len, on_response, w) < 0) {
        xfree(w);
        return CLIENT_ECLOSED;
    }
    if (run_until(s, cond_waiter, w, timeout_ms) != 0) {
        w->abandoned = 1;
        return CLIENT_ETIMEDOUT;
    }
    int status = w->status;
    if (status == 0) {
        *resp_type = w->type;
        *payload = w->payload;
        *len = w->len;
    }
    xfree(w);
    return status;
}

int csync_request(csync_t *s, uint16_t type, const ProtobufCMessage *msg, uint16_t *resp_type,
                  uint8_t **payload, size_t *len, int timeout_ms)
{
    size_t n = msg ? protobuf_c_message_get_packed_size(msg) : 0;
    uint8_t stackbuf[1024];
    uint8_t *buf = n <= sizeof stackbuf ? stackbuf : xmalloc(n);
    if (n)
        protobuf_c_message_pack(msg, buf);
    int rc = csync_request_raw(s, type, buf, n, resp_type, payload, len, timeout_ms);
    if (buf != stackbuf)
        xfree(buf);
    return rc;
}

int csync_send_bytes(csync_t *s, const void *data, size_t len)
{
    if (!s->connected || client_send_bytes(s->c, data, len) != 0)
        return CLIENT_ECLOSED;
    uv_run(&s->loop, UV_RUN_NOWAIT); /* the flush happens in the loop's prepare phase */
    return 0;
}

int csync_wait_push_seq(csync_t *s, uint16_t *type, uint32_t *seq, uint8_t **payload,
                        size_t *len, int timeout_ms)
{
    int rc = run_until(s, cond_push, NULL, timeout_ms);
    if (s->npush == 0)
        return rc ? rc : CLIENT_ECLOSED;
    push_t *p = s->pushes;
    DL_DELETE(s->pushes, p);
    s->npush--;
    *type = p->type;
    if (seq)
        *seq = p->seq;
    *payload = p->payload;
    *len = p->len;
    xfree(p);
    return 0;
}

int csync_wait_push(csync_t *s, uint16_t *type, uint8_t **payload, size_t *len, int timeout_ms)
{
    return csync_wait_push_seq(s, type, NULL, payload, len, timeout_ms);
}

size_t csync_pushes(const csync_t *s) { return s->npush; }

int csync_wait_closed(csync_t *s, int timeout_ms)
{
    return run_until(s, cond_closed, NULL, timeout_ms);
}

int csync_is_connected(const csync_t *s) { return s->connected; }

int csync_pump(csync_t *s, int ms)
{
    (void)run_until(s, cond_never, NULL, ms);
    return s->closed ? CLIENT_ECLOSED : 0;
}

void csync_close(csync_t *s)
{
    if (!s)
        return;
    client_close(s->c); /* abandoned waiters are answered (and freed) here */
    uv_close((uv_handle_t *)&s->timer, NULL);
    uv_run(&s->loop, UV_RUN_DEFAULT); /* the client's handles close; it frees itself */
    conn_loop_close(s->cl);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&s->loop);
    if (rc != 0)
        log_warn("csync_loop_busy", "err=%s", uv_err_name(rc));
    push_t *p, *tmp;
    DL_FOREACH_SAFE(s->pushes, p, tmp) {
        xfree(p->payload);
        xfree(p);
    }
    xfree(s);
}
