/* test_modules_bots: the bot binary (--scenario module) plays the example modules arena_lua
 * and tag with 4 bots over 2 gateways to GAME_OVER: its own checks pass (every
 * record equals its GAME_OVER, no unexpected refusal, MATCH_DATA both ways, moves within the
 * speed, kills and tags happen), and the records in PostgreSQL hold the rules of each game
 * (arena_lua: one outcome for the whole team; tag: the top score wins). */
#include "modules_util.h"

static char RUN[8];

/* long enough for arena_lua's first wave to reach the players and be fought */
static const char *const GAME_ENV[] = {MU_MODULES_DIR, "MATCH_TIME_LIMIT_MS=12000",
                                       "DRAIN_TIMEOUT_MS=500", NULL};
static const char *const LOBBY_ENV[] = {"QUICK_MATCH_SIZE=4", NULL};

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
    lu_cluster_up(&cl, "bots", LOBBY_ENV, GAME_ENV, 1, 2);
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

int main(int argc, char **argv)
{
    static const lu_scenario_t sc[] = {{"bots", scenario_bots}};
    return lu_main(argc, argv, "modules_bots", RUN, sizeof RUN, sc, 1);
}
