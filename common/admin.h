/* admin: the HTTP admin endpoint of a daemon (ADMIN_ADDR), served by libmicrohttpd on its own
 * internal polling thread, so the event loop never blocks on it and it never touches the loop.
 *
 * The loop publishes a snapshot every ADMIN_SNAPSHOT_MS under a mutex: the /metrics text
 * (rendered from a metrics_t), the readiness flag and reason, the log level. The HTTP thread
 * answers from that snapshot only. Actions (drain, log level, kick) are queued under the same
 * mutex and handed to the loop with uv_async_send; the loop runs them through the hooks.
 *
 * Endpoints (docs/operations.md, "Watching and changing it"):
 *   GET  /metrics                 Prometheus text format 0.0.4
 *   GET  /healthz                 200 while the loop is alive (snapshot younger than 2 s)
 *   GET  /readyz                  200 when ready, else 503 with the reason in the body
 *   POST /drain                   starts the graceful stop, as SIGTERM does; 202
 *   GET  /log-level               the current level
 *   PUT|POST /log-level?level=L   sets it (debug, info, warn, error); 200, 400 on a bad level
 *   POST /kick?session=ID[&reason=TEXT]  (when the kick hook is set: the gateway) pushes
 *                                 KICKED and closes the session; 200, 404 when no such session
 *   POST <reload path>            what the daemon registered with admin_add_reload:
 *                                 /reload-modules (game daemon: the game modules; 200, 422),
 *                                 /reload-tls (gateway: certificate and key; 200, 409, 500);
 *                                 the status and report text come from the daemon */
#ifndef CLUSTER_ADMIN_H
#define CLUSTER_ADMIN_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "metrics.h"
#include "registry.h"

#define ADMIN_SNAPSHOT_MS 500
#define ADMIN_STALE_MS 2000

typedef struct admin admin_t;

/* Called on the loop thread. */
typedef struct admin_hooks {
    /* Returns 1 when ready; else 0 with a short reason written to why. Required. */
    int (*ready)(void *ud, char *why, size_t n);
    /* Starts the graceful stop. Required. */
    void (*drain)(void *ud);
    /* Optional: pushes KICKED(reason) to the session and closes it. Returns 0, or -1 when
     * there is no such session. NULL: /kick answers 404. */
    int (*kick)(void *ud, uint64_t session, const char *reason);
    void *ud;
} admin_hooks_t;

#define ADMIN_RELOAD_MSG_MAX 4096
#define ADMIN_RELOADS_MAX 4

/* POST path reloads something the daemon serves from files: work runs on the HTTP thread (it
 * may block: file reads, parsing, compiles; it must touch nothing the loop owns) and returns
 * what apply, on the loop, makes current; apply writes the report into msg, frees what work
 * returned, and returns the HTTP status. Reloads run one at a time. Returns 0, or -1 when the
 * table is full or the path too long. Call before the loop runs. */
typedef void *(*admin_reload_work_fn)(void *ud);
typedef int (*admin_reload_apply_fn)(void *ud, void *prepared, char *msg, size_t n);
int admin_add_reload(admin_t *a, const char *path, admin_reload_work_fn work,
                     admin_reload_apply_fn apply, void *ud) __attribute__((warn_unused_result));

/* Starts serving on addr ("host:port", numeric host; port 0 picks a free port) and publishes
 * the first snapshot at once. Logs event=admin_listening with the port bound. Returns NULL
 * (after logging why) when addr is malformed or can't be bound. m and the hooks' ud must
 * outlive the admin. */
admin_t *admin_new(uv_loop_t *loop, const char *addr, metrics_t *m, const admin_hooks_t *hooks);

/* 1 when addr asks for an admin endpoint (non-empty). */
int admin_enabled(const char *addr);

/* The port actually bound. */
int admin_port(const admin_t *a);

/* Puts the admin address in the daemon's registry hash (fields admin_address, admin_port),
 * published with the next registration: admin_address is the admin's host, or `advertise`
 * when it listens on every interface. Call before the loop runs. */
void admin_publish(const admin_t *a, registry_t *reg, const char *advertise);

/* Stops the HTTP thread (MHD_stop_daemon: waits for it; requests waiting on the loop get
 * 503) and closes the loop handles; the memory is freed in the last close callback. Call on
 * the loop thread before the loop's final run. NULL is ignored. */
void admin_close(admin_t *a);

#endif
