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
 *   echo_server [HOST:PORT]     default 127.0.0.1:0 (any free port)
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

static int on_frame(void *ctx, const frame_hdr_t *h, const uint8_t *payload)
{
    client_t *c = ctx;
    if (h->type != PACKET_TYPE__ECHO_REQUEST) {
        (void)pb_send_error(c->conn, h->seq, ERROR_CODE__UNKNOWN_PACKET, h->type,
                            "echo_server answers ECHO_REQUEST only");
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
    c->conn = conn_new(cl, WQ_MAX, on_read, on_close, c);
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

int main(int argc, char **argv)
{
    const char *listen = argc > 1 ? argv[1] : "127.0.0.1:0";
    if (argc > 2 || strcmp(listen, "-h") == 0 || strcmp(listen, "--help") == 0) {
        fprintf(stderr, "usage: echo_server [HOST:PORT]   (default 127.0.0.1:0)\n");
        return argc > 2 ? 1 : 0;
    }
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
    /* Clients still connected are simply dropped with the process. */
    pb_arena_free(&arena);
    return 0;
}
