/* daemon: shared process setup for gatewayd, lobbyd and gamed. */
#include "daemon.h"

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "log.h"
#include "rconn.h"
#include "stopsig.h"
#include "util.h"

int daemon_setup(config_t *cfg, const cfg_opt_t *opts, int nopts, int argc, char **argv,
                 const char *daemon, const char *about)
{
    stopsig_block(); /* before any thread exists (stopsig.h) */
    int rc = config_load(cfg, opts, nopts, argc, argv, about);
    if (rc == 1 || rc == 2)
        return -1; /* --help, --version: exit 0 */
    if (rc < 0)
        return 2;
    int level = log_level_parse(config_str(cfg, "LOG_LEVEL"));
    if (level < 0) {
        fprintf(stderr, "%s: LOG_LEVEL must be debug, info, warn or error\n", daemon);
        return 2;
    }
    log_init(daemon, (log_level_t)level);
    if (sodium_init() < 0) {
        log_error("sodium_init_failed", "%s", "");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    /* SIGHUP (a closed terminal or ssh session, a stray `kill -HUP`) must not end a daemon that
     * holds players; log levels change through the admin endpoint (clusterctl log-level). */
    signal(SIGHUP, SIG_IGN);
    /* A gateway holds one descriptor per client: take every descriptor the hard limit allows. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    redis_url_t u;
    if (redis_url_parse(config_str(cfg, "REDIS_URL"), &u) < 0) {
        log_error("bad_config", "option=REDIS_URL value=\"%s\"", config_str(cfg, "REDIS_URL"));
        return 2;
    }
    if (rconn_use_sentinels(config_str(cfg, "REDIS_SENTINELS"), config_str(cfg, "REDIS_MASTER_NAME")) < 0) {
        log_error("bad_config", "option=REDIS_SENTINELS value=\"%s\" reason=\"host:port,... and a REDIS_MASTER_NAME\"",
                  config_str(cfg, "REDIS_SENTINELS"));
        return 2;
    }
    if (strlen(config_str(cfg, "CLUSTER_SECRET")) < 16) {
        log_error("bad_config", "option=CLUSTER_SECRET reason=\"must be set, at least 16 bytes\"%s", "");
        return 2;
    }
    char host[256];
    int port;
    if (addr_split(config_str(cfg, "LISTEN_ADDR"), host, sizeof host, &port) < 0) {
        log_error("bad_config", "option=LISTEN_ADDR value=\"%s\"", config_str(cfg, "LISTEN_ADDR"));
        return 2;
    }
    return 0;
}
