/* test_resolve: host names resolved in libuv's thread pool (common/resolve.c): "localhost" to a
 * loopback address, a numeric address to itself, a name that does not exist to an error (cb
 * runs once, address NULL), pending set from start until the callback, and a cancelled request
 * still calling back once. */
#include <arpa/inet.h>

#include "check.h"
#include "resolve.h"
#include "util.h"

typedef struct got {
    int calls;
    int status;
    char ip[64];
    int pending_in_cb;
} got_t;

static void on_done(resolve_t *rq, int status, const struct sockaddr *addr)
{
    got_t *g = rq->data;
    g->calls++;
    g->status = status;
    g->pending_in_cb = rq->pending;
    if (status == 0) {
        CHECK(addr != NULL);
        addr_host(addr, g->ip, sizeof g->ip);
    } else {
        CHECK(addr == NULL);
    }
}

static got_t run(const char *host)
{
    uv_loop_t loop;
    CHECK_EQ(uv_loop_init(&loop), 0);
    resolve_t rq;
    got_t g = {0};
    CHECK_EQ(resolve_start(&loop, &rq, host, on_done, &g), 0);
    CHECK_EQ(rq.pending, 1);
    CHECK_EQ(g.calls, 0); /* never from inside resolve_start */
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ(g.calls, 1);
    CHECK_EQ(rq.pending, 0);
    CHECK_EQ(g.pending_in_cb, 0);
    CHECK_EQ(uv_loop_close(&loop), 0);
    return g;
}

int main(void)
{
    got_t g = run("localhost");
    CHECK_EQ(g.status, 0);
    CHECK(strcmp(g.ip, "127.0.0.1") == 0 || strcmp(g.ip, "::1") == 0);
    printf("localhost -> %s\n", g.ip);
    g = run("127.0.0.7");
    CHECK_EQ(g.status, 0);
    CHECK_STR(g.ip, "127.0.0.7");
    g = run("no-such-host.invalid");
    CHECK(g.status < 0);
    printf("no-such-host.invalid -> %s\n", uv_strerror(g.status));
    /* cancelled at once: the callback still runs once (cancelled, or done first) */
    uv_loop_t loop;
    CHECK_EQ(uv_loop_init(&loop), 0);
    resolve_t rq;
    got_t c = {0};
    CHECK_EQ(resolve_start(&loop, &rq, "localhost", on_done, &c), 0);
    resolve_cancel(&rq);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ(c.calls, 1);
    CHECK(c.status == UV_EAI_CANCELED || c.status == 0);
    resolve_cancel(&rq); /* nothing pending: nothing happens */
    CHECK_EQ(uv_loop_close(&loop), 0);
    printf("cancel: one callback (%s)\nresolve: all passed\n", c.status ? uv_strerror(c.status) : "done first");
    return 0;
}
