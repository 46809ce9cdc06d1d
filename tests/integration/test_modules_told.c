/* test_modules_told: what players of a module match are told is what is recorded:
 * two of the test's own players on different gateways play tag (2 gateways, a lobby, a game
 * daemon serving modules/): a room of mode tag (max_players 0 = the mode's 16), GAME_STARTING
 * and MATCH_START of mode tag, MATCH_DATA broadcasts to both, a refusal (REFUSED op) to its
 * sender only, MATCH_DATA_SEND refused out of a match (NOT_IN_GAME) and oversized
 * (BAD_REQUEST); GAME_OVER (FINISHED, summary, a score and outcome each) equals the last
 * SCORES each was told, the PostgreSQL record (with the module's stats) and
 * GET_MATCH_HISTORY. */
#include "modules_util.h"

static char RUN[8];

#define LIMIT_MS 6000

static const char *const GAME_ENV[] = {MU_MODULES_DIR, "MATCH_TIME_LIMIT_MS=6000",
                                       "DRAIN_TIMEOUT_MS=500", NULL};

/* ---- told: what the players heard equals what was recorded */

typedef struct told {
    uint64_t self;
    int scores_seen, refused_seen, positions_seen;
    uint32_t score[2];    /* the last SCORES record of each player, by index in uids */
    uint64_t uids[2];
    int32_t refused_code; /* of the last REFUSED op */
} told_t;

static void on_tag_data(player_t *p, const MatchData *d)
{
    told_t *t = p->md_ud;
    CHECK_EQ(d->sender_id, 0);
    if (d->op_code == 103) { /* SCORES: <I8I4B per player */
        CHECK(d->data.len % 13 == 0 && d->data.len > 0);
        t->scores_seen++;
        for (size_t off = 0; off + 13 <= d->data.len; off += 13) {
            uint64_t uid = mu_rd64(d->data.data + off);
            for (int k = 0; k < 2; k++)
                if (t->uids[k] == uid)
                    t->score[k] = mu_rd32(d->data.data + off + 8);
        }
    } else if (d->op_code == 104) { /* REFUSED: <I4i4 */
        CHECK_EQ(d->data.len, 8);
        t->refused_seen++;
        t->refused_code = (int32_t)mu_rd32(d->data.data + 4);
    } else if (d->op_code == 101) {
        CHECK(d->data.len % 17 == 0);
        t->positions_seen++;
    }
}

static const sc_spec_t SCENE = {"told", NULL, GAME_ENV, 1, 2, "told", 2, 0};

static void scenario_told(void)
{
    told_t t[2];
    scene_t *s = scene_up(&SCENE, RUN);
    for (int i = 0; i < 2; i++) {
        memset(&t[i], 0, sizeof t[i]);
        t[i].self = s->pl[i].uid;
        t[i].uids[0] = s->pl[0].uid;
        t[i].uids[1] = s->pl[1].uid;
        s->pl[i].on_match_data = on_tag_data;
        s->pl[i].md_ud = &t[i];
    }
    /* not in a match yet: NOT_IN_GAME */
    mu_send_data(s->ps[0], 1, "12345678", 8, 5);
    int nig = mu_wait_refusal(s->ps[0], 5, 3000);
    if (nig != ERROR_CODE__NOT_IN_GAME)
        DIE("MATCH_DATA_SEND out of a match: %s, expected NOT_IN_GAME", nig < 0 ? "no answer" : err_name(nig));
    uint32_t max = 0;
    sc_match_t mt = mu_match(s, s->ps, 2, "tag", 0, &max);
    CHECK_EQ(max, 16); /* tag's M.max_players */
    CHECK_EQ(mt.game, s->cl.game_id[0]);

    /* an op tag does not know: REFUSED(-9) to the sender only; then an oversized send */
    ps_wait(s->ps, 2, cond_started, &mt.id, 1000);
    mu_send_data(s->ps[0], 9, "x", 1, 0);
    uint8_t big[8192];
    memset(big, 1, sizeof big);
    mu_send_data(s->ps[1], 1, big, sizeof big, 77);
    int code = mu_wait_refusal(s->ps[1], 77, 3000);
    if (code != ERROR_CODE__BAD_REQUEST)
        DIE("oversized MATCH_DATA_SEND (8 KiB): %s, expected BAD_REQUEST", code < 0 ? "no answer" : err_name(code));

    mu_wait_over(s->ps, 2, LIMIT_MS * 2 + 5000);
    for (int i = 0; i < 2; i++)
        if (s->pl[i].aborted)
            DIE("%s: MATCH_ABORTED (%s)", s->pl[i].name, s->pl[i].aborted->reason);
    CHECK_EQ(t[0].refused_seen, 1);
    CHECK_EQ(t[0].refused_code, -9);
    CHECK_EQ(t[1].refused_seen, 0);
    const GameOver *go = s->pl[0].over;
    CHECK(go->outcome == MATCH_OUTCOME__FINISHED && strcmp(go->mode, "tag") == 0);
    CHECK(strncmp(go->summary, "tag: ", 5) == 0);
    CHECK_EQ(go->match_id, mt.id);
    CHECK_EQ(go->n_results, 2);
    int wins = 0, losses = 0;
    for (int i = 0; i < 2; i++) {
        const GameOver *o = s->pl[i].over;
        CHECK(strcmp(o->summary, go->summary) == 0 && o->n_results == 2);
        CHECK(t[i].scores_seen > 0 && t[i].positions_seen > 0);
        for (size_t k = 0; k < go->n_results; k++) {
            const PlayerResult *r = go->results[k];
            int idx = r->user_id == s->pl[0].uid ? 0 : 1;
            if (r->score != t[i].score[idx])
                DIE("%s was told %u points for %s at the end, GAME_OVER says %u", s->pl[i].name,
                    t[i].score[idx], s->pl[idx].name, r->score);
            if (i == 0) {
                wins += strcmp(r->outcome, "win") == 0;
                losses += strcmp(r->outcome, "loss") == 0;
            }
        }
    }
    /* nobody moves: "it" never reaches the other, who scores 10 a second and wins */
    CHECK_EQ(wins, 1);
    CHECK_EQ(losses, 1);
    mu_check_record(go, mt.game, "tag");
    {
        /* the module's per-player stats (jsonb): one "it" drawn, nobody tagged */
        char id[24];
        snprintf(id, sizeof id, "%llu", (unsigned long long)mt.id);
        PGconn *db = lu_pg();
        CHECK_EQ(lu_pg_num(db, "SELECT sum((stats->>'times_it')::int) FROM match_players WHERE match_id = $1", id), 1);
        CHECK_EQ(lu_pg_num(db, "SELECT sum((stats->>'tags')::int) FROM match_players WHERE match_id = $1", id), 0);
        PQfinish(db);
    }
    for (int i = 0; i < 2; i++)
        mu_check_history(&s->pl[i], go, "tag");
    printf("told: tag match %llu on game %u: GAME_OVER \"%s\" (%u/%u points) equals the last SCORES "
           "each player heard, the record in PostgreSQL and GET_MATCH_HISTORY; REFUSED reached its "
           "sender only; MATCH_DATA_SEND before the match NOT_IN_GAME, 8 KiB BAD_REQUEST\n",
           (unsigned long long)mt.id, mt.game, go->summary, go->results[0]->score, go->results[1]->score);
    scene_down(s);
}

int main(int argc, char **argv)
{
    static const lu_scenario_t sc[] = {{"told", scenario_told}};
    return lu_main(argc, argv, "modules_told", RUN, sizeof RUN, sc, 1);
}
