/* Failover: kill -9, kill -STOP/-CONT, SIGTERM with requests in flight, and a Redis restart
 * under a running cluster. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdlib.h>

#include "echo_util.h"

/* The tests' clients send as fast as they get answers: lift the per-session rate limit. */
static const char *const FAST_CLIENT_ENV[] = {"RATE_LIMIT=100000", "RATE_BURST=100000", NULL};

static int in_list(const char *type, uint32_t id)
{
    redisReply *r = redisCommand(h_redis(), "LRANGE %sServer:%s 0 -1", h_prefix(), type);
    int found = 0;
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
        found |= strtoul(r->element[i]->str, NULL, 10) == id;
    if (r)
        freeReplyObject(r);
    return found;
}

/* Echoes to GAME for ms; returns the number of errors and the time of the last one relative
 * to t0 (ms), and counts answers by server id a or b. */
typedef struct echo_run {
    int ok, errors;
    int64_t last_error_ms;
    int by_a, by_b, by_other;
} echo_run_t;

static echo_run_t echo_for(csync_t *c, int ms, uint64_t t0, uint32_t a, uint32_t b)
{
    echo_run_t r = {0, 0, -1, 0, 0, 0};
    uint64_t end = h_now_ms() + (uint64_t)ms;
    while (h_now_ms() < end) {
        uint32_t sid = 0;
        int rc = echo_once(c, ECHO_TARGET__GAME, &sid, 3000);
        CHECK(rc >= 0); /* the connection itself must never break */
        if (rc == 0) {
            r.ok++;
            if (sid == a)
                r.by_a++;
            else if (sid == b)
                r.by_b++;
            else
                r.by_other++;
        } else {
            r.errors++;
            r.last_error_ms = (int64_t)(h_now_ms() - t0);
        }
        h_sleep_ms(5);
    }
    return r;
}

static void scenario_kill9(void)
{
    h_new_prefix("kill9");
    int port;
    proc_t *g1, *g2;
    proc_t *gw = h_spawn_gateway_games(&port, FAST_CLIENT_ENV, NULL, &g1, &g2, 5000);
    uint32_t a = h_server_id(g1), b = h_server_id(g2);
    CHECK(a && b && a != b);
    csync_t *c = connect_gw(port);
    echo_run_t before = echo_for(c, 500, h_now_ms(), a, b);
    CHECK(before.by_a > 0 && before.by_b > 0 && before.errors == 0);

    uint64_t t0 = h_now_ms();
    h_kill(g1, SIGKILL);
    echo_run_t after = echo_for(c, 2000, t0, a, b);
    printf("kill -9: %d errors, last at %lld ms after the kill; then %d served by the survivor\n",
           after.errors, (long long)after.last_error_ms, after.by_b);
    CHECK(after.last_error_ms <= 1000);
    CHECK(after.by_b > 50);
    int left_ms = -1;
    while (h_now_ms() - t0 < 8000) {
        if (!in_list("Game", a)) {
            left_ms = (int)(h_now_ms() - t0);
            break;
        }
        h_sleep_ms(20);
    }
    printf("kill -9: id %u left the list %d ms after the kill\n", a, left_ms);
    CHECK(left_ms >= 0 && left_ms <= 6000);

    h_restart(g1);
    uint64_t t1 = h_now_ms();
    uint32_t a2 = 0;
    while (h_now_ms() - t1 < 5000 && !(a2 = h_server_id(g1)))
        h_sleep_ms(20);
    CHECK(a2 != 0);
    int served = 0;
    while (h_now_ms() - t1 < 5000 && !served) {
        uint32_t sid = 0;
        if (echo_once(c, ECHO_TARGET__GAME, &sid, 3000) == 0 && sid == a2)
            served = 1;
    }
    printf("kill -9: restarted daemon (id %u) served again %llu ms after restart\n", a2,
           (unsigned long long)(h_now_ms() - t1));
    CHECK(served);
    csync_close(c);
    h_kill(g1, SIGKILL);
    h_kill(g2, SIGKILL);
    h_kill(gw, SIGKILL);
}

static void scenario_stop(void)
{
    h_new_prefix("stop");
    int port;
    const char *gwenv[] = {"LINK_DEAD_MS=1000", "RATE_LIMIT=100000", "RATE_BURST=100000", NULL};
    proc_t *g1, *g2;
    proc_t *gw = h_spawn_gateway_games(&port, gwenv, NULL, &g1, &g2, 5000);
    uint32_t a = h_server_id(g1), b = h_server_id(g2);
    csync_t *c = connect_gw(port);
    uint64_t t0 = h_now_ms();
    h_kill(g1, SIGSTOP);
    echo_run_t r = echo_for(c, 2500, t0, a, b);
    printf("kill -STOP: %d errors, last at %lld ms; %d served by the other after\n", r.errors,
           (long long)r.last_error_ms, r.by_b);
    /* Requests sent to the hung daemon before its link is declared dead get an error (or
     * TIMEOUT); none after the configured silence plus one ping period. */
    CHECK(r.last_error_ms <= 1000 + 250 + 200);
    CHECK(r.by_b > 50);
    CHECK(h_log_count(gw, "event=link_dead") >= 1);
    h_kill(g1, SIGCONT);
    uint64_t t1 = h_now_ms();
    int served = 0;
    while (h_now_ms() - t1 < 8000 && !served) {
        uint32_t sid = 0;
        int rc = echo_once(c, ECHO_TARGET__GAME, &sid, 3000);
        CHECK(rc == 0);
        served = sid == h_server_id(g1);
        h_sleep_ms(5);
    }
    printf("kill -CONT: used again %llu ms later\n", (unsigned long long)(h_now_ms() - t1));
    CHECK(served);
    csync_close(c);
    h_kill(g1, SIGKILL);
    h_kill(g2, SIGKILL);
    h_kill(gw, SIGKILL);
}

static void scenario_sigterm(void)
{
    h_new_prefix("term");
    int port;
    proc_t *g1, *g2;
    proc_t *gw = h_spawn_gateway_games(&port, FAST_CLIENT_ENV, NULL, &g1, &g2, 5000);
    uint32_t a = h_server_id(g1);
    /* The bot keeps 8 requests in flight per client on 50 clients while one game daemon
     * drains: every request must get its response (the bot fails on any error or loss). */
    char gwaddr[64], json[512];
    snprintf(gwaddr, sizeof gwaddr, "127.0.0.1:%d", port);
    snprintf(json, sizeof json, "%s/term.json", h_dir());
    const char *botenv[] = {NULL};
    (void)botenv;
    pid_t bot = fork();
    if (bot == 0) {
        execl(BOT_PATH, "bot", "--scenario", "echo", "--gateway", gwaddr, "--bots", "50",
              "--duration", "4", "--pipeline", "8", "--target", "game", "--json", json,
              (char *)NULL);
        _exit(127);
    }
    h_sleep_ms(1500);
    uint64_t t0 = h_now_ms();
    h_kill(g1, SIGTERM);
    int st = h_wait_exit(g1, 10000);
    printf("SIGTERM: game daemon exited with %d after %llu ms\n", st,
           (unsigned long long)(h_now_ms() - t0));
    CHECK(st == 0);
    CHECK(!in_list("Game", a));
    redisReply *r = redisCommand(h_redis(), "EXISTS %sServer:Game:%u", h_prefix(), a);
    CHECK(r && r->integer == 0);
    freeReplyObject(r);
    CHECK(h_log_count(g1, "event=registry_deregistered") == 1);
    int bst;
    waitpid(bot, &bst, 0);
    printf("SIGTERM: bot exit status %d (0 = every request answered, no error)\n",
           WIFEXITED(bst) ? WEXITSTATUS(bst) : -1);
    CHECK(WIFEXITED(bst) && WEXITSTATUS(bst) == 0);
    h_kill(g2, SIGKILL);
    h_kill(gw, SIGKILL);
}

static void scenario_redis_restart(void)
{
    h_new_prefix("redis");
    int port;
    proc_t *l1, *g1, *g2;
    proc_t *gw = h_spawn_gateway_games(&port, FAST_CLIENT_ENV, &l1, &g1, &g2, 5000);
    csync_t *live = connect_gw(port);
    h_redis_stop();
    h_sleep_ms(1500);
    h_redis_start();
    uint64_t t0 = h_now_ms();
    /* While the daemons register again (the new Redis is empty), the links stay up: routing
     * never depended on Redis being there, only on the links. */
    int served = 0;
    while (h_now_ms() - t0 < 1500) {
        uint32_t s1;
        CHECK_EQ(echo_once(live, ECHO_TARGET__LOBBY, &s1, 3000), 0);
        CHECK_EQ(echo_once(live, ECHO_TARGET__GAME, &s1, 3000), 0);
        served += 2;
        h_sleep_ms(10);
    }
    csync_close(live);
    printf("redis restart: %d echoes to LOBBY and GAME served without an error while the "
           "daemons registered again\n", served);
    int g = h_wait_registered("Game", 2, 5000);
    int l = h_wait_registered("Lobby", 1, 5000);
    int w = h_wait_registered("Gateway", 1, 5000);
    uint64_t all = h_now_ms() - t0;
    printf("redis restart: every daemon registered again %llu ms after Redis came back\n",
           (unsigned long long)all);
    CHECK(g >= 0 && l >= 0 && w >= 0 && all <= 5000);
    csync_t *c = connect_gw(port);
    uint32_t sid;
    CHECK_EQ(echo_once(c, ECHO_TARGET__GAME, &sid, 3000), 0);
    CHECK_EQ(echo_once(c, ECHO_TARGET__LOBBY, &sid, 3000), 0);
    csync_close(c);
    CHECK(h_alive(gw) && h_alive(l1) && h_alive(g1) && h_alive(g2));
    h_kill(gw, SIGKILL);
    h_kill(l1, SIGKILL);
    h_kill(g1, SIGKILL);
    h_kill(g2, SIGKILL);
}

int main(void)
{
    h_init("failover");
    scenario_kill9();
    scenario_stop();
    scenario_sigterm();
    scenario_redis_restart();
    printf("failover: all scenarios passed\n");
    return 0;
}
