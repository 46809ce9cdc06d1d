/* client: framed requests with seq matching, per-client timeouts and pushes over one conn. */
#include "client.h"

#include <string.h>

#include "alloc.h"
#include "frame.h"
#include "pb.h"
#include "util.h"

#define uthash_malloc(sz) xmalloc(sz)
#define uthash_free(ptr, sz) xfree(ptr)
#include <uthash.h>
#include <utlist.h>

/* One request waiting for its response. Pending ones sit in the hash (by seq) and in a list
 * in send order, which is also deadline order since every request has the same timeout.
 * Finished ones go to the free list (a stack, through next) for reuse. */
typedef struct pending {
    uint32_t seq;
    uint64_t sent_ms; /* loop time at send */
    client_response_cb cb;
    void *ud;
    struct pending *prev, *next;
    UT_hash_handle hh;
} pending_t;

struct client {
    uv_loop_t *loop;
    conn_loop_t *cl;
    conn_t *conn;           /* NULL before connect and after the conn's close callback */
    uv_timer_t timer;       /* request timeouts */
    frame_parser_t parser;
    client_event_cb ev_cb;
    void *ev_ud;
    client_push_cb push_cb;
    void *push_ud;
    pending_t *by_seq;      /* uthash head */
    pending_t sentinel;     /* seq 0, always in the hash: an empty table would be freed by
                             * uthash and reallocated by the next request */
    pending_t *pending;     /* utlist DL in send order: the oldest first */
    pending_t *free_list;   /* utlist LL, the last finished first */
    size_t npending;
    uint64_t timeout_ms;
    uint32_t next_seq;
    uint8_t wrapped;        /* seqs went past 2^32-1: skip those still pending */
    uint8_t connect_started;
    uint8_t has_source;
    struct sockaddr_storage source;
    xport_t *xport;         /* NULL: plain TCP */
    uint8_t connected;
    uint8_t closing;        /* client_close was called */
    int connect_status;     /* libuv error of a failed connect, for CLIENT_EV_CLOSED */
    int handles;            /* open libuv handles (timer, conn); freed when 0 after close */
};

const char *client_strerror(int status)
{
    switch (status) {
    case 0: return "ok";
    case CLIENT_ECLOSED: return "connection closed";
    case CLIENT_ETIMEDOUT: return "request timed out";
    }
    return "unknown error";
}

static void client_free(client_t *c)
{
    pending_t *p, *tmp;
    LL_FOREACH_SAFE(c->free_list, p, tmp)
        xfree(p);
    HASH_CLEAR(hh, c->by_seq); /* only the sentinel is left: frees the table */
    frame_parser_free(&c->parser);
    xfree(c);
}

static void handle_gone(client_t *c)
{
    if (--c->handles == 0 && c->closing)
        client_free(c);
}

static void on_timer_closed(uv_handle_t *h) { handle_gone(h->data); }

client_t *client_new(uv_loop_t *loop, conn_loop_t *cl, uint32_t max_frame)
{
    client_t *c = xcalloc(1, sizeof *c);
    c->loop = loop;
    c->cl = cl;
    c->timeout_ms = CLIENT_DEFAULT_TIMEOUT_MS;
    c->next_seq = 1;
    frame_parser_init(&c->parser, max_frame ? max_frame : FRAME_DEFAULT_MAX);
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    c->handles = 1;
    c->sentinel.seq = 0; /* no request has seq 0, and on_frame never looks 0 up */
    HASH_ADD(hh, c->by_seq, seq, sizeof c->sentinel.seq, &c->sentinel);
    return c;
}

/* --- the pending table */

static void pending_unlink(client_t *c, pending_t *p)
{
    HASH_DEL(c->by_seq, p);
    DL_DELETE(c->pending, p);
    c->npending--;
}

/* Removes p, recycles it and calls its callback (after recycling, so the callback may send). */
static void pending_finish(client_t *c, pending_t *p, int status, uint16_t type,
                           const uint8_t *payload, size_t len)
{
    client_response_cb cb = p->cb;
    void *ud = p->ud;
    pending_unlink(c, p);
    LL_PREPEND(c->free_list, p);
    cb(c, status, type, payload, len, ud);
}

/* Answers every pending request with CLIENT_ECLOSED. Callbacks may close the client or try to
 * send (refused: the client is closing or no longer connected). */
static void pending_fail_all(client_t *c)
{
    while (c->pending)
        pending_finish(c, c->pending, CLIENT_ECLOSED, 0, NULL, 0);
}

static void on_timer(uv_timer_t *t);

static void timer_schedule(client_t *c)
{
    if (!c->pending || c->timeout_ms == 0 || c->closing)
        return;
    uint64_t now = uv_now(c->loop);
    uint64_t due = c->pending->sent_ms + c->timeout_ms;
    uv_timer_start(&c->timer, on_timer, due > now ? due - now : 0, 0);
}

static void on_timer(uv_timer_t *t)
{
    client_t *c = t->data;
    uint64_t now = uv_now(c->loop);
    while (c->pending && !c->closing && c->timeout_ms &&
           c->pending->sent_ms + c->timeout_ms <= now)
        pending_finish(c, c->pending, CLIENT_ETIMEDOUT, 0, NULL, 0);
    timer_schedule(c);
}

void client_set_timeout(client_t *c, uint64_t timeout_ms)
{
    c->timeout_ms = timeout_ms;
    uv_timer_stop(&c->timer);
    timer_schedule(c);
}

int client_is_connected(const client_t *c) { return c->connected && !c->closing; }
uint32_t client_next_seq(const client_t *c) { return c->next_seq; }

void client_set_push_cb(client_t *c, client_push_cb cb, void *ud)
{
    c->push_cb = cb;
    c->push_ud = ud;
}

/* Moves next_seq past 0 and, once seqs have wrapped, past seqs still pending. */
static void seq_advance(client_t *c)
{
    for (;;) {
        if (++c->next_seq == 0) {
            c->next_seq = 1;
            c->wrapped = 1;
        }
        if (!c->wrapped)
            return;
        pending_t *p;
        HASH_FIND(hh, c->by_seq, &c->next_seq, sizeof c->next_seq, p);
        if (!p)
            return;
    }
}

/* Reserves header + len output bytes and records a pending request. Returns the frame's
 * space (header written, payload to be filled) or NULL. */
static uint8_t *request_begin(client_t *c, uint16_t type, size_t len, client_response_cb cb,
                              void *ud, uint32_t *seq_out)
{
    if (!client_is_connected(c) || len > UINT32_MAX)
        return NULL;
    uint8_t *out = conn_reserve(c->conn, FRAME_HDR_LEN + len);
    if (!out)
        return NULL;
    uint32_t seq = c->next_seq;
    seq_advance(c);
    frame_hdr_write(out, (uint32_t)len, type, seq);

    pending_t *p = c->free_list;
    if (p)
        LL_DELETE(c->free_list, p);
    else
        p = xmalloc(sizeof *p);
    memset(p, 0, sizeof *p);
    p->seq = seq;
    p->sent_ms = uv_now(c->loop);
    p->cb = cb;
    p->ud = ud;
    DL_APPEND(c->pending, p);
    HASH_ADD(hh, c->by_seq, seq, sizeof p->seq, p);
    c->npending++;
    if (c->timeout_ms && !uv_is_active((uv_handle_t *)&c->timer))
        timer_schedule(c);
    *seq_out = seq;
    return out;
}

int64_t client_request(client_t *c, uint16_t type, const ProtobufCMessage *msg,
                       client_response_cb cb, void *ud)
{
    size_t n = msg ? protobuf_c_message_get_packed_size(msg) : 0;
    uint32_t seq;
    uint8_t *out = request_begin(c, type, n, cb, ud, &seq);
    if (!out)
        return -1;
    if (n)
        protobuf_c_message_pack(msg, out + FRAME_HDR_LEN);
    conn_commit(c->conn, FRAME_HDR_LEN + n);
    return seq;
}

int64_t client_request_raw(client_t *c, uint16_t type, const uint8_t *payload, size_t len,
                           client_response_cb cb, void *ud)
{
    uint32_t seq;
    uint8_t *out = request_begin(c, type, len, cb, ud, &seq);
    if (!out)
        return -1;
    if (len)
        memcpy(out + FRAME_HDR_LEN, payload, len);
    conn_commit(c->conn, FRAME_HDR_LEN + len);
    return seq;
}

int64_t client_send(client_t *c, uint16_t type, const ProtobufCMessage *msg)
{
    size_t n = msg ? protobuf_c_message_get_packed_size(msg) : 0;
    if (!client_is_connected(c) || n > UINT32_MAX)
        return -1;
    uint8_t *out = conn_reserve(c->conn, FRAME_HDR_LEN + n);
    if (!out)
        return -1;
    uint32_t seq = c->next_seq;
    seq_advance(c);
    frame_hdr_write(out, (uint32_t)n, type, seq);
    if (n)
        protobuf_c_message_pack(msg, out + FRAME_HDR_LEN);
    conn_commit(c->conn, FRAME_HDR_LEN + n);
    return seq;
}

int client_send_bytes(client_t *c, const void *data, size_t len)
{
    if (!client_is_connected(c))
        return -1;
    return conn_write(c->conn, data, len);
}

/* --- the connection */

static int on_frame(void *ctx, const frame_hdr_t *h, const uint8_t *payload)
{
    client_t *c = ctx;
    pending_t *p = NULL;
    if (h->seq != 0)
        HASH_FIND(hh, c->by_seq, &h->seq, sizeof h->seq, p);
    if (p)
        pending_finish(c, p, 0, h->type, payload, h->len);
    else if (c->push_cb)
        c->push_cb(c, h->type, h->seq, payload, h->len, c->push_ud);
    /* stop when a callback closed the client or the connection */
    return c->closing || !c->conn || conn_is_closing(c->conn);
}

static void on_read(conn_t *conn, const uint8_t *data, size_t n)
{
    client_t *c = conn_data(conn);
    if (c->closing)
        return;
    if (frame_parser_feed(&c->parser, data, n, on_frame, c) == FRAME_ETOOBIG)
        conn_close(conn, CONN_CLOSE_PROTOCOL);
}

static void on_conn_closed(conn_t *conn, int reason)
{
    client_t *c = conn_data(conn);
    int was_connected = c->connected;
    c->conn = NULL;
    c->connected = 0;
    if (!c->closing) {
        uv_timer_stop(&c->timer);
        pending_fail_all(c);
        if (!c->closing && c->ev_cb)
            c->ev_cb(c, CLIENT_EV_CLOSED, was_connected || !c->connect_status ? reason
                                                                               : c->connect_status,
                     c->ev_ud);
    }
    handle_gone(c);
}

static void on_connected(conn_t *conn, int status)
{
    client_t *c = conn_data(conn);
    if (status < 0) {
        c->connect_status = status;
        conn_close(conn, CONN_CLOSE_IO);
        return;
    }
    c->connected = 1;
    if (c->ev_cb)
        c->ev_cb(c, CLIENT_EV_CONNECTED, 0, c->ev_ud);
}

void client_set_source(client_t *c, const struct sockaddr *src)
{
    size_t n = src->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    memset(&c->source, 0, sizeof c->source);
    memcpy(&c->source, src, n);
    c->has_source = 1;
}

void client_set_xport(client_t *c, xport_t *x) { c->xport = x; }

int client_connect(client_t *c, const char *host, int port, client_event_cb cb, void *ud)
{
    if (c->connect_started || c->closing)
        return UV_EALREADY;
    struct sockaddr_storage ss;
    int rc = addr_make(host, port, &ss);
    if (rc)
        return rc;
    c->connect_started = 1;
    c->conn = conn_new_x(c->cl, c->xport, CLIENT_WQ_MAX, on_read, on_conn_closed, c);
    c->handles++;
    rc = c->has_source ? conn_bind(c->conn, (const struct sockaddr *)&c->source) : 0;
    if (rc == 0)
        rc = conn_connect(c->conn, (const struct sockaddr *)&ss, on_connected);
    if (rc) {
        /* no event for a connect that never started: the close callback stays quiet */
        c->ev_cb = NULL;
        conn_close(c->conn, CONN_CLOSE_IO);
        return rc;
    }
    c->ev_cb = cb;
    c->ev_ud = ud;
    return 0;
}

void client_close(client_t *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    c->connected = 0;
    if (c->conn)
        conn_close(c->conn, CONN_CLOSE_LOCAL);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
    /* closing is set, so callbacks here can neither send nor re-enter this function's work */
    pending_fail_all(c);
}
