/* conn: one peer on a libuv loop as a byte pipe, whatever its transport (TCP, TLS, WebSocket,
 * WebSocket over TLS: xport.h), with a bounded output queue that batches every frame queued in
 * one loop turn into one write, and a close that frees only after libuv is done. The users of
 * a conn (sessions, links, clients) never see the transport: reads deliver the bytes of the
 * stream, one reserve/commit queues bytes (on WebSocket: one commit is one message). */
#ifndef CLUSTER_CONN_H
#define CLUSTER_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct conn conn_t;
typedef struct conn_loop conn_loop_t;
typedef struct xport xport_t;

/* Why a connection closed; passed to the close callback. */
typedef enum {
    CONN_CLOSE_LOCAL = 0, /* we closed it */
    CONN_CLOSE_EOF,       /* the peer closed it */
    CONN_CLOSE_IO,        /* read, write or connect error */
    CONN_CLOSE_OVERFLOW,  /* the peer did not read: the output queue passed its bound */
    CONN_CLOSE_PROTOCOL,  /* the peer broke the protocol */
    CONN_CLOSE_IDLE,      /* silent for too long */
    CONN_CLOSE_HANDSHAKE, /* the transport's handshake (TLS, WebSocket upgrade) failed or timed out */
} conn_close_reason_t;

const char *conn_reason_str(int reason);

/* Called with each chunk read. The bytes are valid only during the call. */
typedef void (*conn_read_cb)(conn_t *c, const uint8_t *data, size_t n);
/* Called exactly once, after the handle is closed and before the conn is freed. The owner
 * drops its references here. */
typedef void (*conn_close_cb)(conn_t *c, int reason);
/* Outcome of conn_connect: status 0 or a libuv error code. Not called if the conn was closed
 * first. */
typedef void (*conn_connect_cb)(conn_t *c, int status);

/* Per-loop state: the list of connections with output to flush, flushed in the loop's
 * prepare and check phases, and one shared read buffer. */
conn_loop_t *conn_loop_new(uv_loop_t *loop);
/* Hands every conn's queued output to the kernel now (what the next prepare or check phase
 * would do): before a conn_close that would otherwise drop it. */
void conn_loop_flush(conn_loop_t *cl);
/* Closes its handles; call once every conn is closed, before the final uv_run. */
void conn_loop_close(conn_loop_t *cl);

/* A new, unconnected conn. wq_max bounds output bytes queued (buffered plus in flight). */
conn_t *conn_new(conn_loop_t *cl, size_t wq_max, conn_read_cb on_read, conn_close_cb on_close,
                 void *data);
/* A new, unconnected conn speaking transport x (NULL: plain TCP), in x's role. The transport's
 * handshake starts when the conn is accepted or connected; reads start after it. A client
 * role's connect callback runs once the handshake is done; a failed handshake closes the conn
 * with CONN_CLOSE_HANDSHAKE (counted in the xport's stats). x must outlive the conn. */
conn_t *conn_new_x(conn_loop_t *cl, xport_t *x, size_t wq_max, conn_read_cb on_read,
                   conn_close_cb on_close, void *data);
/* The conn's xport_kind_t (XPORT_TCP for plain conns). */
int conn_transport(const conn_t *c);
/* 1 while its transport handshake runs. */
int conn_handshaking(const conn_t *c);
/* Accepts a pending connection of `server` into c and starts reading. On error c is closed. */
int conn_accept(conn_t *c, uv_stream_t *server) __attribute__((warn_unused_result));
/* Binds an unconnected conn to a local (source) address, port 0: any free port. */
int conn_bind(conn_t *c, const struct sockaddr *src) __attribute__((warn_unused_result));
/* Connects to addr; reads start once connected. */
int conn_connect(conn_t *c, const struct sockaddr *addr, conn_connect_cb cb)
    __attribute__((warn_unused_result));

/* Sets the close callback (for owners that attach their state after accepting). */
void conn_set_close_cb(conn_t *c, conn_close_cb cb);
void *conn_data(const conn_t *c);
int conn_is_closing(const conn_t *c);

/* Returns space for n more output bytes, to be followed by conn_commit(c, n) (or fewer).
 * Returns NULL when the conn is closing, or when n would pass the queue bound: the conn is then
 * closed with CONN_CLOSE_OVERFLOW. */
uint8_t *conn_reserve(conn_t *c, size_t n);
void conn_commit(conn_t *c, size_t n);
/* conn_reserve + memcpy + conn_commit. Returns 0, or -1 if the bytes were not queued. */
int conn_write(conn_t *c, const void *data, size_t n);

/* Output bytes queued and not yet taken by the kernel. */
size_t conn_queued(const conn_t *c);
/* Bytes of output buffer the conn holds now (capacity, not content). An idle conn holds none:
 * a buffer is given back after a flush unless the conn also flushed in the previous turn. */
size_t conn_out_held(const conn_t *c);

/* Closes now: queued output is dropped. Safe to call more than once and from callbacks. */
void conn_close(conn_t *c, int reason);
/* Stops reading, writes what is queued, then closes (at once if the queue is empty). */
void conn_close_after_flush(conn_t *c, int reason);

/* Formats the peer address as "ip:port" into out. */
void conn_peer_name(const conn_t *c, char *out, size_t n);

#endif
