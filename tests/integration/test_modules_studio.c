/* test_modules_studio: the tutorial's module (clicker), taken as written from
 * docs/modules.md into a folder of its own, is served by a game daemon, played to its end (a
 * player clicks 30 times and wins; the record says so) and joined passively by the bot
 * (matches end at the time limit as draws). */
#include "modules_util.h"

#include <sys/stat.h>

static char RUN[8];

/* Writes the first ```lua block after "`modules/clicker.lua`" in docs/modules.md to dir. */
static void tutorial_module(const char *dir)
{
    FILE *f = fopen(REPO_DIR "/docs/modules.md", "r");
    CHECK(f != NULL);
    static char doc[1 << 17];
    size_t n = fread(doc, 1, sizeof doc - 1, f);
    fclose(f);
    doc[n] = '\0';
    const char *at = strstr(doc, "`modules/clicker.lua`");
    CHECK(at != NULL);
    const char *start = strstr(at, "```lua\n");
    CHECK(start != NULL);
    start += 7;
    const char *end = strstr(start, "\n```");
    CHECK(end != NULL);
    char path[600];
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/clicker.lua", dir);
    f = fopen(path, "w");
    CHECK(f != NULL);
    fwrite(start, 1, (size_t)(end - start) + 1, f);
    fclose(f);
}

static void scenario_studio(void)
{
    char dir[512], env_dir[560];
    snprintf(dir, sizeof dir, "%s/studio", h_dir());
    tutorial_module(dir);
    snprintf(env_dir, sizeof env_dir, "GAME_MODULES_DIR=%s", dir);
    const char *const game_env[] = {env_dir, "MATCH_TIME_LIMIT_MS=4000", "DRAIN_TIMEOUT_MS=500", NULL};
    const sc_spec_t spec = {"studio", NULL, game_env, 1, 2, "stu", 2, 0};
    scene_t *s = scene_up(&spec, RUN);
    uint32_t max = 0;
    sc_match_t mt = mu_match(s, s->ps, 2, "clicker", 0, &max);
    CHECK_EQ(max, 8);
    /* the second player clicks 30 times: it wins */
    for (uint32_t k = 1; k <= 30; k++) {
        mu_send_data(s->ps[1], 1, NULL, 0, k);
        h_sleep_ms(5);
    }
    mu_wait_over(s->ps, 2, 10000);
    const GameOver *go = s->pl[0].over;
    CHECK(go && go->match_id == mt.id && go->outcome == MATCH_OUTCOME__FINISHED);
    char want[64];
    snprintf(want, sizeof want, "%s reached 30 clicks", s->pl[1].name);
    if (strcmp(go->summary, want) != 0)
        DIE("clicker summary \"%s\", expected \"%s\"", go->summary, want);
    mu_check_record(go, mt.game, "clicker");
    CHECK(s->pl[0].n_match_data >= 30 && s->pl[1].n_match_data >= 30); /* a CLICKS broadcast each */

    /* the bot joins clicker's matches passively: they end at the time limit, a draw */
    char gw[64], prefix[32];
    snprintf(gw, sizeof gw, "127.0.0.1:%d,127.0.0.1:%d", s->cl.port[0], s->cl.port[1]);
    snprintf(prefix, sizeof prefix, "b%sclk_", RUN);
    const char *const args[] = {"--scenario", "module", "--mode", "clicker", "--gateway", gw, "--bots",
                                "4", "--duration", "6", "--quiet", "--user-prefix", prefix, NULL};
    char *json = NULL;
    int st = mu_bot("clicker", args, 60000, &json);
    if (st != 0 || !json || !strstr(json, "\"pass\": true"))
        DIE("bot --mode clicker: exit %d, report %s", st, json ? json : "(none)");
    CHECK(mu_json_num(json, "matches", "completed") >= 1);
    CHECK(mu_json_num(json, "outcomes", "draw") >= 4);
    xfree(json);
    printf("studio: the tutorial's clicker (docs/modules.md, as written) served from its own folder: "
           "\"%s\" recorded; the bot played it passively to GAME_OVER (draws at the time limit)\n",
           go->summary);
    scene_down(s);
}

int main(int argc, char **argv)
{
    static const lu_scenario_t sc[] = {{"studio", scenario_studio}};
    return lu_main(argc, argv, "modules_studio", RUN, sizeof RUN, sc, 1);
}
