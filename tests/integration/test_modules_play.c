/* test_modules_play: the example game modules played to GAME_OVER through the real cluster
 * (issue 11): 2 gateways, a lobby, a game daemon serving modules/ (arena_lua, tag).
 *
 * told: two of the test's own players on different gateways play tag: a room of mode tag
 * (max_players 0 = the mode's 16), GAME_STARTING and MATCH_START of mode tag, MATCH_DATA
 * broadcasts to both, a refusal (REFUSED op) to its sender only, MATCH_DATA_SEND refused
 * out of a match (NOT_IN_GAME) and oversized (BAD_REQUEST); GAME_OVER (FINISHED, summary, a score and outcome each) equals the
 * last SCORES each was told, the PostgreSQL record and GET_MATCH_HISTORY.
 * bots: the bot binary (--scenario module) plays arena_lua, then tag, with 4 bots over both
 * gateways to GAME_OVER; its own checks (every record equals its GAME_OVER, no unexpected
 * refusal, MATCH_DATA traffic both ways) pass, and the records in PostgreSQL hold the rules of
 * each game (arena_lua: one outcome for the whole team; tag: the top score wins).
 * studio: the tutorial's module (clicker), taken as written from docs/modules.md into a
 * folder of its own, is served, played to its end (a player clicks 30 times and wins; the
 * record says so) and joined passively by the bot. */
#include "modules_util.h"

#include <sys/stat.h>

static char RUN[8];

#define LIMIT_MS 6000

static const char *const GAME_ENV[] = {MU_MODULES_DIR, "MATCH_TIME_LIMIT_MS=6000",
                                       "DRAIN_TIMEOUT_MS=500", NULL};
/* long enough for arena_lua's first wave to reach the players and be fought */
static const char *const GAME_ENV_BOTS[] = {MU_MODULES_DIR, "MATCH_TIME_LIMIT_MS=12000",
                                            "DRAIN_TIMEOUT_MS=500", NULL};
static const char *const LOBBY_ENV[] = {"QUICK_MATCH_SIZE=4", NULL};

static void cluster_up(cluster_t *cl, const char *tag, const char *const *game_env)
{
    lu_cluster_init(cl, tag);
    lu_add_lobby(cl, LOBBY_ENV);
    lu_add_game(cl, game_env);
    lu_add_gateway(cl);
    lu_add_gateway(cl);
    lu_wait_links(cl);
}

/* ---- told: what the players heard equals what was recorded */

typedef struct told {
    uint64_t self;
    int scores_seen, refused_seen, positions_seen;
    uint32_t score[2];    /* the last SCORES record of each player, by index in uids */
    uint64_t uids[2];
    int32_t refused_code; /* of the last REFUSED op */
} told_t;

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void on_tag_data(player_t *p, const MatchData *d)
{
    told_t *t = p->md_ud;
    CHECK_EQ(d->sender_id, 0);
    if (d->op_code == 103) { /* SCORES: <I8I4B per player */
        CHECK(d->data.len % 13 == 0 && d->data.len > 0);
        t->scores_seen++;
        for (size_t off = 0; off + 13 <= d->data.len; off += 13) {
            uint64_t uid = rd32(d->data.data + off) | (uint64_t)rd32(d->data.data + off + 4) << 32;
            for (int k = 0; k < 2; k++)
                if (t->uids[k] == uid)
                    t->score[k] = rd32(d->data.data + off + 8);
        }
    } else if (d->op_code == 104) { /* REFUSED: <I4i4 */
        CHECK_EQ(d->data.len, 8);
        t->refused_seen++;
        t->refused_code = (int32_t)rd32(d->data.data + 4);
    } else if (d->op_code == 101) {
        CHECK(d->data.len % 17 == 0);
        t->positions_seen++;
    }
}

static void scenario_told(void)
{
    cluster_t cl;
    cluster_up(&cl, "told", GAME_ENV);
    player_t pl[2];
    player_t *ps[2];
    told_t t[2];
    for (int i = 0; i < 2; i++) {
        p_init(&pl[i], RUN, "told", i, cl.port[i]);
        ps[i] = &pl[i];
    }
    p_signup_all(ps, 2);
    for (int i = 0; i < 2; i++) {
        memset(&t[i], 0, sizeof t[i]);
        t[i].self = pl[i].uid;
        t[i].uids[0] = pl[0].uid;
        t[i].uids[1] = pl[1].uid;
        pl[i].on_match_data = on_tag_data;
        pl[i].md_ud = &t[i];
    }
    /* not in a match yet: NOT_IN_GAME */
    mu_send_data(ps[0], 1, "12345678", 8, 5);
    int nig = mu_wait_refusal(ps[0], 5, 3000);
    if (nig != ERROR_CODE__NOT_IN_GAME)
        DIE("MATCH_DATA_SEND out of a match: %s, expected NOT_IN_GAME", nig < 0 ? "no answer" : err_name(nig));
    uint32_t max = 0;
    uint64_t room = mu_create_room(ps[0], "tag", 0, &max);
    CHECK_EQ(max, 16); /* tag's M.max_players */
    mu_fill_room(ps, 2, room);
    uint32_t game = 0;
    uint64_t match = mu_start(ps, 2, "tag", &game);
    CHECK_EQ(game, cl.game_id[0]);

    /* an op tag does not know: REFUSED(-9) to the sender only; then an oversized send */
    ps_wait(ps, 2, cond_started, &match, 1000);
    mu_send_data(ps[0], 9, "x", 1, 0);
    uint8_t big[8192];
    memset(big, 1, sizeof big);
    mu_send_data(ps[1], 1, big, sizeof big, 77);
    int code = mu_wait_refusal(ps[1], 77, 3000);
    if (code != ERROR_CODE__BAD_REQUEST)
        DIE("oversized MATCH_DATA_SEND (8 KiB): %s, expected BAD_REQUEST", code < 0 ? "no answer" : err_name(code));

    mu_wait_over(ps, 2, LIMIT_MS * 2 + 5000);
    for (int i = 0; i < 2; i++)
        if (pl[i].aborted)
            DIE("%s: MATCH_ABORTED (%s)", pl[i].name, pl[i].aborted->reason);
    CHECK_EQ(t[0].refused_seen, 1);
    CHECK_EQ(t[0].refused_code, -9);
    CHECK_EQ(t[1].refused_seen, 0);
    const GameOver *go = pl[0].over;
    CHECK(go->outcome == MATCH_OUTCOME__FINISHED && strcmp(go->mode, "tag") == 0);
    CHECK(strncmp(go->summary, "tag: ", 5) == 0);
    CHECK_EQ(go->match_id, match);
    CHECK_EQ(go->n_results, 2);
    int wins = 0, losses = 0;
    for (int i = 0; i < 2; i++) {
        const GameOver *o = pl[i].over;
        CHECK(strcmp(o->summary, go->summary) == 0 && o->n_results == 2);
        CHECK(t[i].scores_seen > 0 && t[i].positions_seen > 0);
        for (size_t k = 0; k < go->n_results; k++) {
            const PlayerResult *r = go->results[k];
            int idx = r->user_id == pl[0].uid ? 0 : 1;
            if (r->score != t[i].score[idx])
                DIE("%s was told %u points for %s at the end, GAME_OVER says %u", pl[i].name,
                    t[i].score[idx], pl[idx].name, r->score);
            if (i == 0) {
                wins += strcmp(r->outcome, "win") == 0;
                losses += strcmp(r->outcome, "loss") == 0;
            }
        }
    }
    /* nobody moves: "it" never reaches the other, who scores 10 a second and wins */
    CHECK_EQ(wins, 1);
    CHECK_EQ(losses, 1);
    mu_check_record(go, game, "tag");
    {
        /* the module's per-player stats (jsonb): one "it" drawn, nobody tagged */
        char id[24];
        snprintf(id, sizeof id, "%llu", (unsigned long long)match);
        PGconn *db = lu_pg();
        CHECK_EQ(lu_pg_num(db, "SELECT sum((stats->>'times_it')::int) FROM match_players WHERE match_id = $1", id), 1);
        CHECK_EQ(lu_pg_num(db, "SELECT sum((stats->>'tags')::int) FROM match_players WHERE match_id = $1", id), 0);
        PQfinish(db);
    }
    for (int i = 0; i < 2; i++)
        mu_check_history(&pl[i], go, "tag");
    printf("told: tag match %llu on game %u: GAME_OVER \"%s\" (%u/%u points) equals the last SCORES "
           "each player heard, the record in PostgreSQL and GET_MATCH_HISTORY; REFUSED reached its "
           "sender only; MATCH_DATA_SEND before the match NOT_IN_GAME, 8 KiB BAD_REQUEST\n",
           (unsigned long long)match, game, go->summary, go->results[0]->score, go->results[1]->score);
    for (int i = 0; i < 2; i++)
        p_free(&pl[i]);
    lu_cluster_down(&cl);
}

/* ---- bots: the bot binary plays both examples */

static long long pg_count(const char *sql, const char *param)
{
    PGconn *db = lu_pg();
    long long n = lu_pg_num(db, sql, param);
    PQfinish(db);
    return n;
}

static void bots_play(const cluster_t *cl, const char *mode)
{
    char gw[64], prefix[32];
    snprintf(gw, sizeof gw, "127.0.0.1:%d,127.0.0.1:%d", cl->port[0], cl->port[1]);
    snprintf(prefix, sizeof prefix, "b%s%.3s_", RUN, mode);
    const char *const args[] = {"--scenario", "module", "--mode", mode, "--gateway", gw,
                                "--bots", "4", "--duration", "15", "--quiet", "--user-prefix",
                                prefix, "--match-interval-ms", "100", NULL};
    char *json = NULL;
    int st = mu_bot(mode, args, 60000, &json);
    if (!json)
        DIE("bot %s wrote no JSON report", mode);
    if (st != 0 || !strstr(json, "\"pass\": true"))
        DIE("bot --mode %s: exit %d, report %s", mode, st, json);
    double completed = mu_json_num(json, "matches", "completed");
    double finished = mu_json_num(json, "matches", "finished");
    double rec_ok = mu_json_num(json, "records", "ok");
    double out = mu_json_num(json, "match_data_out", "count");
    double in = mu_json_num(json, "match_data_in", "count");
    double rtt = mu_json_num(json, "move_round_trip_ms", "samples");
    double moves = mu_json_num(json, "play", "moves");
    double clamped = mu_json_num(json, "play", "clamped");
    /* arena_lua: monsters killed; tag: "it" passed on at least once */
    double action = mu_json_num(json, "play", strcmp(mode, "tag") == 0 ? "tags_suffered" : "kills");
    CHECK(completed >= 1 && finished == completed);
    CHECK(action > 0);
    if (clamped * 10 > moves)
        DIE("bot --mode %s: %.0f of %.0f moves clamped by the module", mode, clamped, moves);
    CHECK(rec_ok >= 4); /* the 4 players of the first match each read their record back */
    CHECK(out > 0 && in > out && rtt > 0);
    printf("bots: %s: %.0f matches to GAME_OVER (all FINISHED), %.0f records equal to GAME_OVER, "
           "MATCH_DATA out %.0f / in %.0f, %.0f MOVE round trips, %.0f of %.0f moves clamped, "
           "%s %.0f\n",
           mode, completed, rec_ok, out, in, rtt, clamped, moves,
           strcmp(mode, "tag") == 0 ? "tagged" : "kills", action);
    xfree(json);
}

static void scenario_bots(void)
{
    cluster_t cl;
    cluster_up(&cl, "bots", GAME_ENV_BOTS);
    bots_play(&cl, "arena_lua");
    bots_play(&cl, "tag");
    lu_cluster_down(&cl);

    /* the records hold each game's rules */
    long long arena = pg_count("SELECT count(*) FROM matches WHERE mode = $1 AND outcome = 'finished'"
                               " AND summary <> ''", "arena_lua");
    long long tag = pg_count("SELECT count(*) FROM matches WHERE mode = $1 AND outcome = 'finished'"
                             " AND summary LIKE 'tag: %'", "tag");
    CHECK(arena >= 1 && tag >= 1);
    /* arena_lua is co-op: every player of a match (who did not leave) has the same outcome */
    long long split = pg_count("SELECT count(*) FROM (SELECT p.match_id FROM match_players p JOIN"
                               " matches m ON m.id = p.match_id WHERE m.mode = $1"
                               " AND m.outcome = 'finished' GROUP BY p.match_id HAVING count(DISTINCT p.outcome) > 1) x",
                               "arena_lua");
    CHECK_EQ(split, 0);
    /* tag: the players with the top score win (or draw when several share it), the others lose */
    long long wrong = pg_count("SELECT count(*) FROM match_players p JOIN matches m ON m.id = p.match_id"
                               " WHERE m.mode = $1 AND m.outcome = 'finished' AND ((p.score = (SELECT max(score) FROM match_players"
                               " q WHERE q.match_id = p.match_id)) <> (p.outcome IN ('win', 'draw')))",
                               "tag");
    CHECK_EQ(wrong, 0);
    printf("records: %lld arena_lua and %lld tag matches recorded 'finished' with their summary; "
           "arena_lua outcomes shared by each team, tag outcomes follow the scores\n",
           arena, tag);
}

/* ---- studio: the tutorial's module, taken from docs/modules.md, runs as written */

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
    cluster_t cl;
    cluster_up(&cl, "studio", game_env);
    player_t pl[2];
    player_t *ps[2];
    for (int i = 0; i < 2; i++) {
        p_init(&pl[i], RUN, "stu", i, cl.port[i]);
        ps[i] = &pl[i];
    }
    p_signup_all(ps, 2);
    uint32_t max = 0;
    uint64_t room = mu_create_room(ps[0], "clicker", 0, &max);
    CHECK_EQ(max, 8);
    mu_fill_room(ps, 2, room);
    uint32_t game = 0;
    uint64_t match = mu_start(ps, 2, "clicker", &game);
    /* the second player clicks 30 times: it wins */
    for (uint32_t k = 1; k <= 30; k++) {
        mu_send_data(ps[1], 1, NULL, 0, k);
        h_sleep_ms(5);
    }
    mu_wait_over(ps, 2, 10000);
    const GameOver *go = pl[0].over;
    CHECK(go && go->match_id == match && go->outcome == MATCH_OUTCOME__FINISHED);
    char want[64];
    snprintf(want, sizeof want, "%s reached 30 clicks", pl[1].name);
    if (strcmp(go->summary, want) != 0)
        DIE("clicker summary \"%s\", expected \"%s\"", go->summary, want);
    mu_check_record(go, game, "clicker");
    CHECK(pl[0].n_match_data >= 30 && pl[1].n_match_data >= 30); /* a CLICKS broadcast each */

    /* the bot joins clicker's matches passively: they end at the time limit, a draw */
    char gw[64], prefix[32];
    snprintf(gw, sizeof gw, "127.0.0.1:%d,127.0.0.1:%d", cl.port[0], cl.port[1]);
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
    for (int i = 0; i < 2; i++)
        p_free(&pl[i]);
    lu_cluster_down(&cl);
}

int main(void)
{
    h_init("modules_play");
    lu_run_tag(RUN, sizeof RUN);
    h_pg_start();
    const char *only = getenv("MODULES_ONLY");
    if (!only || strcmp(only, "told") == 0)
        scenario_told();
    if (!only || strcmp(only, "bots") == 0)
        scenario_bots();
    if (!only || strcmp(only, "studio") == 0)
        scenario_studio();
    h_pg_stop();
    printf("PASS modules_play\n");
    return 0;
}
