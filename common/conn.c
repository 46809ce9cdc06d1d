/* conn: connections with batched, bounded output and deferred free; plain TCP here, other
 * transports (tls.c, ws.c) plug in through a table of operations (conn_internal.h). */
#include "conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <utlist.h>

#include "alloc.h"
#include "conn_internal.h"
#include "log.h"

#define KEEP_OUT_CAP 4096 /* output buffers up to this size are kept between busy turns */
#define OUT_HINT_MAX (64 * 1024) /* largest first allocation sized from the last turn */
#define HS_SWEEP_MS 100

typedef struct write_req {
    uv_write_t req;
    size_t len;
    uint8_t *buf;
} write_req_t;

const char *conn_reason_str(int reason)
{
    switch (reason) {
    case CONN_CLOSE_LOCAL: return "local";
    case CONN_CLOSE_EOF: return "eof";
    case CONN_CLOSE_IO: return "io_error";
    case CONN_CLOSE_OVERFLOW: return "write_queue_overflow";
    case CONN_CLOSE_PROTOCOL: return "protocol_error";
    case CONN_CLOSE_IDLE: return "idle";
    case CONN_CLOSE_HANDSHAKE: return "handshake_failed";
    }
    return "unknown";
}

/* ---- the plain TCP transport ---- */

static void tcp_on_wire(conn_t *c, const uint8_t *data, size_t n) { c->on_read(c, data, n); }
static int tcp_start(conn_t *c) { conn_ready(c); return 0; }
static void tcp_flush(conn_t *c);
static void tcp_peer_name(const conn_t *c, char *out, size_t n);
static void no_goodbye(conn_t *c, int reason) { (void)c; (void)reason; }
static void no_release(conn_t *c) { (void)c; }
static void tls_ws_release(conn_t *c)
{
    ws_release(c);
    tls_release(c);
}

static const conn_type_t TYPES[XPORT_KINDS] = {
    [XPORT_TCP] = {"tcp", tcp_start, tcp_on_wire, conn_raw_reserve, conn_raw_commit, tcp_flush,
                   no_goodbye, no_release, tcp_peer_name},
    [XPORT_TLS] = {"tls", tls_start, tls_on_wire, conn_raw_reserve, conn_raw_commit, tls_flush,
                   no_goodbye, tls_release, tcp_peer_name},
    [XPORT_WS] = {"ws", ws_start, ws_on_bytes, ws_reserve, ws_commit, tcp_flush, ws_goodbye,
                  ws_release, tcp_peer_name},
    [XPORT_WSS] = {"wss", tls_start, tls_on_wire, ws_reserve, ws_commit, tls_flush, ws_goodbye,
                   tls_ws_release, tcp_peer_name},
};

static const conn_type_t *type_of(const conn_t *c) { return &TYPES[c->kind]; }

/* ---- the loop ---- */

static void flush_all(conn_loop_t *cl);
static void on_prepare(uv_prepare_t *h)
{
    conn_loop_t *cl = h->data;
    cl->turn++;
    flush_all(cl);
}
static void on_check(uv_check_t *h) { flush_all(h->data); }

/* Closes the conns whose transport handshake passed its deadline. */
static void on_hs_timer(uv_timer_t *t)
{
    conn_loop_t *cl = t->data;
    uint64_t now = uv_now(cl->loop);
    conn_x_t *x, *next;
    DL_FOREACH_SAFE2(cl->hs, x, next, hs_next)
        if (x->hs_deadline && now >= x->hs_deadline)
            conn_hs_fail(x->c, XF_TIMEOUT);
    if (!cl->hs)
        uv_timer_stop(&cl->hs_timer); /* runs only while a handshake does */
}

conn_loop_t *conn_loop_new(uv_loop_t *loop)
{
    conn_loop_t *cl = xcalloc(1, sizeof *cl);
    cl->loop = loop;
    uv_prepare_init(loop, &cl->prepare);
    uv_check_init(loop, &cl->check);
    uv_timer_init(loop, &cl->hs_timer);
    cl->prepare.data = cl;
    cl->check.data = cl;
    cl->hs_timer.data = cl;
    uv_prepare_start(&cl->prepare, on_prepare);
    uv_check_start(&cl->check, on_check);
    /* These handles must not keep the loop alive by themselves. */
    uv_unref((uv_handle_t *)&cl->prepare);
    uv_unref((uv_handle_t *)&cl->check);
    uv_unref((uv_handle_t *)&cl->hs_timer);
    return cl;
}

static void loop_handle_closed(uv_handle_t *h)
{
    conn_loop_t *cl = h->data;
    if (++cl->closing == 4)
        xfree(cl);
}

void conn_loop_close(conn_loop_t *cl)
{
    flush_all(cl); /* last words (SERVER_CLOSING, DRAINING) still go out */
    cl->closing = 1;
    uv_close((uv_handle_t *)&cl->prepare, loop_handle_closed);
    uv_close((uv_handle_t *)&cl->check, loop_handle_closed);
    uv_close((uv_handle_t *)&cl->hs_timer, loop_handle_closed);
}

void conn_loop_flush(conn_loop_t *cl) { flush_all(cl); }

/* ---- life of a conn ---- */

conn_t *conn_new_x(conn_loop_t *cl, xport_t *x, size_t wq_max, conn_read_cb on_read,
                   conn_close_cb on_close, void *data)
{
    int plain = !x || x->o.kind == XPORT_TCP;
    conn_t *c = xcalloc(1, sizeof *c + (plain ? 0 : sizeof(conn_x_t)));
    c->cl = cl;
    c->wq_max = wq_max;
    c->on_read = on_read;
    c->on_close = on_close;
    c->data = data;
    c->kind = plain ? XPORT_TCP : (uint8_t)x->o.kind;
    c->flushed_turn = (uint16_t)(cl->turn - 2); /* its first flush is not a busy one */
    if (!plain) {
        conn_x(c)->c = c;
        conn_x(c)->x = x;
    }
    uv_tcp_init(cl->loop, &c->tcp);
    c->tcp.data = c;
    return c;
}

conn_t *conn_new(conn_loop_t *cl, size_t wq_max, conn_read_cb on_read, conn_close_cb on_close,
                 void *data)
{
    return conn_new_x(cl, NULL, wq_max, on_read, on_close, data);
}

void conn_set_close_cb(conn_t *c, conn_close_cb cb) { c->on_close = cb; }
void *conn_data(const conn_t *c) { return c->data; }
int conn_is_closing(const conn_t *c) { return c->closing || c->flush_then_close; }
size_t conn_queued(const conn_t *c) { return c->out_len + c->inflight; }
size_t conn_out_held(const conn_t *c)
{
    size_t n = c->out_cap;
    if (c->kind != XPORT_TCP)
        n += conn_x(c)->wire_cap;
    return n;
}
int conn_transport(const conn_t *c) { return c->kind; }
int conn_handshaking(const conn_t *c) { return c->kind != XPORT_TCP && conn_x(c)->hs_listed; }

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    conn_t *c = h->data;
    buf->base = (char *)c->cl->slab;
    buf->len = READ_SLAB_SIZE;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn_t *c = s->data;
    if (nread > 0) {
        if (!c->closing && !c->flush_then_close)
            type_of(c)->on_wire(c, (const uint8_t *)buf->base, (size_t)nread);
        return;
    }
    if (nread < 0 && conn_handshaking(c))
        conn_x(c)->x->st.failures[XF_PEER_CLOSED]++;
    if (nread == UV_EOF)
        conn_close(c, CONN_CLOSE_EOF);
    else if (nread < 0)
        conn_close(c, CONN_CLOSE_IO);
}

void conn_deliver(conn_t *c, const uint8_t *data, size_t n)
{
    if (c->closing || c->flush_then_close)
        return;
    if (c->kind == XPORT_WSS)
        ws_on_bytes(c, data, n);
    else
        c->on_read(c, data, n);
}

/* Puts a non-TCP conn on its loop's handshake list with its deadline. */
static void hs_list(conn_t *c)
{
    conn_x_t *x = conn_x(c);
    conn_loop_t *cl = c->cl;
    x->x->st.accepted++;
    x->hs_deadline = x->x->o.handshake_ms ? uv_now(cl->loop) + x->x->o.handshake_ms : 0;
    x->hs_listed = 1;
    if (!cl->hs && !cl->closing)
        uv_timer_start(&cl->hs_timer, on_hs_timer, HS_SWEEP_MS, HS_SWEEP_MS);
    DL_APPEND2(cl->hs, x, hs_prev, hs_next);
}

void conn_hs_unlist(conn_t *c)
{
    conn_x_t *x = conn_x(c);
    if (!x->hs_listed)
        return;
    x->hs_listed = 0;
    DL_DELETE2(c->cl->hs, x, hs_prev, hs_next);
    x->hs_prev = x->hs_next = NULL;
}

void conn_hs_fail(conn_t *c, int reason)
{
    if (c->closing)
        return;
    if (conn_handshaking(c)) {
        conn_x(c)->x->st.failures[reason]++;
        log_debug("transport_handshake_failed", "transport=%s reason=%s", type_of(c)->name,
                  xport_fail_name(reason));
    }
    conn_hs_unlist(c);
    if (reason == XF_TIMEOUT)
        conn_close(c, CONN_CLOSE_HANDSHAKE);
    else
        conn_close_after_flush(c, CONN_CLOSE_HANDSHAKE);
}

void conn_ready(conn_t *c)
{
    if (c->kind != XPORT_TCP) {
        if (conn_x(c)->hs_listed)
            conn_x(c)->x->st.handshakes++;
        conn_hs_unlist(c);
    }
    if (c->on_connect) {
        conn_connect_cb cb = c->on_connect;
        c->on_connect = NULL;
        cb(c, 0);
    }
}

static int start_reading(conn_t *c)
{
    uv_tcp_nodelay(&c->tcp, 1);
    int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rc)
        return rc;
    if (c->kind != XPORT_TCP)
        hs_list(c);
    return type_of(c)->start(c);
}

int conn_test_start(conn_t *c)
{
    if (c->kind != XPORT_TCP)
        hs_list(c);
    return type_of(c)->start(c);
}

void conn_test_feed(conn_t *c, const uint8_t *data, size_t n)
{
    if (!c->closing && !c->flush_then_close)
        type_of(c)->on_wire(c, data, n);
}

int conn_accept(conn_t *c, uv_stream_t *server)
{
    int rc = uv_accept(server, (uv_stream_t *)&c->tcp);
    if (rc == 0)
        rc = start_reading(c);
    if (rc)
        conn_close(c, CONN_CLOSE_IO);
    return rc;
}

static void on_connected(uv_connect_t *req, int status)
{
    conn_t *c = req->data;
    xfree(req); /* runs before the handle's close callback, even when the conn was closed */
    if (c->closing)
        return;
    if (status == 0)
        status = start_reading(c); /* TCP: conn_ready calls on_connect now; others later */
    if (status != 0 && c->on_connect) {
        conn_connect_cb cb = c->on_connect;
        c->on_connect = NULL;
        cb(c, status);
    }
}

/* The source port is left to connect(): with IP_BIND_ADDRESS_NO_PORT a bind to (address, 0)
 * reserves no port, so one source address serves ~28k connections per destination (not ~28k
 * in all) and the kernel does not search the bound ports on every bind, a cost that grows with
 * the connections already open (bench/connections.sh: 3 bots of 16,667 connections on one
 * core reached 400 connections/s without it). */
int conn_bind(conn_t *c, const struct sockaddr *src)
{
    int fd = socket(src->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return uv_translate_sys_error(errno);
    int one = 1;
    (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    socklen_t len = src->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (bind(fd, src, len) != 0) {
        int e = errno;
        close(fd);
        return uv_translate_sys_error(e);
    }
    int rc = uv_tcp_open(&c->tcp, fd);
    if (rc != 0)
        close(fd);
    return rc;
}

int conn_connect(conn_t *c, const struct sockaddr *addr, conn_connect_cb cb)
{
    uv_connect_t *req = xmalloc(sizeof *req);
    c->on_connect = cb;
    req->data = c;
    int rc = uv_tcp_connect(req, &c->tcp, addr, on_connected);
    if (rc) {
        c->on_connect = NULL;
        xfree(req);
    }
    return rc;
}

/* ---- output ---- */

void conn_mark_dirty(conn_t *c)
{
    if (c->dirty)
        return;
    c->dirty = 1;
    c->next_dirty = c->cl->dirty;
    c->cl->dirty = c;
}

uint8_t *conn_raw_reserve(conn_t *c, size_t n)
{
    if (c->closing || c->flush_then_close)
        return NULL;
    if (c->out_len + c->inflight + n > c->wq_max) {
        conn_close(c, CONN_CLOSE_OVERFLOW);
        return NULL;
    }
    if (c->out_len + n > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : c->out_hint > 512 ? c->out_hint : 512;
        while (cap < c->out_len + n)
            cap *= 2;
        c->out = xrealloc(c->out, cap);
        c->out_cap = cap;
    }
    conn_mark_dirty(c);
    return c->out + c->out_len;
}

void conn_raw_commit(conn_t *c, size_t n) { c->out_len += n; }

void conn_raw_write(conn_t *c, const void *data, size_t n)
{
    uint8_t *p = conn_raw_reserve(c, n);
    if (p) {
        memcpy(p, data, n);
        conn_raw_commit(c, n);
    }
}

uint8_t *conn_reserve(conn_t *c, size_t n) { return type_of(c)->reserve(c, n); }
void conn_commit(conn_t *c, size_t n) { type_of(c)->commit(c, n); }

int conn_write(conn_t *c, const void *data, size_t n)
{
    uint8_t *p = conn_reserve(c, n);
    if (!p)
        return -1;
    memcpy(p, data, n);
    conn_commit(c, n);
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    if (c->dirty) { /* defensive: never leave a freed conn on the flush list */
        conn_t **pp = &c->cl->dirty;
        while (*pp && *pp != c)
            pp = &(*pp)->next_dirty;
        if (*pp)
            *pp = c->next_dirty;
    }
    if (c->on_close)
        c->on_close(c, c->reason);
    type_of(c)->release(c);
    xfree(c->out);
    xfree(c);
}

void conn_close(conn_t *c, int reason)
{
    if (c->closing)
        return;
    c->closing = 1;
    c->reason = (uint8_t)reason;
    c->out_len = 0;
    if (c->kind != XPORT_TCP) {
        if (conn_x(c)->hs_listed && reason == CONN_CLOSE_IDLE) /* the idle timeout came first */
            conn_x(c)->x->st.failures[XF_TIMEOUT]++;
        conn_hs_unlist(c);
    }
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_written(uv_write_t *req, int status)
{
    write_req_t *w = (write_req_t *)req;
    conn_t *c = req->handle->data;
    c->inflight -= w->len;
    xfree(w->buf);
    xfree(w);
    if (c->closing)
        return;
    if (status < 0) {
        conn_close(c, CONN_CLOSE_IO);
        return;
    }
    if (c->flush_then_close && c->inflight == 0 && c->out_len == 0)
        conn_close(c, c->reason);
}

int conn_wire_send(conn_t *c, uint8_t *buf, size_t len, int owned)
{
    size_t off = 0;
    if (c->inflight == 0) {
        uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
        int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (n > 0)
            off = (size_t)n;
        else if (n < 0 && n != UV_EAGAIN) {
            if (owned)
                xfree(buf);
            conn_close(c, CONN_CLOSE_IO);
            return -1;
        }
    }
    if (off == len) {
        if (owned)
            xfree(buf);
        return 0;
    }
    write_req_t *w = xmalloc(sizeof *w);
    w->len = len - off;
    if (off == 0 && owned) {
        w->buf = buf; /* hand over the whole buffer */
    } else {
        w->buf = xmalloc(w->len);
        memcpy(w->buf, buf + off, w->len);
        if (owned)
            xfree(buf);
    }
    c->inflight += w->len;
    uv_buf_t b = uv_buf_init((char *)w->buf, (unsigned)w->len);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    if (rc) {
        c->inflight -= w->len;
        xfree(w->buf);
        xfree(w);
        conn_close(c, CONN_CLOSE_IO);
        return -1;
    }
    return 0;
}

void conn_out_sent(conn_t *c)
{
    c->out_hint = c->out_len > KEEP_OUT_CAP ? (uint32_t)(c->out_len < OUT_HINT_MAX ? c->out_len : OUT_HINT_MAX) : 0;
    int busy = (uint16_t)(c->cl->turn - c->flushed_turn) <= 1;
    c->flushed_turn = c->cl->turn;
    c->out_len = 0;
    if (c->out_cap > KEEP_OUT_CAP || !busy) {
        xfree(c->out);
        c->out = NULL;
        c->out_cap = 0;
    }
}

/* Hands this turn's output to the kernel: one try_write when nothing is in flight, and the
 * rest (if any) to one uv_write that takes ownership of the buffer (zero-copy). */
static void tcp_flush(conn_t *c)
{
    if (c->closing || c->out_len == 0)
        return;
    size_t off = 0;
    if (c->inflight == 0) {
        uv_buf_t b = uv_buf_init((char *)c->out, (unsigned)c->out_len);
        int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (n > 0)
            off = (size_t)n;
        else if (n < 0 && n != UV_EAGAIN) {
            conn_close(c, CONN_CLOSE_IO);
            return;
        }
    }
    if (off == c->out_len) {
        conn_out_sent(c);
        return;
    }
    c->out_hint = c->out_len > KEEP_OUT_CAP ? (uint32_t)(c->out_len < OUT_HINT_MAX ? c->out_len : OUT_HINT_MAX) : 0;
    c->flushed_turn = c->cl->turn;
    uint8_t *buf = c->out;
    size_t len = c->out_len;
    if (off == 0) { /* hand over the whole buffer */
        c->out = NULL;
        c->out_cap = 0;
        c->out_len = 0;
        (void)conn_wire_send(c, buf, len, 1); /* nothing in flight was tried above: queues it */
    } else {
        c->out_len = 0;
        (void)conn_wire_send(c, buf + off, len - off, 0);
    }
}

static void flush_one(conn_t *c)
{
    if (!c->closing)
        type_of(c)->flush(c);
    if (c->flush_then_close && !c->closing && c->inflight == 0 && c->out_len == 0)
        conn_close(c, c->reason);
}

static void flush_all(conn_loop_t *cl)
{
    conn_t *c = cl->dirty;
    cl->dirty = NULL;
    while (c) {
        conn_t *next = c->next_dirty;
        c->dirty = 0;
        c->next_dirty = NULL;
        flush_one(c);
        c = next;
    }
}

void conn_close_after_flush(conn_t *c, int reason)
{
    if (c->closing || c->flush_then_close)
        return;
    type_of(c)->goodbye(c, reason);
    if (c->closing)
        return;
    c->flush_then_close = 1;
    c->reason = (uint8_t)reason;
    uv_read_stop((uv_stream_t *)&c->tcp);
    if (c->kind != XPORT_TCP)
        conn_hs_unlist(c);
    /* TLS conns always pass through a flush: it queues their close_notify. */
    int tls = c->kind == XPORT_TLS || c->kind == XPORT_WSS;
    if (c->out_len == 0 && c->inflight == 0 && !tls)
        conn_close(c, reason);
    else
        conn_mark_dirty(c);
}

static void tcp_peer_name(const conn_t *c, char *out, size_t n)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    snprintf(out, n, "?");
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0)
        return;
    char ip[64] = "?";
    int port = 0;
    if (ss.ss_family == AF_INET) {
        uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
        port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip);
        port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    snprintf(out, n, "%s:%d", ip, port);
}

void conn_peer_name(const conn_t *c, char *out, size_t n) { type_of(c)->peer_name(c, out, n); }
