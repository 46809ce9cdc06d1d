/* test_stale_bind: a game daemon stopped (SIGSTOP) 1.5 s while 40 bots play, then resumed
 * (fenced bindings, docs/link-protocol.md). The gateway's grace is small here (MATCH_LINK_GRACE_MS
 * 100, LINK_DEAD_MS 500), so the stopped daemon's matches are aborted and their players
 * re-placed on the other daemon before it comes back; back, it ends its stale matches and
 * sends BIND_GAME(session, 0, stale match) for players now bound to another match. The gateway
 * must refuse those (bind_fenced): every re-placed player keeps playing. Checked: the bot
 * exits 0 (no NOT_IN_GAME while a bot is in play, no unexpected error, GAME_OVER seen, no
 * wrong record), the gateway fenced stale binds, and GAME_OVER came after the resume. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faults_util.h"

/* Match ids the game daemon's log says it started, into ids (at most max); how many. */
static int started_ids(const proc_t *p, unsigned long long *ids, int n, int max)
{
    FILE *f = fopen(p->log, "r");
    if (!f)
        return n;
    char line[4096];
    while (fgets(line, sizeof line, f) && n < max) {
        const char *m = strstr(line, "event=match_started match=");
        if (m)
            ids[n++] = strtoull(m + strlen("event=match_started match="), NULL, 10);
    }
    fclose(f);
    return n;
}

/* How many of the ids have a record in PostgreSQL (psql; ids are unique: PRIMARY KEY). */
static int records_of(const unsigned long long *ids, int n)
{
    if (n == 0)
        return 0;
    size_t cap = (size_t)n * 24 + 100;
    char *sql = malloc(cap), out[256];
    CHECK(sql != NULL);
    int k = snprintf(sql, cap, "SELECT count(*) FROM matches WHERE id IN (");
    for (int i = 0; i < n; i++)
        k += snprintf(sql + k, cap - (size_t)k, "%s%llu", i ? "," : "", ids[i]);
    snprintf(sql + k, cap - (size_t)k, ")");
    int c = -1;
    if (h_psql(sql, out, sizeof out) != 0 || sscanf(out, "%d", &c) != 1)
        c = -1;
    free(sql);
    return c;
}

/* The sum of sessions_aborted= over the gateway's game_lost lines. */
static int sessions_aborted(const proc_t *p)
{
    return (int)h_log_field(p, "event=game_lost ", "sessions_aborted=", 0);
}

int main(void)
{
    h_init("stale_bind");
    h_pg_start();
    fcluster_t c;
    static const char *const game_env[] = {"MATCH_TIME_LIMIT_MS=3000", NULL};
    static const char *const all_env[] = {"MATCH_LINK_GRACE_MS=100", "LINK_DEAD_MS=500", NULL};
    fc_up(&c, "stale", 1, 1, 2, NULL, game_env, all_env);
    char gws[64], json[300], prefix[32];
    snprintf(gws, sizeof gws, "127.0.0.1:%d", c.port[0]);
    snprintf(json, sizeof json, "%s/bot.json", h_dir());
    snprintf(prefix, sizeof prefix, "st%04x_", (unsigned)(h_now_ms() & 0xffff));
    /* the long form (run_long.sh) sets more bots and a longer stop */
    const char *bots = getenv("FAULT_BOTS") ? getenv("FAULT_BOTS") : "40";
    int stop_ms = getenv("FAULT_STOP_MS") ? atoi(getenv("FAULT_STOP_MS")) : 1500;
    char secs[16];
    snprintf(secs, sizeof secs, "%d", 14 + stop_ms / 1000);
    const char *bargs[] = {"--scenario", "match", "--bots", bots, "--duration", secs, "--gateway", gws,
                           "--json", json, "--user-prefix", prefix, NULL};
    proc_t *bot = h_spawn_argv(BOT_PATH, "bot", bargs);
    /* until both daemons run matches */
    uint64_t t0 = h_now_ms();
    while (h_log_count(c.game[0], "event=match_started") < 2 ||
           h_log_count(c.game[1], "event=match_started") < 2) {
        if (h_now_ms() - t0 > 30000) {
            fprintf(stderr, "matches never ran on both game daemons\n");
            h_fail();
        }
        h_sleep_ms(100);
    }
    int links0 = h_log_count(c.gw[0], "event=link_up type=Game");
    h_kill(c.game[0], SIGSTOP);
    h_sleep_ms(stop_ms);
    h_kill(c.game[0], SIGCONT);
    uint64_t t_cont = h_now_ms();
    /* recovered: the gateway's link to the resumed daemon is up again */
    long long recover_ms = -1;
    while (recover_ms < 0 && h_now_ms() - t_cont < 20000) {
        if (h_log_count(c.gw[0], "event=link_up type=Game") > links0)
            recover_ms = (long long)(h_now_ms() - t_cont);
        else
            h_sleep_ms(20);
    }
    int rc = h_wait_exit(bot, 90000);
    int fenced = h_log_count(c.gw[0], "event=bind_fenced");
    /* the dangerous case: a stale unbind for a session bound to another match now */
    int fenced_live = fenced - h_log_count2(c.gw[0], "event=bind_fenced", "bound_game=0 ");
    int lost = h_log_count(c.gw[0], "event=game_lost");
    int over_after = h_log_count(c.game[1], "event=match_over") + h_log_count(c.game[0], "event=match_over");
    printf("bot exit %d; gateway: game_lost %d, bind_fenced %d (%d for sessions bound to another "
           "match now); matches ended (both daemons) %d; resumed %llu ms before the bot ended\n",
           rc, lost, fenced, fenced_live, over_after, (unsigned long long)(h_now_ms() - t_cont));
    if (rc != 0) {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "grep -A40 'errors' '%s' | head -60 >&2", bot->log);
        if (system(cmd) != 0)
            fprintf(stderr, "(no bot report)\n");
    }
    static unsigned long long ids[100000];
    int nids = started_ids(c.game[0], ids, 0, 100000);
    nids = started_ids(c.game[1], ids, nids, 100000);
    /* the matches still running when the bot stopped end at their 3 s limit, then land */
    int recs;
    uint64_t t_rec = h_now_ms();
    while ((recs = records_of(ids, nids)) != nids && h_now_ms() - t_rec < 15000)
        h_sleep_ms(250);
    printf("row|gamed SIGSTOP %d ms, %s bots, grace 100 ms|%d|%d|0|%lld\n", stop_ms, bots,
           sessions_aborted(c.gw[0]), nids - recs, recover_ms);
    CHECK_EQ(rc, 0);   /* no NOT_IN_GAME in play, GAME_OVER seen, records right */
    CHECK_EQ(recs, nids); /* every started match recorded */
    CHECK(lost >= 1);  /* the stop did cost the stopped daemon's matches */
    CHECK(fenced >= 1); /* and its stale binds came back and were refused */
    fc_down(&c);
    printf("ok gamed SIGSTOP %d ms under %s bots: %d stale binds fenced (%d of players re-placed "
           "elsewhere), bot passed (0 NOT_IN_GAME in play, GAME_OVER seen)\n", stop_ms, bots, fenced,
           fenced_live);
    return 0;
}
