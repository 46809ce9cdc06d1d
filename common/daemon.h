/* daemon: what every daemon's main shares: the common options and process setup. */
#ifndef CLUSTER_DAEMON_H
#define CLUSTER_DAEMON_H

#include "config.h"

#ifndef CLUSTER_VERSION
#define CLUSTER_VERSION "0.1.0" /* CMake defines it with the commit */
#endif

/* Options every daemon reads; each daemon appends its own (see src_* main.c). */
#define DAEMON_COMMON_OPTS(listen_default)                                                      \
    {"REDIS_URL", CFG_STR, "redis://127.0.0.1:6379", "Redis URL redis://[:pw@]host[:port][/db]", 0, 0, 0, 0}, \
    {"REDIS_PREFIX", CFG_STR, "", "prefix of every Redis key and channel", 0, 0, 0, 0},              \
    {"REDIS_SENTINELS", CFG_STR, "", "Sentinels host:port,... to ask for the master (empty: REDIS_URL's host; its password and db still apply)", 0, 0, 0, 0}, \
    {"REDIS_MASTER_NAME", CFG_STR, "cluster", "the master's name in Sentinel", 0, 0, 0, 0},          \
    {"CLUSTER_SECRET", CFG_STR, "", "shared secret of the inter-server links (required)", 0, 0, 0, 0}, \
    {"LISTEN_ADDR", CFG_STR, listen_default, "host:port to listen on (port 0: any free port)", 0, 0, 0, 0}, \
    {"ADVERTISE_ADDR", CFG_STR, "", "address published in the registry (default: first IPv4)", 0, 0, 0, 0}, \
    {"LOG_LEVEL", CFG_STR, "info", "debug, info, warn or error", 0, 0, 0, 0},                        \
    {"ADMIN_ADDR", CFG_STR, "127.0.0.1:0", "admin HTTP host:port: /metrics /healthz /readyz /drain (port 0: any free port; empty: off)", 0, 0, 0, 0}

/* Loads the config, sets up logging, ignores SIGPIPE and checks the common options.
 * Returns 0 to go on, or the exit code to return from main (0 after --help). */
int daemon_setup(config_t *cfg, const cfg_opt_t *opts, int nopts, int argc, char **argv,
                 const char *daemon, const char *about);

#endif
