/* backend_main: config table and loop for a backend daemon. */
#include "backend_main.h"

#include <string.h>
#include <uv.h>

#include "alloc.h"
#include "daemon.h"
#include "link.h"
#include "log.h"

static const cfg_opt_t COMMON_OPTS[] = {
    DAEMON_COMMON_OPTS("0.0.0.0:0"),
    {"DRAIN_TIMEOUT_MS", CFG_INT, "30000", "longest a graceful stop waits for work to finish", 0, 3600000, 0, 0},
    {"LINK_DEAD_MS", CFG_INT, "1000", "gateway link silence (x3) after which it is closed", 100, 600000, 0, 0},
    {"MSG_BUDGET", CFG_INT, "262144", "bytes one request may take to decode", 1024, 16777216, 0, 0},
};

int backend_main(int argc, char **argv, const backend_app_t *app)
{
    cfg_opt_t opts[CFG_OPTS_MAX];
    int ncommon = (int)(sizeof COMMON_OPTS / sizeof COMMON_OPTS[0]);
    if (ncommon + app->nopts > CFG_OPTS_MAX)
        return 2;
    memcpy(opts, COMMON_OPTS, sizeof COMMON_OPTS);
    if (app->nopts)
        memcpy(opts + ncommon, app->opts, (size_t)app->nopts * sizeof *opts);
    config_t cfg;
    int rc = daemon_setup(&cfg, opts, ncommon + app->nopts, argc, argv, app->daemon, app->about);
    if (rc)
        return rc < 0 ? 0 : rc;
    uv_loop_t loop;
    uv_loop_init(&loop);
    backend_opts_t o = {
        .peer_type = app->peer_type,
        .redis_prefix = config_str(&cfg, "REDIS_PREFIX"),
        .routes = app->routes,
        .nroutes = app->nroutes,
        .drain_timeout_ms = config_int(&cfg, "DRAIN_TIMEOUT_MS"),
        .link_dead_ms = config_int(&cfg, "LINK_DEAD_MS"),
        .msg_budget = (size_t)config_int(&cfg, "MSG_BUDGET"),
        .busy = app->busy,
        .on_session_closed = app->on_session_closed,
        .on_game_lost = app->on_game_lost,
        .on_redis_up = app->on_redis_up,
        .on_drain_timeout = app->on_drain_timeout,
        .on_stop = app->on_stop,
    };
    backend_t *be = backend_new(&loop, &cfg, &o);
    if (!be)
        return 1;
    void *ud = NULL;
    if (app->init) {
        ud = app->init(be, &loop, &cfg);
        if (!ud) {
            log_error("init_failed", "daemon=%s", app->daemon);
            return 1;
        }
        backend_set_ud(be, ud);
    }
    log_info("started", "version=%s type=%s", CLUSTER_VERSION, peer_type_name(app->peer_type));
    uv_run(&loop, UV_RUN_DEFAULT);
    if (app->free && ud)
        app->free(ud);
    backend_free(be);
    rc = uv_loop_close(&loop);
    log_info("exit", "loop_close=%d heap_bytes=%zu", rc, alloc_used());
    return 0;
}
