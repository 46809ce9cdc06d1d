/* Admin endpoints and clusterctl: /metrics scraped
 * over HTTP change as traffic flows, /healthz and /readyz follow Redis, `clusterctl status`
 * lists exactly the live servers, `clusterctl drain` of a game, a lobby and a gateway daemon
 * loses no request, log-level changes without a restart, `clusterctl who` and `kick`. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "echo_util.h"

static const char *const FAST_CLIENT_ENV[] = {"RATE_LIMIT=100000", "RATE_BURST=100000", NULL};

/* ---- HTTP: a raw-socket GET/POST, enough for the admin endpoint ---- */

/* Sends `method path` to 127.0.0.1:port and reads the whole answer (HTTP/1.0: the server
 * closes). Returns the status (body, without headers, in body) or -1 on a transport error. */
static int http(int port, const char *method, const char *path, char *body, size_t cap)
{
    body[0] = '\0';
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    char req[512];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n",
                     method, path);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    size_t cap_all = 1 << 20, len = 0;
    char *all = malloc(cap_all);
    for (;;) {
        ssize_t r = read(fd, all + len, cap_all - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
        if (len == cap_all - 1)
            break;
    }
    close(fd);
    all[len] = '\0';
    int status = -1;
    if (sscanf(all, "HTTP/1.%*d %d", &status) != 1)
        status = -1;
    char *b = strstr(all, "\r\n\r\n");
    if (b)
        snprintf(body, cap, "%s", b + 4);
    free(all);
    return status;
}

/* The value of one series ("name" or "name{labels}") in a /metrics text, or -1 if absent. */
static double metric(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    }
    return -1;
}

static char metrics_buf[1 << 20];

static double scrape(int port, const char *series)
{
    CHECK_EQ(http(port, "GET", "/metrics", metrics_buf, sizeof metrics_buf), 200);
    return metric(metrics_buf, series);
}

/* Scrapes until the series reaches want (the loop publishes every 500 ms). */
static double wait_metric(int port, const char *series, double want, int timeout_ms)
{
    uint64_t t0 = h_now_ms();
    double v;
    while ((v = scrape(port, series)) != want && h_now_ms() - t0 < (uint64_t)timeout_ms)
        h_sleep_ms(50);
    if (v != want)
        fprintf(stderr, "metric %s is %g, expected %g\n", series, v, want);
    return v;
}

static int wait_status(int port, const char *path, int want, int timeout_ms, char *body, size_t cap)
{
    uint64_t t0 = h_now_ms();
    int st;
    while ((st = http(port, "GET", path, body, cap)) != want && h_now_ms() - t0 < (uint64_t)timeout_ms)
        h_sleep_ms(50);
    return st;
}

/* The admin port from the daemon's log line event=admin_listening. */
static int admin_port_of(proc_t *p)
{
    uint64_t t0 = h_now_ms();
    while (h_now_ms() - t0 < 10000) {
        FILE *f = fopen(p->log, "r");
        char line[2048];
        int port = 0;
        while (f && fgets(line, sizeof line, f)) {
            char *e = strstr(line, "event=admin_listening");
            char *q = e ? strstr(e, " port=") : NULL;
            if (q)
                port = atoi(q + 6);
        }
        if (f)
            fclose(f);
        if (port > 0)
            return port;
        h_sleep_ms(20);
    }
    fprintf(stderr, "%s never logged event=admin_listening\n", p->name);
    h_fail();
}

static uint32_t id_of(proc_t *p)
{
    uint64_t t0 = h_now_ms();
    uint32_t id;
    while (!(id = h_server_id(p)) && h_now_ms() - t0 < 10000)
        h_sleep_ms(20);
    CHECK(id != 0);
    return id;
}

/* Sends m as type on c and waits up to timeout_ms for a response of type want. Returns its
 * payload and length (xfree it), or frees it and returns NULL when len is NULL. */
static uint8_t *request(csync_t *c, uint16_t type, const ProtobufCMessage *m, uint16_t want, int timeout_ms,
                        size_t *len)
{
    uint16_t rt;
    uint8_t *p = NULL;
    size_t n;
    CHECK_EQ(csync_request(c, type, m, &rt, &p, &n, timeout_ms), 0);
    CHECK_EQ(rt, want);
    if (!len) {
        xfree(p);
        return NULL;
    }
    *len = n;
    return p;
}

/* ---- clusterctl ---- */

static char ctl_out[1 << 16];

/* Runs clusterctl with the test's Redis and prefix; returns its exit status, stdout in ctl_out. */
static int ctl(const char *args) { return h_clusterctl(NULL, args, ctl_out, sizeof ctl_out); }

/* The harness's view: ids listed under type whose hash exists, as a sorted "a,b," string. */
static void registry_view(const char *type, char *out, size_t n)
{
    redisReply *r = redisCommand(h_redis(), "LRANGE %sServer:%s 0 -1", h_prefix(), type);
    unsigned ids[64];
    int k = 0;
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements && k < 64; i++) {
        redisReply *e = redisCommand(h_redis(), "EXISTS %sServer:%s:%s", h_prefix(), type, r->element[i]->str);
        if (e && e->integer == 1)
            ids[k++] = (unsigned)strtoul(r->element[i]->str, NULL, 10);
        if (e)
            freeReplyObject(e);
    }
    if (r)
        freeReplyObject(r);
    for (int i = 0; i < k; i++)
        for (int j = i + 1; j < k; j++)
            if (ids[j] < ids[i]) {
                unsigned t = ids[i];
                ids[i] = ids[j];
                ids[j] = t;
            }
    out[0] = '\0';
    for (int i = 0; i < k; i++)
        snprintf(out + strlen(out), n - strlen(out), "%u,", ids[i]);
}

/* The same from `clusterctl status --json` (sorted by type then id). */
static void ctl_view(const char *type, char *out, size_t n)
{
    char needle[64];
    snprintf(needle, sizeof needle, "{\"type\":\"%s\",\"id\":", type);
    out[0] = '\0';
    for (const char *p = strstr(ctl_out, needle); p; p = strstr(p + 1, needle))
        snprintf(out + strlen(out), n - strlen(out), "%u,", (unsigned)strtoul(p + strlen(needle), NULL, 10));
}

static int in_registry(const char *type, uint32_t id)
{
    redisReply *r = redisCommand(h_redis(), "EXISTS %sServer:%s:%u", h_prefix(), type, id);
    int e = r && r->integer == 1;
    if (r)
        freeReplyObject(r);
    r = redisCommand(h_redis(), "LRANGE %sServer:%s 0 -1", h_prefix(), type);
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
        e |= strtoul(r->element[i]->str, NULL, 10) == id;
    if (r)
        freeReplyObject(r);
    return e;
}

static void stop(proc_t *p) { h_stop(p, 20000); }

static char db_env[300];

static const char *const *lobby_env(void)
{
    static const char *env[4];
    snprintf(db_env, sizeof db_env, "DATABASE_URL=%s", h_pg_conninfo());
    env[0] = db_env;
    env[1] = "HASH_OPSLIMIT=1";
    env[2] = "HASH_MEMLIMIT_KIB=8192";
    env[3] = NULL;
    return env;
}

static const char *const *game_env(void)
{
    static const char *env[2];
    snprintf(db_env, sizeof db_env, "DATABASE_URL=%s", h_pg_conninfo());
    env[0] = db_env;
    env[1] = NULL;
    return env;
}

/* ---- scenarios ---- */

static void scenario_metrics_and_health(void)
{
    h_new_prefix("metrics");
    int port;
    proc_t *lb = h_spawn(LOBBYD_PATH, "lobbyd", lobby_env());
    proc_t *gm = h_spawn(GAMED_PATH, "gamed", game_env());
    CHECK(h_wait_registered("Lobby", 1, 10000) >= 0);
    CHECK(h_wait_registered("Game", 1, 10000) >= 0);
    proc_t *gw = h_spawn_gateway(&port, FAST_CLIENT_ENV);
    CHECK(h_wait_registered("Gateway", 1, 10000) >= 0);
    int gw_admin = admin_port_of(gw), lb_admin = admin_port_of(lb), gm_admin = admin_port_of(gm);
    uint32_t game_id = id_of(gm), lobby_id = id_of(lb), gw_id = id_of(gw);
    char body[4096];

    /* the admin port is published in the registry hash */
    redisReply *r = redisCommand(h_redis(), "HGET %sServer:Gateway:%u admin_port", h_prefix(), gw_id);
    CHECK(r && r->type == REDIS_REPLY_STRING && atoi(r->str) == gw_admin);
    freeReplyObject(r);

    CHECK_EQ(http(gw_admin, "GET", "/healthz", body, sizeof body), 200);
    CHECK_EQ(wait_status(gw_admin, "/readyz", 200, 10000, body, sizeof body), 200);
    CHECK_EQ(wait_status(lb_admin, "/readyz", 200, 15000, body, sizeof body), 200);
    CHECK_EQ(wait_status(gm_admin, "/readyz", 200, 15000, body, sizeof body), 200);
    CHECK_EQ(http(gw_admin, "GET", "/nope", body, sizeof body), 404);
    CHECK_EQ(http(gw_admin, "GET", "/drain", body, sizeof body), 405);
    CHECK_EQ(http(gw_admin, "PUT", "/log-level?level=loud", body, sizeof body), 400);
    CHECK_EQ(http(lb_admin, "POST", "/kick?session=1", body, sizeof body), 404);

    /* traffic: ECHO 7 times to the game daemon, 5 times to the lobby, one refused request */
    scrape(gw_admin, "x");
    CHECK_EQ(metric(metrics_buf, "cluster_gateway_packets_in_total{type=\"ECHO_REQUEST\"}"), -1);
    double bytes0 = metric(metrics_buf, "cluster_gateway_bytes_in_total");
    double accepted0 = metric(metrics_buf, "cluster_gateway_connections_accepted_total");
    CHECK(bytes0 == 0 && accepted0 >= 0);
    csync_t *c = connect_gw(port);
    uint32_t sid;
    for (int i = 0; i < 7; i++)
        CHECK_EQ(echo_once(c, ECHO_TARGET__GAME, &sid, 3000), 0);
    for (int i = 0; i < 5; i++)
        CHECK_EQ(echo_once(c, ECHO_TARGET__LOBBY, &sid, 3000), 0);
    CreateRoomRequest cr = CREATE_ROOM_REQUEST__INIT;
    cr.name = (char *)"x";
    request(c, PACKET_TYPE__CREATE_ROOM_REQUEST, &cr.base, PACKET_TYPE__ERROR_RESPONSE, 3000, NULL);

    CHECK_EQ(wait_metric(gw_admin, "cluster_gateway_packets_in_total{type=\"ECHO_REQUEST\"}", 12, 3000), 12);
    CHECK_EQ(metric(metrics_buf, "cluster_gateway_packets_out_total{type=\"ECHO_RESPONSE\"}"), 12);
    CHECK_EQ(metric(metrics_buf, "cluster_gateway_packets_in_total{type=\"CREATE_ROOM_REQUEST\"}"), 1);
    CHECK_EQ(metric(metrics_buf, "cluster_gateway_errors_sent_total{code=\"NOT_AUTHENTICATED\"}"), 1);
    CHECK_EQ(metric(metrics_buf, "cluster_gateway_sessions"), 1);
    CHECK_EQ(metric(metrics_buf, "cluster_gateway_connections_accepted_total"), accepted0 + 1);
    CHECK_EQ(metric(metrics_buf, "cluster_gateway_requests_forwarded_total"), 12);
    CHECK(metric(metrics_buf, "cluster_gateway_bytes_in_total") > bytes0 + 12 * 10);
    CHECK(metric(metrics_buf, "cluster_gateway_bytes_out_total") > 12 * 10);
    CHECK(metric(metrics_buf, "cluster_heap_bytes") > 0);
    CHECK(metric(metrics_buf, "cluster_redis_rtt_seconds{conn=\"registry\"}") >= 0);
    CHECK_EQ(metric(metrics_buf, "cluster_redis_up{conn=\"registry\"}"), 1);
    CHECK_EQ(metric(metrics_buf, "cluster_gateway_clients_dropped_total{reason=\"slow\"}"), 0);
    char series[128];
    snprintf(series, sizeof series, "cluster_link_up{peer_type=\"game\",peer_id=\"%u\"}", game_id);
    CHECK_EQ(metric(metrics_buf, series), 1);
    snprintf(series, sizeof series, "cluster_link_up{peer_type=\"lobby\",peer_id=\"%u\"}", lobby_id);
    CHECK_EQ(metric(metrics_buf, series), 1);
    /* five more: the counters go on from where they were */
    for (int i = 0; i < 5; i++)
        CHECK_EQ(echo_once(c, ECHO_TARGET__GAME, &sid, 3000), 0);
    CHECK_EQ(wait_metric(gw_admin, "cluster_gateway_packets_in_total{type=\"ECHO_REQUEST\"}", 17, 3000), 17);

    CHECK_EQ(wait_metric(gm_admin, "cluster_backend_requests_total{type=\"ECHO_REQUEST\"}", 12, 3000), 12);
    double ticks1 = metric(metrics_buf, "cluster_game_tick_duration_seconds_count");
    CHECK(ticks1 > 0);
    CHECK(strstr(metrics_buf, "# TYPE cluster_game_tick_duration_seconds histogram") != NULL);
    CHECK_EQ(metric(metrics_buf, "cluster_game_tick_duration_seconds_bucket{le=\"+Inf\"}"), ticks1);
    CHECK_EQ(metric(metrics_buf, "cluster_game_matches_running"), 0);
    CHECK_EQ(metric(metrics_buf, "cluster_pg_up"), 1);
    snprintf(series, sizeof series, "cluster_link_up{peer_type=\"gateway\",peer_id=\"%u\"}", gw_id);
    CHECK_EQ(metric(metrics_buf, series), 1);
    h_sleep_ms(600);
    CHECK(scrape(gm_admin, "cluster_game_tick_duration_seconds_count") > ticks1); /* cumulative */
    CHECK_EQ(wait_metric(lb_admin, "cluster_backend_requests_total{type=\"ECHO_REQUEST\"}", 5, 3000), 5);
    CHECK_EQ(metric(metrics_buf, "cluster_pg_up"), 1);
    CHECK(metric(metrics_buf, "cluster_pg_query_errors_total{reason=\"unavailable\"}") >= 0);
    CHECK(metric(metrics_buf, "cluster_lobby_pwhash_inflight") >= 0);
    printf("metrics: gateway, lobby and game counters follow the traffic\n");

    /* Redis down: not ready (the reason says why), still alive; back: ready again */
    h_redis_stop();
    uint64_t t0 = h_now_ms();
    CHECK_EQ(wait_status(gw_admin, "/readyz", 503, 5000, body, sizeof body), 503);
    CHECK(strstr(body, "redis") != NULL);
    CHECK_EQ(wait_status(lb_admin, "/readyz", 503, 5000, body, sizeof body), 503);
    CHECK_EQ(wait_status(gm_admin, "/readyz", 503, 5000, body, sizeof body), 503);
    printf("health: every /readyz 503 %llu ms after Redis stopped (\"%s\")\n",
           (unsigned long long)(h_now_ms() - t0), strtok(body, "\n"));
    CHECK_EQ(http(gw_admin, "GET", "/healthz", body, sizeof body), 200);
    CHECK_EQ(http(lb_admin, "GET", "/healthz", body, sizeof body), 200);
    CHECK_EQ(http(gm_admin, "GET", "/healthz", body, sizeof body), 200);
    CHECK_EQ(scrape(gw_admin, "cluster_redis_up{conn=\"registry\"}"), 0);
    h_redis_start();
    t0 = h_now_ms();
    CHECK_EQ(wait_status(gw_admin, "/readyz", 200, 10000, body, sizeof body), 200);
    CHECK_EQ(wait_status(lb_admin, "/readyz", 200, 10000, body, sizeof body), 200);
    CHECK_EQ(wait_status(gm_admin, "/readyz", 200, 10000, body, sizeof body), 200);
    printf("health: every /readyz 200 again %llu ms after Redis came back\n",
           (unsigned long long)(h_now_ms() - t0));
    CHECK(scrape(gw_admin, "cluster_redis_disconnects_total{conn=\"registry\"}") >= 1);
    CHECK_EQ(echo_once(c, ECHO_TARGET__GAME, &sid, 3000), 0);
    csync_close(c);
    stop(gw);
    stop(lb);
    stop(gm);
    CHECK_EQ(h_log_count(gw, "event=admin_stopped"), 1);
}

static void scenario_status(void)
{
    h_new_prefix("status");
    int port;
    proc_t *lb, *g1, *g2;
    proc_t *gw = h_spawn_gateway_games(&port, NULL, &lb, &g1, &g2, 10000);
    uint32_t b = id_of(g2);
    static const char *types[] = {"Gateway", "Lobby", "Game"};
    char want[256], got[256];
    CHECK_EQ(ctl("status"), 0);
    CHECK(strstr(ctl_out, "HEARTBEAT_MS") != NULL && strstr(ctl_out, "smooth") != NULL);
    CHECK_EQ(ctl("status --json"), 0);
    for (int t = 0; t < 3; t++) {
        registry_view(types[t], want, sizeof want);
        ctl_view(types[t], got, sizeof got);
        printf("status: %s registry [%s] clusterctl [%s]\n", types[t], want, got);
        CHECK(strcmp(want, got) == 0 && want[0]);
    }
    CHECK(strstr(ctl_out, "\"admin_port\":0") == NULL);

    h_kill(g2, SIGKILL);
    CHECK(h_wait_registered("Game", 1, 10000) >= 0);
    CHECK_EQ(ctl("status --json"), 0);
    for (int t = 0; t < 3; t++) {
        registry_view(types[t], want, sizeof want);
        ctl_view(types[t], got, sizeof got);
        CHECK(strcmp(want, got) == 0 && want[0]);
    }
    char needle[64];
    snprintf(needle, sizeof needle, "{\"type\":\"Game\",\"id\":%u,", b);
    CHECK(strstr(ctl_out, needle) == NULL);
    printf("status: the killed game daemon %u is gone once its hash expired\n", b);

    /* usage errors and unknown servers */
    CHECK_EQ(ctl("drain 999"), 1);
    CHECK_EQ(ctl("drain planet:1"), 2);
    CHECK_EQ(ctl("frobnicate"), 2);
    CHECK_EQ(ctl("drain --help"), 0);
    CHECK(strstr(ctl_out, "usage: clusterctl") != NULL);
    CHECK_EQ(ctl("--help"), 0);
    stop(gw);
    stop(lb);
    stop(g1);
}

static pid_t bot_echo(int port, const char *target, const char *json)
{
    char gwaddr[64];
    snprintf(gwaddr, sizeof gwaddr, "127.0.0.1:%d", port);
    pid_t bot = fork();
    if (bot == 0) {
        execl(BOT_PATH, "bot", "--scenario", "echo", "--gateway", gwaddr, "--bots", "50",
              "--duration", "4", "--pipeline", "8", "--target", target, "--json", json, (char *)NULL);
        _exit(127);
    }
    return bot;
}

/* Drains one of two daemons of a type with clusterctl while the bot keeps 8 requests in
 * flight on 50 clients to that type: every request is answered, no error. */
static void drain_under_load(const char *type, const char *bin, const char *target)
{
    char tag[32];
    snprintf(tag, sizeof tag, "drain-%s", target);
    h_new_prefix(tag);
    int port;
    proc_t *gw = h_spawn_gateway(&port, FAST_CLIENT_ENV);
    proc_t *a = h_spawn(bin, "daemon-a", NULL);
    proc_t *b = h_spawn(bin, "daemon-b", NULL);
    proc_t *other = h_spawn(strcmp(type, "Game") == 0 ? LOBBYD_PATH : GAMED_PATH, "other", NULL);
    CHECK(h_wait_registered(type, 2, 10000) >= 0);
    h_sleep_ms(500);
    uint32_t ida = id_of(a);
    char json[512];
    snprintf(json, sizeof json, "%s/%s.json", h_dir(), tag);
    pid_t bot = bot_echo(port, target, json);
    h_sleep_ms(1500);
    char args[64];
    snprintf(args, sizeof args, "drain %s:%u --timeout 30", target, ida);
    uint64_t t0 = h_now_ms();
    CHECK_EQ(ctl(args), 0);
    int st = h_wait_exit(a, 10000);
    printf("drain %s: clusterctl returned after %llu ms; the daemon exited with %d\n", target,
           (unsigned long long)(h_now_ms() - t0), st);
    CHECK_EQ(st, 0);
    CHECK(!in_registry(type, ida));
    CHECK_EQ(h_log_count(a, "event=admin_drain"), 1);
    CHECK_EQ(h_log_count(a, "event=registry_deregistered"), 1);
    int bst;
    waitpid(bot, &bst, 0);
    printf("drain %s: bot exit status %d (0 = every request answered, no error)\n", target,
           WIFEXITED(bst) ? WEXITSTATUS(bst) : -1);
    CHECK(WIFEXITED(bst) && WEXITSTATUS(bst) == 0);
    stop(gw);
    stop(b);
    stop(other);
}

static uint64_t login(csync_t *c, const char *name)
{
    RegisterRequest rq = REGISTER_REQUEST__INIT;
    rq.username = (char *)name;
    rq.password = (char *)"password-123";
    request(c, PACKET_TYPE__REGISTER_REQUEST, &rq.base, PACKET_TYPE__REGISTER_RESPONSE, 6000, NULL);
    LoginRequest lq = LOGIN_REQUEST__INIT;
    lq.username = (char *)name;
    lq.password = (char *)"password-123";
    size_t len;
    uint8_t *p = request(c, PACKET_TYPE__LOGIN_REQUEST, &lq.base, PACKET_TYPE__LOGIN_RESPONSE, 6000, &len);
    LoginResponse *r = login_response__unpack(NULL, len, p);
    CHECK(r != NULL);
    uint64_t uid = r->user_id;
    login_response__free_unpacked(r, NULL);
    xfree(p);
    return uid;
}

/* Waits for a push of the given type (skipping others); returns 0 when it came, its payload
 * in *out (xfree it) when out is not NULL. */
static int wait_push_payload(csync_t *c, uint16_t want, int timeout_ms, uint8_t **out, size_t *out_len)
{
    uint64_t t0 = h_now_ms();
    while (h_now_ms() - t0 < (uint64_t)timeout_ms) {
        uint16_t type;
        uint8_t *p = NULL;
        size_t len;
        int rc = csync_wait_push(c, &type, &p, &len, 200);
        if (rc == 0) {
            if (type == want && out) {
                *out = p;
                *out_len = len;
                return 0;
            }
            xfree(p);
            if (type == want)
                return 0;
        } else if (rc == CLIENT_ECLOSED) {
            return -1;
        }
    }
    return -1;
}

static int wait_push(csync_t *c, uint16_t want, int timeout_ms)
{
    return wait_push_payload(c, want, timeout_ms, NULL, NULL);
}

/* A game daemon drained while it runs a match: the match plays to its end, its record is
 * written, then the daemon deregisters and exits 0. `who` shows the player in the match. */
static void scenario_match_drain(void)
{
    h_new_prefix("match");
    const char *lenv[6];
    int n = 0;
    for (const char *const *e = lobby_env(); *e; e++)
        lenv[n++] = *e;
    lenv[n++] = "QUICK_MATCH_SIZE=1";
    lenv[n] = NULL;
    const char *genv[] = {lenv[0], "MATCH_TIME_LIMIT_MS=3000", NULL};
    proc_t *lb = h_spawn(LOBBYD_PATH, "lobbyd", lenv);
    proc_t *gm = h_spawn(GAMED_PATH, "gamed", genv);
    CHECK(h_wait_registered("Lobby", 1, 10000) >= 0);
    CHECK(h_wait_registered("Game", 1, 10000) >= 0);
    int port;
    proc_t *gw = h_spawn_gateway(&port, FAST_CLIENT_ENV);
    int gm_admin = admin_port_of(gm), gw_admin = admin_port_of(gw);
    uint32_t game_id = id_of(gm);
    char body[4096], args[128], name[32], want[128];
    CHECK_EQ(wait_status(gw_admin, "/readyz", 200, 15000, body, sizeof body), 200);
    CHECK_EQ(wait_status(gm_admin, "/readyz", 200, 15000, body, sizeof body), 200);
    csync_t *c = connect_gw(port);
    snprintf(name, sizeof name, "Mdr%d", (int)(getpid() % 100000));
    login(c, name);
    QuickMatchRequest q = QUICK_MATCH_REQUEST__INIT;
    request(c, PACKET_TYPE__QUICK_MATCH_REQUEST, &q.base, PACKET_TYPE__QUICK_MATCH_RESPONSE, 6000, NULL);
    uint8_t *p = NULL;
    size_t len;
    CHECK_EQ(wait_push_payload(c, PACKET_TYPE__MATCH_START, 10000, &p, &len), 0);
    MatchStart *ms = match_start__unpack(NULL, len, p);
    CHECK(ms != NULL);
    uint64_t match_id = ms->match_id;
    match_start__free_unpacked(ms, NULL);
    xfree(p);
    snprintf(args, sizeof args, "who %s --json", name);
    CHECK_EQ(ctl(args), 0);
    snprintf(want, sizeof want, "\"room_status\":\"in_game\",\"match\":%llu,\"game_server\":%u}",
             (unsigned long long)match_id, game_id);
    CHECK(strstr(ctl_out, want) != NULL);
    CHECK_EQ(wait_metric(gm_admin, "cluster_game_matches_running", 1, 3000), 1);

    snprintf(args, sizeof args, "drain game:%u --timeout 30", game_id);
    uint64_t t0 = h_now_ms();
    CHECK_EQ(ctl(args), 0);
    uint64_t took = h_now_ms() - t0;
    CHECK_EQ(wait_push(c, PACKET_TYPE__GAME_OVER, 5000), 0);
    CHECK_EQ(h_wait_exit(gm, 10000), 0);
    CHECK_EQ(h_log_count(gm, "event=match_recorded"), 1);
    CHECK_EQ(h_log_count(gm, "event=match_aborted"), 0);
    PGconn *db = PQconnectdb(h_pg_conninfo());
    CHECK(PQstatus(db) == CONNECTION_OK);
    char mid[32];
    snprintf(mid, sizeof mid, "%llu", (unsigned long long)match_id);
    const char *params[] = {mid};
    PGresult *res = PQexecParams(db, "SELECT game_server_id FROM matches WHERE id = $1", 1, NULL,
                                 params, NULL, NULL, 0);
    CHECK(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1);
    CHECK_EQ(strtoul(PQgetvalue(res, 0, 0), NULL, 10), game_id);
    PQclear(res);
    PQfinish(db);
    printf("drain game with a match running: the match ended (GAME_OVER), its record is in "
           "PostgreSQL, drained in %llu ms\n", (unsigned long long)took);
    csync_close(c);
    stop(gw);
    stop(lb);
}

static void scenario_gateway_ops(void)
{
    h_new_prefix("gwops");
    int port;
    const char *gwenv[] = {"LOG_LEVEL=info", "RATE_LIMIT=100000", "RATE_BURST=100000", NULL};
    proc_t *lb = h_spawn(LOBBYD_PATH, "lobbyd", lobby_env());
    CHECK(h_wait_registered("Lobby", 1, 10000) >= 0);
    proc_t *gw = h_spawn_gateway(&port, gwenv);
    uint32_t gw_id = id_of(gw);
    int gw_admin = admin_port_of(gw);
    char body[4096], args[256];
    CHECK_EQ(wait_status(gw_admin, "/readyz", 200, 15000, body, sizeof body), 200);

    /* log level: no debug lines until it is changed, then there are */
    csync_t *c0 = connect_gw(port);
    csync_close(c0);
    h_sleep_ms(200);
    CHECK_EQ(h_log_count(gw, "level=debug"), 0);
    snprintf(args, sizeof args, "log-level gateway:%u debug", gw_id);
    CHECK_EQ(ctl(args), 0);
    CHECK(strstr(ctl_out, "debug") != NULL);
    CHECK_EQ(http(gw_admin, "GET", "/log-level", body, sizeof body), 200);
    CHECK(strncmp(body, "debug", 5) == 0);
    c0 = connect_gw(port);
    csync_close(c0);
    CHECK(h_wait_log(gw, "event=client_closed", 1, 3000) >= 0); /* a debug event */
    CHECK_EQ(h_log_count(gw, "event=log_level level=debug source=admin"), 1);
    printf("log-level: debug lines appear after clusterctl log-level\n");
    snprintf(args, sizeof args, "log-level %u info", gw_id);
    CHECK_EQ(ctl(args), gw_id == id_of(lb) ? 2 : 0); /* ids are per type: TYPE:ID when shared */
    snprintf(args, sizeof args, "log-level gateway:%u info", gw_id);
    CHECK_EQ(ctl(args), 0);

    /* who and kick */
    char name[32], lower[32];
    snprintf(name, sizeof name, "Adm%d", (int)(getpid() % 100000));
    for (size_t i = 0; i <= strlen(name); i++)
        lower[i] = (char)tolower((unsigned char)name[i]);
    csync_t *c = connect_gw(port);
    uint64_t uid = login(c, name);
    snprintf(args, sizeof args, "who %s --json", lower);
    CHECK_EQ(ctl(args), 0);
    char want[128];
    snprintf(want, sizeof want, "\"user_id\":%llu,", (unsigned long long)uid);
    CHECK(strstr(ctl_out, want) != NULL);
    CHECK(strstr(ctl_out, "\"online\":true") != NULL);
    snprintf(want, sizeof want, "\"gateway\":%u,", gw_id);
    CHECK(strstr(ctl_out, want) != NULL);
    snprintf(args, sizeof args, "who %llu", (unsigned long long)uid);
    CHECK_EQ(ctl(args), 0);
    CHECK(strstr(ctl_out, "online    yes") != NULL);
    snprintf(args, sizeof args, "kick %s --reason 'maintenance now'", name);
    CHECK_EQ(ctl(args), 0);
    CHECK_EQ(wait_push(c, PACKET_TYPE__KICKED, 3000), 0);
    CHECK_EQ(csync_wait_closed(c, 3000), 0);
    csync_close(c);
    uint64_t t0 = h_now_ms();
    do {
        h_sleep_ms(100);
        snprintf(args, sizeof args, "who %s --json", name);
        CHECK_EQ(ctl(args), 0);
    } while (!strstr(ctl_out, "\"online\":false") && h_now_ms() - t0 < 5000);
    CHECK(strstr(ctl_out, "\"online\":false") != NULL);
    snprintf(args, sizeof args, "kick %s", name);
    CHECK_EQ(ctl(args), 1); /* not online any more */
    CHECK_EQ(ctl("who nobody-like-this"), 1);
    printf("who/kick: found by name and id, kicked (KICKED push, closed), offline after\n");

    /* SIGHUP to the gateway and the lobby ends neither: a client still gets its echo */
    h_kill(gw, SIGHUP);
    h_kill(lb, SIGHUP);
    h_sleep_ms(200);
    CHECK(h_alive(gw));
    CHECK(h_alive(lb));
    {
        csync_t *ch = connect_gw(port);
        uint32_t hsid;
        CHECK_EQ(echo_once(ch, ECHO_TARGET__LOBBY, &hsid, 3000), 0);
        csync_close(ch);
    }
    printf("SIGHUP: gateway and lobby still up and serving\n");

    /* drain of the gateway: every client gets SERVER_CLOSING, then is closed */
    csync_t *cs[3];
    for (int i = 0; i < 3; i++)
        cs[i] = connect_gw(port);
    uint32_t sid;
    CHECK_EQ(echo_once(cs[0], ECHO_TARGET__LOBBY, &sid, 3000), 0);
    snprintf(args, sizeof args, "drain gateway:%u", gw_id);
    t0 = h_now_ms();
    CHECK_EQ(ctl(args), 0);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(wait_push(cs[i], PACKET_TYPE__SERVER_CLOSING, 5000), 0);
        CHECK_EQ(csync_wait_closed(cs[i], 5000), 0);
        csync_close(cs[i]);
    }
    int st = h_wait_exit(gw, 10000);
    printf("drain gateway: clients told SERVER_CLOSING and closed; exit %d after %llu ms\n", st,
           (unsigned long long)(h_now_ms() - t0));
    CHECK_EQ(st, 0);
    CHECK(!in_registry("Gateway", gw_id));
    stop(lb);
}

/* A supervisor that repeats SIGTERM (every millisecond here, until the process is gone) must
 * still get a clean exit 0: each SIGTERM lands either while the daemon drains (handled), or
 * after it closed its signal handlers on the way out (ignored, not the default death). */
static void sigterm_storm(proc_t *p)
{
    uint64_t t0 = h_now_ms();
    int sent = 0;
    while (h_alive(p)) {
        if (h_now_ms() - t0 > 15000) {
            fprintf(stderr, "%s still alive 15 s into a SIGTERM storm\n", p->name);
            h_fail();
        }
        kill(p->pid, SIGTERM);
        sent++;
        usleep(1000);
    }
    int st = h_wait_exit(p, 1000);
    printf("SIGTERM storm: %s exited %d after %d SIGTERMs in %llu ms\n", p->name, st, sent,
           (unsigned long long)(h_now_ms() - t0));
    CHECK_EQ(st, 0);
}

static void scenario_sigterm_storm(void)
{
    h_new_prefix("storm");
    int port;
    proc_t *gm = h_spawn(GAMED_PATH, "gamed", game_env());
    proc_t *gw = h_spawn_gateway(&port, NULL);
    CHECK(h_wait_registered("Game", 1, 10000) >= 0);
    CHECK(h_wait_registered("Gateway", 1, 10000) >= 0);
    sigterm_storm(gw);
    sigterm_storm(gm);
}

/* --version on every binary: exit 0, "<name> <version>" with the CMake project version. */
static void scenario_versions(void)
{
    static const struct { const char *path, *name; } bins[] = {
        {GATEWAYD_PATH, "gatewayd"}, {LOBBYD_PATH, "lobbyd"}, {GAMED_PATH, "gamed"},
        {BOT_PATH, "bot"}, {CLUSTERCTL_PATH, "clusterctl"},
    };
    for (size_t i = 0; i < sizeof bins / sizeof bins[0]; i++) {
        char cmd[1024], out[256], want[64];
        snprintf(cmd, sizeof cmd, "'%s' --version", bins[i].path);
        FILE *f = popen(cmd, "r");
        CHECK(f != NULL);
        size_t n = fread(out, 1, sizeof out - 1, f);
        out[n] = '\0';
        int st = pclose(f);
        printf("$ %s --version -> %s", bins[i].name, out);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        snprintf(want, sizeof want, "%s " CLUSTER_VERSION "\n", bins[i].name);
        CHECK(strcmp(out, want) == 0);
    }
}

int main(void)
{
    h_init("admin");
    scenario_versions();
    h_pg_start();
    scenario_metrics_and_health();
    scenario_status();
    drain_under_load("Game", GAMED_PATH, "game");
    drain_under_load("Lobby", LOBBYD_PATH, "lobby");
    scenario_match_drain();
    scenario_gateway_ops();
    scenario_sigterm_storm();
    printf("admin: all scenarios passed\n");
    return 0;
}
