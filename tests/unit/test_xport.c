/* xport: the TLS, WebSocket and WebSocket-over-TLS transports of conn, both roles, over real
 * loopback TCP on a libuv loop: the client role's connect callback comes after its handshake;
 * frames cross both ways unchanged (on WebSocket one commit is one message, including one
 * over 64 KiB: the 64-bit length); an idle conn holds no output buffer; a close after flush
 * reaches the peer; a client that checks the certificate against the wrong name fails its
 * handshake (CONN_CLOSE_HANDSHAKE, no connect callback). */
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

#include "check.h"
#include "conn.h"
#include "conn_internal.h" /* to see wslay's context come and go */
#include "frame.h"
#include "xport.h"

typedef struct side {
    conn_t *c;
    uint8_t rx[1 << 18];
    size_t rx_len;
    int reads;
    int closed, reason;
} side_t;

static uv_loop_t loop;
static conn_loop_t *cl;
static uv_tcp_t listener;
static struct sockaddr_in addr;
static xport_t *srv_x;
static side_t srv, cli;
static int connected, connect_status;

static void on_rx(conn_t *c, const uint8_t *d, size_t n)
{
    side_t *s = conn_data(c);
    CHECK(s->rx_len + n <= sizeof s->rx);
    memcpy(s->rx + s->rx_len, d, n);
    s->rx_len += n;
    s->reads++;
}

static void on_close(conn_t *c, int reason)
{
    side_t *s = conn_data(c);
    s->closed = 1;
    s->reason = reason;
    s->c = NULL;
}

static void on_accept(uv_stream_t *l, int status)
{
    CHECK_EQ(status, 0);
    srv.c = conn_new_x(cl, srv_x, 1 << 20, on_rx, on_close, &srv);
    CHECK_EQ(conn_accept(srv.c, l), 0);
}

static void on_connect(conn_t *c, int status)
{
    (void)c;
    connected = 1;
    connect_status = status;
}

#define RUN_UNTIL(cond)                                                                    \
    do {                                                                                   \
        uint64_t until_ = uv_now(&loop) + 5000;                                            \
        while (!(cond)) {                                                                  \
            CHECK(uv_now(&loop) < until_);                                                 \
            uv_run(&loop, UV_RUN_NOWAIT);                                                  \
            uv_sleep(1);                                                                   \
            uv_update_time(&loop);                                                         \
        }                                                                                  \
    } while (0)

static void put_frame(conn_t *c, uint16_t type, size_t len, uint8_t fill)
{
    uint8_t *p = conn_reserve(c, FRAME_HDR_LEN + len);
    CHECK(p != NULL);
    frame_hdr_write(p, (uint32_t)len, type, 7);
    memset(p + FRAME_HDR_LEN, fill, len);
    conn_commit(c, FRAME_HDR_LEN + len);
}

static void check_frames(const side_t *s, const size_t *lens, int n)
{
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        frame_hdr_t h;
        CHECK(off + FRAME_HDR_LEN <= s->rx_len);
        frame_hdr_read(s->rx + off, &h);
        CHECK_EQ(h.len, lens[i]);
        CHECK_EQ(h.type, 100 + i);
        for (size_t k = 0; k < lens[i]; k++)
            CHECK_EQ(s->rx[off + FRAME_HDR_LEN + k], (uint8_t)('a' + i));
        off += FRAME_HDR_LEN + lens[i];
    }
    CHECK_EQ(off, s->rx_len);
}

static void run_kind(xport_kind_t kind, tls_ctx_t *srv_tls, tls_ctx_t *cli_tls, const char *name)
{
    memset(&srv, 0, sizeof srv);
    memset(&cli, 0, sizeof cli);
    connected = 0;
    xport_opts_t so = {.kind = kind, .tls = srv_tls, .handshake_ms = 3000, .ws_max_msg = 1 << 18,
                       .ws_ping_rate = 10, .ws_ping_burst = 10};
    xport_opts_t co = {.kind = kind, .client = 1, .tls = cli_tls, .server_name = name,
                       .handshake_ms = 3000, .ws_max_msg = 1 << 18};
    srv_x = xport_new(&so);
    xport_t *cli_x = xport_new(&co);
    CHECK(srv_x && cli_x);
    cli.c = conn_new_x(cl, cli_x, 1 << 20, on_rx, on_close, &cli);
    CHECK_EQ(conn_connect(cli.c, (const struct sockaddr *)&addr, on_connect), 0);
    if (strcmp(name, "wrong.example") == 0) { /* the certificate is for localhost */
        RUN_UNTIL(cli.closed);
        CHECK_EQ(cli.reason, CONN_CLOSE_HANDSHAKE);
        CHECK_EQ(connected, 0);
        CHECK_EQ(xport_stats(cli_x)->failures[XF_TLS_OTHER], 1);
        RUN_UNTIL(!srv.c || srv.closed);
        goto done;
    }
    RUN_UNTIL(connected && srv.c && !conn_handshaking(srv.c));
    CHECK_EQ(connect_status, 0);
    CHECK_EQ(conn_transport(cli.c), kind);
    /* client -> server: three frames in one turn, one of them empty */
    static const size_t up[] = {5, 0, 1000};
    for (int i = 0; i < 3; i++)
        put_frame(cli.c, (uint16_t)(100 + i), up[i], (uint8_t)('a' + i));
    RUN_UNTIL(srv.rx_len == 30 + 1005);
    check_frames(&srv, up, 3);
    if (kind == XPORT_WS || kind == XPORT_WSS)
        CHECK_EQ(srv.reads, 3); /* one message, one frame, one read */
    /* server -> client, including a frame past 64 KiB */
    static const size_t down[] = {125, 126, 70000};
    for (int i = 0; i < 3; i++)
        put_frame(srv.c, (uint16_t)(100 + i), down[i], (uint8_t)('a' + i));
    RUN_UNTIL(cli.rx_len == 30 + 125 + 126 + 70000);
    check_frames(&cli, down, 3);
    /* quiet turns, then one small write: no output buffer is kept */
    for (int i = 0; i < 5; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    put_frame(srv.c, 100, 3, 'a');
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK_EQ(conn_out_held(srv.c), 0);
    CHECK_EQ(xport_stats(srv_x)->handshakes, 1);
    RUN_UNTIL(cli.rx_len == 30 + 125 + 126 + 70000 + 13);
    if (kind == XPORT_WS || kind == XPORT_WSS) {
        /* after a quiet second the next read gives wslay's context back; the one after makes
         * a new one and still works */
        CHECK(conn_x(srv.c)->ws != NULL);
        uint64_t t = uv_now(&loop) + 1100;
        RUN_UNTIL(uv_now(&loop) >= t);
        size_t before = srv.rx_len;
        put_frame(cli.c, 100, 5, 'a');
        RUN_UNTIL(srv.rx_len == before + 15);
        CHECK(conn_x(srv.c)->ws == NULL);
        put_frame(cli.c, 101, 6, 'b');
        RUN_UNTIL(srv.rx_len == before + 31);
        CHECK(conn_x(srv.c)->ws != NULL); /* chatty: kept */
    }
    /* a close after flush: the last frame arrives, then the close */
    cli.rx_len = 0;
    put_frame(srv.c, 101, 10, 'b');
    conn_close_after_flush(srv.c, CONN_CLOSE_LOCAL);
    RUN_UNTIL(cli.closed && srv.closed);
    CHECK_EQ(cli.rx_len, 20);
    CHECK_EQ(cli.reason, CONN_CLOSE_EOF);
done:
    if (cli.c)
        conn_close(cli.c, CONN_CLOSE_LOCAL);
    RUN_UNTIL(cli.closed);
    xport_free(srv_x);
    xport_free(cli_x);
    printf("xport %s (%s): ok\n", xport_kind_name(kind), name);
}

int main(void)
{
    char dir[] = "/tmp/test_xport_XXXXXX", cmd[1024], cert[64], key[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s -out %s "
             "-days 1 -subj /CN=localhost -addext subjectAltName=DNS:localhost >/dev/null 2>&1",
             key, cert);
    CHECK_EQ(system(cmd), 0);
    char err[512];
    tls_ctx_t *st = tls_ctx_server(cert, key, err, sizeof err);
    CHECK(st != NULL);
    tls_ctx_t *ct = tls_ctx_client(cert, err, sizeof err); /* verifies: the cert is its own CA */
    CHECK(ct != NULL);
    CHECK(tls_ctx_server(cert, "/nonexistent", err, sizeof err) == NULL);
    CHECK(strstr(err, "private key") != NULL);

    CHECK_EQ(uv_loop_init(&loop), 0);
    cl = conn_loop_new(&loop);
    uv_tcp_init(&loop, &listener);
    uv_ip4_addr("127.0.0.1", 0, &addr);
    CHECK_EQ(uv_tcp_bind(&listener, (const struct sockaddr *)&addr, 0), 0);
    int len = sizeof addr;
    CHECK_EQ(uv_tcp_getsockname(&listener, (struct sockaddr *)&addr, &len), 0);
    CHECK_EQ(uv_listen((uv_stream_t *)&listener, 16, on_accept), 0);

    run_kind(XPORT_TLS, st, ct, "localhost");
    run_kind(XPORT_WS, NULL, NULL, "localhost");
    run_kind(XPORT_WSS, st, ct, "localhost");
    run_kind(XPORT_TLS, st, ct, "wrong.example");

    uv_close((uv_handle_t *)&listener, NULL);
    conn_loop_close(cl);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ(uv_loop_close(&loop), 0);
    tls_ctx_free(st);
    tls_ctx_free(ct);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_EQ(system(cmd), 0);
    printf("xport: ok\n");
    return 0;
}
