/* shell: signals, registry, graceful stop, admin endpoint and core metrics of a daemon. */
#include "shell.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "daemon.h"
#include "epoch.h"
#include "log.h"
#include "stopsig.h"
#include "util.h"

typedef enum { SH_RUNNING, SH_DRAINING, SH_DEREGISTERING, SH_STOPPED } sh_state_t;

struct shell {
    uv_loop_t *loop;
    shell_opts_t o;
    shell_hooks_t h;
    sh_state_t state;
    int drain_forced;
    uint64_t drain_started_ms;
    uv_timer_t tick;
    stopsig_t *sig;
    rconn_t *redis;
    registry_t *reg;
    epoch_t *epoch;
    metrics_t *metrics;
    admin_t *admin;
    uint64_t redis_disconnects;
};

void shell_advertise(char *out, size_t n, const char *advertise_opt, const char *listen_host)
{
    if (advertise_opt && *advertise_opt)
        snprintf(out, n, "%s", advertise_opt);
    else if (strcmp(listen_host, "0.0.0.0") != 0 && strcmp(listen_host, "::") != 0)
        snprintf(out, n, "%s", listen_host);
    else
        addr_first_ipv4(out, n);
}

static int busy(shell_t *sh) { return sh->h.busy && sh->h.busy(sh->h.ud); }

static void on_deregistered(void *ud)
{
    shell_t *sh = ud;
    sh->state = SH_STOPPED;
    admin_close(sh->admin);
    sh->admin = NULL;
    sh->h.stop(sh->h.ud);
    uv_close((uv_handle_t *)&sh->tick, NULL);
    stopsig_close(sh->sig);
    sh->sig = NULL;
    rconn_close(sh->redis);
    registry_close(sh->reg); /* stays readable (backend_id) until shell_free */
}

/* The drain's steps, polled: done (or given up) -> deregister. */
static void on_tick(uv_timer_t *t)
{
    shell_t *sh = t->data;
    if (sh->state != SH_DRAINING)
        return;
    uint64_t waited = uv_now(sh->loop) - sh->drain_started_ms;
    int working = busy(sh);
    int timed_out = waited >= (uint64_t)sh->o.drain_timeout_ms;
    if (timed_out && working && sh->h.drain_timeout && !sh->drain_forced) {
        sh->drain_forced = 1;
        log_warn("drain_timeout", "%s", "action=force");
        sh->h.drain_timeout(sh->h.ud);
        working = busy(sh);
    }
    int given_up = sh->h.drain_timeout
                       ? sh->drain_forced && waited >= (uint64_t)sh->o.drain_timeout_ms + SHELL_FORCE_GRACE_MS
                       : timed_out;
    if ((working || waited < sh->o.drain_grace_ms) && !given_up)
        return;
    if (working)
        log_warn("drain_gave_up", "waited_ms=%llu", (unsigned long long)waited);
    sh->state = SH_DEREGISTERING;
    registry_deregister(sh->reg, on_deregistered, sh);
}

void shell_drain(shell_t *sh)
{
    if (sh->state != SH_RUNNING)
        return;
    sh->state = SH_DRAINING;
    sh->drain_started_ms = uv_now(sh->loop);
    log_info("draining", "timeout_ms=%lld", (long long)sh->o.drain_timeout_ms);
    registry_set_status(sh->reg, REG_STATUS_DRAINING);
    if (sh->h.drain)
        sh->h.drain(sh->h.ud);
}

static void on_stop_signal(int signum, void *ud)
{
    shell_t *sh = ud;
    log_info("signal", "signum=%d action=%s", signum, sh->state == SH_RUNNING ? "drain" : "already_draining");
    shell_drain(sh);
}

static void on_redis(rconn_t *r, int up, void *ud)
{
    shell_t *sh = ud;
    if (up)
        epoch_redis_up(sh->epoch);
    else
        sh->redis_disconnects++;
    registry_redis_event(sh->reg, up);
    if (sh->h.redis_event)
        sh->h.redis_event(up, sh->h.ud);
}

static void on_registered(registry_t *g, uint32_t id, void *ud)
{
    shell_t *sh = ud;
    if (sh->h.registered)
        sh->h.registered(id, sh->h.ud);
}

static void on_data_lost(void *ud)
{
    shell_t *sh = ud;
    if (sh->h.data_lost)
        sh->h.data_lost(sh->h.ud);
}

/* ---- admin endpoint ---- */

static int admin_ready(void *ud, char *why, size_t n)
{
    shell_t *sh = ud;
    if (sh->state != SH_RUNNING)
        snprintf(why, n, "draining");
    else if (!rconn_up(sh->redis))
        snprintf(why, n, "redis down");
    else if (!registry_registered(sh->reg))
        snprintf(why, n, "not registered");
    else
        return sh->h.ready ? sh->h.ready(sh->h.ud, why, n) : 1;
    return 0;
}

static void admin_drain(void *ud) { shell_drain(ud); }

static int admin_kick(void *ud, uint64_t session, const char *reason)
{
    shell_t *sh = ud;
    return sh->h.kick(sh->h.ud, session, reason);
}

static void collect(metrics_t *m, void *ud)
{
    shell_t *sh = ud;
    metrics_set_gauge(m, "cluster_server_id", "registry id of this daemon (0: not registered yet)",
                      NULL, (double)registry_id(sh->reg));
    metrics_set_gauge(m, "cluster_registered", "1 while registered in Redis", NULL,
                      registry_registered(sh->reg));
    metrics_set_gauge(m, "cluster_draining", "1 once a graceful stop started", NULL,
                      sh->state != SH_RUNNING);
    metrics_set_gauge(m, "cluster_redis_up", "1 while the Redis connection is up", "conn=registry",
                      rconn_up(sh->redis));
    metrics_set_gauge(m, "cluster_redis_rtt_seconds", "round trip of the last Redis watchdog PING",
                      "conn=registry", (double)rconn_last_rtt_us(sh->redis) / 1e6);
    metrics_set_counter(m, "cluster_redis_disconnects_total", "Redis connections lost",
                        "conn=registry", sh->redis_disconnects);
    metrics_set_counter(m, "cluster_redis_data_lost_total",
                        "times Redis came back without the cluster's data (epoch changed)", NULL,
                        epoch_losses(sh->epoch));
    if (sh->h.collect)
        sh->h.collect(m, sh->h.ud);
}

shell_t *shell_new(uv_loop_t *loop, const config_t *cfg, const shell_opts_t *o,
                   const shell_hooks_t *h)
{
    shell_t *sh = xcalloc(1, sizeof *sh);
    sh->loop = loop;
    sh->o = *o;
    sh->h = *h;
    sh->metrics = metrics_new();
    const char *prefix = config_str(cfg, "REDIS_PREFIX");
    /* the URL was checked by daemon_setup: rconn_new fails only on a bad one */
    sh->redis = rconn_new(loop, config_str(cfg, "REDIS_URL"), "registry", on_redis, sh);
    assert(sh->redis);
    sh->epoch = epoch_new(sh->redis, prefix, on_data_lost, sh);
    sh->reg = registry_new(loop, sh->redis, prefix, o->type, o->advertise, o->port, CLUSTER_VERSION,
                           on_registered, sh);
    const char *admin_addr = config_str(cfg, "ADMIN_ADDR");
    if (admin_enabled(admin_addr)) {
        admin_hooks_t ah = {.ready = admin_ready, .drain = admin_drain,
                            .kick = h->kick ? admin_kick : NULL, .ud = sh};
        sh->admin = admin_new(loop, admin_addr, sh->metrics, &ah);
        if (!sh->admin) {
            registry_close(sh->reg);
            rconn_close(sh->redis);
            epoch_free(sh->epoch);
            uv_run(loop, UV_RUN_NOWAIT);
            registry_free(sh->reg);
            metrics_free(sh->metrics);
            xfree(sh);
            return NULL;
        }
        admin_publish(sh->admin, sh->reg, o->advertise);
    }
    /* after the admin's first snapshot: the daemon's part is not built yet */
    metrics_on_collect(sh->metrics, collect, sh);
    uv_timer_init(loop, &sh->tick);
    sh->tick.data = sh;
    uv_timer_start(&sh->tick, on_tick, SHELL_TICK_MS, SHELL_TICK_MS);
    sh->sig = stopsig_start(loop, on_stop_signal, sh);
    return sh;
}

int shell_draining(const shell_t *sh) { return sh->state != SH_RUNNING; }
registry_t *shell_registry(const shell_t *sh) { return sh->reg; }
rconn_t *shell_redis(const shell_t *sh) { return sh->redis; }
metrics_t *shell_metrics(const shell_t *sh) { return sh->metrics; }

int shell_add_reload(shell_t *sh, const char *path, admin_reload_work_fn work,
                     admin_reload_apply_fn apply, void *ud)
{
    return sh->admin ? admin_add_reload(sh->admin, path, work, apply, ud) : 0;
}

void shell_free(shell_t *sh)
{
    assert(sh->state == SH_STOPPED);
    registry_free(sh->reg);
    epoch_free(sh->epoch);
    metrics_free(sh->metrics);
    xfree(sh);
}
