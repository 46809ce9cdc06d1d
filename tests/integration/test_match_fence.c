/* test_match_fence: a game daemon stopped (SIGSTOP) for 1.5 s while 40 bots play on two game
 * daemons and two gateways. The gateways declare it lost (LINK_DEAD_MS), its players are told
 * MATCH_ABORTED and placed again, many on the other daemon. When it runs again it finds its
 * matches ended by the lobby and unbinds their players: those unbinds, and any other binding it
 * sends for its old matches, must not reach players now in a newer match (fencing:
 * src_gateway/fence.c). Checked through the bot's own report: no NOT_IN_GAME for a bot in a
 * match, no unexpected error but SERVICE_UNAVAILABLE (game packets to the stopped daemon's
 * matches while it is stopped), every bot saw GAME_OVER, no match without its end; the
 * gateways' count of refused stale bindings is printed. Unfenced, NOT_IN_GAME fails it. */
#include "lobby_util.h"

#include <sys/stat.h>

static const char *const GAME_ENV[] = {"MATCH_TIME_LIMIT_MS=4000", "MATCH_WAVES=100", NULL};

/* A number from the bot's JSON report, by a Python expression over j (the loaded report). */
static long long bot_json(const char *path, const char *expr)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import json,sys\n"
             "j=json.load(open(sys.argv[1]))\n"
             "def walk(v,k):\n"
             "  if isinstance(v,dict):\n"
             "    for a,b in v.items():\n"
             "      yield from ([b] if a==k else []); yield from walk(b,k)\n"
             "  elif isinstance(v,list):\n"
             "    for b in v: yield from walk(b,k)\n"
             "print(int(%s))' '%s'",
             expr, path);
    FILE *f = popen(cmd, "r");
    CHECK(f != NULL);
    char line[64] = "";
    char *got = fgets(line, sizeof line, f);
    int st = pclose(f);
    if (!got || st != 0)
        DIE("could not read %s from %s", expr, path);
    return strtoll(line, NULL, 10);
}

static long long gw_stale_binds(const cluster_t *cl)
{
    long long n = 0;
    for (int g = 0; g < cl->ngw; g++)
        n += lu_log_count2(cl->gw[g], "event=stale_bind_refused", "");
    return n;
}

int main(void)
{
    h_init("match_fence");
    h_pg_start();
    cluster_t cl;
    lu_cluster_init(&cl, "fence");
    lu_add_lobby(&cl, NULL);
    int victim = lu_add_game(&cl, GAME_ENV);
    (void)lu_add_game(&cl, GAME_ENV);
    lu_add_gateway(&cl);
    lu_add_gateway(&cl);
    lu_wait_links(&cl);

    char json[512], gw0[64], gw1[64];
    snprintf(json, sizeof json, "%s/bot-fence.json", h_dir());
    snprintf(gw0, sizeof gw0, "127.0.0.1:%d", cl.port[0]);
    snprintf(gw1, sizeof gw1, "127.0.0.1:%d", cl.port[1]);
    const char *args[] = {"--scenario", "match", "--gateway", gw0, "--gateway", gw1,
                          "--bots", "40", "--duration", "16", "--json", json, NULL};
    proc_t *bot = h_spawn_argv(BOT_PATH, "bot", args);

    /* matches running on both daemons, then the stop */
    uint32_t vid = cl.game_id[victim];
    uint64_t t0 = h_now_ms();
    while (lu_game_field(vid, "games") < 2) {
        if (h_now_ms() - t0 > 15000)
            DIE("the game daemon to stop never ran 2 matches");
        h_sleep_ms(100);
    }
    long long stale_before = gw_stale_binds(&cl);
    h_kill(cl.game[victim], SIGSTOP);
    h_sleep_ms(1500);
    h_kill(cl.game[victim], SIGCONT);
    printf("fence: game daemon %u stopped for 1.5 s with %lld matches\n", vid,
           lu_game_field(vid, "games"));

    int st = h_wait_exit(bot, 60000);
    struct stat sb;
    if (stat(json, &sb) != 0)
        DIE("the bot wrote no report (exit %d)", st);
    long long not_in_game = bot_json(json, "sum(d.get(\"NOT_IN_GAME\",0) for d in walk(j,\"unexpected_by_code\"))");
    long long unexpected = bot_json(json, "sum(walk(j,\"unexpected_errors\"))");
    /* requests to the stopped daemon's matches while it is stopped: the fault itself */
    long long unavailable = bot_json(json, "sum(d.get(\"SERVICE_UNAVAILABLE\",0) for d in walk(j,\"unexpected_by_code\"))");
    long long aborted = bot_json(json, "j[\"matches\"][\"aborted\"]");
    long long completed = bot_json(json, "j[\"matches\"][\"completed\"]");
    long long with_over = bot_json(json, "j[\"matches\"][\"bots_with_game_over\"]");
    long long over_missing = bot_json(json, "j[\"matches\"][\"anomalies\"][\"game_over_missing\"]");
    long long stale = gw_stale_binds(&cl) - stale_before;
    printf("fence: bot exit %d; matches completed %lld, aborted %lld; bots with GAME_OVER %lld/40; "
           "NOT_IN_GAME %lld, unexpected errors %lld (SERVICE_UNAVAILABLE from the stopped daemon's matches "
           "%lld), GAME_OVER missing %lld; stale bindings refused by the gateways %lld\n",
           st, completed, aborted, with_over, not_in_game, unexpected, unavailable, over_missing, stale);
    if (unexpected) { /* which request met which code */
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "python3 -c 'import json,sys\nj=json.load(open(sys.argv[1]))\n"
                 "def walk(v,p):\n  if isinstance(v,dict):\n"
                 "    if v.get(\"unexpected_errors\"): print(p, v.get(\"unexpected_by_code\"))\n"
                 "    for a,b in v.items(): walk(b,p+\"/\"+a)\n"
                 "walk(j,\"\")' '%s' >&2", json);
        if (system(cmd) != 0)
            fprintf(stderr, "(could not list the unexpected errors)\n");
    }
    if (aborted < 1)
        DIE("the stop aborted no match: the test did not test anything");
    CHECK_EQ(not_in_game, 0);
    CHECK_EQ(unexpected - unavailable, 0);
    CHECK_EQ(over_missing, 0);
    CHECK_EQ(with_over, 40);
    CHECK(st == 0 || (st == 1 && unavailable > 0)); /* the bot fails a run with any unexpected code */
    lu_cluster_down(&cl);
    h_pg_stop();
    printf("test_match_fence: passed\n");
    return 0;
}
