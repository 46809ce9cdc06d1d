/* backend_main: the options and main loop that lobbyd and gamed share; each describes itself
 * with a backend_app_t (its route table, its own options and hooks). */
#ifndef CLUSTER_BACKEND_MAIN_H
#define CLUSTER_BACKEND_MAIN_H

#include "backend.h"
#include "config.h"

typedef struct backend_app {
    int peer_type;
    const char *daemon; /* log name: "lobby", "game" */
    const char *about;  /* first line of --help */
    const backend_route_t *routes;
    int nroutes;
    const cfg_opt_t *opts; /* the daemon's own options, after the common ones */
    int nopts;
    /* Optional: builds the daemon's state once the backend is listening; returns the ud
     * passed to handlers, or NULL to exit with an error. */
    void *(*init)(backend_t *be, uv_loop_t *loop, const config_t *cfg);
    void (*on_stop)(void *ud);  /* drain over: close the daemon's handles */
    void (*free)(void *ud);     /* after the loop ended */
    int (*busy)(void *ud);
    void (*on_drain_timeout)(void *ud);
    void (*on_session_closed)(backend_t *be, uint32_t gw_id, uint64_t session, uint64_t user,
                              void *ud);
    void (*on_game_lost)(backend_t *be, uint32_t gw_id, uint32_t game_id, void *ud);
    void (*on_redis_up)(backend_t *be, void *ud);
} backend_app_t;

/* Parses the config (flags and environment), runs the backend until it has drained, and
 * returns the process exit code. */
int backend_main(int argc, char **argv, const backend_app_t *app);

#endif
