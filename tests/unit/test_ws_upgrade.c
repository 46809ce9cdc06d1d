/* ws_upgrade: the WebSocket opening handshake's HTTP side: the RFC 6455 sample key, every
 * refusal with its status and reason, any split of the bytes, the bytes after the request,
 * the client's request and the server's 101 checked against each other. */
#include "check.h"
#include "ws_upgrade.h"
#include "xport.h"

#define GOOD_KEY "dGhlIHNhbXBsZSBub25jZQ=="

static const char *req(const char *first, const char *extra_headers)
{
    static char buf[2048];
    snprintf(buf, sizeof buf,
             "%s\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n%s\r\n",
             first, extra_headers);
    return buf;
}

/* Feeds s in chunks of `step` bytes; returns the final state and *used of the last feed. */
static int feed(ws_upgrade_t *u, const char *s, size_t step, size_t *used)
{
    size_t n = strlen(s), off = 0;
    int r = WS_UP_MORE;
    while (off < n && r == WS_UP_MORE) {
        size_t k = n - off < step ? n - off : step;
        r = ws_upgrade_feed(u, (const uint8_t *)s + off, k, used);
        off += k;
    }
    return r;
}

/* Parses a request whole and checks it; returns the reason, status in *status. */
static int check_req(const char *s, const char *origins, int *status, char *accept)
{
    ws_upgrade_t *u = ws_upgrade_new(0, 8192);
    size_t used;
    int r = feed(u, s, 1 << 20, &used);
    int reason = r == WS_UP_DONE ? ws_upgrade_check_request(u, origins, accept, status) : -100 + r;
    ws_upgrade_free(u);
    return reason;
}

static void test_rfc_sample(void)
{
    char accept[WS_ACCEPT_LEN + 1];
    ws_accept_key(GOOD_KEY, strlen(GOOD_KEY), accept);
    CHECK_STR(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    int status = 0;
    CHECK_EQ(check_req(req("GET / HTTP/1.1", "Sec-WebSocket-Key: " GOOD_KEY "\r\nSec-WebSocket-Version: 13\r\n"),
                       NULL, &status, accept), 0);
    CHECK_EQ(status, 101);
    CHECK_STR(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_refusals(void)
{
    static const struct {
        const char *first, *headers, *origins;
        int reason, status;
    } CASES[] = {
        {"GET / HTTP/1.1", "Sec-WebSocket-Version: 13\r\n", NULL, XF_WS_KEY, 400},
        {"GET / HTTP/1.1", "Sec-WebSocket-Key: abc\r\nSec-WebSocket-Version: 13\r\n", NULL, XF_WS_KEY, 400},
        {"GET / HTTP/1.1", "Sec-WebSocket-Key: " GOOD_KEY "\r\nSec-WebSocket-Key: " GOOD_KEY
                           "\r\nSec-WebSocket-Version: 13\r\n", NULL, XF_WS_KEY, 400},
        {"GET / HTTP/1.1", "Sec-WebSocket-Key: " GOOD_KEY "\r\nSec-WebSocket-Version: 8\r\n", NULL, XF_WS_VERSION, 426},
        {"GET / HTTP/1.1", "Sec-WebSocket-Key: " GOOD_KEY "\r\n", NULL, XF_WS_VERSION, 426},
        {"POST / HTTP/1.1", "Sec-WebSocket-Key: " GOOD_KEY "\r\nSec-WebSocket-Version: 13\r\n", NULL, XF_HTTP_METHOD, 405},
        {"GET /chat HTTP/1.1", "Sec-WebSocket-Key: " GOOD_KEY "\r\nSec-WebSocket-Version: 13\r\n", NULL, XF_HTTP_PATH, 404},
        {"GET / HTTP/1.0", "Sec-WebSocket-Key: " GOOD_KEY "\r\nSec-WebSocket-Version: 13\r\n", NULL, XF_HTTP_BAD, 400},
        {"GET / HTTP/1.1", "Sec-WebSocket-Key: " GOOD_KEY "\r\nSec-WebSocket-Version: 13\r\nOrigin: https://evil.example\r\n",
         "https://game.example, https://b.example", XF_ORIGIN, 403},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        int status = 0;
        char accept[WS_ACCEPT_LEN + 1];
        int reason = check_req(req(CASES[i].first, CASES[i].headers), CASES[i].origins, &status, accept);
        if (reason != CASES[i].reason || status != CASES[i].status)
            fprintf(stderr, "case %zu: reason %d status %d\n", i, reason, status);
        CHECK_EQ(reason, CASES[i].reason);
        CHECK_EQ(status, CASES[i].status);
    }
    /* an allowed Origin, and none at all (not a browser), pass the allow-list */
    int status;
    char accept[WS_ACCEPT_LEN + 1];
    CHECK_EQ(check_req(req("GET /?v=1 HTTP/1.1", "Sec-WebSocket-Key: " GOOD_KEY "\r\nSec-WebSocket-Version: 13\r\n"
                                                 "Origin: https://b.example\r\n"),
                       "https://game.example,https://b.example", &status, accept), 0);
    CHECK_EQ(check_req(req("GET / HTTP/1.1", "Sec-WebSocket-Key: " GOOD_KEY "\r\nSec-WebSocket-Version: 13\r\n"),
                       "https://game.example", &status, accept), 0);
    /* a plain GET without Upgrade: complete, and refused 400 */
    CHECK_EQ(check_req("GET / HTTP/1.1\r\nHost: x\r\n\r\n", NULL, &status, accept), XF_HTTP_BAD);
    CHECK_EQ(status, 400);
    /* not HTTP at all */
    CHECK_EQ(check_req("\x16\x03\x01\x00\x10garbage\r\n\r\n", NULL, &status, accept), -100 + WS_UP_EBAD);
}

static void test_bounds_and_splits(void)
{
    ws_upgrade_t *u = ws_upgrade_new(0, 512);
    size_t used;
    char big[2048];
    snprintf(big, sizeof big, "GET / HTTP/1.1\r\nX-Pad: %01000d\r\n\r\n", 0);
    CHECK_EQ(feed(u, big, 100, &used), WS_UP_ETOOBIG);
    CHECK_EQ(ws_upgrade_feed(u, (const uint8_t *)"x", 1, &used), WS_UP_ETOOBIG); /* stays failed */
    ws_upgrade_free(u);
    /* a byte at a time, then frames right after the request in the same chunk */
    const char *r = req("GET / HTTP/1.1", "Sec-WebSocket-Key: " GOOD_KEY "\r\nSec-WebSocket-Version: 13\r\n");
    u = ws_upgrade_new(0, 8192);
    CHECK_EQ(feed(u, r, 1, &used), WS_UP_DONE);
    CHECK_EQ(used, 1);
    ws_upgrade_free(u);
    char with_frames[2100];
    snprintf(with_frames, sizeof with_frames, "%s\x82\x80XXXX", r);
    u = ws_upgrade_new(0, 8192);
    CHECK_EQ(ws_upgrade_feed(u, (const uint8_t *)with_frames, strlen(with_frames), &used), WS_UP_DONE);
    CHECK_EQ(used, strlen(r));
    ws_upgrade_free(u);
    /* more than 32 headers */
    char many[4096] = "GET / HTTP/1.1\r\n";
    for (int i = 0; i < 40; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "X-%d: y\r\n", i);
    strcat(many, "\r\n");
    u = ws_upgrade_new(0, 8192);
    CHECK_EQ(feed(u, many, 1 << 20, &used), WS_UP_ETOOBIG);
    ws_upgrade_free(u);
}

static void test_client_round_trip(void)
{
    char request[1024], key[WS_KEY_LEN + 1];
    size_t n = ws_upgrade_request(request, sizeof request, "localhost", key);
    CHECK(n > 0 && strlen(key) == WS_KEY_LEN);
    ws_upgrade_t *srv = ws_upgrade_new(0, 8192);
    size_t used;
    CHECK_EQ(ws_upgrade_feed(srv, (const uint8_t *)request, n, &used), WS_UP_DONE);
    char accept[WS_ACCEPT_LEN + 1];
    int status;
    CHECK_EQ(ws_upgrade_check_request(srv, NULL, accept, &status), 0);
    ws_upgrade_free(srv);
    char reply[640];
    size_t rn = ws_upgrade_reply(reply, sizeof reply, 101, accept);
    ws_upgrade_t *cli = ws_upgrade_new(1, 8192);
    CHECK_EQ(ws_upgrade_feed(cli, (const uint8_t *)reply, rn, &used), WS_UP_DONE);
    CHECK_EQ(ws_upgrade_check_response(cli, key), 0);
    CHECK_EQ(ws_upgrade_check_response(cli, GOOD_KEY), -1); /* another key's accept */
    ws_upgrade_free(cli);
    /* an error reply is not an upgrade; 426 names the version */
    rn = ws_upgrade_reply(reply, sizeof reply, 426, NULL);
    CHECK(strstr(reply, "426 Upgrade Required") && strstr(reply, "Sec-WebSocket-Version: 13"));
    cli = ws_upgrade_new(1, 8192);
    CHECK_EQ(ws_upgrade_feed(cli, (const uint8_t *)reply, rn, &used), WS_UP_DONE);
    CHECK_EQ(ws_upgrade_check_response(cli, key), -1);
    ws_upgrade_free(cli);
}

int main(void)
{
    test_rfc_sample();
    test_refusals();
    test_bounds_and_splits();
    test_client_round_trip();
    printf("test_ws_upgrade: ok\n");
    return 0;
}
