/* supervisor: GATEWAY_WORKERS gateway processes behind the same client ports (docs/operations.md,
 * "Gateway workers"). Each worker is a whole gateway (its own registry id, links and
 * sessions) whose listeners join one SO_REUSEPORT group per port, so the kernel spreads new
 * connections over them and a worker's crash costs only its own sessions (they RESUME through
 * the same port on another). The supervisor holds each port bound (not listening: it takes no
 * connection) so it stays theirs across restarts, restarts a dead worker with backoff, sends
 * SIGTERM to every worker on SIGTERM/SIGINT and exits once all have exited. */
#include "supervisor.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "log.h"
#include "stopsig.h"
#include "util.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define STABLE_MS 10000 /* a worker that ran this long restarts at the minimum backoff again */
#define MAX_WORKERS 256

extern char **environ;

static const char *const LISTEN_OPTS[] = {"LISTEN_ADDR", "TLS_LISTEN_ADDR", "WS_LISTEN_ADDR", "WSS_LISTEN_ADDR"};
#define NLISTEN (sizeof LISTEN_OPTS / sizeof LISTEN_OPTS[0])

typedef struct worker {
    struct sup *s;
    int index;
    uv_process_t proc;
    int running;
    uint64_t started_ms;
    uint32_t backoff_ms;
    uv_timer_t restart;
    unsigned starts;
} worker_t;

typedef struct sup {
    uv_loop_t *loop;
    int n;
    worker_t *w;
    char exe[4096];
    char **argv;
    char *listen_env[NLISTEN]; /* "LISTEN_ADDR=host:port" with the port each worker binds */
    int reserved_fd[NLISTEN];
    char admin_host[256];
    int admin_port; /* -1: ADMIN_ADDR off */
    int stopping;
    int failed; /* a worker exited non-zero while stopping */
    stopsig_t *sig; /* SIGTERM, SIGINT (stopsig.h) */
} sup_t;

int reuseport_socket(const struct sockaddr *sa, int listen_too)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
        bind(fd, sa, sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in)) != 0 ||
        (listen_too && listen(fd, 4096) != 0)) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

/* Binds (without listening) each configured client address with SO_REUSEPORT: port 0 becomes
 * the port every worker will share. */
static int reserve_ports(sup_t *s, const config_t *cfg)
{
    for (size_t k = 0; k < NLISTEN; k++) {
        s->reserved_fd[k] = -1;
        const char *addr = config_str(cfg, LISTEN_OPTS[k]);
        if (!*addr)
            continue;
        char host[256];
        int port;
        struct sockaddr_storage ss;
        if (addr_split(addr, host, sizeof host, &port) < 0 || addr_make(host, port, &ss) != 0) {
            log_error("bad_config", "option=%s value=%s reason=not_numeric", LISTEN_OPTS[k], addr);
            return -1;
        }
        int fd = reuseport_socket((struct sockaddr *)&ss, 0);
        if (fd < 0) {
            log_error("listen_failed", "option=%s addr=%s error=%s", LISTEN_OPTS[k], addr, strerror(-fd));
            return -1;
        }
        socklen_t len = sizeof ss;
        getsockname(fd, (struct sockaddr *)&ss, &len);
        s->reserved_fd[k] = fd;
        char buf[320];
        snprintf(buf, sizeof buf, "%s=%s:%d", LISTEN_OPTS[k], host, addr_port((struct sockaddr *)&ss));
        s->listen_env[k] = xstrdup(buf);
    }
    return 0;
}

static int env_is(const char *entry, const char *name)
{
    size_t n = strlen(name);
    return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

/* The worker's environment: ours, with its index, the reserved ports and its admin port. */
static char **worker_env(sup_t *s, int index)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = xcalloc(n + NLISTEN + 4, sizeof *env);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int skip = env_is(environ[i], "GATEWAY_WORKER") || env_is(environ[i], "ADMIN_ADDR");
        for (size_t j = 0; j < NLISTEN; j++)
            skip |= env_is(environ[i], LISTEN_OPTS[j]);
        if (!skip)
            env[k++] = xstrdup(environ[i]);
    }
    char buf[320];
    for (size_t j = 0; j < NLISTEN; j++) { /* an address not configured stays off: "NAME=" */
        snprintf(buf, sizeof buf, "%s=", LISTEN_OPTS[j]);
        env[k++] = xstrdup(s->listen_env[j] ? s->listen_env[j] : buf);
    }
    snprintf(buf, sizeof buf, "GATEWAY_WORKER=%d", index);
    env[k++] = xstrdup(buf);
    if (s->admin_port >= 0) /* a fixed admin port P: worker i gets P + i; 0 stays "any free port" */
        snprintf(buf, sizeof buf, "ADMIN_ADDR=%s:%d", s->admin_host, s->admin_port ? s->admin_port + index : 0);
    else
        snprintf(buf, sizeof buf, "ADMIN_ADDR=");
    env[k++] = xstrdup(buf);
    env[k] = NULL;
    return env;
}

static void free_env(char **env)
{
    for (size_t i = 0; env[i]; i++)
        xfree(env[i]);
    xfree(env);
}

static void start_worker(worker_t *w);

static void all_done(sup_t *s)
{
    stopsig_close(s->sig);
    s->sig = NULL;
    for (int i = 0; i < s->n; i++)
        uv_close((uv_handle_t *)&s->w[i].restart, NULL);
}

static int running_count(const sup_t *s)
{
    int n = 0;
    for (int i = 0; i < s->n; i++)
        n += s->w[i].running;
    return n;
}

static int any_running(const sup_t *s) { return running_count(s) > 0; }

static void on_restart(uv_timer_t *t)
{
    worker_t *w = t->data;
    if (!w->s->stopping)
        start_worker(w);
}

static void on_worker_exit(uv_process_t *p, int64_t status, int sig)
{
    worker_t *w = p->data;
    sup_t *s = w->s;
    w->running = 0;
    uint64_t ran = uv_now(s->loop) - w->started_ms;
    uv_close((uv_handle_t *)p, NULL);
    if (s->stopping) {
        log_info("worker_exited", "worker=%d pid=%d status=%lld signal=%d", w->index, p->pid, (long long)status, sig);
        if (status != 0 || sig != 0)
            s->failed = 1;
        if (!any_running(s))
            all_done(s);
        return;
    }
    if (ran >= STABLE_MS)
        w->backoff_ms = BACKOFF_MIN_MS;
    log_warn("worker_died", "worker=%d pid=%d status=%lld signal=%d ran_ms=%llu restart_in_ms=%u", w->index,
             p->pid, (long long)status, sig, (unsigned long long)ran, w->backoff_ms);
    uv_timer_start(&w->restart, on_restart, w->backoff_ms, 0);
    w->backoff_ms = w->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : w->backoff_ms * 2;
}

static void start_worker(worker_t *w)
{
    sup_t *s = w->s;
    char **env = worker_env(s, w->index);
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_INHERIT_FD, .data.fd = 0},
        {.flags = UV_INHERIT_FD, .data.fd = 1},
        {.flags = UV_INHERIT_FD, .data.fd = 2},
    };
    uv_process_options_t o = {
        .exit_cb = on_worker_exit,
        .file = s->exe,
        .args = s->argv,
        .env = env,
        .stdio_count = 3,
        .stdio = stdio,
    };
    w->proc.data = w;
    int rc = uv_spawn(s->loop, &w->proc, &o);
    free_env(env);
    if (rc != 0) {
        log_error("worker_spawn_failed", "worker=%d error=%s restart_in_ms=%u", w->index, uv_strerror(rc),
                  w->backoff_ms);
        uv_close((uv_handle_t *)&w->proc, NULL);
        uv_timer_start(&w->restart, on_restart, w->backoff_ms, 0);
        w->backoff_ms = w->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : w->backoff_ms * 2;
        return;
    }
    w->running = 1;
    w->starts++;
    w->started_ms = uv_now(s->loop);
    log_info("worker_started", "worker=%d pid=%d starts=%u", w->index, w->proc.pid, w->starts);
}

static void on_signal(int signum, void *ud)
{
    sup_t *s = ud;
    if (s->stopping)
        return;
    s->stopping = 1;
    log_info("supervisor_stopping", "signal=%d workers_running=%d", signum, running_count(s));
    for (int i = 0; i < s->n; i++) {
        uv_timer_stop(&s->w[i].restart);
        if (s->w[i].running)
            (void)uv_process_kill(&s->w[i].proc, SIGTERM); /* each drains, deregisters, exits 0 */
    }
    if (!any_running(s))
        all_done(s);
}

int supervisor_workers(const config_t *cfg)
{
    if (getenv("GATEWAY_WORKER"))
        return 0; /* we are one */
    int n = (int)config_int(cfg, "GATEWAY_WORKERS");
    if (n == 0)
        n = (int)uv_available_parallelism();
    return n > 1 ? (n > MAX_WORKERS ? MAX_WORKERS : n) : 0;
}

int supervisor_run(const config_t *cfg, int workers, char **argv)
{
    static sup_t sup;
    sup_t *s = &sup;
    uv_loop_t loop;
    uv_loop_init(&loop);
    s->loop = &loop;
    s->n = workers;
    s->argv = argv;
    size_t len = sizeof s->exe;
    if (uv_exepath(s->exe, &len) != 0) {
        log_error("supervisor_failed", "reason=\"cannot find our own executable\"%s", "");
        return 1;
    }
    if (reserve_ports(s, cfg) != 0)
        return 1;
    const char *admin = config_str(cfg, "ADMIN_ADDR");
    s->admin_port = -1;
    if (*admin && addr_split(admin, s->admin_host, sizeof s->admin_host, &s->admin_port) < 0) {
        log_error("bad_config", "option=ADMIN_ADDR value=%s", admin);
        return 1;
    }
    s->sig = stopsig_start(&loop, on_signal, s);
    if (!s->sig)
        return 1;
    s->w = xcalloc((size_t)workers, sizeof *s->w);
    char ports[256] = "";
    size_t at = 0;
    for (size_t k = 0; k < NLISTEN; k++)
        if (s->listen_env[k])
            at += (size_t)snprintf(ports + at, sizeof ports - at, "%s%s", at ? " " : "", s->listen_env[k]);
    log_info("supervisor_started", "workers=%d pid=%d %s", workers, (int)getpid(), ports);
    for (int i = 0; i < workers; i++) {
        worker_t *w = &s->w[i];
        w->s = s;
        w->index = i;
        w->backoff_ms = BACKOFF_MIN_MS;
        uv_timer_init(&loop, &w->restart);
        w->restart.data = w;
        start_worker(w);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&loop);
    for (size_t k = 0; k < NLISTEN; k++) {
        if (s->reserved_fd[k] >= 0)
            close(s->reserved_fd[k]);
        xfree(s->listen_env[k]);
    }
    xfree(s->w);
    log_info("supervisor_exit", "failed=%d loop_close=%d", s->failed, rc);
    return s->failed ? 1 : 0;
}
