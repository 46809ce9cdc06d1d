/* test_routing: ECHO routing through gatewayd to lobbyd/gamed found in the Redis registry:
 * start orders, a backend joining later, no live backend, a backend with the wrong cluster
 * secret, and PING answered by the gateway alone. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "client_sync.h"
#include "cluster.pb-c.h"
#include "harness.h"

/* high limits: the tests send requests in tight loops */
static const char *const GW_ENV[] = {"RATE_LIMIT=1000000", "RATE_BURST=1000000", NULL};

static uint64_t rng_state = 0x5eed;
static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static const char *err_name(int code)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&error_code__descriptor, code);
    return v ? v->name : "?";
}

typedef struct echo_res {
    uint16_t type;     /* ECHO_RESPONSE or ERROR_RESPONSE */
    uint32_t server_id;
    int served_by;
    int err;           /* error code when type is ERROR_RESPONSE */
    int payload_ok;    /* echoed byte for byte */
    int ms;
} echo_res_t;

/* One ECHO with n random bytes (zeros included); a missing response fails the test. */
static echo_res_t echo(csync_t *c, EchoTarget target, size_t n)
{
    echo_res_t res = {0};
    uint8_t *data = xmalloc(n ? n : 1);
    for (size_t i = 0; i < n; i++)
        data[i] = (i % 7 == 0) ? 0 : (uint8_t)(rng() >> 56);
    EchoRequest req = ECHO_REQUEST__INIT;
    req.target = target;
    req.payload.data = data;
    req.payload.len = n;
    uint16_t rt = 0;
    uint8_t *p = NULL;
    size_t len = 0;
    uint64_t t0 = h_now_ms();
    int rc = csync_request(c, PACKET_TYPE__ECHO_REQUEST, &req.base, &rt, &p, &len, 3000);
    res.ms = (int)(h_now_ms() - t0);
    if (rc != 0)
        fprintf(stderr, "echo target %d: %s after %d ms\n", target, client_strerror(rc), res.ms);
    CHECK_EQ(rc, 0);
    res.type = rt;
    if (rt == PACKET_TYPE__ECHO_RESPONSE) {
        EchoResponse *r = echo_response__unpack(NULL, len, p);
        CHECK(r != NULL);
        res.server_id = r->server_id;
        res.served_by = r->served_by;
        res.payload_ok = r->payload.len == n && (n == 0 || memcmp(r->payload.data, data, n) == 0);
        echo_response__free_unpacked(r, NULL);
    } else {
        CHECK_EQ(rt, PACKET_TYPE__ERROR_RESPONSE);
        ErrorResponse *e = error_response__unpack(NULL, len, p);
        CHECK(e != NULL);
        res.err = e->code;
        CHECK_EQ(e->request_type, PACKET_TYPE__ECHO_REQUEST);
        error_response__free_unpacked(e, NULL);
    }
    xfree(p);
    xfree(data);
    return res;
}

/* Retries while the gateway answers SERVICE_UNAVAILABLE (its link is not up yet). Returns ms. */
static int wait_echo_ok(csync_t *c, EchoTarget target, int timeout_ms)
{
    uint64_t t0 = h_now_ms();
    for (;;) {
        echo_res_t r = echo(c, target, 16);
        if (r.type == PACKET_TYPE__ECHO_RESPONSE)
            return (int)(h_now_ms() - t0);
        if (r.err != ERROR_CODE__SERVICE_UNAVAILABLE)
            fprintf(stderr, "echo target %d: unexpected %s\n", target, err_name(r.err));
        CHECK_EQ(r.err, ERROR_CODE__SERVICE_UNAVAILABLE);
        if (h_now_ms() - t0 > (uint64_t)timeout_ms) {
            fprintf(stderr, "echo target %d never served within %d ms\n", target, timeout_ms);
            h_fail();
        }
        h_sleep_ms(10);
    }
}

/* ECHO to target with several payload sizes: served by the expected daemon, byte for byte. */
static void check_served(csync_t *c, EchoTarget target, uint32_t id, int *max_ms)
{
    static const size_t sizes[] = {0, 1, 7, 1000, 32768, 60000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        echo_res_t r = echo(c, target, sizes[i]);
        if (r.type != PACKET_TYPE__ECHO_RESPONSE)
            fprintf(stderr, "echo target %d size %zu: error %s\n", target, sizes[i], err_name(r.err));
        CHECK_EQ(r.type, PACKET_TYPE__ECHO_RESPONSE);
        CHECK_EQ(r.served_by, target);
        CHECK_EQ(r.server_id, id);
        CHECK(r.payload_ok);
        if (r.ms > *max_ms)
            *max_ms = r.ms;
    }
}

/* A lobby and a game daemon came up: ECHO to each answers through c within 5 s (the ms into
 * *up_lobby and *up_game), then check_served for both. Returns the slowest echo in ms. */
static int check_both_up(csync_t *c, uint32_t lobby_id, uint32_t game_id, int *up_lobby, int *up_game)
{
    *up_lobby = wait_echo_ok(c, ECHO_TARGET__LOBBY, 5000);
    *up_game = wait_echo_ok(c, ECHO_TARGET__GAME, 5000);
    int max_ms = 0;
    check_served(c, ECHO_TARGET__LOBBY, lobby_id, &max_ms);
    check_served(c, ECHO_TARGET__GAME, game_id, &max_ms);
    return max_ms;
}

/* n ECHOs to a target with no live daemon: each SERVICE_UNAVAILABLE under 200 ms. */
static int check_unavailable(csync_t *c, EchoTarget target, int n)
{
    int max_ms = 0;
    for (int i = 0; i < n; i++) {
        echo_res_t r = echo(c, target, 32);
        if (r.type != PACKET_TYPE__ERROR_RESPONSE)
            fprintf(stderr, "echo target %d with no live daemon was served by id %u\n", target,
                    r.server_id);
        CHECK_EQ(r.type, PACKET_TYPE__ERROR_RESPONSE);
        CHECK_EQ(r.err, ERROR_CODE__SERVICE_UNAVAILABLE);
        CHECK(r.ms < 200);
        if (r.ms > max_ms)
            max_ms = r.ms;
    }
    return max_ms;
}

static void stop(proc_t *p) { h_stop(p, 15000); }

/* Scenario 1: gamed, then gatewayd, then lobbyd. Then the only lobbyd stops. */
static void s_order_game_gw_lobby(void)
{
    proc_t *game = h_spawn(GAMED_PATH, "gamed", NULL);
    CHECK(h_wait_registered("Game", 1, 10000) >= 0);
    int port;
    proc_t *gw = h_spawn_gateway(&port, GW_ENV);
    csync_t *c = csync_connect("127.0.0.1", port, 3000);
    CHECK(c != NULL);
    /* no lobbyd yet: refused at once */
    int none_ms = check_unavailable(c, ECHO_TARGET__LOBBY, 5);
    proc_t *lobby = h_spawn(LOBBYD_PATH, "lobbyd", NULL);
    CHECK(h_wait_registered("Lobby", 1, 10000) >= 0);
    uint32_t lobby_id = h_wait_server_id(lobby, 3000), game_id = h_wait_server_id(game, 3000);
    int up_lobby, up_game;
    int max_ms = check_both_up(c, lobby_id, game_id, &up_lobby, &up_game);
    printf("ok order gamed->gatewayd->lobbyd: before lobbyd ECHO LOBBY got SERVICE_UNAVAILABLE "
           "(max %d ms); LOBBY served by lobbyd id %u (%d ms after it registered), GAME by gamed "
           "id %u (%d ms more); payloads of 0..60000 B echoed byte for byte (max %d ms)\n",
           none_ms, lobby_id, up_lobby, game_id, up_game, max_ms);

    /* the only lobbyd stops: SERVICE_UNAVAILABLE promptly, never silence */
    stop(lobby);
    uint64_t t0 = h_now_ms();
    int gone_ms = check_unavailable(c, ECHO_TARGET__LOBBY, 20);
    int total = (int)(h_now_ms() - t0);
    max_ms = 0;
    check_served(c, ECHO_TARGET__GAME, game_id, &max_ms);
    printf("ok no live lobbyd after SIGTERM + exit 0: 20 ECHO LOBBY each got SERVICE_UNAVAILABLE "
           "(slowest %d ms, all 20 in %d ms; bound 200 ms each); GAME still served by id %u\n",
           gone_ms, total, game_id);
    csync_close(c);
    stop(gw);
    stop(game);
}

/* Scenario 2: gatewayd first, then lobbyd and gamed; a second gamed joins; a gamed with the
 * wrong secret joins. */
static void s_order_gw_first(void)
{
    h_new_prefix("gwfirst");
    int port;
    proc_t *gw = h_spawn_gateway(&port, GW_ENV);
    csync_t *c = csync_connect("127.0.0.1", port, 3000);
    CHECK(c != NULL);

    /* PING with no backend at all: answered by the gateway itself */
    {
        PingRequest req = PING_REQUEST__INIT;
        req.client_time = 0xC0FFEE0123456789ull;
        uint16_t rt = 0;
        uint8_t *p = NULL;
        size_t len = 0;
        uint64_t t0 = h_now_ms();
        CHECK_EQ(h_registered("Lobby") + h_registered("Game"), 0);
        CHECK_EQ(csync_request(c, PACKET_TYPE__PING_REQUEST, &req.base, &rt, &p, &len, 2000), 0);
        int ms = (int)(h_now_ms() - t0);
        CHECK_EQ(rt, PACKET_TYPE__PING_RESPONSE);
        PingResponse *r = ping_response__unpack(NULL, len, p);
        CHECK(r != NULL);
        CHECK(r->client_time == req.client_time);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        long long wall = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        long long skew = wall - (long long)r->server_time_ms;
        CHECK(skew > -5000 && skew < 5000);
        ping_response__free_unpacked(r, NULL);
        xfree(p);
        int un_l = check_unavailable(c, ECHO_TARGET__LOBBY, 5);
        int un_g = check_unavailable(c, ECHO_TARGET__GAME, 5);
        printf("ok ping without backends: PING_RESPONSE in %d ms, client_time 0x%llx echoed, "
               "server_time_ms %lld ms from our clock; ECHO LOBBY/GAME got SERVICE_UNAVAILABLE "
               "(max %d/%d ms)\n",
               ms, (unsigned long long)req.client_time, skew, un_l, un_g);
    }

    proc_t *lobby = h_spawn(LOBBYD_PATH, "lobbyd", NULL);
    proc_t *game1 = h_spawn(GAMED_PATH, "gamed", NULL);
    CHECK(h_wait_registered("Lobby", 1, 10000) >= 0);
    CHECK(h_wait_registered("Game", 1, 10000) >= 0);
    uint32_t lobby_id = h_wait_server_id(lobby, 3000), g1 = h_wait_server_id(game1, 3000);
    int up_lobby, up_game;
    int max_ms = check_both_up(c, lobby_id, g1, &up_lobby, &up_game);
    printf("ok order gatewayd->lobbyd+gamed: LOBBY served by id %u (first within %d ms), GAME by "
           "id %u (within %d ms more); payloads echoed byte for byte (max %d ms)\n",
           lobby_id, up_lobby, g1, up_game, max_ms);

    /* a second gamed joins: served within 1 s of its registration */
    proc_t *game2 = h_spawn(GAMED_PATH, "gamed2", NULL);
    uint64_t t_spawn = h_now_ms(), t_reg = 0;
    while (h_now_ms() - t_spawn < 10000) {
        if (h_registered("Game") == 2) {
            t_reg = h_now_ms();
            break;
        }
        h_sleep_ms(10);
    }
    CHECK(t_reg != 0);
    uint64_t t_new = 0;
    uint32_t new_id = 0;
    int sent = 0, others = 0;
    while (h_now_ms() - t_reg < 3000) {
        echo_res_t r = echo(c, ECHO_TARGET__GAME, 64);
        sent++;
        CHECK_EQ(r.type, PACKET_TYPE__ECHO_RESPONSE);
        CHECK(r.payload_ok);
        if (r.server_id != g1) {
            t_new = h_now_ms();
            new_id = r.server_id;
            break;
        }
        others++;
        h_sleep_ms(2);
    }
    CHECK(t_new != 0);
    uint32_t g2 = h_wait_server_id(game2, 3000);
    CHECK_EQ(new_id, g2);
    int join_ms = (int)(t_new - t_reg);
    CHECK(join_ms <= 1000 + 10);
    /* both answer, round robin */
    int n1 = 0, n2 = 0;
    for (int i = 0; i < 40; i++) {
        echo_res_t r = echo(c, ECHO_TARGET__GAME, 100);
        CHECK_EQ(r.type, PACKET_TYPE__ECHO_RESPONSE);
        CHECK(r.payload_ok);
        CHECK(r.server_id == g1 || r.server_id == g2);
        n1 += r.server_id == g1;
        n2 += r.server_id == g2;
    }
    CHECK(n1 >= 15 && n2 >= 15);
    printf("ok second gamed: registered %llu ms after spawn; first answer from it (id %u) %d ms "
           "after registration (bound 1010 ms, %d requests sent before, all by id %u); then 40 "
           "ECHO GAME split %d/%d between ids %u/%u\n",
           (unsigned long long)(t_reg - t_spawn), g2, join_ms, others, g1, n1, n2, g1, g2);

    /* a gamed with the wrong secret: registers, never linked, never served */
    const char *bad_env[] = {"CLUSTER_SECRET=wrong-secret-0123456789abcdef", NULL};
    int auth_failed_before = h_log_count(gw, "event=link_auth_failed");
    proc_t *bad = h_spawn(GAMED_PATH, "gamed-wrong-secret", bad_env);
    CHECK(h_wait_registered("Game", 3, 10000) >= 0);
    uint32_t bad_id = h_wait_server_id(bad, 3000);
    CHECK(bad_id != g1 && bad_id != g2);
    char needle[64];
    snprintf(needle, sizeof needle, "type=Game id=%u ", bad_id);
    uint64_t t0 = h_now_ms();
    int fails = 0;
    while (h_now_ms() - t0 < 5000) {
        FILE *f = fopen(gw->log, "r");
        CHECK(f != NULL);
        char line[4096];
        fails = 0;
        while (fgets(line, sizeof line, f))
            fails += strstr(line, "event=link_auth_failed") && strstr(line, needle);
        fclose(f);
        if (fails > 0)
            break;
        h_sleep_ms(20);
    }
    if (fails == 0)
        fprintf(stderr, "no event=link_auth_failed for id %u (total before %d)\n", bad_id,
                auth_failed_before);
    CHECK(fails > 0);
    int auth_ms = (int)(h_now_ms() - t0);
    n1 = n2 = 0;
    int nbad = 0;
    for (int i = 0; i < 200; i++) {
        echo_res_t r = echo(c, ECHO_TARGET__GAME, 50);
        CHECK_EQ(r.type, PACKET_TYPE__ECHO_RESPONSE);
        CHECK(r.payload_ok);
        nbad += r.server_id == bad_id;
        n1 += r.server_id == g1;
        n2 += r.server_id == g2;
    }
    CHECK_EQ(nbad, 0);
    CHECK_EQ(n1 + n2, 200);
    CHECK(n1 > 0 && n2 > 0);
    int bad_up = h_log_count(bad, "event=link_up");
    CHECK_EQ(bad_up, 0);
    char up_needle[64];
    snprintf(up_needle, sizeof up_needle, "event=link_up type=Game id=%u ", bad_id);
    CHECK_EQ(h_log_count(gw, up_needle), 0);
    printf("ok wrong secret: gamed id %u registered, gateway logged event=link_auth_failed for it "
           "%d time(s) (first seen %d ms after its registration was observed); 200 ECHO GAME: %d by id %u, %d by id %u, "
           "0 by id %u; neither its log nor the gateway's has an event=link_up for it\n",
           bad_id, fails, auth_ms, n1, g1, n2, g2, bad_id);

    csync_close(c);
    stop(bad);
    stop(game2);
    stop(game1);
    stop(lobby);
    stop(gw);
}

int main(void)
{
    h_init("routing");
    uint64_t t0 = h_now_ms();
    s_order_game_gw_lobby();
    s_order_gw_first();
    printf("PASS routing: every daemon exited 0 on SIGTERM; %.1f s\n",
           (double)(h_now_ms() - t0) / 1000.0);
    return 0;
}
