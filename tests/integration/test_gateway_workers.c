/* test_gateway_workers: GATEWAY_WORKERS=2 behind one port (docs/operations.md, "Gateway
 * workers"), through the real cluster:
 * - both workers register as gateways of their own (worker 0 and 1, `worker_of` naming the
 *   supervisor) and 16 players logged in through the one port are spread over both;
 * - kill -9 of the worker holding player 0: its players' connections drop, they connect to the
 *   same port again and RESUME with their tokens onto a live worker; the other worker's players
 *   never noticed (ECHO through their old connections); the supervisor restarts the dead worker
 *   (a new registry id, the same worker index);
 * - SIGTERM to the supervisor: both workers drain and deregister, the supervisor exits 0. */
#include <signal.h>

#include "scene.h"

static char RUN[8];

enum { N = 16 };

static uint32_t user_gateway(uint64_t uid)
{
    char key[48];
    snprintf(key, sizeof key, "user:%llu", (unsigned long long)uid);
    return (uint32_t)lu_hget_num(key, "gw");
}

static long long gateway_field(uint32_t gw, const char *field)
{
    char key[48];
    snprintf(key, sizeof key, "Server:Gateway:%u", gw);
    return lu_hget_num(key, field);
}

static int gateway_exists(uint32_t gw)
{
    return (int)sc_redis_int("EXISTS %sServer:Gateway:%u", h_prefix(), gw);
}

/* The live gateway ids (hash present) of worker `index`, into ids; returns how many. */
static int worker_ids(int index, uint32_t *ids, int max)
{
    redisReply *r = redisCommand(h_redis(), "LRANGE %sServer:Gateway 0 -1", h_prefix());
    CHECK(r && r->type == REDIS_REPLY_ARRAY);
    int n = 0;
    for (size_t i = 0; i < r->elements && n < max; i++) {
        uint32_t id = (uint32_t)strtoul(r->element[i]->str, NULL, 10);
        if (gateway_exists(id) && gateway_field(id, "worker") == index)
            ids[n++] = id;
    }
    freeReplyObject(r);
    return n;
}

/* The pid of worker `index` from the supervisor's last worker_started line for it. */
static pid_t worker_pid(proc_t *sup, int index)
{
    FILE *f = fopen(sup->log, "r");
    CHECK(f != NULL);
    char line[2048], needle[48];
    snprintf(needle, sizeof needle, "event=worker_started worker=%d pid=", index);
    pid_t pid = 0;
    while (fgets(line, sizeof line, f)) {
        const char *q = strstr(line, needle);
        if (q)
            pid = (pid_t)atoi(q + strlen(needle));
    }
    fclose(f);
    return pid;
}

static void scenario_workers(void)
{
    cluster_t cl;
    lu_cluster_init(&cl, "workers");
    lu_add_lobby(&cl, NULL);
    (void)lu_add_game(&cl, NULL);
    static const char *const env[] = {"GATEWAY_WORKERS=2", "RATE_LIMIT=100000", "RATE_BURST=100000",
                                      "DRAIN_TIMEOUT_MS=2000", NULL};
    int port = 0;
    proc_t *sup = h_spawn_gateway(&port, env);
    if (h_wait_registered("Gateway", 2, 10000) < 0)
        DIE("two workers did not register");
    uint32_t w0[4], w1[4];
    uint64_t t0 = h_now_ms();
    while (worker_ids(0, w0, 4) != 1 || worker_ids(1, w1, 4) != 1) {
        if (h_now_ms() - t0 > 10000)
            DIE("no gateway entries with worker 0 and worker 1");
        h_sleep_ms(50);
    }
    CHECK(gateway_field(w0[0], "port") == port && gateway_field(w1[0], "port") == port);
    /* clusterctl status shows them as workers of one supervisor */
    char out[8192];
    CHECK_EQ(h_clusterctl(NULL, "status", out, sizeof out), 0);
    char of[64];
    snprintf(of, sizeof of, "/%d", (int)sup->pid);
    const char *a = strstr(out, "worker 0 of "), *b = strstr(out, "worker 1 of ");
    if (!a || !b || !strstr(a, of) || !strstr(b, of))
        DIE("clusterctl status does not show both workers of supervisor %d:\n%s", (int)sup->pid, out);
    /* both workers linked to the lobby and the game daemon: ECHO through the port until both
     * have answered through each (connections land on either worker) */
    cl.gw[0] = sup;
    cl.port[0] = port;
    cl.ngw = 1;
    lu_wait_links(&cl);
    t0 = h_now_ms();
    while (gateway_field(w0[0], "players") < 0 || gateway_field(w1[0], "players") < 0) {
        if (h_now_ms() - t0 > 5000)
            DIE("worker entries lack players");
        h_sleep_ms(50);
    }

    player_t pl[N];
    player_t *ps[N];
    for (int i = 0; i < N; i++) {
        p_init(&pl[i], RUN, "wk", i, port);
        ps[i] = &pl[i];
    }
    p_signup_all(ps, N);
    int on0 = 0, on1 = 0;
    for (int i = 0; i < N; i++) {
        uint32_t g = user_gateway(ps[i]->uid);
        on0 += g == w0[0];
        on1 += g == w1[0];
    }
    CHECK_EQ(on0 + on1, N);
    if (!on0 || !on1)
        DIE("the kernel put all %d connections on one worker (%d / %d)", N, on0, on1);

    /* kill -9 the worker holding player 0 */
    uint32_t dead_id = user_gateway(ps[0]->uid);
    int dead_index = dead_id == w0[0] ? 0 : 1;
    uint32_t live_id = dead_index == 0 ? w1[0] : w0[0];
    pid_t pid = worker_pid(sup, dead_index);
    CHECK(pid > 0);
    CHECK(kill(pid, SIGKILL) == 0);
    uint64_t t_kill = h_now_ms();
    int resumed = 0, untouched = 0;
    for (int i = 0; i < N; i++) {
        player_t *p = ps[i];
        if (user_gateway(p->uid) != dead_id) {
            p_echo(p, ECHO_TARGET__LOBBY); /* its connection never noticed */
            untouched++;
            continue;
        }
        /* through the same port again, onto a live worker (the kernel picks among listeners) */
        for (int tries = 0;; tries++) {
            p_connect(p);
            ResumeRequest rr = RESUME_REQUEST__INIT;
            rr.token = p->token;
            res_t r = p_call(p, PACKET_TYPE__RESUME_REQUEST, &rr.base);
            if (r.rc == 0 && r.type == PACKET_TYPE__RESUME_RESPONSE) {
                ResumeResponse *o = resume_response__unpack(NULL, r.len, r.p);
                CHECK(o && o->user_id == p->uid);
                resume_response__free_unpacked(o, NULL);
                res_free(&r);
                break;
            }
            char d[256];
            res_describe(&r, d, sizeof d);
            res_free(&r);
            if (tries > 50)
                DIE("%s: RESUME through the port after the worker's kill: %s", p->name, d);
            h_sleep_ms(100); /* a worker just restarted may not be linked to the lobby yet */
        }
        uint32_t now_on = user_gateway(p->uid);
        CHECK(now_on != dead_id && now_on != 0);
        p_echo(p, ECHO_TARGET__LOBBY);
        resumed++;
    }
    int resume_ms = (int)(h_now_ms() - t_kill);
    CHECK(resumed > 0 && untouched > 0);

    /* the supervisor restarted it: worker index dead_index again, under a new id */
    t0 = h_now_ms();
    uint32_t again[4];
    int n;
    while ((n = worker_ids(dead_index, again, 4)) < 1 || (n == 1 && again[0] == dead_id) ||
           (n == 2 && again[0] == dead_id && again[1] == dead_id)) {
        if (h_now_ms() - t0 > 10000)
            DIE("the supervisor did not restart worker %d within 10 s", dead_index);
        h_sleep_ms(50);
    }
    int restart_ms = (int)(h_now_ms() - t_kill);
    CHECK(h_log_count(sup, "event=worker_died") == 1);
    char needle[48];
    snprintf(needle, sizeof needle, "event=worker_started worker=%d ", dead_index);
    CHECK(h_log_count(sup, needle) == 2);
    uint32_t new_id = again[0] == dead_id ? again[1] : again[0];

    /* SIGTERM: both drain, deregister; the supervisor exits 0 */
    for (int i = 0; i < N; i++)
        p_free(ps[i]);
    h_kill(sup, SIGTERM);
    int st = h_wait_exit(sup, 20000);
    if (st != 0)
        DIE("the supervisor exited with %d after SIGTERM", st);
    CHECK(!gateway_exists(live_id) && !gateway_exists(new_id));
    CHECK(h_log_count(sup, "event=worker_exited") == 2);
    printf("workers: 2 workers on port %d (ids %u, %u), %d + %d players; worker %d (id %u) killed -9: %d players "
           "resumed through the port on a live worker within %d ms, %d untouched; restarted as id %u after %d ms; "
           "SIGTERM: both deregistered, supervisor exit 0\n",
           port, w0[0], w1[0], on0, on1, dead_index, dead_id, resumed, resume_ms, N - resumed, new_id, restart_ms);
    lu_cluster_down(&cl);
}

int main(int argc, char **argv)
{
    static const lu_scenario_t sc[] = {{"workers", scenario_workers}};
    return lu_main(argc, argv, "gateway_workers", RUN, sizeof RUN, sc, 1);
}
