/* echo_server: the hop benchmark's peer backend (bench/hop.sh). A minimal, single-threaded
 * libuv server of the client wire format (DESIGN.md): it reads frames with common/frame.h,
 * decodes each ECHO_REQUEST with protobuf-c (the same budgeted pb_unpack the daemons use) and
 * answers an ECHO_RESPONSE carrying the payload, packed with protobuf-c straight into the
 * connection's output. Output goes through common/conn.c, so every frame queued for a client
 * in one loop turn leaves in one write, as on the real path. Any other type is answered
 * ERROR_RESPONSE UNKNOWN_PACKET; an oversized frame closes the connection.
 *
 * It has no sessions, no routing, no rate limit, no registry and no link protocol: it is the
 * least a server of this framing can do, and so the floor of the benchmark (directly) and the
 * server behind HAProxy.
 *
 * It answers PING_REQUEST too (so idle connections kept alive by the bot's idle scenario cost
 * it nothing but the pong).
 *
 *   echo_server [HOST:PORT [TRANSPORT [CERT KEY]]]
 *
 * TRANSPORT is tcp (default), ws (WebSocket, path /), or tls / wss with a PEM certificate
 * chain and key: the server role of common/xport.h, as the gateway's listeners use it. The
 * benchmarks put HAProxy in front of it (HAProxy terminating TLS for a WebSocket server: ws).
 *
 * Prints "port=N" on stdout once listening; stops on SIGTERM or SIGINT. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "alloc.h"
#include "conn.h"
#include "frame.h"
#include "pb.h"
#include "util.h"
#include "xport.h"

#define WQ_MAX (1u << 20)       /* per-client output bound, as the gateway's WRITE_QUEUE_MAX */
#define MSG_BUDGET (256u << 10) /* as the daemons' MSG_BUDGET */
#define SERVER_ID 1

typedef struct client {
    conn_t *conn;
    frame_parser_t parser;
} client_t;

static uv_loop_t *loop;
static conn_loop_t *cl;
static uv_tcp_t listener;
static uv_signal_t sigterm, sigint;
static pb_arena_t arena;
static xport_t *xport; /* NULL: plain TCP */

static int on_frame(void *ctx, const frame_hdr_t *h, const uint8_t *payload)
{
    client_t *c = ctx;
    if (h->type == PACKET_TYPE__PING_REQUEST) {
        const PingRequest *in =
            (const PingRequest *)pb_unpack(&arena, &ping_request__descriptor, payload, h->len);
        PingResponse out = PING_RESPONSE__INIT;
        out.client_time = in ? in->client_time : 0;
        out.server_time_ms = wall_ms();
        (void)pb_send(c->conn, PACKET_TYPE__PING_RESPONSE, h->seq, &out.base);
        return conn_is_closing(c->conn);
    }
    if (h->type != PACKET_TYPE__ECHO_REQUEST) {
        (void)pb_send_error(c->conn, h->seq, ERROR_CODE__UNKNOWN_PACKET, h->type,
                            "echo_server answers ECHO_REQUEST and PING_REQUEST only");
        return 0;
    }
    const EchoRequest *in =
        (const EchoRequest *)pb_unpack(&arena, &echo_request__descriptor, payload, h->len);
    if (!in) {
        (void)pb_send_error(c->conn, h->seq, ERROR_CODE__BAD_REQUEST, h->type,
                            "payload is not a valid message of its type");
        return 0;
    }
    EchoResponse out = ECHO_RESPONSE__INIT;
    out.payload = in->payload;
    out.server_id = SERVER_ID;
    out.served_by = in->target;
    (void)pb_send(c->conn, PACKET_TYPE__ECHO_RESPONSE, h->seq, &out.base);
    return conn_is_closing(c->conn);
}

static void on_read(conn_t *conn, const uint8_t *data, size_t n)
{
    client_t *c = conn_data(conn);
    if (frame_parser_feed(&c->parser, data, n, on_frame, c) == FRAME_ETOOBIG) {
        (void)pb_send_error(conn, c->parser.cur.seq, ERROR_CODE__FRAME_TOO_LARGE,
                            c->parser.cur.type, "frame longer than the maximum");
        conn_close_after_flush(conn, CONN_CLOSE_PROTOCOL);
    }
}

static void on_close(conn_t *conn, int reason)
{
    client_t *c = conn_data(conn);
    frame_parser_free(&c->parser);
    xfree(c);
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    client_t *c = xcalloc(1, sizeof *c);
    frame_parser_init(&c->parser, FRAME_DEFAULT_MAX);
    c->conn = conn_new_x(cl, xport, WQ_MAX, on_read, on_close, c);
    if (conn_accept(c->conn, server) != 0)
        return; /* the conn closes itself and on_close frees c */
}

static void on_handle_closed(uv_handle_t *h) { (void)h; }

static void on_signal(uv_signal_t *s, int signum)
{
    uv_close((uv_handle_t *)&listener, on_handle_closed);
    uv_close((uv_handle_t *)&sigterm, on_handle_closed);
    uv_close((uv_handle_t *)&sigint, on_handle_closed);
    uv_stop(loop);
}

/* The transport of argv[2] (and its certificate), server role. Returns 0 or -1. */
static int setup_transport(int argc, char **argv, tls_ctx_t **tls)
{
    const char *name = argc > 2 ? argv[2] : "tcp";
    int kind = -1;
    for (int k = 0; k < XPORT_KINDS; k++)
        if (strcmp(name, xport_kind_name(k)) == 0)
            kind = k;
    int needs_cert = kind == XPORT_TLS || kind == XPORT_WSS;
    if (kind < 0 || (argc > 2 && argc != (needs_cert ? 5 : 3))) {
        fprintf(stderr, "echo_server: bad transport arguments (try --help)\n");
        return -1;
    }
    if (kind == XPORT_TCP)
        return 0;
    char err[256];
    if (needs_cert && !(*tls = tls_ctx_server(argv[3], argv[4], err, sizeof err))) {
        fprintf(stderr, "echo_server: %s\n", err);
        return -1;
    }
    xport_opts_t o = {.kind = (xport_kind_t)kind, .tls = *tls, .handshake_ms = 10000,
                      .ws_max_msg = FRAME_DEFAULT_MAX + FRAME_HDR_LEN,
                      .ws_ping_rate = 10, .ws_ping_burst = 20};
    xport = xport_new(&o);
    return xport ? 0 : -1;
}

int main(int argc, char **argv)
{
    const char *listen = argc > 1 ? argv[1] : "127.0.0.1:0";
    if (argc > 5 || strcmp(listen, "-h") == 0 || strcmp(listen, "--help") == 0) {
        fprintf(stderr, "usage: echo_server [HOST:PORT [tcp | ws | tls CERT KEY | wss CERT KEY]]"
                        "   (default 127.0.0.1:0 tcp)\n");
        return argc > 5 ? 1 : 0;
    }
    tls_ctx_t *tls = NULL;
    if (setup_transport(argc, argv, &tls) != 0)
        return 1;
    char host[256];
    int port;
    struct sockaddr_storage ss;
    if (addr_split(listen, host, sizeof host, &port) < 0 || addr_make(host, port, &ss) != 0) {
        fprintf(stderr, "echo_server: bad address '%s'\n", listen);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    loop = uv_default_loop();
    cl = conn_loop_new(loop);
    pb_arena_init(&arena, MSG_BUDGET);
    uv_tcp_init(loop, &listener);
    int rc = uv_tcp_bind(&listener, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&listener, 4096, on_connection);
    if (rc != 0) {
        fprintf(stderr, "echo_server: listen on %s: %s\n", listen, uv_strerror(rc));
        return 1;
    }
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    uv_tcp_getsockname(&listener, (struct sockaddr *)&bound, &blen);
    printf("port=%d\n", addr_port((struct sockaddr *)&bound));
    fflush(stdout);
    uv_signal_init(loop, &sigterm);
    uv_signal_init(loop, &sigint);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_start(&sigint, on_signal, SIGINT);
    uv_run(loop, UV_RUN_DEFAULT);
    /* Clients still connected are simply dropped with the process (and so is the xport they
     * use). */
    pb_arena_free(&arena);
    return 0;
}
