/* conn: TCP connections with batched, bounded output and deferred free. */
#include "conn.h"

#include <string.h>

#include "alloc.h"
#include "log.h"

#define READ_SLAB_SIZE (64 * 1024)
#define KEEP_OUT_CAP 4096 /* output buffers up to this size are kept between busy turns */
#define OUT_HINT_MAX (64 * 1024) /* largest first allocation sized from the last turn */

struct conn_loop {
    uv_loop_t *loop;
    uv_prepare_t prepare;
    uv_check_t check;
    conn_t *dirty; /* singly linked through conn.next_dirty */
    int closing;
    uint16_t turn; /* loop turns, counted in the prepare phase (wraps) */
    uint8_t slab[READ_SLAB_SIZE];
};

struct conn {
    uv_tcp_t tcp;
    conn_loop_t *cl;
    conn_connect_cb on_connect; /* the uv_connect_t is allocated only while connecting */
    conn_read_cb on_read;
    conn_close_cb on_close;
    void *data;
    uint8_t *out;      /* output gathered this turn */
    size_t out_len, out_cap;
    size_t inflight;   /* bytes handed to uv_write and not yet completed */
    size_t wq_max;
    conn_t *next_dirty;
    uint8_t dirty;
    uint8_t closing;
    uint8_t flush_then_close;
    uint8_t reason;
    /* Loop turn of the last flush. An idle connection (a PONG every 20 s) gives its output
     * buffer back after each flush, so it holds none between writes; one that also flushed
     * in the previous turn keeps it (up to KEEP_OUT_CAP) for the next. */
    uint16_t flushed_turn;
    /* Bytes gathered in the last turn that needed more than KEEP_OUT_CAP (at most
     * OUT_HINT_MAX): a buffer freed after its flush comes back at that size in one allocation
     * instead of doubling up from 512 with a copy per step (a busy link gathers tens of KiB
     * every turn). Fits in the padding after the flags: no memory per connection. */
    uint32_t out_hint;
};

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
    }
    return "unknown";
}

static void flush_all(conn_loop_t *cl);
static void on_prepare(uv_prepare_t *h)
{
    conn_loop_t *cl = h->data;
    cl->turn++;
    flush_all(cl);
}
static void on_check(uv_check_t *h) { flush_all(h->data); }

conn_loop_t *conn_loop_new(uv_loop_t *loop)
{
    conn_loop_t *cl = xcalloc(1, sizeof *cl);
    cl->loop = loop;
    uv_prepare_init(loop, &cl->prepare);
    uv_check_init(loop, &cl->check);
    cl->prepare.data = cl;
    cl->check.data = cl;
    uv_prepare_start(&cl->prepare, on_prepare);
    uv_check_start(&cl->check, on_check);
    /* These handles must not keep the loop alive by themselves. */
    uv_unref((uv_handle_t *)&cl->prepare);
    uv_unref((uv_handle_t *)&cl->check);
    return cl;
}

static void loop_handle_closed(uv_handle_t *h)
{
    conn_loop_t *cl = h->data;
    if (++cl->closing == 3)
        xfree(cl);
}

void conn_loop_close(conn_loop_t *cl)
{
    flush_all(cl); /* last words (SERVER_CLOSING, DRAINING) still go out */
    cl->closing = 1;
    uv_close((uv_handle_t *)&cl->prepare, loop_handle_closed);
    uv_close((uv_handle_t *)&cl->check, loop_handle_closed);
}

uv_loop_t *conn_loop_uv(conn_loop_t *cl) { return cl->loop; }
void conn_loop_flush(conn_loop_t *cl) { flush_all(cl); }

conn_t *conn_new(conn_loop_t *cl, size_t wq_max, conn_read_cb on_read, conn_close_cb on_close,
                 void *data)
{
    conn_t *c = xcalloc(1, sizeof *c);
    c->cl = cl;
    c->wq_max = wq_max;
    c->on_read = on_read;
    c->on_close = on_close;
    c->data = data;
    c->flushed_turn = (uint16_t)(cl->turn - 2); /* its first flush is not a busy one */
    uv_tcp_init(cl->loop, &c->tcp);
    c->tcp.data = c;
    return c;
}

void conn_set_close_cb(conn_t *c, conn_close_cb cb) { c->on_close = cb; }
void *conn_data(const conn_t *c) { return c->data; }
void conn_set_data(conn_t *c, void *data) { c->data = data; }
int conn_is_closing(const conn_t *c) { return c->closing || c->flush_then_close; }
size_t conn_queued(const conn_t *c) { return c->out_len + c->inflight; }
size_t conn_out_held(const conn_t *c) { return c->out_cap; }

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
            c->on_read(c, (const uint8_t *)buf->base, (size_t)nread);
        return;
    }
    if (nread == UV_EOF)
        conn_close(c, CONN_CLOSE_EOF);
    else if (nread < 0)
        conn_close(c, CONN_CLOSE_IO);
}

static int start_reading(conn_t *c)
{
    uv_tcp_nodelay(&c->tcp, 1);
    return uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
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
        status = start_reading(c);
    c->on_connect(c, status);
}

int conn_bind(conn_t *c, const struct sockaddr *src) { return uv_tcp_bind(&c->tcp, src, 0); }

int conn_connect(conn_t *c, const struct sockaddr *addr, conn_connect_cb cb)
{
    uv_connect_t *req = xmalloc(sizeof *req);
    c->on_connect = cb;
    req->data = c;
    int rc = uv_tcp_connect(req, &c->tcp, addr, on_connected);
    if (rc)
        xfree(req);
    return rc;
}

static void mark_dirty(conn_t *c)
{
    if (c->dirty)
        return;
    c->dirty = 1;
    c->next_dirty = c->cl->dirty;
    c->cl->dirty = c;
}

uint8_t *conn_reserve(conn_t *c, size_t n)
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
    mark_dirty(c);
    return c->out + c->out_len;
}

void conn_commit(conn_t *c, size_t n) { c->out_len += n; }

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

/* Hands this turn's output to the kernel: one try_write when nothing is in flight, and the
 * rest (if any) to one uv_write that takes ownership of the buffer. */
static void flush_one(conn_t *c)
{
    if (c->closing || c->out_len == 0)
        goto done;
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
    c->out_hint = c->out_len > KEEP_OUT_CAP ? (uint32_t)(c->out_len < OUT_HINT_MAX ? c->out_len : OUT_HINT_MAX) : 0;
    int busy = (uint16_t)(c->cl->turn - c->flushed_turn) <= 1;
    c->flushed_turn = c->cl->turn;
    if (off == c->out_len) {
        c->out_len = 0;
        if (c->out_cap > KEEP_OUT_CAP || !busy) {
            xfree(c->out);
            c->out = NULL;
            c->out_cap = 0;
        }
        goto done;
    }
    write_req_t *w = xmalloc(sizeof *w);
    w->len = c->out_len - off;
    if (off == 0) {
        w->buf = c->out; /* hand over the whole buffer */
        c->out = NULL;
        c->out_cap = 0;
    } else {
        w->buf = xmalloc(w->len);
        memcpy(w->buf, c->out + off, w->len);
    }
    c->out_len = 0;
    c->inflight += w->len;
    uv_buf_t b = uv_buf_init((char *)w->buf, (unsigned)w->len);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    if (rc) {
        c->inflight -= w->len;
        xfree(w->buf);
        xfree(w);
        conn_close(c, CONN_CLOSE_IO);
        return;
    }
done:
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
    c->flush_then_close = 1;
    c->reason = (uint8_t)reason;
    uv_read_stop((uv_stream_t *)&c->tcp);
    if (c->out_len == 0 && c->inflight == 0)
        conn_close(c, reason);
    else
        mark_dirty(c);
}

void conn_peer_name(const conn_t *c, char *out, size_t n)
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
