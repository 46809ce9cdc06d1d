/* conn_internal: what the transports (conn.c's TCP, tls.c, ws.c) share: the conn and loop
 * structs and the table of operations each transport fills. Not for users of conn.h. */
#ifndef CLUSTER_CONN_INTERNAL_H
#define CLUSTER_CONN_INTERNAL_H

#include <openssl/ssl.h>
#include <wslay/wslay.h>

#include "conn.h"
#include "ws_upgrade.h"
#include "xport.h"

#define READ_SLAB_SIZE (64 * 1024)
#define PLAIN_SLAB_SIZE (16 * 1024) /* one TLS record of plaintext */

struct conn_loop {
    uv_loop_t *loop;
    uv_prepare_t prepare;
    uv_check_t check;
    uv_timer_t hs_timer;  /* closes transport handshakes past their deadline */
    conn_t *dirty;        /* singly linked through conn.next_dirty */
    struct conn_x *hs; /* conns in a transport handshake, oldest first (utlist DL) */
    int closing;
    uint16_t turn; /* loop turns, counted in the prepare phase (wraps) */
    uint8_t slab[READ_SLAB_SIZE];
    uint8_t plain[PLAIN_SLAB_SIZE];
};

struct conn {
    uv_tcp_t tcp;
    conn_loop_t *cl;
    conn_connect_cb on_connect; /* the uv_connect_t is allocated only while connecting */
    conn_read_cb on_read;
    conn_close_cb on_close;
    void *data;
    uint8_t *out;      /* output gathered this turn (plaintext: TLS encrypts it at the flush) */
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
    uint8_t kind;      /* xport_kind_t: the index of its conn_type_t; in what was padding */
    /* Bytes gathered in the last turn that needed more than KEEP_OUT_CAP (at most
     * OUT_HINT_MAX): a buffer freed after its flush comes back at that size in one allocation
     * instead of doubling up from 512 with a copy per step (a busy link gathers tens of KiB
     * every turn). Fits in the padding after the flags: no memory per connection. */
    uint32_t out_hint;
    /* Any other transport than TCP: a conn_x_t follows (allocated with the conn). */
};

struct xport {
    xport_opts_t o;
    char *origins;     /* owned copies of the option strings */
    char *server_name;
    char *ws_path;
    xport_stats_t st;
};

/* The state of a TLS and/or WebSocket conn, allocated right after its struct conn. */
typedef struct conn_x {
    conn_t *c;
    xport_t *x;
    struct conn_x *hs_prev, *hs_next; /* in cl->hs while the handshake runs */
    uint64_t hs_deadline;
    uint8_t hs_listed;
    uint8_t tls_done;    /* TLS handshake complete */
    uint8_t ws_open;     /* WebSocket upgrade complete */
    uint8_t tls_bye;     /* close_notify queued */
    uint8_t ws_res;      /* header bytes reserved for the pending WebSocket commit */
    uint8_t ws_closing;  /* our close frame is queued: no more messages */
    uint8_t got_first;   /* first_byte is set */
    uint8_t first_byte;  /* the peer's first byte: 0x16 for a TLS handshake record */
    /* TLS */
    SSL *ssl;
    const uint8_t *in; /* ciphertext being fed (the read slab) */
    size_t in_len;
    uint8_t *wire;     /* ciphertext to send; NULL when none */
    size_t wire_len, wire_cap;
    /* WebSocket */
    wslay_event_context_ptr ws;
    ws_upgrade_t *up;  /* the HTTP upgrade being parsed; NULL once done */
    const uint8_t *ws_in;
    size_t ws_in_len;
    char ws_key[32];   /* client role: the key sent, to check the accept */
    uint16_t ws_fail_code; /* a close to queue once what wslay queued before it is sent */
    /* Where the peer's frames end, tracked beside wslay (which keeps ~8 KiB of buffers per
     * context): between frames, with no fragmented message, nothing queued and no close, the
     * context is freed and made again with the next bytes, so an idle conn holds none. */
    uint8_t ws_hdr[14];
    uint8_t ws_hdr_have;
    uint8_t ws_frag;      /* a fragmented data message is in progress */
    uint64_t ws_frame_left; /* payload bytes of the current frame still to come */
    uint64_t ws_rx_ms;      /* loop time of the last bytes read */
    double ping_tokens;
    uint64_t ping_ms;
} conn_x_t;

/* What a transport does; one table per xport_kind_t (conn.c). */
typedef struct conn_type {
    const char *name;
    /* After connect/accept: starts the transport (its handshake). 0 or a libuv-style error. */
    int (*start)(conn_t *c);
    /* Bytes read from the socket. */
    void (*on_wire)(conn_t *c, const uint8_t *data, size_t n);
    uint8_t *(*reserve)(conn_t *c, size_t n);
    void (*commit)(conn_t *c, size_t n);
    /* Hands this turn's output to the socket. */
    void (*flush)(conn_t *c);
    /* Queues the transport's goodbye (a WebSocket close frame) before a close after flush. */
    void (*goodbye)(conn_t *c, int reason);
    /* Frees the transport's state; from the last close callback. */
    void (*release)(conn_t *c);
    void (*peer_name)(const conn_t *c, char *out, size_t n);
} conn_type_t;

static inline conn_x_t *conn_x(const conn_t *c) { return (conn_x_t *)(void *)(c + 1); }

/* ---- from conn.c, for the transports ---- */
/* The plaintext output buffer: space for n bytes (bound checked, conn marked dirty). */
uint8_t *conn_raw_reserve(conn_t *c, size_t n);
void conn_raw_commit(conn_t *c, size_t n);
void conn_raw_write(conn_t *c, const void *data, size_t n);
void conn_mark_dirty(conn_t *c);
/* Sends buf[0..len) to the socket: what the kernel takes now, the rest through uv_write. The
 * buffer is taken over (freed by conn) when `owned`, else copied as needed. -1: closed. */
int conn_wire_send(conn_t *c, uint8_t *buf, size_t len, int owned);
/* Gives the plaintext buffer back (or keeps it for a busy conn) after its bytes were sent. */
void conn_out_sent(conn_t *c);
/* The conn's handshake is over (ok or not): off the deadline list. */
void conn_hs_unlist(conn_t *c);
/* The transport is ready: the client role's connect callback runs now. */
void conn_ready(conn_t *c);
/* Hands decrypted / unframed bytes to the next layer up. */
void conn_deliver(conn_t *c, const uint8_t *data, size_t n);
/* Ends the conn for a failed handshake (counted by reason), after flushing what is queued
 * (a TLS alert, an HTTP error response). */
void conn_hs_fail(conn_t *c, int reason);

/* For fuzzers and unit tests, without a socket: starts the transport's handshake as an
 * accept would, and feeds bytes as if read from the socket. */
int conn_test_start(conn_t *c);
void conn_test_feed(conn_t *c, const uint8_t *data, size_t n);

/* ---- tls.c ---- */
int tls_start(conn_t *c);
void tls_on_wire(conn_t *c, const uint8_t *data, size_t n);
void tls_flush(conn_t *c);
void tls_release(conn_t *c);
/* ---- ws.c ---- */
int ws_start(conn_t *c);
void ws_on_bytes(conn_t *c, const uint8_t *data, size_t n);
uint8_t *ws_reserve(conn_t *c, size_t n);
void ws_commit(conn_t *c, size_t n);
void ws_goodbye(conn_t *c, int reason);
void ws_release(conn_t *c);
/* The transport under WebSocket is up (TCP accepted/connected, or TLS handshake done). */
void ws_lower_ready(conn_t *c);

#endif
