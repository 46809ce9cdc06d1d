/* netns_util: a game daemon in its own network namespace for the fault cases (netns_util.h). */
#include "netns_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static nn_t *active;

/* Runs a shell command quietly; returns its exit status (-1 if it could not run). */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char full[1100];
    snprintf(full, sizeof full, "%s >/dev/null 2>&1", cmd);
    int st = system(full);
    return st == -1 ? -1 : WEXITSTATUS(st);
}

void nn_teardown(void)
{
    if (!active)
        return;
    nn_t *n = active;
    active = NULL;
    /* deleting one end of a pair deletes both; the namespace goes once its last process exits
     * (the harness kills the daemons after this) */
    (void)sh("ip link del %s", n->svc_root);
    (void)sh("ip link del %s", n->link_root);
    (void)sh("ip netns del %s", n->ns);
}

int nn_setup(nn_t *n)
{
    memset(n, 0, sizeof *n);
    if (geteuid() != 0) {
        snprintf(n->why, sizeof n->why, "network namespaces need root (euid %d)", (int)geteuid());
        return -1;
    }
    if (sh("ip -V") != 0) {
        snprintf(n->why, sizeof n->why, "no `ip` command (iproute2)");
        return -1;
    }
    int pid = (int)getpid();
    int k = 16 + pid % 200;
    snprintf(n->ns, sizeof n->ns, "cgt%d", pid);
    snprintf(n->svc_root, sizeof n->svc_root, "cgs%d", pid);
    snprintf(n->svc_ns, sizeof n->svc_ns, "cgS%d", pid);
    snprintf(n->link_root, sizeof n->link_root, "cgl%d", pid);
    snprintf(n->link_ns, sizeof n->link_ns, "cgL%d", pid);
    snprintf(n->svc_root_ip, sizeof n->svc_root_ip, "10.213.%d.1", k);
    snprintf(n->svc_ns_ip, sizeof n->svc_ns_ip, "10.213.%d.2", k);
    snprintf(n->link_root_ip, sizeof n->link_root_ip, "10.213.%d.5", k);
    snprintf(n->link_ns_ip, sizeof n->link_ns_ip, "10.213.%d.6", k);
    if (sh("ip netns add %s", n->ns) != 0) {
        snprintf(n->why, sizeof n->why, "`ip netns add` failed (no CAP_SYS_ADMIN, or no netns support)");
        return -1;
    }
    active = n;
    atexit(nn_teardown);
    int bad = 0;
    bad |= sh("ip netns exec %s ip link set lo up", n->ns);
    bad |= sh("ip link add %s type veth peer name %s", n->svc_root, n->svc_ns);
    bad |= sh("ip link add %s type veth peer name %s", n->link_root, n->link_ns);
    bad |= sh("ip link set %s netns %s", n->svc_ns, n->ns);
    bad |= sh("ip link set %s netns %s", n->link_ns, n->ns);
    bad |= sh("ip addr add %s/30 dev %s", n->svc_root_ip, n->svc_root);
    bad |= sh("ip addr add %s/30 dev %s", n->link_root_ip, n->link_root);
    bad |= sh("ip link set %s up", n->svc_root);
    bad |= sh("ip link set %s up", n->link_root);
    bad |= sh("ip netns exec %s ip addr add %s/30 dev %s", n->ns, n->svc_ns_ip, n->svc_ns);
    bad |= sh("ip netns exec %s ip addr add %s/30 dev %s", n->ns, n->link_ns_ip, n->link_ns);
    bad |= sh("ip netns exec %s ip link set %s up", n->ns, n->svc_ns);
    bad |= sh("ip netns exec %s ip link set %s up", n->ns, n->link_ns);
    if (bad) {
        snprintf(n->why, sizeof n->why, "veth pairs could not be set up (ip link add type veth)");
        nn_teardown();
        return -1;
    }
    /* the harness's Redis listens on loopback: add the services address (Redis 7 takes it live) */
    redisContext *rc = h_redis();
    char bind[64];
    snprintf(bind, sizeof bind, "127.0.0.1 %s", n->svc_root_ip);
    redisReply *r = redisCommand(rc, "CONFIG SET bind %s", bind);
    int ok = r && r->type == REDIS_REPLY_STATUS;
    if (r)
        freeReplyObject(r);
    /* protected mode refuses every client not on loopback while no password is set; this is
     * the test's private Redis, reachable only on loopback and the test's own veth */
    r = ok ? redisCommand(rc, "CONFIG SET protected-mode no") : NULL;
    ok = r && r->type == REDIS_REPLY_STATUS;
    if (r)
        freeReplyObject(r);
    if (!ok) {
        snprintf(n->why, sizeof n->why, "redis-server refused CONFIG SET bind (Redis < 7?)");
        nn_teardown();
        return -1;
    }
    return 0;
}

proc_t *nn_spawn_game(nn_t *n, const char *name, const char *const *extra)
{
    return nn_spawn(n, GAMED_PATH, name, extra);
}

proc_t *nn_spawn(nn_t *n, const char *daemon, const char *name, const char *const *extra)
{
    /* a wrapper that enters the namespace: exec keeps the pid, so signals reach gamed */
    char script[600];
    snprintf(script, sizeof script, "%s/%s-ns.sh", h_dir(), name);
    FILE *f = fopen(script, "w");
    CHECK(f != NULL);
    /* (set here: sh keeps the last of duplicate variables, the harness's defaults come last) */
    fprintf(f, "#!/bin/sh\nexport REDIS_URL=redis://%s:%d LISTEN_ADDR=%s:0 ADVERTISE_ADDR=%s\n"
            "exec ip netns exec %s '%s' \"$@\"\n",
            n->svc_root_ip, h_redis_port(), n->link_ns_ip, n->link_ns_ip, n->ns, daemon);
    fclose(f);
    CHECK(chmod(script, 0755) == 0);
    static char db[600];
    /* PostgreSQL over its Unix socket (in its data folder, scripts/pg.sh): no netns needed */
    snprintf(db, sizeof db, "DATABASE_URL=host=%s/pg port=%d user=postgres dbname=cluster", h_dir(),
             h_pg_port());
    const char *first[] = {db, NULL}, *env[24];
    h_env_join(env, 23, first, extra);
    char *bin = strdup(script); /* the harness keeps the pointer for restarts */
    return h_spawn(bin, name, env);
}

int nn_game_link(nn_t *n, int up)
{
    int rc = sh("ip netns exec %s ip link set %s %s", n->ns, n->link_ns, up ? "up" : "down");
    CHECK_EQ(rc, 0);
    return 0;
}

int nn_netem_available(nn_t *n)
{
    if (sh("ip netns exec %s tc qdisc add dev %s root netem delay 10ms", n->ns, n->link_ns) != 0)
        return 0;
    (void)sh("ip netns exec %s tc qdisc del dev %s root", n->ns, n->link_ns);
    return 1;
}
