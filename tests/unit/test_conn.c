/* conn: a real loopback TCP pair on a libuv loop. Checks the output buffer's life (an idle
 * conn holds none between writes, a busy one keeps it), outgoing connects (the connect
 * request exists only while connecting, including a failed connect and a close before the
 * connect completes), the queue bound and the order of bytes across many turns. */
#include <uv.h>

#include "check.h"
#include "conn.h"

typedef struct {
    uv_loop_t loop;
    conn_loop_t *cl;
    uv_tcp_t listener;
    struct sockaddr_in addr;
    conn_t *server; /* accepted side */
    conn_t *client; /* connecting side */
    int connect_status;
    int connected;
    int closes;
    int last_reason;
    int server_reason; /* close reason of the accepted side, -1 while open */
    int client_reason; /* close reason of the connecting side, -1 while open */
    uint8_t rx[1 << 16];
    size_t rx_len;
} fx_t;

static fx_t fx;

static void on_rx(conn_t *c, const uint8_t *d, size_t n)
{
    (void)c;
    CHECK(fx.rx_len + n <= sizeof fx.rx);
    memcpy(fx.rx + fx.rx_len, d, n);
    fx.rx_len += n;
}

static void on_close(conn_t *c, int reason)
{
    fx.closes++;
    fx.last_reason = reason;
    if (c == fx.server) { /* the conn is freed after this: drop the fixture's pointer */
        fx.server_reason = reason;
        fx.server = NULL;
    }
    if (c == fx.client) {
        fx.client_reason = reason;
        fx.client = NULL;
    }
}

static void on_accept(uv_stream_t *l, int status)
{
    CHECK_EQ(status, 0);
    conn_t *c = conn_new(fx.cl, 1 << 20, on_rx, on_close, NULL);
    CHECK_EQ(conn_accept(c, l), 0);
    fx.server = c;
}

static void on_connect(conn_t *c, int status)
{
    (void)c;
    fx.connect_status = status;
    fx.connected = 1;
}

/* Runs loop turns until cond holds (at most ~2 s). */
#define RUN_UNTIL(cond)                                                                    \
    do {                                                                                   \
        uint64_t until_ = uv_now(&fx.loop) + 2000;                                         \
        while (!(cond)) {                                                                  \
            CHECK(uv_now(&fx.loop) < until_);                                              \
            uv_run(&fx.loop, UV_RUN_NOWAIT);                                               \
            uv_sleep(1);                                                                   \
            uv_update_time(&fx.loop);                                                      \
        }                                                                                  \
    } while (0)

static void setup(void)
{
    memset(&fx, 0, sizeof fx);
    fx.server_reason = -1;
    fx.client_reason = -1;
    CHECK_EQ(uv_loop_init(&fx.loop), 0);
    fx.cl = conn_loop_new(&fx.loop);
    uv_tcp_init(&fx.loop, &fx.listener);
    uv_ip4_addr("127.0.0.1", 0, &fx.addr);
    CHECK_EQ(uv_tcp_bind(&fx.listener, (const struct sockaddr *)&fx.addr, 0), 0);
    int len = sizeof fx.addr;
    CHECK_EQ(uv_tcp_getsockname(&fx.listener, (struct sockaddr *)&fx.addr, &len), 0);
    CHECK_EQ(uv_listen((uv_stream_t *)&fx.listener, 16, on_accept), 0);
}

static void connect_pair(void)
{
    fx.client = conn_new(fx.cl, 1 << 20, on_rx, on_close, NULL);
    CHECK_EQ(conn_connect(fx.client, (const struct sockaddr *)&fx.addr, on_connect), 0);
    RUN_UNTIL(fx.connected && fx.server);
    CHECK_EQ(fx.connect_status, 0);
}

static void teardown(void)
{
    if (fx.client)
        conn_close(fx.client, CONN_CLOSE_LOCAL);
    if (fx.server)
        conn_close(fx.server, CONN_CLOSE_LOCAL);
    uv_close((uv_handle_t *)&fx.listener, NULL);
    uv_run(&fx.loop, UV_RUN_NOWAIT);
    conn_loop_close(fx.cl);
    uv_run(&fx.loop, UV_RUN_DEFAULT);
    CHECK_EQ(uv_loop_close(&fx.loop), 0);
}

/* One loop turn in which `c` writes n bytes (its prepare/check phase flushes them). */
static void write_one_turn(conn_t *c, uint8_t fill, size_t n)
{
    uint8_t b[256];
    CHECK(n <= sizeof b);
    memset(b, fill, n);
    CHECK_EQ(conn_write(c, b, n), 0);
    uv_run(&fx.loop, UV_RUN_NOWAIT);
}

static void test_idle_conn_holds_no_buffer(void)
{
    setup();
    connect_pair();
    CHECK_EQ(conn_out_held(fx.server), 0);
    /* A PONG-sized write after a quiet period: sent, and the buffer given back. */
    write_one_turn(fx.server, 'a', 20);
    CHECK_EQ(conn_queued(fx.server), 0);
    CHECK_EQ(conn_out_held(fx.server), 0);
    RUN_UNTIL(fx.rx_len == 20);
    /* Quiet turns, then another single write: still nothing held afterwards. */
    for (int i = 0; i < 5; i++)
        uv_run(&fx.loop, UV_RUN_NOWAIT);
    write_one_turn(fx.server, 'b', 20);
    CHECK_EQ(conn_out_held(fx.server), 0);
    RUN_UNTIL(fx.rx_len == 40);
    teardown();
}

static void test_busy_conn_keeps_buffer(void)
{
    setup();
    connect_pair();
    /* Writes in consecutive turns: from the second one on, the buffer is kept for the next. */
    size_t sent = 0;
    for (int i = 0; i < 8; i++) {
        write_one_turn(fx.server, (uint8_t)('0' + i), 100);
        sent += 100;
        CHECK_EQ(conn_queued(fx.server), 0);
        if (i > 0)
            CHECK(conn_out_held(fx.server) >= 100);
    }
    RUN_UNTIL(fx.rx_len == sent);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 100; j++)
            CHECK_EQ(fx.rx[i * 100 + j], '0' + i); /* order and content across turns */
    /* After a quiet stretch the next flush gives the buffer back. */
    for (int i = 0; i < 5; i++)
        uv_run(&fx.loop, UV_RUN_NOWAIT);
    write_one_turn(fx.server, 'z', 10);
    CHECK_EQ(conn_out_held(fx.server), 0);
    RUN_UNTIL(fx.rx_len == sent + 10);
    teardown();
}

static void test_connect_refused_and_closed_while_connecting(void)
{
    setup();
    /* A port nobody listens on: the callback gets the error (and the request is freed: the
     * sanitizer build checks that nothing leaks). */
    struct sockaddr_in dead = fx.addr;
    uv_tcp_t probe;
    uv_tcp_init(&fx.loop, &probe);
    struct sockaddr_in any;
    uv_ip4_addr("127.0.0.1", 0, &any);
    CHECK_EQ(uv_tcp_bind(&probe, (const struct sockaddr *)&any, 0), 0);
    int len = sizeof dead;
    CHECK_EQ(uv_tcp_getsockname(&probe, (struct sockaddr *)&dead, &len), 0);
    uv_close((uv_handle_t *)&probe, NULL); /* bound, never listened: refused */
    uv_run(&fx.loop, UV_RUN_NOWAIT);
    conn_t *c = conn_new(fx.cl, 1024, on_rx, on_close, NULL);
    CHECK_EQ(conn_connect(c, (const struct sockaddr *)&dead, on_connect), 0);
    RUN_UNTIL(fx.connected);
    CHECK(fx.connect_status < 0);
    conn_close(c, CONN_CLOSE_IO);
    RUN_UNTIL(fx.closes == 1);
    CHECK_EQ(fx.last_reason, CONN_CLOSE_IO);

    /* Closed before the connect completes: no connect callback, one close callback. */
    fx.connected = 0;
    c = conn_new(fx.cl, 1024, on_rx, on_close, NULL);
    CHECK_EQ(conn_connect(c, (const struct sockaddr *)&fx.addr, on_connect), 0);
    conn_close(c, CONN_CLOSE_LOCAL);
    RUN_UNTIL(fx.closes >= 2);
    CHECK_EQ(fx.connected, 0);
    /* (the listener may have accepted it meanwhile; that side closes on EOF or in teardown) */
    teardown();
}

static void test_queue_bound(void)
{
    setup();
    connect_pair();
    conn_t *small = fx.server;
    /* A conn bounded at 1 MiB refuses a reservation past its bound and closes. */
    CHECK(conn_reserve(small, 1 << 20) != NULL);
    conn_commit(small, 0);
    CHECK(conn_reserve(small, (1 << 20) + 1) == NULL);
    CHECK(conn_is_closing(small));
    RUN_UNTIL(fx.server_reason >= 0);
    CHECK_EQ(fx.server_reason, CONN_CLOSE_OVERFLOW);
    RUN_UNTIL(fx.client == NULL);
    CHECK_EQ(fx.client_reason, CONN_CLOSE_EOF); /* the peer sees the close */
    teardown();
}

int main(void)
{
    test_idle_conn_holds_no_buffer();
    test_busy_conn_keeps_buffer();
    test_connect_refused_and_closed_while_connecting();
    test_queue_bound();
    printf("conn: ok\n");
    return 0;
}
