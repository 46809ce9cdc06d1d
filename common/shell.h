/* shell: what every daemon wraps around its own parts: the stop signals, the Redis
 * connection its registry entry lives on (with the data-loss watch), the registry entry, the
 * graceful stop (drain, deregister, close), the admin endpoint and the core metrics.
 *
 * A daemon's main builds its listener(s), then the shell, then its own parts, and runs the
 * loop; the shell calls back through shell_hooks_t. The graceful stop (SIGTERM, SIGINT, admin
 * /drain, shell_drain): status DRAINING in the registry, hooks.drain; then, polled every
 * SHELL_TICK_MS, once hooks.busy says done (and at least drain_grace_ms passed) or the drain
 * timed out, deregister and hooks.stop: the daemon closes its handles and the loop ends. A
 * daemon with hooks.drain_timeout is told at the timeout and gets SHELL_FORCE_GRACE_MS more
 * to wrap up. */
#ifndef CLUSTER_SHELL_H
#define CLUSTER_SHELL_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "admin.h"
#include "config.h"
#include "metrics.h"
#include "rconn.h"
#include "registry.h"

#define SHELL_TICK_MS 50
#define SHELL_FORCE_GRACE_MS 5000

typedef struct shell shell_t;

/* Called on the loop; every hook but stop is optional. */
typedef struct shell_hooks {
    void *ud;
    void (*drain)(void *ud);        /* the graceful stop began: take no new work */
    int (*busy)(void *ud);          /* non-zero while work must finish before deregistering */
    void (*drain_timeout)(void *ud); /* timed out while busy: wrap up now */
    void (*stop)(void *ud);         /* deregistered: close the daemon's own handles */
    /* readiness beyond the shell's own (draining, Redis, registered): 0 with a reason */
    int (*ready)(void *ud, char *why, size_t n);
    void (*collect)(metrics_t *m, void *ud); /* the daemon's metrics, after the core ones */
    void (*redis_event)(int up, void *ud);   /* the registry connection went up or down */
    void (*registered)(uint32_t id, void *ud);
    void (*data_lost)(void *ud); /* Redis came back without the cluster's data */
    int (*kick)(void *ud, uint64_t session, const char *reason); /* admin /kick */
} shell_hooks_t;

typedef struct shell_opts {
    const char *type;      /* registry type: "Gateway", "Lobby", "Game" */
    const char *advertise; /* address published (shell_advertise) */
    int port;              /* the port published */
    int64_t drain_timeout_ms;
    uint64_t drain_grace_ms; /* the least a drain lasts (requests already on the wire) */
} shell_opts_t;

/* The address to publish: ADVERTISE_ADDR, else the listen host unless it is a wildcard,
 * else the host's first non-internal IPv4. */
void shell_advertise(char *out, size_t n, const char *advertise_opt, const char *listen_host);

/* Connects to Redis (REDIS_URL, REDIS_PREFIX of cfg), registers, serves ADMIN_ADDR and reads
 * the stop signals. NULL when the admin endpoint could not start (logged). */
shell_t *shell_new(uv_loop_t *loop, const config_t *cfg, const shell_opts_t *o,
                   const shell_hooks_t *h);
void shell_drain(shell_t *sh);
int shell_draining(const shell_t *sh);
registry_t *shell_registry(const shell_t *sh);
rconn_t *shell_redis(const shell_t *sh);
metrics_t *shell_metrics(const shell_t *sh);
/* Serves POST path on the admin endpoint (admin_add_reload); 0 at once without one. */
int shell_add_reload(shell_t *sh, const char *path, admin_reload_work_fn work,
                     admin_reload_apply_fn apply, void *ud) __attribute__((warn_unused_result));
/* After the loop ended. */
void shell_free(shell_t *sh);

#endif
