/* xport: the client transports a conn can speak besides plain TCP (TLS, WebSocket, WebSocket
 * over TLS), in either role (server: accept; client: connect), and their shared settings.
 * One xport_t is shared by every conn of a listener (or every connection a client makes);
 * it holds the TLS context, the WebSocket checks and the counters of its handshakes.
 *
 * Client role, for the C client library and the bot:
 *   tls_ctx_t *t = tls_ctx_client(NULL, err, sizeof err);       // NULL CA: no verification
 *   xport_opts_t o = {.kind = XPORT_WSS, .client = 1, .tls = t, .server_name = "localhost",
 *                     .handshake_ms = 5000, .ws_max_msg = FRAME_DEFAULT_MAX + FRAME_HDR_LEN};
 *   xport_t *x = xport_new(&o);
 *   conn_t *c = conn_new_x(cl, x, wq_max, on_read, on_close, ud);
 *   conn_connect(c, addr, on_connect);   // on_connect(c, 0) once TLS and the upgrade are done
 * Then conn_reserve/conn_commit (or pb_send) write frames: one commit is one WebSocket message.
 * on_read receives exactly the bytes of the frames (decrypted, unframed). */
#ifndef CLUSTER_XPORT_H
#define CLUSTER_XPORT_H

#include <stddef.h>
#include <stdint.h>

typedef struct xport xport_t;
typedef struct tls_ctx tls_ctx_t;

typedef enum { XPORT_TCP = 0, XPORT_TLS, XPORT_WS, XPORT_WSS, XPORT_KINDS } xport_kind_t;

/* Why a transport handshake failed (counted per xport, label reason=). */
typedef enum {
    XF_TIMEOUT = 0,   /* not done within handshake_ms */
    XF_NOT_TLS,       /* plaintext (an HTTP request, our frames) on a TLS port */
    XF_TLS_VERSION,   /* the peer offered only TLS 1.0/1.1 (or SSL) */
    XF_TLS_OTHER,     /* any other TLS handshake error (garbage ClientHello, bad certificate) */
    XF_HTTP_BAD,      /* not a valid HTTP/1.1 request, or no Upgrade/Connection/Host: 400 */
    XF_HTTP_METHOD,   /* not GET: 405 */
    XF_HTTP_PATH,     /* not the path "/": 404 */
    XF_WS_VERSION,    /* Sec-WebSocket-Version is not 13: 426 */
    XF_WS_KEY,        /* Sec-WebSocket-Key missing or not 16 bytes of base64: 400 */
    XF_ORIGIN,        /* Origin not in WS_ALLOWED_ORIGINS: 403 */
    XF_TOO_LARGE,     /* the upgrade request passed its byte bound: 431 */
    XF_PEER_CLOSED,   /* the peer closed or reset during the handshake */
    XF_WS_RESPONSE,   /* client role: the server's answer was not a valid 101 */
    XF_REASONS
} xport_fail_t;

#define XPORT_WS_CODES 16 /* close codes 1000-1015 counted by code; others in the last slot */

typedef struct xport_stats {
    uint64_t accepted;              /* conns started (accepted or connected) */
    uint64_t handshakes;            /* transport handshakes completed */
    uint64_t failures[XF_REASONS];  /* handshakes failed, by reason */
    uint64_t ws_closes[XPORT_WS_CODES]; /* WebSocket close frames we sent, by code - 1000 */
} xport_stats_t;

typedef struct xport_opts {
    xport_kind_t kind;
    int client;                /* 1: client role (conn_connect), 0: server role (conn_accept) */
    tls_ctx_t *tls;            /* TLS and WSS: the context (not owned; outlives the xport) */
    const char *server_name;   /* client role: SNI, certificate name check and WS Host */
    uint32_t handshake_ms;     /* bound of the whole transport handshake; 0: none */
    uint32_t ws_max_msg;       /* largest WebSocket message (frame header included) */
    uint32_t ws_handshake_max; /* bytes of the HTTP upgrade request/response; 0: 8192 */
    const char *ws_origins;    /* comma-separated allow-list of Origin values; NULL/"": any */
    double ws_ping_rate;       /* server role: pings per second answered (token bucket) ... */
    double ws_ping_burst;      /* ... with this burst; past it the conn is closed 1008 */
} xport_opts_t;

/* A transport setup. Strings are copied. Returns NULL (with a log line) on bad options:
 * TLS/WSS without a context, WS without ws_max_msg. */
xport_t *xport_new(const xport_opts_t *o);
void xport_free(xport_t *x);
xport_kind_t xport_kind(const xport_t *x);
const xport_stats_t *xport_stats(const xport_t *x);
const char *xport_kind_name(int kind);
const char *xport_fail_name(int reason);

/* ---- TLS contexts (OpenSSL 3) ---- */

/* A server context from PEM files: TLS 1.2 minimum (1.3 preferred), the server's cipher
 * preference, session tickets, no record buffers held by idle conns. NULL on failure, with
 * OpenSSL's reason in err. */
tls_ctx_t *tls_ctx_server(const char *cert_file, const char *key_file, char *err, size_t n);
/* A client context: TLS 1.2 minimum; verifies the server against ca_file (PEM), or does not
 * verify at all when ca_file is NULL or "" (tests, self-signed local certificates). */
tls_ctx_t *tls_ctx_client(const char *ca_file, char *err, size_t n);
/* Loads the files into a new context and swaps it in for new conns (open conns keep the one
 * they started with); the session ticket keys carry over. On failure the old context stays
 * and err says why. Returns 0 or -1. */
int tls_ctx_reload(tls_ctx_t *t, const char *cert_file, const char *key_file, char *err, size_t n)
    __attribute__((warn_unused_result));
/* The subject and expiry of the certificate in use, for logs ("" for a client context). */
void tls_ctx_describe(const tls_ctx_t *t, char *out, size_t n);
void tls_ctx_free(tls_ctx_t *t);

#endif
