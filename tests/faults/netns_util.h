/* netns_util: a game daemon on its own "host" for the fault cases: a network namespace joined
 * to the root namespace by two veth pairs, one carrying its Redis and PostgreSQL traffic
 * ("services", kept up) and one carrying the gateways' links to it ("game link", the one the
 * cases cut and restore). Addresses only inside 10.213.K.0/29, K from the test's pid. Needs
 * root and `ip`; everything is removed at exit, even when the test fails. */
#ifndef TESTS_FAULTS_NETNS_UTIL_H
#define TESTS_FAULTS_NETNS_UTIL_H

#include "harness.h"

typedef struct nn {
    char ns[32];          /* namespace name */
    char svc_root[16], svc_ns[16];   /* veth pair for Redis/PostgreSQL */
    char link_root[16], link_ns[16]; /* veth pair for the gateway-game link */
    char svc_root_ip[20], svc_ns_ip[20], link_root_ip[20], link_ns_ip[20];
    char why[200];        /* why nn_setup failed */
} nn_t;

/* Creates the namespace and both pairs, makes the harness's Redis listen on the services
 * address too. Returns 0, or -1 with n->why set (not root, no `ip`, ...): the caller skips. */
int nn_setup(nn_t *n);
/* Starts a game daemon inside the namespace: REDIS_URL on the services address, PostgreSQL
 * over its Unix socket (h_pg_start first), listening and advertised on the game link
 * address. extra as for h_spawn. */
proc_t *nn_spawn_game(nn_t *n, const char *name, const char *const *extra);
/* The same for any daemon binary (LOBBYD_PATH, ...): its clients' link is the "game link". */
proc_t *nn_spawn(nn_t *n, const char *daemon, const char *name, const char *const *extra);
/* Cuts (up = 0) or restores (up = 1) the game link, from inside the namespace. Returns 0. */
int nn_game_link(nn_t *n, int up);
/* 1 when the kernel has the netem qdisc (tc qdisc add ... netem works on the game link). */
int nn_netem_available(nn_t *n);
/* Removes the namespace and the veth pairs (also registered with atexit by nn_setup). */
void nn_teardown(void);

/* CTest's skip code for these cases (SKIP_RETURN_CODE in tests/faults/CMakeLists.txt). */
#define NN_SKIP 77

#endif
