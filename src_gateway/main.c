/* gatewayd: holds every client connection and routes packets by type to lobby and game
 * daemons found through the Redis registry. */
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "alloc.h"
#include "daemon.h"
#include "gateway.h"
#include "log.h"
#include "listeners.h"
#include "session.h"
#include "supervisor.h"
#include "shell.h"
#include "upstream.h"
#include "util.h"

static const cfg_opt_t OPTS[] = {
    DAEMON_COMMON_OPTS("0.0.0.0:7000"),
    {"MAX_FRAME", CFG_INT, "65536", "largest client payload in bytes", 64, 16777216, CFG_AT(gw_settings_t, max_frame)},
    {"IDLE_TIMEOUT_MS", CFG_INT, "60000", "close clients silent this long (send PING to stay)", 100, 86400000, CFG_AT(gw_settings_t, idle_timeout_ms)},
    {"WRITE_QUEUE_MAX", CFG_INT, "1048576", "output bytes queued for a client before it is dropped", 4096, 1073741824, CFG_AT(gw_settings_t, write_queue_max)},
    {"RATE_LIMIT", CFG_INT, "200", "packets per second per session (sustained)", 1, 1000000, CFG_AT(gw_settings_t, rate_limit)},
    {"RATE_BURST", CFG_INT, "400", "packets a session may send in a burst", 1, 1000000, CFG_AT(gw_settings_t, rate_burst)},
    {"RATE_KICK_AFTER", CFG_INT, "100", "refused packets in a row before the session is closed", 1, 1000000, CFG_AT(gw_settings_t, rate_kick_after)},
    {"LINK_PING_MS", CFG_INT, "250", "ping interval on backend links", 10, 60000, CFG_AT(gw_settings_t, link_ping_ms)},
    {"LINK_DEAD_MS", CFG_INT, "1000", "a backend link silent this long is dead", 50, 600000, CFG_AT(gw_settings_t, link_dead_ms)},
    {"MATCH_LINK_GRACE_MS", CFG_INT, "5000", "a lost game daemon link keeps its matches' sessions bound this long (0: abort at once)", 0, 600000, CFG_AT(gw_settings_t, match_link_grace_ms)},
    {"RECONNECT_MAX_MS", CFG_INT, "2000", "cap of the backend reconnect backoff", 50, 600000, CFG_AT(gw_settings_t, reconnect_max_ms)},
    {"REQUEST_TIMEOUT_MS", CFG_INT, "5000", "a backend request unanswered this long gets TIMEOUT", 50, 600000, CFG_AT(gw_settings_t, request_timeout_ms)},
    {"SWEEP_MS", CFG_INT, "500", "how often the registry lists are re-read", 50, 60000, CFG_AT(gw_settings_t, sweep_ms)},
    {"MAX_SESSIONS", CFG_INT, "200000", "client connections accepted at most", 1, 10000000, CFG_AT(gw_settings_t, max_sessions)},
    {"MSG_BUDGET", CFG_INT, "262144", "bytes one message may take to decode", 1024, 16777216, 0, 0},
    {"DRAIN_TIMEOUT_MS", CFG_INT, "10000", "longest a graceful stop waits for requests in flight", 0, 3600000, CFG_AT(gw_settings_t, drain_timeout_ms)},
    {"TLS_LISTEN_ADDR", CFG_STR, "", "host:port for clients over TLS 1.2/1.3 (empty: off)", 0, 0, 0, 0},
    {"WS_LISTEN_ADDR", CFG_STR, "", "host:port for clients over WebSocket, ws:// (empty: off)", 0, 0, 0, 0},
    {"WSS_LISTEN_ADDR", CFG_STR, "", "host:port for clients over WebSocket in TLS, wss:// (empty: off)", 0, 0, 0, 0},
    {"TLS_CERT_FILE", CFG_STR, "", "PEM certificate chain of the TLS and WSS listeners", 0, 0, 0, 0},
    {"TLS_KEY_FILE", CFG_STR, "", "PEM private key of the TLS and WSS listeners", 0, 0, 0, 0},
    {"TLS_HANDSHAKE_MS", CFG_INT, "5000", "a TLS handshake not done in this time is closed", 50, 600000, 0, 0},
    {"WS_HANDSHAKE_MS", CFG_INT, "5000", "a WebSocket upgrade not done in this time is closed", 50, 600000, 0, 0},
    {"WS_HANDSHAKE_MAX", CFG_INT, "8192", "bytes of a WebSocket upgrade request at most (431 past it)", 512, 65536, 0, 0},
    {"WS_ALLOWED_ORIGINS", CFG_STR, "", "comma-separated Origins allowed to upgrade (empty: any)", 0, 0, 0, 0},
    {"GATEWAY_WORKERS", CFG_INT, "0", "gateway processes sharing the client ports (SO_REUSEPORT) under one supervisor (0: one per core; 1: no supervisor)", 0, 256, 0, 0},
};

typedef struct gw_main {
    gw_t gw;
    shell_t *sh;
    listeners_t *listeners;
    uv_timer_t tick;
    uint64_t last_sweep_ms;
    uint64_t sessions_lost;
} gw_main_t;

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
}

/* ---- the shell's hooks (shell.h) ---- */

/* The graceful stop began: stop accepting; the requests in flight finish (busy), then the
 * shell deregisters and stop closes every client with SERVER_CLOSING. */
static void on_drain(void *ud)
{
    gw_main_t *m = ud;
    gw_t *gw = &m->gw;
    gw->draining = 1;
    log_info("draining_sessions", "sessions=%zu pending=%zu", sessions_count(gw->sessions),
             upstreams_pending(gw->ups));
    listeners_close(m->listeners);
}

static int busy(void *ud)
{
    gw_main_t *m = ud;
    return upstreams_pending(m->gw.ups) > 0;
}

static void on_stop(void *ud)
{
    gw_main_t *m = ud;
    gw_t *gw = &m->gw;
    log_info("stopped", "sessions=%zu", sessions_count(gw->sessions));
    sessions_close_all(gw->sessions); /* reports logged-in sessions to a lobby */
    conn_loop_flush(gw->cl);          /* ... and sends the reports before the links close */
    upstreams_close(gw->ups);
    uv_close((uv_handle_t *)&m->tick, NULL);
    rconn_close(gw->redis_sub);
    conn_loop_close(gw->cl);
}

static int admin_kick(void *ud, uint64_t session, const char *reason)
{
    gw_main_t *m = ud;
    return session_kick_operator(m->gw.sessions, session, reason);
}

static int ready(void *ud, char *why, size_t n)
{
    gw_main_t *m = ud;
    if (upstreams_up_count(m->gw.ups, PEER_LOBBY) < 1) {
        snprintf(why, n, "no lobby link up");
        return 0;
    }
    return 1;
}

static void collect(metrics_t *mt, void *ud)
{
    gw_main_t *m = ud;
    gw_t *gw = &m->gw;
    const gw_stats_t *st = &gw->stats;
    metrics_set_gauge(mt, "cluster_redis_up", "1 while the Redis connection is up", "conn=subscriber",
                      rconn_up(gw->redis_sub));
    metrics_set_gauge(mt, "cluster_gateway_sessions", "client connections open", NULL,
                      (double)sessions_count(gw->sessions));
    metrics_set_counter(mt, "cluster_gateway_connections_accepted_total", "client connections accepted",
                        NULL, st->accepted);
    metrics_set_counter(mt, "cluster_gateway_connections_refused_total",
                        "client connections closed at once (draining or MAX_SESSIONS)", NULL, st->refused);
    metrics_set_enum_counts(mt, "cluster_gateway_packets_in_total", "frames received from clients, by packet type",
                            "type", &packet_type__descriptor, st->packets_in);
    metrics_set_enum_counts(mt, "cluster_gateway_packets_out_total", "frames queued for clients, by packet type",
                            "type", &packet_type__descriptor, st->packets_out);
    metrics_set_enum_counts(mt, "cluster_gateway_errors_sent_total",
                            "ERROR_RESPONSE frames sent to clients (the gateway's and the backends'), by ErrorCode",
                            "code", &error_code__descriptor, st->errors_out);
    metrics_set_counter(mt, "cluster_gateway_bytes_in_total", "bytes received from clients", NULL, st->bytes_in);
    metrics_set_counter(mt, "cluster_gateway_bytes_out_total", "bytes queued for clients", NULL, st->bytes_out);
    metrics_set_counter(mt, "cluster_gateway_requests_forwarded_total", "client requests sent to a backend",
                        NULL, st->forwarded);
    metrics_set_counter(mt, "cluster_gateway_responses_total", "backend responses delivered", NULL, st->responses);
    metrics_set_counter(mt, "cluster_gateway_request_timeouts_total",
                        "requests answered TIMEOUT (backend silent for REQUEST_TIMEOUT_MS)", NULL, st->timeouts);
    static const char DROPPED[] = "cluster_gateway_clients_dropped_total";
    static const char DROPPED_HELP[] = "clients closed by the gateway, by reason";
    metrics_set_counter(mt, DROPPED, DROPPED_HELP, "reason=slow", st->dropped_slow);
    metrics_set_counter(mt, DROPPED, DROPPED_HELP, "reason=idle", st->dropped_idle);
    metrics_set_counter(mt, DROPPED, DROPPED_HELP, "reason=flood", st->dropped_flood);
    metrics_set_counter(mt, DROPPED, DROPPED_HELP, "reason=bad_frame", st->dropped_bad_frame);
    static const char UNREP[] = "cluster_gateway_session_closes_unreported_total";
    static const char UNREP_HELP[] = "closes of logged-in sessions that found no lobby up: queued (reported "
                                     "when one is up), or lost (queue full)";
    metrics_set_counter(mt, UNREP, UNREP_HELP, "fate=queued", st->closes_queued);
    metrics_set_counter(mt, UNREP, UNREP_HELP, "fate=lost", st->closes_lost);
    metrics_set_counter(mt, "cluster_gateway_binds_fenced_total",
                        "BIND_GAME/KICK/BIND refused as a stale daemon's (not about the session's current match)",
                        NULL, st->binds_fenced);
    metrics_set_counter(mt, "cluster_gateway_sessions_lost_total", "logged-in sessions told to log in again (SESSION_LOST) after Redis lost its data",
                        NULL, m->sessions_lost);
    metrics_set_gauge(mt, "cluster_gateway_pending_requests", "requests in flight on every backend link",
                      NULL, (double)upstreams_pending(gw->ups));
    upstreams_collect(gw->ups, mt);
    listeners_collect(m->listeners, mt);
}

/* Redis came back without the cluster's data: the lobby knows none of this gateway's
 * logged-in sessions any more (no location to push to, no token), so each is told to log in
 * again rather than left half-connected. */
static void on_data_lost(void *ud)
{
    gw_main_t *m = ud;
    size_t n = sessions_lost(m->gw.sessions);
    m->sessions_lost += n;
    log_warn("sessions_lost", "sessions=%zu reason=redis_data_lost action=kick", n);
}

static void on_redis(int up, void *ud)
{
    gw_main_t *m = ud;
    gw_t *gw = &m->gw;
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

static void on_registered(uint32_t id, void *ud)
{
    gw_t *gw = &((gw_main_t *)ud)->gw;
    /* Links wait for our id (it is in the handshake): connect now. */
    upstreams_tick(gw->ups);
}

/* The shell (shell.h) around the listeners: Redis, the registry entry, signals, drain, admin. */
static int start_shell(gw_main_t *m, const config_t *cfg, char *advertise, size_t n)
{
    gw_t *gw = &m->gw;
    shell_advertise(advertise, n, config_str(cfg, "ADVERTISE_ADDR"), listeners_host(m->listeners));
    shell_opts_t so = {.type = "Gateway", .advertise = advertise, .port = listeners_port(m->listeners),
                       .drain_timeout_ms = gw->s.drain_timeout_ms};
    shell_hooks_t sh = {.ud = m, .drain = on_drain, .busy = busy, .stop = on_stop, .ready = ready,
                        .collect = collect, .redis_event = on_redis, .registered = on_registered,
                        .data_lost = on_data_lost, .kick = admin_kick};
    m->sh = shell_new(gw->loop, cfg, &so, &sh);
    if (!m->sh)
        return -1;
    gw->redis = shell_redis(m->sh);
    gw->reg = shell_registry(m->sh);
    if (shell_add_reload(m->sh, "/reload-tls", listeners_tls_load, listeners_tls_apply, m->listeners) != 0)
        return -1;
    const char *worker = getenv("GATEWAY_WORKER");
    if (worker) { /* clusterctl status groups the workers of one supervisor */
        char hostname[256] = "", of[320];
        gethostname(hostname, sizeof hostname - 1);
        snprintf(of, sizeof of, "%s/%d", hostname, (int)getppid());
        (void)registry_set_field(gw->reg, "worker_of", of);
        (void)registry_set_field(gw->reg, "worker", worker);
    }
    return 0;
}

int main(int argc, char **argv)
{
    config_t cfg;
    int rc = daemon_setup(&cfg, OPTS, (int)(sizeof OPTS / sizeof OPTS[0]), argc, argv, "gateway",
                          "gatewayd: the client-facing gateway of the game server cluster");
    if (rc)
        return rc < 0 ? 0 : rc;
    int workers = supervisor_workers(&cfg);
    if (workers)
        return supervisor_run(&cfg, workers, argv);
    if (getenv("GATEWAY_WORKER")) /* a worker does not outlive its supervisor (kill -9 of it included) */
        (void)prctl(PR_SET_PDEATHSIG, SIGTERM);

    static gw_main_t m;
    gw_t *gw = &m.gw;
    uv_loop_t loop;
    uv_loop_init(&loop);
    gw->loop = &loop;
    config_apply(&cfg, &gw->s); /* the gateway's own options land in their fields (CFG_AT) */
    gw->s.prefix = config_str(&cfg, "REDIS_PREFIX"); /* a common option: no field of ours */
    gw->cl = conn_loop_new(&loop);
    pb_arena_init(&gw->arena, (size_t)config_int(&cfg, "MSG_BUDGET"));
    link_key_derive(gw->key, config_str(&cfg, "CLUSTER_SECRET"));

    gw->sessions = sessions_new(gw);
    m.listeners = listeners_new(gw, &cfg);
    char advertise[256];
    if (!m.listeners || start_shell(&m, &cfg, advertise, sizeof advertise) != 0)
        return 1;
    gw->ups = upstreams_new(gw);
    upstream_hooks_t up_hooks = sessions_upstream_hooks(gw->sessions);
    upstreams_set_hooks(gw->ups, &up_hooks);
    gw->redis_sub = rconn_new(&loop, config_str(&cfg, "REDIS_URL"), "subscriber", on_redis_sub, gw);
    rconn_set_subscriber(gw->redis_sub);

    uv_timer_init(&loop, &m.tick);
    m.tick.data = &m;
    uv_timer_start(&m.tick, on_tick, 25, 25);
    log_info("listening", "addr=%s port=%d advertise=%s max_frame=%u", listeners_host(m.listeners),
             listeners_port(m.listeners), advertise, gw->s.max_frame);

    uv_run(&loop, UV_RUN_DEFAULT);

    upstreams_free(gw->ups);
    sessions_free(gw->sessions);
    listeners_free(m.listeners);
    shell_free(m.sh);
    pb_arena_free(&gw->arena);
    sodium_memzero(gw->key, sizeof gw->key);
    rc = uv_loop_close(&loop);
    log_info("exit", "loop_close=%d heap_bytes=%zu", rc, alloc_used());
    return 0;
}
