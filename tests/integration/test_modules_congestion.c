/* test_modules_congestion: smooth / congested status (docs/operations.md, "Congestion"),
 * through the real cluster. Two game daemons; the first also serves `burn`, a module written
 * here whose every tick spins for about a whole TICK_MS. While a burn match runs, the first
 * daemon's tick p99 nears its budget: it sets status 2 (registry, log, /metrics gauge through
 * clusterctl status), and new arena matches go to the second daemon even where the placement
 * counts alone would pick the first. When the burn match is over and SMOOTH_AFTER_S calm
 * seconds have passed, it is smooth again and takes the next match. */
#include <sys/stat.h>

#include "modules_util.h"

static char RUN[8];

/* Spins SPIN loop iterations per tick (over TICK_MS 20 on any machine), ends itself after
 * TICKS ticks. */
static const char BURN_LUA[] =
    "local M = { min_players = 1, max_players = 4 }\n"
    "function M.init(ctx, params) return { ticks = 0, x = 0 }, 50 end\n"
    "function M.join(ctx, s, player) return s end\n"
    "function M.leave(ctx, s, player, reason) return s end\n"
    "function M.loop(ctx, s, tick_no, messages)\n"
    "  if s.done then return s end\n"
    "  local x = s.x\n"
    "  for i = 1, SPIN do x = (x + i) % 1000003 end\n"
    "  s.x = x\n"
    "  s.ticks = s.ticks + 1\n"
    "  if s.ticks >= TICKS then\n"
    "    s.done = true\n"
    "    local ps = {}\n"
    "    for _, p in ipairs(ctx.players) do ps[#ps + 1] = { user_id = p.user_id, score = 0, outcome = 'draw' } end\n"
    "    ctx.finish({ players = ps, summary = 'burnt' })\n"
    "  end\n"
    "  return s\n"
    "end\n"
    "function M.terminate(ctx, s, reason) return s end\n"
    "return M\n";

static int status_of(uint32_t game) { return (int)lu_game_field(game, "status"); }

static int wait_status(uint32_t game, int want, int timeout_ms)
{
    uint64_t t0 = h_now_ms();
    while (status_of(game) != want) {
        if (h_now_ms() - t0 > (uint64_t)timeout_ms)
            return -1;
        h_sleep_ms(50);
    }
    return (int)(h_now_ms() - t0);
}

static void scenario_congested(void)
{
    char dir[512], env_dir[560], path[600];
    snprintf(dir, sizeof dir, "%s/burn", h_dir());
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/burn.lua", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    /* 10 M iterations of 3 VM instructions: over 20 ms even on a fast machine */
    fputs("local SPIN, TICKS = 10000000, 40\n", f);
    fputs(BURN_LUA, f);
    fclose(f);
    snprintf(env_dir, sizeof env_dir, "GAME_MODULES_DIR=%s", dir);
    const char *const slow_env[] = {env_dir, "TICK_MS=20", "MODULE_INSTRUCTION_BUDGET=1000000000",
                                    "SMOOTH_AFTER_S=2", "MATCH_WAVES=100", "MATCH_TIME_LIMIT_MS=60000",
                                    "DRAIN_TIMEOUT_MS=500", NULL};
    const char *const other_env[] = {"TICK_MS=20", "MATCH_WAVES=100", "MATCH_TIME_LIMIT_MS=60000", "DRAIN_TIMEOUT_MS=500",
                                     NULL};
    scene_t *s = scene_new();
    lu_cluster_init(&s->cl, "congest");
    lu_add_lobby(&s->cl, NULL);
    int g1 = lu_add_game(&s->cl, slow_env); /* registers first: the lower id wins ties */
    CHECK(lu_wait_game_field(s->cl.game_id[g1], "status", 1, 5000) >= 0);
    int g2 = lu_add_game(&s->cl, other_env);
    lu_add_gateway(&s->cl);
    lu_wait_links(&s->cl);
    CHECK(s->cl.game_id[g1] < s->cl.game_id[g2]);
    enum { N = 10 };
    scene_players(s, RUN, "cg", N, 0);

    /* the burn match: only the first daemon serves the mode */
    sc_match_t burn = mu_match(s, s->ps, 1, "burn", 1, NULL);
    CHECK_EQ(burn.game, s->cl.game_id[g1]);
    int ms = wait_status(s->cl.game_id[g1], 2, 5000);
    if (ms < 0)
        DIE("the daemon running the burn match never turned congested (status %d)",
            status_of(s->cl.game_id[g1]));
    CHECK(h_log_count(s->cl.game[g1], "event=congested") == 1);
    CHECK_EQ(status_of(s->cl.game_id[g2]), 1);

    /* placement counts now: first 1, second 0. Without the status the second arena match
     * would tie (1, 1) and go to the first (lower id). */
    /* each an arena match of a fresh pair of players */
    uint32_t a1 = mu_match(s, &s->ps[1], 2, "arena", 2, NULL).game;
    uint32_t a2 = mu_match(s, &s->ps[3], 2, "arena", 2, NULL).game;
    CHECK_EQ(a1, s->cl.game_id[g2]);
    CHECK_EQ(a2, s->cl.game_id[g2]);
    /* clusterctl shows it */
    char out[4096];
    CHECK_EQ(h_clusterctl(NULL, "status", out, sizeof out), 0);
    if (!strstr(out, "congested"))
        DIE("clusterctl status does not show the congested daemon:\n%s", out);

    /* the burn match ends (40 ticks); after SMOOTH_AFTER_S (2) calm seconds: smooth */
    mu_wait_over(s->ps, 1, 20000);
    CHECK(s->pl[0].over && s->pl[0].over->match_id == burn.id);
    uint64_t t_over = h_now_ms();
    if (wait_status(s->cl.game_id[g1], 1, 8000) < 0)
        DIE("not smooth again within 8 s of the burn match's end");
    int calm_ms = (int)(h_now_ms() - t_over);
    CHECK(calm_ms >= 1000); /* hysteresis: not at the first calm second */
    CHECK(h_log_count(s->cl.game[g1], "event=smooth") == 1);
    /* first 0 matches, second 2: the next goes to the first again */
    uint32_t a3 = mu_match(s, &s->ps[5], 2, "arena", 2, NULL).game;
    CHECK_EQ(a3, s->cl.game_id[g1]);
    printf("congestion: burn match on daemon %u -> congested after %d ms; 2 arena matches placed on daemon %u "
           "meanwhile; smooth %d ms after the burn match ended (SMOOTH_AFTER_S=2); the next match on %u\n",
           s->cl.game_id[g1], ms, s->cl.game_id[g2], calm_ms, a3);
    scene_down(s);
}

int main(int argc, char **argv)
{
    static const lu_scenario_t sc[] = {{"congested", scenario_congested}};
    return lu_main(argc, argv, "modules_congestion", RUN, sizeof RUN, sc, 1);
}
