/* harness: real redis-server and daemon processes for integration tests. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "client_sync.h"
#include "cluster.pb-c.h"

#define MAX_PROCS 64

static char dir[256];
static char prefix[128];
static int redis_port;
static pid_t redis_pid;
static redisContext *rc;
static proc_t procs[MAX_PROCS];
static int nprocs;
static char test_name[64];
static int scenario;
static int pg_port;
static int pg_used;        /* pg.sh start ran at least once: teardown stops the server */
static char pg_conninfo[256];

#ifndef REPO_DIR
#define REPO_DIR "."
#endif

uint64_t h_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void h_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* The lowest port of the kernel's ephemeral range (where port-0 binds come from). */
static int ephemeral_low(void)
{
    int lo = 32768, hi = 0;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf(f, "%d %d", &lo, &hi) != 2 || lo <= 11000)
            lo = 32768;
        fclose(f);
    }
    return lo;
}

/* A free loopback port below the ephemeral range: the daemons told to listen on port 0 get
 * theirs from that range, so none can take a port handed out here before its owner binds it. */
int h_free_port(void)
{
    static unsigned seed;
    if (!seed)
        seed = (unsigned)getpid() ^ (unsigned)h_now_ms();
    int low = ephemeral_low();
    for (int i = 0; i < 500; i++) {
        int port = 10000 + (int)(rand_r(&seed) % (unsigned)(low - 10000));
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) {
            perror("h_free_port");
            exit(1);
        }
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                                .sin_port = htons((uint16_t)port)};
        int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (ok)
            return port;
    }
    fprintf(stderr, "h_free_port: no free port below the ephemeral range\n");
    exit(1);
}

int h_redis_port(void) { return redis_port; }
const char *h_prefix(void) { return prefix; }
const char *h_dir(void) { return dir; }

void h_new_prefix(const char *tag)
{
    snprintf(prefix, sizeof prefix, "t%d-%s-%d-%s:", (int)getpid(), test_name, ++scenario, tag);
}

static void teardown(void)
{
    for (int i = 0; i < nprocs; i++)
        if (procs[i].pid > 0 && !procs[i].exited) {
            kill(procs[i].pid, SIGCONT);
            kill(procs[i].pid, SIGKILL);
            waitpid(procs[i].pid, NULL, 0);
            procs[i].exited = 1;
        }
    h_redis_stop();
    if (pg_used) {
        pg_used = 0;
        h_pg_stop();
    }
    if (dir[0] && !getenv("KEEP_TEST_DIR")) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
    }
}

static void on_fatal(int sig)
{
    teardown();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void print_tail(const char *path, int lines)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "tail -n %d '%s' 1>&2", lines, path);
    if (system(cmd) != 0)
        fprintf(stderr, "(no log at %s)\n", path);
}

void h_fail(void)
{
    for (int i = 0; i < nprocs; i++) {
        fprintf(stderr, "---- last lines of %s (pid %d) ----\n", procs[i].name, (int)procs[i].pid);
        print_tail(procs[i].log, 25);
    }
    exit(1);
}

static pid_t spawn(const char *bin, char *const argv[], char *const envp[], const char *log)
{
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        setpgid(0, 0);
        execve(bin, argv, envp);
        _exit(127);
    }
    return pid;
}

static void redis_connect(void)
{
    uint64_t deadline = h_now_ms() + 10000;
    while (h_now_ms() < deadline) {
        struct timeval tv = {1, 0};
        redisContext *c = redisConnectWithTimeout("127.0.0.1", redis_port, tv);
        if (c && !c->err) {
            redisReply *r = redisCommand(c, "PING");
            if (r && r->type == REDIS_REPLY_STATUS) {
                freeReplyObject(r);
                rc = c;
                return;
            }
            if (r)
                freeReplyObject(r);
        }
        if (c)
            redisFree(c);
        h_sleep_ms(50);
    }
    fprintf(stderr, "redis-server did not answer on port %d\n", redis_port);
    h_fail();
}

void h_redis_start(void)
{
    char port[16], log[300];
    snprintf(port, sizeof port, "%d", redis_port);
    snprintf(log, sizeof log, "%s/redis.log", dir);
    char *argv[] = {"redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no", "--dir", dir, NULL};
    extern char **environ;
    const char *bin = getenv("REDIS_SERVER") ? getenv("REDIS_SERVER") : "/usr/bin/redis-server";
    redis_pid = spawn(bin, argv, environ, log);
    redis_connect();
}

void h_redis_stop(void)
{
    if (rc) {
        redisFree(rc);
        rc = NULL;
    }
    if (redis_pid > 0) {
        kill(redis_pid, SIGKILL);
        waitpid(redis_pid, NULL, 0);
        redis_pid = 0;
    }
}

redisContext *h_redis(void)
{
    if (!rc || rc->err) {
        if (rc)
            redisFree(rc);
        rc = NULL;
        redis_connect();
    }
    return rc;
}

void h_init(const char *name)
{
    snprintf(test_name, sizeof test_name, "%s", name);
    snprintf(dir, sizeof dir, "/tmp/cluster-test-%s-XXXXXX", name);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(1);
    }
    atexit(teardown);
    signal(SIGINT, on_fatal);
    signal(SIGTERM, on_fatal);
    signal(SIGABRT, on_fatal);
    signal(SIGSEGV, on_fatal);
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IONBF, 0);
    redis_port = h_free_port();
    h_redis_start();
    h_new_prefix("a");
}

static void start_proc(proc_t *p)
{
    char *argv[] = {(char *)p->bin, NULL};
    extern char **environ;
    if (p->argv[0])
        p->pid = spawn(p->bin, p->argv, environ, p->log);
    else
        p->pid = spawn(p->bin, argv, p->env, p->log);
    p->exited = 0;
}

/* The next free process slot, named, with its log path; not started yet. */
static proc_t *new_proc(const char *bin, const char *name)
{
    if (nprocs == MAX_PROCS) {
        fprintf(stderr, "too many processes\n");
        h_fail();
    }
    proc_t *p = &procs[nprocs++];
    memset(p, 0, sizeof *p);
    p->bin = bin;
    snprintf(p->name, sizeof p->name, "%s", name);
    snprintf(p->log, sizeof p->log, "%s/%s-%d.log", dir, name, nprocs);
    return p;
}

proc_t *h_spawn_argv(const char *bin, const char *name, const char *const *args)
{
    proc_t *p = new_proc(bin, name);
    int n = 0;
    p->argv[n++] = strdup(bin);
    for (int i = 0; args[i] && n < 23; i++)
        p->argv[n++] = strdup(args[i]);
    p->argv[n] = NULL;
    start_proc(p);
    return p;
}

proc_t *h_spawn(const char *bin, const char *name, const char *const *extra)
{
    proc_t *p = new_proc(bin, name);
    char buf[512];
    /* extra entries come first so they win over the defaults below (getenv takes the first),
     * REDIS_URL included (a Redis with a password) */
    for (int i = 0; extra && extra[i] && p->nenv < 24; i++)
        p->env[p->nenv++] = strdup(extra[i]);
    snprintf(buf, sizeof buf, "REDIS_URL=redis://127.0.0.1:%d", redis_port);
    p->env[p->nenv++] = strdup(buf);
    snprintf(buf, sizeof buf, "REDIS_PREFIX=%s", prefix);
    p->env[p->nenv++] = strdup(buf);
    p->env[p->nenv++] = strdup("CLUSTER_SECRET=" H_SECRET);
    p->env[p->nenv++] = strdup("LOG_LEVEL=debug");
    p->env[p->nenv++] = strdup("LISTEN_ADDR=127.0.0.1:0");
    p->env[p->nenv++] = strdup("GATEWAY_WORKERS=1"); /* one gateway process unless a test asks */
    p->env[p->nenv++] = strdup("ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99");
    p->env[p->nenv] = NULL;
    start_proc(p);
    return p;
}

int h_env_join(const char **env, int max, const char *const *a, const char *const *b)
{
    int n = 0;
    for (int i = 0; a && a[i] && n < max; i++)
        env[n++] = a[i];
    for (int i = 0; b && b[i] && n < max; i++)
        env[n++] = b[i];
    env[n] = NULL;
    return n;
}

void h_spawn_game_pair(proc_t **a, proc_t **b, int timeout_ms)
{
    *a = h_spawn(GAMED_PATH, "gamed-a", NULL);
    *b = h_spawn(GAMED_PATH, "gamed-b", NULL);
    CHECK(h_wait_registered("Game", 2, timeout_ms) >= 0);
}

int h_spawn_next(proc_t **slots, uint32_t *ids, int *count, const char *bin, const char *base,
                 const char *type, const char *const *env, int id_timeout_ms)
{
    int i = (*count)++;
    char name[48];
    snprintf(name, sizeof name, "%s%d", base, i + 1);
    slots[i] = h_spawn(bin, name, env);
    if (type)
        CHECK(h_wait_registered(type, *count, 15000) >= 0);
    ids[i] = h_wait_server_id(slots[i], id_timeout_ms);
    return i;
}

proc_t *h_spawn_gateway_games(int *port, const char *const *extra, proc_t **lobby, proc_t **a, proc_t **b,
                              int timeout_ms)
{
    proc_t *gw = h_spawn_gateway(port, extra);
    if (lobby)
        *lobby = h_spawn(LOBBYD_PATH, "lobbyd", NULL);
    h_spawn_game_pair(a, b, timeout_ms);
    if (lobby) {
        CHECK(h_wait_registered("Lobby", 1, timeout_ms) >= 0);
        CHECK(h_wait_registered("Gateway", 1, timeout_ms) >= 0);
    } else {
        h_sleep_ms(300);
    }
    return gw;
}

proc_t *h_spawn_gateway(int *port, const char *const *extra)
{
    *port = h_free_port();
    char listen[64];
    snprintf(listen, sizeof listen, "LISTEN_ADDR=127.0.0.1:%d", *port);
    const char *first[] = {listen, NULL}, *env[24];
    h_env_join(env, 22, first, extra);
    proc_t *p = h_spawn(GATEWAYD_PATH, "gatewayd", env);
    /* wait until it accepts */
    uint64_t deadline = h_now_ms() + 5000;
    while (h_now_ms() < deadline) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)*port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (ok)
            return p;
        h_sleep_ms(20);
    }
    fprintf(stderr, "gatewayd did not listen on %d\n", *port);
    h_fail();
}

void h_restart(proc_t *p)
{
    if (!p->exited && p->pid > 0)
        h_wait_exit(p, 5000);
    /* A fresh log, so h_server_id and h_log_count see only the new process. */
    char old[600];
    snprintf(old, sizeof old, "%s.prev", p->log);
    rename(p->log, old);
    start_proc(p);
}

void h_kill(proc_t *p, int sig)
{
    if (p->pid > 0 && !p->exited)
        kill(p->pid, sig);
}

int h_wait_exit(proc_t *p, int timeout_ms)
{
    uint64_t deadline = h_now_ms() + (uint64_t)timeout_ms;
    while (!p->exited) {
        int st;
        pid_t r = waitpid(p->pid, &st, WNOHANG);
        if (r == p->pid) {
            p->exited = 1;
            p->status = st;
            break;
        }
        if (h_now_ms() >= deadline)
            return -1;
        h_sleep_ms(10);
    }
    return WIFEXITED(p->status) ? WEXITSTATUS(p->status) : -1;
}

void h_stop(proc_t *p, int timeout_ms)
{
    h_kill(p, SIGTERM);
    int st = h_wait_exit(p, timeout_ms);
    if (st != 0) {
        fprintf(stderr, "%s (pid %d) exited with %d on SIGTERM\n", p->name, (int)p->pid, st);
        h_fail();
    }
}

void h_stop_running(proc_t *const *ps, int n, int timeout_ms)
{
    for (int i = 0; i < n; i++)
        if (ps[i] && h_alive(ps[i]))
            h_stop(ps[i], timeout_ms);
}

int h_alive(proc_t *p)
{
    if (p->exited)
        return 0;
    int st;
    if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
        p->exited = 1;
        p->status = st;
        return 0;
    }
    return 1;
}

int h_registered(const char *type)
{
    redisContext *c = h_redis();
    redisReply *r = redisCommand(c, "LRANGE %sServer:%s 0 -1", prefix, type);
    if (!r)
        return -1;
    int n = 0;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        redisReply *e = redisCommand(c, "EXISTS %sServer:%s:%s", prefix, type, r->element[i]->str);
        if (e && e->type == REDIS_REPLY_INTEGER && e->integer == 1)
            n++;
        if (e)
            freeReplyObject(e);
    }
    freeReplyObject(r);
    return n;
}

int h_wait_registered(const char *type, int n, int timeout_ms)
{
    uint64_t start = h_now_ms();
    while (h_now_ms() - start <= (uint64_t)timeout_ms) {
        if (h_registered(type) == n)
            return (int)(h_now_ms() - start);
        h_sleep_ms(20);
    }
    return -1;
}

long long h_log_field(const proc_t *p, const char *event, const char *key, int last)
{
    FILE *f = fopen(p->log, "r");
    if (!f)
        return 0;
    char line[4096];
    long long v = 0;
    while (fgets(line, sizeof line, f)) {
        const char *e = strstr(line, event);
        if (e && (e = strstr(e, key)))
            v = (last ? 0 : v) + strtoll(e + strlen(key), NULL, 10);
    }
    fclose(f);
    return v;
}

uint32_t h_server_id(proc_t *p)
{
    /* the daemon logs "event=registry_registered type=X id=N" */
    return (uint32_t)h_log_field(p, "event=registry_registered", " id=", 1);
}

uint32_t h_wait_server_id(proc_t *p, int timeout_ms)
{
    uint32_t id = 0;
    for (int i = 0; i < timeout_ms / 10 && !id; i++) {
        id = h_server_id(p);
        if (!id)
            h_sleep_ms(10);
    }
    if (!id) {
        fprintf(stderr, "%s never logged its registry id (%d ms)\n", p->name, timeout_ms);
        h_fail();
    }
    return id;
}

long h_rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    fclose(f);
    return kib;
}

int h_file_count(const char *path, const char *a, const char *b)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, a) && (!b || strstr(line, b));
    fclose(f);
    return n;
}

int h_log_count(proc_t *p, const char *needle) { return h_file_count(p->log, needle, NULL); }

int h_log_count2(const proc_t *p, const char *a, const char *b) { return h_file_count(p->log, a, b); }

int h_wait_log(proc_t *p, const char *needle, int n, int timeout_ms)
{
    uint64_t t0 = h_now_ms();
    while (h_log_count(p, needle) < n) {
        if (h_now_ms() - t0 > (uint64_t)timeout_ms)
            return -1;
        h_sleep_ms(20);
    }
    return (int)(h_now_ms() - t0);
}

int h_run(const char *cmd, char *out, size_t n)
{
    FILE *f = popen(cmd, "r");
    CHECK(f != NULL);
    size_t got = fread(out, 1, n - 1, f);
    out[got] = '\0';
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int h_psql(const char *sql, char *out, size_t n)
{
    size_t cap = strlen(sql) + strlen(h_pg_conninfo()) + 64;
    char *cmd = xmalloc(cap);
    snprintf(cmd, cap, "psql \"%s\" -XtAc \"%s\" 2>&1", h_pg_conninfo(), sql);
    int st = h_run(cmd, out, n);
    xfree(cmd);
    return st;
}

long long h_psql_num(const char *sql)
{
    char out[256];
    int st = h_psql(sql, out, sizeof out);
    if (st != 0 || !out[0]) {
        fprintf(stderr, "psql failed (%d): %s\n", st, out);
        h_fail();
    }
    return strtoll(out, NULL, 10);
}

int h_clusterctl(const char *url, const char *args, char *out, size_t n)
{
    char own[64], cmd[2048];
    if (!url) {
        snprintf(own, sizeof own, "redis://127.0.0.1:%d", h_redis_port());
        url = own;
    }
    snprintf(cmd, sizeof cmd, "'%s' --redis-url '%s' --redis-prefix '%s' %s", CLUSTERCTL_PATH, url, h_prefix(), args);
    int st = h_run(cmd, out, n);
    printf("$ clusterctl %s -> %d\n%s", args, st, out);
    return st;
}

void h_pg_start(void)
{
    char cmd[1024], line[256] = "";
    if (!pg_port)
        pg_port = h_free_port();
    snprintf(cmd, sizeof cmd, "'%s/scripts/pg.sh' start '%s/pg' %d", REPO_DIR, dir, pg_port);
    pg_used = 1; /* even a failed start may leave a server behind */
    FILE *f = popen(cmd, "r");
    if (!f) {
        perror("popen pg.sh");
        h_fail();
    }
    char buf[256];
    while (fgets(buf, sizeof buf, f)) /* the conninfo is the last line on stdout */
        if (strstr(buf, "port="))
            snprintf(line, sizeof line, "%s", buf);
    int st = pclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    if (st != 0 || !line[0]) {
        fprintf(stderr, "scripts/pg.sh start failed (status %d)\n", st);
        h_fail();
    }
    snprintf(pg_conninfo, sizeof pg_conninfo, "%s", line);
}

void h_pg_stop(void)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s/scripts/pg.sh' stop '%s/pg'", REPO_DIR, dir);
    if (system(cmd) != 0)
        fprintf(stderr, "scripts/pg.sh stop failed\n");
}

const char *h_pg_conninfo(void) { return pg_conninfo; }
int h_pg_port(void) { return pg_port; }

void h_wait_echo_ids(int port, int target, const uint32_t *ids, int n, int timeout_ms, const char *what)
{
    enum { MAXN = 16 };
    CHECK(n <= MAXN);
    int seen[MAXN] = {0}, any = 0;
    uint64_t t0 = h_now_ms();
    csync_t *c = NULL;
    for (;;) {
        int all = n > 0 || any;
        for (int i = 0; i < n; i++)
            if (ids[i] && !seen[i])
                all = 0;
        if (all)
            break;
        if (h_now_ms() - t0 > (uint64_t)timeout_ms) {
            fprintf(stderr, "%s: the gateway on port %d never reached every daemon in %d ms:", what,
                    port, timeout_ms);
            for (int i = 0; i < n; i++)
                fprintf(stderr, " %u%s", ids[i], ids[i] && !seen[i] ? "(not seen)" : "");
            fprintf(stderr, "\n");
            h_fail();
        }
        if (!c && !(c = csync_connect("127.0.0.1", port, 2000))) {
            h_sleep_ms(50);
            continue;
        }
        EchoRequest req = ECHO_REQUEST__INIT;
        req.target = target;
        uint16_t rt = 0;
        uint8_t *p = NULL;
        size_t len = 0;
        if (csync_request(c, PACKET_TYPE__ECHO_REQUEST, &req.base, &rt, &p, &len, 3000) != 0) {
            csync_close(c); /* the gateway closed it, or timed out: a new connection */
            c = NULL;
            continue;
        }
        if (rt == PACKET_TYPE__ECHO_RESPONSE) {
            EchoResponse *r = echo_response__unpack(NULL, len, p);
            any |= r != NULL;
            for (int i = 0; r && i < n; i++)
                if (r->server_id == ids[i])
                    seen[i] = 1;
            if (r)
                echo_response__free_unpacked(r, NULL);
        } else {
            h_sleep_ms(20); /* SERVICE_UNAVAILABLE: not linked yet */
        }
        xfree(p);
    }
    if (c)
        csync_close(c);
}
