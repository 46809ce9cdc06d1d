/* test_transport: the gateway's TLS, WebSocket and WebSocket-over-TLS listeners against
 * independent clients (tests/integration/transport_client.py: Python's ssl and socket,
 * Debian's python3-websocket, and `openssl s_client`), with real Redis, PostgreSQL, a lobby
 * and a game daemon.
 *
 * Bad input: every hostile scenario closes that one connection with the right HTTP status,
 * WebSocket close code or TLS alert; after each, a bystander TCP session (connected the whole
 * time) still gets its ECHO from the game daemon and the gateway is alive. Flows: PING, ECHO
 * lobby and game over each transport, openssl s_client, login and a room over wss, a login
 * over TCP resumed over wss/ws/tls, a match started over wss and resumed over ws to GAME_OVER. Then a certificate reload, good and bad (clusterctl
 * reload-tls), and a clean stop (under ASan: no leak). */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "echo_util.h"
#include "lobby_util.h"

#define IDLE_MS 2000
#define MAX_FRAME 4096
#define RATE_BURST 50

static int port_tls, port_ws, port_wss, port_admin, port_tcp;
static csync_t *by; /* the bystander */
static cluster_t cl;
static char cert[600], key[600];

static void by_ping(void)
{
    PingRequest req = PING_REQUEST__INIT;
    uint16_t rt = 0;
    uint8_t *p = NULL;
    size_t n = 0;
    if (csync_request(by, PACKET_TYPE__PING_REQUEST, &req.base, &rt, &p, &n, 3000) != 0 ||
        rt != PACKET_TYPE__PING_RESPONSE)
        DIE("the bystander's PING failed");
    xfree(p);
}

static void by_echo(void)
{
    uint32_t sid = 0;
    int rc = echo_once(by, ECHO_TARGET__GAME, &sid, 3000);
    if (rc != 0)
        DIE("the bystander's ECHO failed (%d)", rc);
    CHECK_EQ(sid, cl.game_id[0]);
}

/* Runs one scenario of transport_client.py while the bystander keeps pinging. */
static void scenario(const char *name)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -W ignore::DeprecationWarning '%s/tests/integration/transport_client.py' --tcp %d --tls %d --ws %d "
             "--wss %d --admin %d --max-frame %d --rate-burst %d --idle-ms %d %s 2>&1",
             REPO_DIR, port_tcp, port_tls, port_ws, port_wss, port_admin, MAX_FRAME, RATE_BURST, IDLE_MS,
             name);
    uint64_t t0 = h_now_ms();
    FILE *f = popen(cmd, "r");
    CHECK(f != NULL);
    /* the bystander pings while the client runs (the gateway's idle timeout is 2 s) */
    char out[16384];
    size_t got = 0;
    int fd = fileno(f);
    uint64_t last_ping = h_now_ms();
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int pr = poll(&pfd, 1, 100);
        if (pr > 0) {
            ssize_t k = read(fd, out + got, sizeof out - 1 - got);
            if (k <= 0)
                break;
            got += (size_t)k;
            if (got == sizeof out - 1)
                break;
        }
        if (h_now_ms() - last_ping >= 400) {
            by_ping();
            last_ping = h_now_ms();
        }
    }
    out[got] = '\0';
    int ok = strstr(out, "\nok ") != NULL || strncmp(out, "ok ", 3) == 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
        printf("  [%s] %s\n", name, line);
    int st = pclose(f);
    if (!ok || st != 0)
        DIE("transport scenario %s failed (status %d)", name, st);
    CHECK(h_alive(cl.gw[0]));
    by_echo(); /* also resets the bystander's idle clock */
    printf("scenario %s: passed in %llu ms; bystander unharmed\n", name,
           (unsigned long long)(h_now_ms() - t0));
}

static void make_cert(void)
{
    snprintf(cert, sizeof cert, "%s/cert.pem", h_dir());
    snprintf(key, sizeof key, "%s/key.pem", h_dir());
    char cmd[1600];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout '%s' "
             "-out '%s' -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 "
             ">/dev/null 2>&1",
             key, cert);
    CHECK_EQ(system(cmd), 0);
}

static void start_cluster(void)
{
    lu_cluster_init(&cl, "transport");
    lu_add_lobby(&cl, NULL);
    static const char *const game_env[] = {"MATCH_TIME_LIMIT_MS=4000", NULL};
    lu_add_game(&cl, game_env);
    /* the gateway's other listeners, each on a free port */
    static const struct {
        const char *var;
        int *port;
    } listeners[] = {
        {"TLS_LISTEN_ADDR", &port_tls},
        {"WS_LISTEN_ADDR", &port_ws},
        {"WSS_LISTEN_ADDR", &port_wss},
        {"ADMIN_ADDR", &port_admin},
    };
    static char e_addr[sizeof listeners / sizeof *listeners][64], e_cert[640], e_key[640];
    for (size_t i = 0; i < sizeof listeners / sizeof *listeners; i++) {
        *listeners[i].port = h_free_port();
        snprintf(e_addr[i], sizeof e_addr[i], "%s=127.0.0.1:%d", listeners[i].var, *listeners[i].port);
    }
    snprintf(e_cert, sizeof e_cert, "TLS_CERT_FILE=%s", cert);
    snprintf(e_key, sizeof e_key, "TLS_KEY_FILE=%s", key);
    const char *env[] = {e_addr[0], e_addr[1], e_addr[2], e_addr[3], e_cert, e_key,
                         "TLS_HANDSHAKE_MS=1000", "WS_HANDSHAKE_MS=1000", "IDLE_TIMEOUT_MS=2000",
                         "MAX_FRAME=4096", "RATE_LIMIT=50", "RATE_BURST=50", "RATE_KICK_AFTER=20",
                         "WS_ALLOWED_ORIGINS=https://game.example,https://other.example", NULL};
    cl.gw[0] = h_spawn_gateway(&cl.port[0], env);
    cl.ngw = 1;
    port_tcp = cl.port[0];
    cl.gw_id[0] = lu_server_id(cl.gw[0]);
    lu_wait_links(&cl);
    by = connect_gw(port_tcp);
    by_echo();
}

static int ctl(const char *args, char *out, size_t n)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "REDIS_URL=redis://127.0.0.1:%d REDIS_PREFIX='%s' '%s' %s 2>&1", h_redis_port(),
             h_prefix(), CLUSTERCTL_PATH, args);
    return h_run(cmd, out, n);
}

/* clusterctl reload-tls: a good reload, then a broken certificate file (the old one stays,
 * the operator sees why, TLS keeps working), then the file restored. */
static void reload(void)
{
    char out[4096], cmd[2048];
    CHECK_EQ(ctl("reload-tls", out, sizeof out), 0);
    printf("reload-tls: %s", out);
    CHECK(strstr(out, "reloaded") && strstr(out, "CN=localhost"));
    snprintf(cmd, sizeof cmd, "cp '%s' '%s.bak' && echo 'not a certificate' > '%s'", cert, cert, cert);
    CHECK_EQ(system(cmd), 0);
    char args[64];
    snprintf(args, sizeof args, "reload-tls %u", cl.gw_id[0]);
    CHECK_EQ(ctl(args, out, sizeof out), 1);
    printf("reload-tls with a broken file: %s", out);
    CHECK(strstr(out, "HTTP 500") && strstr(out, "previous certificate stays"));
    CHECK(h_log_count(cl.gw[0], "event=tls_reload_failed") == 1);
    scenario("ping_echo"); /* still served, with the old certificate */
    snprintf(cmd, sizeof cmd, "mv '%s.bak' '%s'", cert, cert);
    CHECK_EQ(system(cmd), 0);
    CHECK_EQ(ctl(args, out, sizeof out), 0);
}

int main(void)
{
    h_init("transport");
    h_pg_start();
    make_cert();
    start_cluster();
    uint64_t t0 = h_now_ms();
    static const char *const BAD[] = {
        "http_get", "oversized", "slow", "bad_key", "version8", "origin", "unmasked", "text",
        "fragmented", "control_big", "ping_flood", "close_no_status", "too_long", "two_frames",
        "plaintext_tls", "garbage_hello", "old_tls", "tls_no_hello", "silent_tls", "silent_wss",
        "session_limits",
    };
    if (getenv("ONLY")) { /* ONLY=<scenario>: one scenario of transport_client.py, for debugging */
        scenario(getenv("ONLY"));
        return 0;
    }
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++)
        scenario(BAD[i]);
    static const char *const FLOWS[] = {"ping_echo", "s_client", "login_room", "resume", "match"};
    for (size_t i = 0; i < sizeof FLOWS / sizeof FLOWS[0]; i++)
        scenario(FLOWS[i]);
    h_sleep_ms(600); /* the admin endpoint's metrics snapshot is refreshed every 500 ms */
    by_echo();
    scenario("metrics");
    reload();
    csync_close(by);
    lu_cluster_down(&cl);
    printf("test_transport: all passed in %llu ms\n", (unsigned long long)(h_now_ms() - t0));
    return 0;
}
