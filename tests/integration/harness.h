/* harness: integration tests against real processes: a real redis-server (and, on request,
 * PostgreSQL) on free loopback ports, the daemons started as child processes with a unique
 * REDIS_PREFIX, and teardown even when a check fails (atexit + fatal signals). */
#ifndef TESTS_HARNESS_H
#define TESTS_HARNESS_H

#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define H_SECRET "integration-test-secret-0123456789"

typedef struct proc {
    pid_t pid;
    char name[48];
    char log[512];
    char *env[32];
    int nenv;
    char *argv[24]; /* h_spawn_argv: the arguments after bin; NULL-terminated */
    const char *bin;
    int exited;
    int status;
} proc_t;

/* Creates the temp folder, starts redis-server, sets the prefix. Call once per test binary. */
void h_init(const char *test_name);
/* Prints the daemons' logs' tails and exits 1 (teardown runs at exit). */
void h_fail(void) __attribute__((noreturn));
/* CHECK, CHECK_EQ, CHECK_STR, CHECK_MEM, REGRESSION: the unit tests' (tests/unit/check.h); a
 * failed check prints the daemons' logs and tears down (h_fail). */
#define CHECK_FAIL() h_fail()
#include "../unit/check.h"

int h_free_port(void);
int h_redis_port(void);
const char *h_prefix(void);
const char *h_dir(void);
/* A new prefix for the next scenario of the same binary (keeps scenarios apart). */
void h_new_prefix(const char *tag);

void h_redis_stop(void);
/* Starts Redis again on the same port (empty: no persistence). */
void h_redis_start(void);
/* A synchronous Redis connection for inspecting the registry (tests may block). */
redisContext *h_redis(void);

/* PostgreSQL through scripts/pg.sh: a private server with its data in <h_dir()>/pg on a free
 * loopback port, database "cluster" (initdb on the first start). h_pg_start blocks until it
 * answers and fails the test when it cannot start; h_pg_stop is a fast shutdown. Stop then
 * start again restarts it on the same port with the same data. Teardown stops it. */
void h_pg_start(void);
void h_pg_stop(void);
/* The libpq conninfo pg.sh printed ("host=127.0.0.1 port=.. user=postgres dbname=cluster"),
 * "" before the first h_pg_start. */
const char *h_pg_conninfo(void);
/* The port chosen by the first h_pg_start (0 before). */
int h_pg_port(void);

/* Starts a daemon: bin is one of GATEWAYD_PATH, LOBBYD_PATH, GAMED_PATH; extra is a
 * NULL-terminated list of "KEY=VALUE" added to the common environment (REDIS_URL,
 * REDIS_PREFIX, CLUSTER_SECRET, LOG_LEVEL=debug, LISTEN_ADDR=127.0.0.1:0). */
proc_t *h_spawn(const char *bin, const char *name, const char *const *extra);
/* Starts any program (a redis-server, a Sentinel) with arguments (NULL-terminated, at most
 * 22) and the test's own environment; torn down like the daemons. */
proc_t *h_spawn_argv(const char *bin, const char *name, const char *const *args);
/* Joins the NULL-terminated lists a then b (either may be NULL) into env, at most max entries
 * (the rest left out), NULL-terminated (env holds max + 1); returns the count. */
int h_env_join(const char **env, int max, const char *const *a, const char *const *b);
/* Starts the next daemon of a kind into slots[*count] (bin named <base><n>, n = the new *count;
 * env as h_spawn's extra) and counts it; with type set, waits (15 s) until n of that type have
 * registered. Then its registry id into ids[n - 1] (h_wait_server_id, id_timeout_ms). Returns
 * its index n - 1. */
int h_spawn_next(proc_t **slots, uint32_t *ids, int *count, const char *bin, const char *base,
                 const char *type, const char *const *env, int id_timeout_ms);
/* Starts a gateway listening on a free port; returns it in *port. */
proc_t *h_spawn_gateway(int *port, const char *const *extra);
/* Starts two game daemons with the common environment only, "gamed-a" into *a and "gamed-b"
 * into *b; fails the test unless both have registered within timeout_ms. */
void h_spawn_game_pair(proc_t **a, proc_t **b, int timeout_ms);
/* A gateway on a free port (*port; extra: its settings), with lobby set a lobby daemon
 * ("lobbyd") into *lobby, then the game pair (h_spawn_game_pair, timeout_ms). With a lobby it
 * waits (timeout_ms) until the lobby and the gateway have registered; without one it gives the
 * gateway 300 ms to link to both game daemons. Returns the gateway. */
proc_t *h_spawn_gateway_games(int *port, const char *const *extra, proc_t **lobby, proc_t **a, proc_t **b,
                              int timeout_ms);
/* Starts the same process again with the same environment. */
void h_restart(proc_t *p);
void h_kill(proc_t *p, int sig);
/* Waits for exit; returns the exit status (WEXITSTATUS) or -1 on timeout / killed by signal. */
int h_wait_exit(proc_t *p, int timeout_ms);
int h_alive(proc_t *p);
/* h_stop (timeout_ms) of each of ps[0..n) that is still running; NULL entries skipped. */
void h_stop_running(proc_t *const *ps, int n, int timeout_ms);
/* SIGTERM, then the process must exit 0 within timeout_ms (under ASan: no leak, no error);
 * fails the test otherwise. */
void h_stop(proc_t *p, int timeout_ms);

/* Number of ids in <prefix>Server:<type> whose hash exists. */
int h_registered(const char *type);
/* Waits until h_registered(type) == n; returns elapsed ms or -1 on timeout. */
int h_wait_registered(const char *type, int n, int timeout_ms);

/* Sends ECHO with target (an EchoTarget: lobby or game) through the gateway on port until every
 * non-zero id of ids[0..n) has answered (n == 0: until any daemon answers). Fails the test
 * with `what` in the message after timeout_ms. Use it after starting daemons: a gateway links
 * to a new daemon a little after the daemon registered. */
void h_wait_echo_ids(int port, int target, const uint32_t *ids, int n, int timeout_ms, const char *what);
/* The registry id of a spawned daemon (matching its advertised port from its log), 0 if none. */
uint32_t h_server_id(proc_t *p);
/* Polls h_server_id (every 10 ms, timeout_ms in all); fails the test when no id shows up. */
uint32_t h_wait_server_id(proc_t *p, int timeout_ms);

/* Runs the shell command cmd to its end; its stdout into out (n bytes, NUL-terminated, cut at
 * n - 1). Returns its exit status, -1 when a signal ended it. */
int h_run(const char *cmd, char *out, size_t n);
/* Runs sql through psql (tuples only, unaligned) on the test's PostgreSQL; its output and
 * errors into out as h_run. Returns psql's exit status. */
int h_psql(const char *sql, char *out, size_t n);
/* The number sql answers (its first); fails the test when psql fails or says nothing. */
long long h_psql_num(const char *sql);
/* Runs clusterctl args (shell words; add "2>&1" for its stderr) against Redis at url (NULL: the
 * test's own) with the test's prefix; stdout into out as h_run, the transcript printed. Returns
 * its exit status. */
int h_clusterctl(const char *url, const char *args, char *out, size_t n);

uint64_t h_now_ms(void);
void h_sleep_ms(int ms);
/* Resident set size of a process in KiB. */
long h_rss_kib(pid_t pid);
/* Counts the lines of the file at path that contain a and (unless b is NULL) b; 0 if it
 * cannot be read. */
int h_file_count(const char *path, const char *a, const char *b);
/* Counts the lines of a process's log that contain `needle`. */
int h_log_count(proc_t *p, const char *needle);
/* Counts the lines of a process's log holding both needles. */
int h_log_count2(const proc_t *p, const char *a, const char *b);
/* The number after key on each line of p's log holding event (key looked for after it): with
 * last, the last line's; else their sum. 0 when there is none or the log cannot be read. */
long long h_log_field(const proc_t *p, const char *event, const char *key, int last);
/* Waits until at least n lines of p's log contain needle; returns the ms it took, -1 when
 * timeout_ms passed first. */
int h_wait_log(proc_t *p, const char *needle, int n, int timeout_ms);

#endif
