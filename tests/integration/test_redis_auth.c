/* test_redis_auth: a registry protected by a password (docs/operations.md, "Protecting the
 * registry"), through the real cluster. The test's Redis gets `requirepass`; then
 * - a gateway, a lobby and a game daemon with the password in REDIS_URL register and serve:
 *   a player registers, logs in and ECHOes both daemons through the gateway; the gateway and
 *   the game daemon reach Redis by the name "localhost" and the game daemon advertises itself
 *   as "localhost", so the gateway's link and both Redis connections go through the name
 *   resolution off the loop (common/resolve.c);
 * - a game daemon without the password, and one with a wrong one, never register; each logs
 *   redis_setup_failed with the server's refusal (NOAUTH, WRONGPASS); the cluster goes on
 *   serving meanwhile;
 * - clusterctl with the password lists the three servers; without it, it fails and says why;
 * - a fake Server:Game entry can no longer be written without the password. */
#include <sys/wait.h>

#include "lobby_util.h"

static char RUN[8];

#define PW "s3cret-registry-pw"

/* Runs clusterctl status with REDIS_URL url; output (stdout and stderr) into out; returns its status. */
static int ctl(const char *url, char *out, size_t n) { return h_clusterctl(url, "status 2>&1", out, n); }

static void scenario_auth(void)
{
    cluster_t cl;
    lu_cluster_init(&cl, "auth");
    /* the harness's own connection stays authenticated: it was open before the password */
    redisReply *r = redisCommand(h_redis(), "CONFIG SET requirepass %s", PW);
    CHECK(r && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    char url[128], url_env[160], name_env[160], bad_env[160];
    snprintf(url, sizeof url, "redis://:%s@127.0.0.1:%d", PW, h_redis_port());
    snprintf(url_env, sizeof url_env, "REDIS_URL=%s", url);
    snprintf(name_env, sizeof name_env, "REDIS_URL=redis://:%s@localhost:%d", PW, h_redis_port());
    snprintf(bad_env, sizeof bad_env, "REDIS_URL=redis://:not-the-password@127.0.0.1:%d", h_redis_port());
    const char *const with_pw[] = {url_env, NULL};
    const char *const game_env[] = {name_env, "ADVERTISE_ADDR=localhost", NULL};
    lu_add_lobby(&cl, with_pw);
    (void)lu_add_game(&cl, game_env);
    const char *const gw_env[] = {name_env, "RATE_LIMIT=100000", "RATE_BURST=100000", NULL};
    int i = cl.ngw++;
    cl.gw[i] = h_spawn_gateway(&cl.port[i], gw_env);
    cl.gw_id[i] = lu_server_id(cl.gw[i]);
    lu_wait_links(&cl);
    player_t pl;
    player_t *ps[1] = {&pl};
    p_init(&pl, RUN, "au", 0, cl.port[0]);
    p_signup_all(ps, 1);
    p_echo(&pl, ECHO_TARGET__LOBBY);
    p_echo(&pl, ECHO_TARGET__GAME);
    char key[128];
    snprintf(key, sizeof key, "%sServer:Game:%u", h_prefix(), cl.game_id[0]);
    r = redisCommand(h_redis(), "HGET %s address", key);
    CHECK(r && r->type == REDIS_REPLY_STRING && strcmp(r->str, "localhost") == 0);
    freeReplyObject(r);
    CHECK(h_log_count(cl.gw[0], "event=link_up type=Game") >= 1);

    /* without the password, and with a wrong one: never registered, told why */
    static const char *const no_pw[] = {NULL};
    const char *const wrong_pw[] = {bad_env, NULL};
    proc_t *nopw = h_spawn(GAMED_PATH, "gamed-nopw", no_pw);
    proc_t *wrong = h_spawn(GAMED_PATH, "gamed-wrongpw", wrong_pw);
    uint64_t t0 = h_now_ms();
    while (h_log_count(nopw, "event=redis_setup_failed") < 1 || h_log_count(wrong, "event=redis_setup_failed") < 1) {
        if (h_now_ms() - t0 > 10000)
            DIE("no redis_setup_failed from the daemons without the password");
        h_sleep_ms(50);
    }
    CHECK(h_log_count(nopw, "NOAUTH") >= 1);
    CHECK(h_log_count(wrong, "WRONGPASS") >= 1 || h_log_count(wrong, "invalid password") >= 1);
    h_sleep_ms(2000); /* time enough to register, had they been able to */
    CHECK(h_alive(nopw) && h_alive(wrong));
    CHECK_EQ(h_log_count(nopw, "event=registry_registered"), 0);
    CHECK_EQ(h_log_count(wrong, "event=registry_registered"), 0);
    CHECK_EQ(h_registered("Game"), 1);
    p_echo(&pl, ECHO_TARGET__GAME); /* the cluster serves on */

    /* clusterctl: with the password it lists the three servers; without, it says why */
    char out[8192];
    CHECK_EQ(ctl(url, out, sizeof out), 0);
    int lines = 0;
    for (const char *q = out; (q = strstr(q, "smooth")); q++)
        lines++;
    if (lines != 3)
        DIE("clusterctl status with the password: %d servers listed, want 3:\n%s", lines, out);
    char open_url[96];
    snprintf(open_url, sizeof open_url, "redis://127.0.0.1:%d", h_redis_port());
    int st = ctl(open_url, out, sizeof out);
    if (st == 0 || !strstr(out, "NOAUTH"))
        DIE("clusterctl without the password: exit %d, output:\n%s", st, out);

    /* a client without the password cannot write a fake registry entry */
    redisContext *anon = redisConnect("127.0.0.1", h_redis_port());
    CHECK(anon && !anon->err);
    r = redisCommand(anon, "HSET %sServer:Game:999 address 127.0.0.1 port 1 status 1", h_prefix());
    CHECK(r && r->type == REDIS_REPLY_ERROR && strstr(r->str, "NOAUTH"));
    freeReplyObject(r);
    redisFree(anon);
    printf("redis auth: with requirepass, the cluster with the password in REDIS_URL registered and served "
           "(login, ECHO lobby and game; the gateway and the game daemon by the name localhost); daemons without it / with a wrong one logged NOAUTH / WRONGPASS and "
           "never registered; clusterctl listed 3 servers with it and failed with NOAUTH without; an "
           "anonymous HSET of a fake Server:Game entry was refused\n");
    p_free(&pl);
    h_kill(nopw, SIGKILL);
    h_kill(wrong, SIGKILL);
    (void)h_wait_exit(nopw, 5000);
    (void)h_wait_exit(wrong, 5000);
    lu_cluster_down(&cl);
}

int main(int argc, char **argv)
{
    static const lu_scenario_t sc[] = {{"auth", scenario_auth}};
    return lu_main(argc, argv, "redis_auth", RUN, sizeof RUN, sc, 1);
}
