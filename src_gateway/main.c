/* gatewayd: holds every client connection and routes packets by type to lobby and game
 * daemons found through the Redis registry. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "alloc.h"
#include "daemon.h"
#include "gateway.h"
#include "log.h"
#include "session.h"
#include "upstream.h"
#include "util.h"

static const cfg_opt_t OPTS[] = {
    DAEMON_COMMON_OPTS("0.0.0.0:7000"),
    {"MAX_FRAME", CFG_INT, "65536", "largest client payload in bytes", 64, 16777216},
    {"IDLE_TIMEOUT_MS", CFG_INT, "60000", "close clients silent this long (send PING to stay)", 100, 86400000},
    {"WRITE_QUEUE_MAX", CFG_INT, "1048576", "output bytes queued for a client before it is dropped", 4096, 1073741824},
    {"RATE_LIMIT", CFG_INT, "200", "packets per second per session (sustained)", 1, 1000000},
    {"RATE_BURST", CFG_INT, "400", "packets a session may send in a burst", 1, 1000000},
    {"RATE_KICK_AFTER", CFG_INT, "100", "refused packets in a row before the session is closed", 1, 1000000},
    {"LINK_PING_MS", CFG_INT, "250", "ping interval on backend links", 10, 60000},
    {"LINK_DEAD_MS", CFG_INT, "1000", "a backend link silent this long is dead", 50, 600000},
    {"RECONNECT_MAX_MS", CFG_INT, "2000", "cap of the backend reconnect backoff", 50, 600000},
    {"REQUEST_TIMEOUT_MS", CFG_INT, "5000", "a backend request unanswered this long gets TIMEOUT", 50, 600000},
    {"SWEEP_MS", CFG_INT, "500", "how often the registry lists are re-read", 50, 60000},
    {"MAX_SESSIONS", CFG_INT, "200000", "client connections accepted at most", 1, 10000000},
    {"MSG_BUDGET", CFG_INT, "262144", "bytes one message may take to decode", 1024, 16777216},
    {"DRAIN_TIMEOUT_MS", CFG_INT, "10000", "longest a graceful stop waits for requests in flight", 0, 3600000},
};

typedef struct gw_main {
    gw_t gw;
    uv_tcp_t listener;
    uv_timer_t tick;
    uv_signal_t sigterm, sigint;
    uint64_t last_sweep_ms;
    uint64_t drain_started_ms;
    int stopping;
} gw_main_t;

static void on_client(uv_stream_t *server, int status)
{
    gw_main_t *m = server->data;
    if (status < 0) {
        log_warn("accept_failed", "error=%s", uv_strerror(status));
        return;
    }
    sessions_accept(m->gw.sessions, server);
}

static void noop_close(uv_handle_t *h) { (void)h; }

static void finish_stop(void *ud)
{
    gw_main_t *m = ud;
    gw_t *gw = &m->gw;
    log_info("stopped", "sessions=%zu", sessions_count(gw->sessions));
    sessions_close_all(gw->sessions);
    upstreams_close(gw->ups);
    uv_close((uv_handle_t *)&m->tick, noop_close);
    uv_close((uv_handle_t *)&m->sigterm, noop_close);
    uv_close((uv_handle_t *)&m->sigint, noop_close);
    rconn_close(gw->redis);
    rconn_close(gw->redis_sub);
    registry_free(gw->reg);
    conn_loop_close(gw->cl);
}

static void on_tick(uv_timer_t *t)
{
    gw_main_t *m = t->data;
    gw_t *gw = &m->gw;
    uint64_t now = uv_now(gw->loop);
    upstreams_tick(gw->ups);
    if (now - m->last_sweep_ms >= 250) {
        m->last_sweep_ms = now;
        sessions_sweep(gw->sessions);
        registry_set_load(gw->reg, 0, (int)sessions_count(gw->sessions));
    }
    if (gw->draining && m->stopping == 1) {
        int done = upstreams_pending(gw->ups) == 0;
        if (done || now - m->drain_started_ms >= (uint64_t)gw->s.drain_timeout_ms) {
            m->stopping = 2;
            registry_deregister(gw->reg, finish_stop, m);
        }
    }
}

static void on_signal(uv_signal_t *s, int signum)
{
    gw_main_t *m = s->data;
    gw_t *gw = &m->gw;
    log_info("signal", "signum=%d action=%s", signum, m->stopping ? "already_stopping" : "drain");
    if (m->stopping)
        return;
    m->stopping = 1;
    gw->draining = 1;
    m->drain_started_ms = uv_now(gw->loop);
    uv_close((uv_handle_t *)&m->listener, noop_close);
    registry_set_status(gw->reg, REG_STATUS_DRAINING);
}

static void on_redis(rconn_t *r, int up, void *ud)
{
    gw_t *gw = ud;
    registry_redis_event(gw->reg, up);
    upstreams_redis_event(gw->ups, up);
    /* The subscriber has no watchdog of its own: when commands fail, start it afresh too. */
    if (!up && rconn_up(gw->redis_sub))
        rconn_reset(gw->redis_sub);
}

static void on_redis_sub(rconn_t *r, int up, void *ud)
{
    gw_t *gw = ud;
    upstreams_sub_event(gw->ups, up);
}

static void on_registered(registry_t *g, uint32_t id, void *ud)
{
    gw_t *gw = ud;
    /* Links wait for our id (it is in the handshake): connect now. */
    upstreams_tick(gw->ups);
}

int main(int argc, char **argv)
{
    config_t cfg;
    int rc = daemon_setup(&cfg, OPTS, (int)(sizeof OPTS / sizeof OPTS[0]), argc, argv, "gateway",
                          "gatewayd: the client-facing gateway of the game server cluster");
    if (rc)
        return rc < 0 ? 0 : rc;

    static gw_main_t m;
    gw_t *gw = &m.gw;
    uv_loop_t loop;
    uv_loop_init(&loop);
    gw->loop = &loop;
    gw->s = (gw_settings_t){
        .max_frame = (uint32_t)config_int(&cfg, "MAX_FRAME"),
        .idle_timeout_ms = config_int(&cfg, "IDLE_TIMEOUT_MS"),
        .write_queue_max = (size_t)config_int(&cfg, "WRITE_QUEUE_MAX"),
        .rate_limit = config_int(&cfg, "RATE_LIMIT"),
        .rate_burst = config_int(&cfg, "RATE_BURST"),
        .rate_kick_after = config_int(&cfg, "RATE_KICK_AFTER"),
        .link_ping_ms = config_int(&cfg, "LINK_PING_MS"),
        .link_dead_ms = config_int(&cfg, "LINK_DEAD_MS"),
        .reconnect_max_ms = config_int(&cfg, "RECONNECT_MAX_MS"),
        .request_timeout_ms = config_int(&cfg, "REQUEST_TIMEOUT_MS"),
        .sweep_ms = config_int(&cfg, "SWEEP_MS"),
        .max_sessions = config_int(&cfg, "MAX_SESSIONS"),
        .drain_timeout_ms = config_int(&cfg, "DRAIN_TIMEOUT_MS"),
        .prefix = config_str(&cfg, "REDIS_PREFIX"),
    };
    gw->cl = conn_loop_new(&loop);
    pb_arena_init(&gw->arena, (size_t)config_int(&cfg, "MSG_BUDGET"));
    link_key_derive(gw->key, config_str(&cfg, "CLUSTER_SECRET"));

    char host[256];
    int port;
    struct sockaddr_storage ss;
    if (addr_split(config_str(&cfg, "LISTEN_ADDR"), host, sizeof host, &port) < 0 ||
        addr_make(host, port, &ss) != 0) {
        log_error("bad_config", "option=LISTEN_ADDR value=%s reason=not_numeric", config_str(&cfg, "LISTEN_ADDR"));
        return 2;
    }
    uv_tcp_init(&loop, &m.listener);
    m.listener.data = &m;
    rc = uv_tcp_bind(&m.listener, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&m.listener, 4096, on_client);
    if (rc != 0) {
        log_error("listen_failed", "addr=%s error=%s", config_str(&cfg, "LISTEN_ADDR"), uv_strerror(rc));
        return 1;
    }
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    uv_tcp_getsockname(&m.listener, (struct sockaddr *)&bound, &blen);
    port = addr_port((struct sockaddr *)&bound);
    char advertise[256];
    if (*config_str(&cfg, "ADVERTISE_ADDR"))
        snprintf(advertise, sizeof advertise, "%s", config_str(&cfg, "ADVERTISE_ADDR"));
    else if (strcmp(host, "0.0.0.0") != 0 && strcmp(host, "::") != 0)
        snprintf(advertise, sizeof advertise, "%s", host);
    else
        addr_first_ipv4(advertise, sizeof advertise);

    gw->sessions = sessions_new(gw);
    gw->ups = upstreams_new(gw);
    gw->redis = rconn_new(&loop, config_str(&cfg, "REDIS_URL"), "registry", on_redis, gw);
    gw->redis_sub = rconn_new(&loop, config_str(&cfg, "REDIS_URL"), "subscriber", on_redis_sub, gw);
    rconn_set_subscriber(gw->redis_sub);
    gw->reg = registry_new(&loop, gw->redis, gw->s.prefix, "Gateway", advertise, port,
                           CLUSTER_VERSION, on_registered, gw);

    uv_timer_init(&loop, &m.tick);
    m.tick.data = &m;
    uv_timer_start(&m.tick, on_tick, 25, 25);
    uv_signal_init(&loop, &m.sigterm);
    uv_signal_init(&loop, &m.sigint);
    m.sigterm.data = m.sigint.data = &m;
    uv_signal_start(&m.sigterm, on_signal, SIGTERM);
    uv_signal_start(&m.sigint, on_signal, SIGINT);
    log_info("listening", "addr=%s port=%d advertise=%s max_frame=%u", host, port, advertise,
             gw->s.max_frame);

    uv_run(&loop, UV_RUN_DEFAULT);

    upstreams_free(gw->ups);
    sessions_free(gw->sessions);
    pb_arena_free(&gw->arena);
    sodium_memzero(gw->key, sizeof gw->key);
    rc = uv_loop_close(&loop);
    log_info("exit", "loop_close=%d heap_bytes=%zu", rc, alloc_used());
    return 0;
}
