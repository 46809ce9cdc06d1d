/* test_bad_input: hostile and broken clients against a real gatewayd (+ one gamed).
 *
 * Every scenario uses its own raw TCP connection(s) while a "bystander" client (csync) stays
 * connected throughout: after each scenario the bystander must still get a correct ECHO from
 * the game daemon and gatewayd must still be alive. The bystander pings every 200 ms from
 * every wait loop, since the gateway runs with a short idle timeout. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "client_sync.h"
#include "cluster.pb-c.h"
#include "frame.h"
#include "harness.h"

#define IDLE_MS 800
#define MAX_FRAME 65536
#define WQ_MAX 262144
#define RATE_LIMIT 50
#define RATE_BURST 50
#define RATE_KICK 20
/* bounds of an idle close, measured from the client's last byte */
#define IDLE_MIN_MS (IDLE_MS * 8 / 10)
#define IDLE_MAX_MS (IDLE_MS + 1500)

static proc_t *gw, *game;
static int gw_port;
static uint32_t game_id;
static csync_t *by; /* the bystander */
static uint64_t by_last_ms;
static int by_pings;

/* ---- small utilities ---- */

static uint64_t rng_state;
static uint64_t rng(void)
{
    /* xorshift64*: deterministic per seed */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}
static void rng_seed(uint64_t s) { rng_state = s ? s * 0x9E3779B97F4A7C15ull : 1; }
static void rng_fill(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(rng() >> 56);
}

static const char *err_name(int code)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&error_code__descriptor, code);
    return v ? v->name : "?";
}

/* ---- the bystander ---- */

static void by_ping(void)
{
    PingRequest req = PING_REQUEST__INIT;
    req.client_time = 0xB0B0000000000000ull + (uint64_t)++by_pings;
    uint16_t rt = 0;
    uint8_t *p = NULL;
    size_t n = 0;
    int rc = csync_request(by, PACKET_TYPE__PING_REQUEST, &req.base, &rt, &p, &n, 3000);
    if (rc != 0)
        fprintf(stderr, "bystander ping failed: %s\n", client_strerror(rc));
    CHECK_EQ(rc, 0);
    CHECK_EQ(rt, PACKET_TYPE__PING_RESPONSE);
    PingResponse *r = ping_response__unpack(NULL, n, p);
    CHECK(r != NULL);
    CHECK(r->client_time == req.client_time);
    ping_response__free_unpacked(r, NULL);
    xfree(p);
    by_last_ms = h_now_ms();
}

/* Called from every wait loop: keeps the bystander inside the idle timeout. */
static void keepalive(void)
{
    if (by && h_now_ms() - by_last_ms >= 200)
        by_ping();
}

static void sleep_keepalive(int ms)
{
    if (ms <= 0)
        return;
    uint64_t end = h_now_ms() + (uint64_t)ms;
    while (h_now_ms() < end) {
        keepalive();
        uint64_t left = end - h_now_ms();
        h_sleep_ms(left > 50 ? 50 : (int)(left ? left : 1));
    }
}

/* One ECHO GAME with a fresh random payload; returns the round trip in ms. */
static int by_echo(void)
{
    uint8_t data[333];
    rng_fill(data, sizeof data);
    EchoRequest req = ECHO_REQUEST__INIT;
    req.target = ECHO_TARGET__GAME;
    req.payload.data = data;
    req.payload.len = sizeof data;
    uint16_t rt = 0;
    uint8_t *p = NULL;
    size_t n = 0;
    uint64_t t0 = h_now_ms();
    int rc = csync_request(by, PACKET_TYPE__ECHO_REQUEST, &req.base, &rt, &p, &n, 3000);
    int ms = (int)(h_now_ms() - t0);
    if (rc != 0)
        fprintf(stderr, "bystander echo failed: %s\n", client_strerror(rc));
    CHECK_EQ(rc, 0);
    if (rt != PACKET_TYPE__ECHO_RESPONSE && rt == PACKET_TYPE__ERROR_RESPONSE) {
        ErrorResponse *e = error_response__unpack(NULL, n, p);
        fprintf(stderr, "bystander echo got error %s\n", e ? err_name(e->code) : "(undecodable)");
        if (e)
            error_response__free_unpacked(e, NULL);
    }
    CHECK_EQ(rt, PACKET_TYPE__ECHO_RESPONSE);
    EchoResponse *r = echo_response__unpack(NULL, n, p);
    CHECK(r != NULL);
    CHECK_EQ(r->served_by, ECHO_TARGET__GAME);
    CHECK_EQ(r->server_id, game_id);
    CHECK_EQ(r->payload.len, sizeof data);
    CHECK(memcmp(r->payload.data, data, sizeof data) == 0);
    echo_response__free_unpacked(r, NULL);
    xfree(p);
    by_last_ms = h_now_ms();
    return ms;
}

/* After each scenario: the bystander is still served and the daemons are alive. */
static void bystander_check(char *out, size_t cap)
{
    CHECK(h_alive(gw));
    CHECK(h_alive(game));
    CHECK(csync_is_connected(by));
    int ms = by_echo();
    snprintf(out, cap, "bystander echo ok in %d ms, gatewayd alive", ms);
}

/* ---- raw client sockets ---- */

static int raw_connect(int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    if (rcvbuf > 0)
        CHECK(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) == 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)gw_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Writes one frame (header + payload) into out; returns its size. */
static size_t frame_build(uint8_t *out, uint32_t len_field, uint16_t type, uint32_t seq,
                          const uint8_t *payload, size_t n)
{
    frame_hdr_write(out, len_field, type, seq);
    if (n)
        memcpy(out + FRAME_HDR_LEN, payload, n);
    return FRAME_HDR_LEN + n;
}

static size_t frame_msg(uint8_t *out, uint16_t type, uint32_t seq, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_pack(m, out + FRAME_HDR_LEN);
    frame_hdr_write(out, (uint32_t)n, type, seq);
    return FRAME_HDR_LEN + n;
}

/* Sends all n bytes. 0, -1 (error: errno set), -2 (timeout). */
static int send_all(int fd, const void *buf, size_t n, int timeout_ms)
{
    const uint8_t *p = buf;
    uint64_t deadline = h_now_ms() + (uint64_t)timeout_ms;
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        if (h_now_ms() >= deadline)
            return -2;
        struct pollfd pf = {.fd = fd, .events = POLLOUT};
        (void)poll(&pf, 1, 20);
        keepalive();
    }
    return 0;
}

/* Polls fd for up to 50 ms (less when deadline is nearer): 1 when it may be read, 0 when
 * nothing came (the bystander got its keepalive meanwhile), -1 when deadline has passed. */
static int wait_readable(int fd, uint64_t deadline)
{
    uint64_t now = h_now_ms();
    if (now >= deadline)
        return -1;
    uint64_t left = deadline - now;
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    if (poll(&pf, 1, left > 50 ? 50 : (int)left) == 0) {
        keepalive();
        return 0;
    }
    return 1;
}

/* Reads exactly n bytes before deadline. 1 ok, 0 EOF, -1 error (errno), -2 timeout. */
static int read_exact(int fd, uint8_t *buf, size_t n, uint64_t deadline)
{
    size_t have = 0;
    while (have < n) {
        int w = wait_readable(fd, deadline);
        if (w < 0)
            return -2;
        if (w == 0)
            continue;
        ssize_t r = recv(fd, buf + have, n - have, MSG_DONTWAIT);
        if (r == 0)
            return 0;
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            return -1;
        }
        have += (size_t)r;
    }
    return 1;
}

/* Reads one frame; *payload is malloc'ed (caller frees). 1 ok, 0 EOF, -1 error, -2 timeout. */
static int read_frame(int fd, frame_hdr_t *h, uint8_t **payload, int timeout_ms)
{
    uint64_t deadline = h_now_ms() + (uint64_t)timeout_ms;
    uint8_t hdr[FRAME_HDR_LEN];
    *payload = NULL;
    int rc = read_exact(fd, hdr, sizeof hdr, deadline);
    if (rc != 1)
        return rc;
    frame_hdr_read(hdr, h);
    CHECK(h->len <= 16u * 1024u * 1024u);
    *payload = malloc(h->len ? h->len : 1);
    rc = read_exact(fd, *payload, h->len, deadline);
    if (rc != 1) {
        free(*payload);
        *payload = NULL;
    }
    return rc;
}

/* Waits for EOF or reset, discarding data. Returns ms waited, or -1 on timeout. */
static int wait_closed(int fd, int timeout_ms, size_t *discarded)
{
    uint64_t t0 = h_now_ms(), deadline = t0 + (uint64_t)timeout_ms;
    uint8_t buf[65536];
    for (;;) {
        int w = wait_readable(fd, deadline);
        if (w < 0)
            return -1;
        if (w == 0)
            continue;
        ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
            return (int)(h_now_ms() - t0);
        if (r > 0 && discarded)
            *discarded += (size_t)r;
    }
}

static void expect_error(const frame_hdr_t *h, const uint8_t *p, ErrorCode code, uint32_t seq,
                         uint32_t req_type)
{
    if (h->type != PACKET_TYPE__ERROR_RESPONSE)
        fprintf(stderr, "expected ERROR_RESPONSE %s for seq %u, got type %u seq %u\n",
                err_name(code), seq, h->type, h->seq);
    CHECK_EQ(h->type, PACKET_TYPE__ERROR_RESPONSE);
    CHECK_EQ(h->seq, seq);
    ErrorResponse *e = error_response__unpack(NULL, h->len, p);
    CHECK(e != NULL);
    if ((int)e->code != (int)code)
        fprintf(stderr, "expected %s, got %s (%s)\n", err_name(code), err_name(e->code),
                e->message ? e->message : "");
    CHECK_EQ(e->code, code);
    CHECK_EQ(e->request_type, req_type);
    error_response__free_unpacked(e, NULL);
}

/* Sends an ECHO GAME on a raw connection and checks the response (seq, payload). */
static void raw_echo_ok(int fd, uint32_t seq)
{
    uint8_t data[100], frame[256];
    rng_fill(data, sizeof data);
    EchoRequest req = ECHO_REQUEST__INIT;
    req.target = ECHO_TARGET__GAME;
    req.payload.data = data;
    req.payload.len = sizeof data;
    size_t n = frame_msg(frame, PACKET_TYPE__ECHO_REQUEST, seq, &req.base);
    CHECK_EQ(send_all(fd, frame, n, 2000), 0);
    frame_hdr_t h;
    uint8_t *p;
    CHECK_EQ(read_frame(fd, &h, &p, 3000), 1);
    CHECK_EQ(h.type, PACKET_TYPE__ECHO_RESPONSE);
    CHECK_EQ(h.seq, seq);
    EchoResponse *r = echo_response__unpack(NULL, h.len, p);
    CHECK(r != NULL);
    CHECK_EQ(r->payload.len, sizeof data);
    CHECK(memcmp(r->payload.data, data, sizeof data) == 0);
    echo_response__free_unpacked(r, NULL);
    free(p);
}

/* ---- scenarios ---- */

static void s_frame_too_large(void)
{
    /* boundary: exactly MAX_FRAME bytes is a frame (type 999: UNKNOWN_PACKET, stays open) */
    {
        int fd = raw_connect(0);
        size_t n = FRAME_HDR_LEN + MAX_FRAME;
        uint8_t *buf = calloc(1, n);
        frame_build(buf, MAX_FRAME, 999, 500, NULL, 0);
        CHECK_EQ(send_all(fd, buf, n, 3000), 0);
        free(buf);
        frame_hdr_t h;
        uint8_t *p;
        CHECK_EQ(read_frame(fd, &h, &p, 3000), 1);
        expect_error(&h, p, ERROR_CODE__UNKNOWN_PACKET, 500, 999);
        free(p);
        raw_echo_ok(fd, 501);
        close(fd);
    }
    const uint32_t lens[] = {MAX_FRAME + 1, 0xFFFFFFFFu};
    int err_ms[2], close_ms[2];
    for (int i = 0; i < 2; i++) {
        int fd = raw_connect(0);
        uint8_t buf[FRAME_HDR_LEN + 100];
        uint8_t junk[100];
        rng_fill(junk, sizeof junk);
        uint32_t seq = 77000 + (uint32_t)i;
        size_t n = frame_build(buf, lens[i], PACKET_TYPE__ECHO_REQUEST, seq, junk, sizeof junk);
        uint64_t t0 = h_now_ms();
        CHECK_EQ(send_all(fd, buf, n, 2000), 0);
        frame_hdr_t h;
        uint8_t *p;
        int rc = read_frame(fd, &h, &p, 3000);
        CHECK_EQ(rc, 1);
        err_ms[i] = (int)(h_now_ms() - t0);
        expect_error(&h, p, ERROR_CODE__FRAME_TOO_LARGE, seq, PACKET_TYPE__ECHO_REQUEST);
        free(p);
        size_t extra = 0;
        int c = wait_closed(fd, 2000, &extra);
        CHECK(c >= 0);
        CHECK_EQ(extra, 0); /* nothing after the error */
        close_ms[i] = (int)(h_now_ms() - t0);
        close(fd);
    }
    /* a valid PING and an oversized header in one write: PING answered, then the error */
    {
        int fd = raw_connect(0);
        uint8_t buf[128];
        PingRequest req = PING_REQUEST__INIT;
        req.client_time = 4242;
        size_t n = frame_msg(buf, PACKET_TYPE__PING_REQUEST, 801, &req.base);
        n += frame_build(buf + n, MAX_FRAME + 1000, 999, 802, NULL, 0);
        CHECK_EQ(send_all(fd, buf, n, 2000), 0);
        frame_hdr_t h;
        uint8_t *p;
        CHECK_EQ(read_frame(fd, &h, &p, 2000), 1);
        CHECK_EQ(h.type, PACKET_TYPE__PING_RESPONSE);
        CHECK_EQ(h.seq, 801);
        free(p);
        CHECK_EQ(read_frame(fd, &h, &p, 2000), 1);
        expect_error(&h, p, ERROR_CODE__FRAME_TOO_LARGE, 802, 999);
        free(p);
        CHECK(wait_closed(fd, 2000, NULL) >= 0);
        close(fd);
    }
    char bs[128];
    bystander_check(bs, sizeof bs);
    printf("ok frame_too_large: len=%u accepted (UNKNOWN_PACKET, conn stays open); len=%u and "
           "len=%u got FRAME_TOO_LARGE with their seq in %d/%d ms, closed at %d/%d ms; a PING "
           "before an oversized header in the same write is answered first; %s\n",
           MAX_FRAME, lens[0], lens[1], err_ms[0], err_ms[1], close_ms[0], close_ms[1], bs);
}

static void s_unknown_type(void)
{
    int fd = raw_connect(0);
    const uint16_t types[] = {999, 0, PACKET_TYPE__PING_RESPONSE, PACKET_TYPE__ERROR_RESPONSE, 65535};
    uint64_t t0 = h_now_ms();
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        uint8_t buf[64];
        uint32_t seq = 4200 + (uint32_t)i;
        size_t n = frame_build(buf, 3, types[i], seq, (const uint8_t *)"abc", 3);
        CHECK_EQ(send_all(fd, buf, n, 2000), 0);
        frame_hdr_t h;
        uint8_t *p;
        CHECK_EQ(read_frame(fd, &h, &p, 2000), 1);
        expect_error(&h, p, ERROR_CODE__UNKNOWN_PACKET, seq, types[i]);
        free(p);
    }
    int ms = (int)(h_now_ms() - t0);
    raw_echo_ok(fd, 4300); /* still open and served */
    close(fd);
    char bs[128];
    bystander_check(bs, sizeof bs);
    printf("ok unknown_packet: types 999,0,3,1,65535 each got UNKNOWN_PACKET with their seq "
           "(%d ms for all 5), the connection stayed open (ECHO seq 4300 answered); %s\n", ms, bs);
}

static void s_bad_protobuf(void)
{
    int fd = raw_connect(0);
    /* Each starts with a valid target=GAME field, so a lenient parser would forward it. */
    static const struct {
        const char *what;
        uint8_t b[16];
        size_t n;
    } bad[] = {
        {"truncated bytes field", {0x08, 0x02, 0x12, 0x7F, 0x01}, 5},
        {"missing length", {0x08, 0x02, 0x12}, 3},
        {"overlong varint", {0x08, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, 13},
        {"truncated varint", {0x08, 0x82}, 2},
        {"length past end", {0x08, 0x02, 0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x00}, 9},
    };
    int nbad = (int)(sizeof bad / sizeof bad[0]);
    for (int i = 0; i < nbad; i++) {
        uint8_t buf[64];
        uint32_t seq = 5100 + (uint32_t)i;
        size_t n = frame_build(buf, (uint32_t)bad[i].n, PACKET_TYPE__ECHO_REQUEST, seq, bad[i].b, bad[i].n);
        CHECK_EQ(send_all(fd, buf, n, 2000), 0);
        frame_hdr_t h;
        uint8_t *p;
        CHECK_EQ(read_frame(fd, &h, &p, 2000), 1);
        if (h.type != PACKET_TYPE__ERROR_RESPONSE)
            fprintf(stderr, "payload '%s' was not refused\n", bad[i].what);
        expect_error(&h, p, ERROR_CODE__BAD_REQUEST, seq, PACKET_TYPE__ECHO_REQUEST);
        free(p);
    }
    /* well-formed EchoRequests with a target that is not LOBBY or GAME */
    const int targets[] = {ECHO_TARGET__ECHO_TARGET_NONE, 7};
    for (int i = 0; i < 2; i++) {
        uint8_t buf[128];
        EchoRequest req = ECHO_REQUEST__INIT;
        req.target = (EchoTarget)targets[i];
        req.payload.data = (uint8_t *)"hello";
        req.payload.len = 5;
        uint32_t seq = 5200 + (uint32_t)i;
        size_t n = frame_msg(buf, PACKET_TYPE__ECHO_REQUEST, seq, &req.base);
        CHECK_EQ(send_all(fd, buf, n, 2000), 0);
        frame_hdr_t h;
        uint8_t *p;
        CHECK_EQ(read_frame(fd, &h, &p, 2000), 1);
        expect_error(&h, p, ERROR_CODE__BAD_REQUEST, seq, PACKET_TYPE__ECHO_REQUEST);
        free(p);
    }
    raw_echo_ok(fd, 5300);
    close(fd);
    char bs[128];
    bystander_check(bs, sizeof bs);
    printf("ok bad_request: %d malformed ECHO payloads and EchoRequest targets NONE and 7 each got "
           "BAD_REQUEST with their seq, the connection stayed open (ECHO answered); %s\n",
           nbad, bs);
}

static void s_random_bytes(void)
{
    char detail[512] = "";
    size_t dl = 0;
    for (int seed = 1; seed <= 6; seed++) {
        rng_seed((uint64_t)seed * 7919u);
        uint8_t buf[4096];
        size_t n = 0;
        int framed = seed > 3;
        if (!framed) {
            /* pure noise */
            n = 2048 + (size_t)(rng() % 2048);
            rng_fill(buf, n);
        } else {
            /* frames with plausible headers and noise payloads (some ECHO/PING), then a
             * partial header: exercises the decoders, the rate limiter and the idle path */
            while (n + FRAME_HDR_LEN + 64 < sizeof buf - 16) {
                uint32_t len = (uint32_t)(rng() % 64);
                uint16_t type = (uint16_t)(rng() % 8);
                frame_hdr_write(buf + n, len, type, (uint32_t)rng());
                rng_fill(buf + n + FRAME_HDR_LEN, len);
                n += FRAME_HDR_LEN + len;
            }
            rng_fill(buf + n, 7);
            n += 7;
        }
        int fd = raw_connect(0);
        uint64_t t0 = h_now_ms();
        int src = send_all(fd, buf, n, 2000);
        CHECK(src == 0 || src == -1); /* a reset while sending is acceptable */
        /* read what comes back (well-formed frames) until closed */
        int frames = 0, errors = 0, last_err = -1, closed_ms = -1;
        while (h_now_ms() - t0 < (uint64_t)IDLE_MAX_MS + 500) {
            frame_hdr_t h;
            uint8_t *p;
            int rc = read_frame(fd, &h, &p, (int)(IDLE_MAX_MS + 500 - (h_now_ms() - t0)));
            if (rc == 0 || rc == -1) {
                closed_ms = (int)(h_now_ms() - t0);
                break;
            }
            if (rc == -2)
                break;
            frames++;
            if (h.type == PACKET_TYPE__ERROR_RESPONSE) {
                ErrorResponse *e = error_response__unpack(NULL, h.len, p);
                CHECK(e != NULL); /* the gateway's frames are always well-formed */
                errors++;
                last_err = e->code;
                error_response__free_unpacked(e, NULL);
            }
            free(p);
        }
        if (closed_ms < 0)
            fprintf(stderr, "seed %d: connection not closed within %d ms\n", seed, IDLE_MAX_MS + 500);
        CHECK(closed_ms >= 0);
        CHECK(closed_ms <= IDLE_MAX_MS);
        close(fd);
        CHECK(h_alive(gw));
        dl += (size_t)snprintf(detail + dl, sizeof detail - dl, "%sseed%d(%s,%zuB):%dfr/%derr,last=%s,closed@%dms",
                               seed > 1 ? " " : "", seed, framed ? "framed" : "noise", n, frames,
                               errors, last_err >= 0 ? err_name(last_err) : "-", closed_ms);
    }
    char bs[128];
    bystander_check(bs, sizeof bs);
    printf("ok random_bytes: 6 seeded connections, no crash, each closed within %d ms: %s; %s\n",
           IDLE_MAX_MS, detail, bs);
}

static void s_half_frame(void)
{
    int ms[2];
    for (int i = 0; i < 2; i++) {
        int fd = raw_connect(0);
        uint8_t buf[FRAME_HDR_LEN + 10];
        size_t n;
        if (i == 0) {
            frame_build(buf, 4, PACKET_TYPE__PING_REQUEST, 1, NULL, 0);
            n = 5; /* 5 of the 10 header bytes */
        } else {
            uint8_t ten[10] = {0x08, 0x02, 0x12, 0x5E, 1, 2, 3, 4, 5, 6};
            n = frame_build(buf, 100, PACKET_TYPE__ECHO_REQUEST, 2, ten, sizeof ten);
        }
        CHECK_EQ(send_all(fd, buf, n, 2000), 0);
        uint64_t t0 = h_now_ms();
        size_t got = 0;
        ms[i] = wait_closed(fd, IDLE_MAX_MS + 2000, &got);
        close(fd);
        if (ms[i] < IDLE_MIN_MS || ms[i] > IDLE_MAX_MS)
            fprintf(stderr, "half frame %d: closed after %d ms (t0 %llu), expected [%d, %d]\n", i,
                    ms[i], (unsigned long long)t0, IDLE_MIN_MS, IDLE_MAX_MS);
        CHECK(ms[i] >= IDLE_MIN_MS);
        CHECK(ms[i] <= IDLE_MAX_MS);
        CHECK_EQ(got, 0); /* no response to a frame that never completed */
    }
    char bs[128];
    bystander_check(bs, sizeof bs);
    printf("ok half_frame: 5 header bytes -> closed after %d ms; header for 100 B + 10 B -> closed "
           "after %d ms (IDLE_TIMEOUT_MS=%d, bounds [%d, %d]); %s\n",
           ms[0], ms[1], IDLE_MS, IDLE_MIN_MS, IDLE_MAX_MS, bs);
}

/* A header announcing a full-size frame, then one byte every IDLE/4: bytes that never make a
 * frame are not activity, so the idle timeout still closes it (no slowloris). */
static void s_trickle(void)
{
    int fd = raw_connect(0);
    uint8_t hdr[FRAME_HDR_LEN];
    frame_hdr_write(hdr, 65536, PACKET_TYPE__ECHO_REQUEST, 3);
    CHECK_EQ(send_all(fd, hdr, sizeof hdr, 2000), 0);
    uint64_t t0 = h_now_ms();
    int closed_ms = -1, sent = 0;
    while (h_now_ms() - t0 < (uint64_t)IDLE_MAX_MS + 2000) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, IDLE_MS / 4) > 0) {
            uint8_t b[256];
            ssize_t r = recv(fd, b, sizeof b, MSG_DONTWAIT);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                closed_ms = (int)(h_now_ms() - t0);
                break;
            }
            CHECK(r <= 0); /* nothing is answered to a frame that never completed */
        }
        uint8_t one = 0x42;
        if (send(fd, &one, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1)
            sent++;
        keepalive();
    }
    close(fd);
    if (closed_ms < IDLE_MIN_MS || closed_ms > IDLE_MAX_MS)
        fprintf(stderr, "trickle: closed after %d ms, expected [%d, %d]\n", closed_ms, IDLE_MIN_MS,
                IDLE_MAX_MS);
    CHECK(closed_ms >= IDLE_MIN_MS && closed_ms <= IDLE_MAX_MS);
    char bs[128];
    bystander_check(bs, sizeof bs);
    printf("ok trickle: header for 64 KiB then %d single bytes every %d ms -> closed after %d ms; %s\n",
           sent, IDLE_MS / 4, closed_ms, bs);
}

static void s_idle(void)
{
    /* never sends */
    int fd = raw_connect(0);
    size_t got = 0;
    int silent_ms = wait_closed(fd, IDLE_MAX_MS + 2000, &got);
    close(fd);
    if (silent_ms < IDLE_MIN_MS || silent_ms > IDLE_MAX_MS)
        fprintf(stderr, "silent client closed after %d ms\n", silent_ms);
    CHECK(silent_ms >= IDLE_MIN_MS && silent_ms <= IDLE_MAX_MS);
    CHECK_EQ(got, 0);

    /* PING every IDLE/3 for 2*IDLE keeps it open; then silence closes it */
    fd = raw_connect(0);
    uint64_t t0 = h_now_ms();
    int pings = 0;
    uint64_t last_tx = t0;
    /* the last PING goes out at >= 2*IDLE and must still be answered */
    while (pings == 0 || last_tx - t0 < 2 * IDLE_MS) {
        PingRequest req = PING_REQUEST__INIT;
        req.client_time = 0x1122334455667700ull + (uint64_t)pings;
        uint8_t buf[64];
        uint32_t seq = 600 + (uint32_t)pings;
        size_t n = frame_msg(buf, PACKET_TYPE__PING_REQUEST, seq, &req.base);
        int src = send_all(fd, buf, n, 1000);
        if (src != 0)
            fprintf(stderr, "ping %d after %llu ms: send failed (closed?)\n", pings,
                    (unsigned long long)(h_now_ms() - t0));
        CHECK_EQ(src, 0);
        last_tx = h_now_ms();
        frame_hdr_t h;
        uint8_t *p;
        int rc = read_frame(fd, &h, &p, 1000);
        if (rc != 1)
            fprintf(stderr, "ping %d after %llu ms: no PING_RESPONSE (rc %d)\n", pings,
                    (unsigned long long)(h_now_ms() - t0), rc);
        CHECK_EQ(rc, 1);
        CHECK_EQ(h.type, PACKET_TYPE__PING_RESPONSE);
        CHECK_EQ(h.seq, seq);
        PingResponse *r = ping_response__unpack(NULL, h.len, p);
        CHECK(r != NULL);
        CHECK(r->client_time == req.client_time);
        ping_response__free_unpacked(r, NULL);
        free(p);
        pings++;
        if (last_tx - t0 < 2 * IDLE_MS)
            sleep_keepalive(IDLE_MS / 3 - (int)(h_now_ms() - last_tx));
    }
    int alive_ms = (int)(last_tx - t0);
    got = 0;
    int after = wait_closed(fd, IDLE_MAX_MS + 2000, &got);
    int after_last = after < 0 ? -1 : (int)(h_now_ms() - last_tx);
    close(fd);
    CHECK(after_last >= IDLE_MIN_MS && after_last <= IDLE_MAX_MS);
    char bs[128];
    bystander_check(bs, sizeof bs);
    printf("ok idle: a silent client closed after %d ms; a client pinging every %d ms stayed open "
           "for %d ms (%d PINGs answered with client_time), then closed %d ms after its last "
           "PING (IDLE_TIMEOUT_MS=%d, bounds [%d, %d]); %s\n",
           silent_ms, IDLE_MS / 3, alive_ms, pings, after_last, IDLE_MS, IDLE_MIN_MS,
           IDLE_MAX_MS, bs);
}

static void s_slow_reader(void)
{
    long rss_before = h_rss_kib(gw->pid);
    CHECK(rss_before > 0);
    int dropped_before = h_log_count2(gw, "event=client_dropped", "reason=write_queue_overflow");
    int fd = raw_connect(4096);
    size_t plen = 32 * 1024;
    uint8_t *data = malloc(plen);
    rng_fill(data, plen);
    EchoRequest req = ECHO_REQUEST__INIT;
    req.target = ECHO_TARGET__GAME;
    req.payload.data = data;
    req.payload.len = plen;
    uint8_t *frame = malloc(plen + 64);
    uint64_t t0 = h_now_ms();
    int sent = 0, send_failed = 0, dropped = 0;
    long rss_peak = rss_before;
    /* 40 requests/s: under RATE_LIMIT, so only the write queue bound can stop it */
    while (h_now_ms() - t0 < 10000) {
        size_t n = frame_msg(frame, PACKET_TYPE__ECHO_REQUEST, (uint32_t)sent + 1, &req.base);
        int rc = send_all(fd, frame, n, 1000);
        if (rc == -1) {
            send_failed = 1;
            break;
        }
        if (rc == 0)
            sent++;
        long r = h_rss_kib(gw->pid);
        if (r > rss_peak)
            rss_peak = r;
        if (h_log_count2(gw, "event=client_dropped", "reason=write_queue_overflow") > dropped_before) {
            dropped = 1;
            break;
        }
        sleep_keepalive(25);
    }
    int drop_ms = (int)(h_now_ms() - t0);
    free(frame);
    free(data);
    if (!dropped)
        fprintf(stderr, "slow reader not dropped after %d ms (%d requests sent, send_failed=%d)\n",
                drop_ms, sent, send_failed);
    CHECK(dropped || send_failed);
    /* the socket sees the end: drain what the kernel holds, then EOF or reset */
    size_t got = 0;
    int closed = wait_closed(fd, 5000, &got);
    CHECK(closed >= 0);
    close(fd);
    /* the log line may trail a send failure by a moment */
    for (int i = 0; i < 100 && !dropped; i++) {
        sleep_keepalive(20);
        dropped = h_log_count2(gw, "event=client_dropped", "reason=write_queue_overflow") > dropped_before;
    }
    CHECK(dropped);
    sleep_keepalive(300);
    long rss_after = h_rss_kib(gw->pid);
    CHECK(rss_after > 0);
    long delta = rss_after - rss_before;
    if (delta >= 64 * 1024)
        fprintf(stderr, "gatewayd RSS grew by %ld KiB\n", delta);
    CHECK(delta < 64 * 1024);
    char bs[128];
    bystander_check(bs, sizeof bs);
    printf("ok slow_reader: sent %d x 32 KiB ECHOs without reading (SO_RCVBUF 4096); dropped "
           "after %d ms with event=client_dropped reason=write_queue_overflow "
           "(WRITE_QUEUE_MAX=%d); the socket then read %zu B and saw EOF/reset; gatewayd RSS "
           "%ld KiB before, peak %ld, %ld after (delta %+ld KiB, bound +65536); %s\n",
           sent, drop_ms, WQ_MAX, got, rss_before, rss_peak, rss_after, delta, bs);
}

static void s_flood(void)
{
    int fd = raw_connect(0);
    enum { N = 300 };
    uint8_t *buf = malloc(N * 32);
    size_t n = 0;
    for (int i = 0; i < N; i++) {
        PingRequest req = PING_REQUEST__INIT;
        req.client_time = 1000 + (uint64_t)i;
        n += frame_msg(buf + n, PACKET_TYPE__PING_REQUEST, (uint32_t)i + 1, &req.base);
    }
    uint64_t t0 = h_now_ms();
    CHECK_EQ(send_all(fd, buf, n, 2000), 0);
    free(buf);
    int pongs = 0, limited = 0, other = 0, order_ok = 1, closed_ms = -1;
    uint32_t last_seq = 0;
    for (;;) {
        frame_hdr_t h;
        uint8_t *p;
        int rc = read_frame(fd, &h, &p, 3000);
        if (rc == 0 || rc == -1) {
            closed_ms = (int)(h_now_ms() - t0);
            break;
        }
        CHECK(rc != -2); /* never silence: closed or answered */
        if (h.seq != last_seq + 1)
            order_ok = 0; /* answered in order, one per request, none skipped */
        last_seq = h.seq;
        if (h.type == PACKET_TYPE__PING_RESPONSE) {
            if (limited)
                order_ok = 0; /* no PING served after refusals started */
            PingResponse *r = ping_response__unpack(NULL, h.len, p);
            CHECK(r != NULL);
            CHECK_EQ(r->client_time, 1000 + h.seq - 1);
            ping_response__free_unpacked(r, NULL);
            pongs++;
        } else if (h.type == PACKET_TYPE__ERROR_RESPONSE) {
            expect_error(&h, p, ERROR_CODE__RATE_LIMITED, h.seq, PACKET_TYPE__PING_REQUEST);
            limited++;
        } else {
            other++;
        }
        free(p);
    }
    close(fd);
    if (!order_ok || other)
        fprintf(stderr, "flood: pongs=%d limited=%d other=%d order_ok=%d\n", pongs, limited,
                other, order_ok);
    CHECK(order_ok);
    CHECK_EQ(other, 0);
    /* the burst is served, a few more at most if tokens refilled meanwhile */
    CHECK(pongs >= RATE_BURST && pongs <= RATE_BURST + 10);
    /* refused in a row until the kick: RATE_KICK_AFTER refusals, then the closing one */
    CHECK_EQ(limited, RATE_KICK + 1);
    CHECK(pongs + limited < N);
    CHECK(closed_ms >= 0 && closed_ms < 2000);
    CHECK(h_log_count2(gw, "event=client_flood", "action=close") >= 1);
    char bs[128];
    bystander_check(bs, sizeof bs);
    printf("ok rate_flood: %d PINGs in one write -> %d PING_RESPONSEs, then %d RATE_LIMITED "
           "(RATE_BURST=%d, RATE_KICK_AFTER=%d), then closed after %d ms with %d requests "
           "unanswered; %s\n",
           N, pongs, limited, RATE_BURST, RATE_KICK, closed_ms, N - pongs - limited, bs);
}

int main(void)
{
    h_init("bad_input");
    uint64_t t_start = h_now_ms();
    game = h_spawn(GAMED_PATH, "gamed", NULL);
    CHECK(h_wait_registered("Game", 1, 10000) >= 0);
    /* the gateway's limits this test probes, as its environment */
    static const struct {
        const char *var;
        int value;
    } limits[] = {
        {"IDLE_TIMEOUT_MS", IDLE_MS}, {"WRITE_QUEUE_MAX", WQ_MAX}, {"RATE_LIMIT", RATE_LIMIT},
        {"RATE_BURST", RATE_BURST},   {"RATE_KICK_AFTER", RATE_KICK}, {"MAX_FRAME", MAX_FRAME},
    };
    enum { NLIMITS = sizeof limits / sizeof *limits };
    char vars[NLIMITS][64];
    const char *env[NLIMITS + 1] = {NULL};
    for (size_t i = 0; i < NLIMITS; i++) {
        snprintf(vars[i], sizeof vars[i], "%s=%d", limits[i].var, limits[i].value);
        env[i] = vars[i];
    }
    gw = h_spawn_gateway(&gw_port, env);
    for (int i = 0; i < 200 && !game_id; i++) {
        game_id = h_server_id(game);
        h_sleep_ms(10);
    }
    CHECK(game_id != 0);

    by = csync_connect("127.0.0.1", gw_port, 3000);
    CHECK(by != NULL);
    by_last_ms = h_now_ms();
    /* wait until the gateway's link to the game daemon is up */
    uint64_t t0 = h_now_ms();
    for (;;) {
        EchoRequest req = ECHO_REQUEST__INIT;
        req.target = ECHO_TARGET__GAME;
        uint16_t rt = 0;
        uint8_t *p = NULL;
        size_t n = 0;
        int rc = csync_request(by, PACKET_TYPE__ECHO_REQUEST, &req.base, &rt, &p, &n, 2000);
        CHECK_EQ(rc, 0);
        xfree(p);
        by_last_ms = h_now_ms();
        if (rt == PACKET_TYPE__ECHO_RESPONSE)
            break;
        CHECK(h_now_ms() - t0 < 10000);
        h_sleep_ms(50);
    }
    printf("setup: gamed id %u registered, gatewayd on port %d linked to it after %llu ms\n",
           game_id, gw_port, (unsigned long long)(h_now_ms() - t0));

    s_frame_too_large();
    s_unknown_type();
    s_bad_protobuf();
    s_random_bytes();
    s_half_frame();
    s_trickle();
    s_idle();
    s_flood();
    s_slow_reader();

    /* the bystander stayed connected the whole time */
    CHECK(csync_is_connected(by));
    csync_close(by);
    by = NULL;
    /* clean stops (ASan builds: exit status 99 on leaks or errors) */
    h_kill(gw, SIGTERM);
    int gst = h_wait_exit(gw, 15000);
    h_kill(game, SIGTERM);
    int est = h_wait_exit(game, 15000);
    CHECK_EQ(gst, 0);
    CHECK_EQ(est, 0);
    printf("PASS bad_input: bystander pinged %d times, stayed connected; gatewayd and gamed "
           "exited 0 on SIGTERM; %.1f s\n",
           by_pings, (double)(h_now_ms() - t_start) / 1000.0);
    return 0;
}
