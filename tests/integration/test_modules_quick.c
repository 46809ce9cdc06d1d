/* test_modules_quick: one quick-match queue per mode, with
 * QUICK_MATCH_SIZE=1 clamped into each mode's limits: arena_lua forms a room of 1 at once,
 * tag waits for a second tag player, and the queues never mix. */
#include "modules_util.h"

static char RUN[8];

static const char *const GAME_ENV[] = {MU_MODULES_DIR, "MATCH_TIME_LIMIT_MS=30000",
                                       "DRAIN_TIMEOUT_MS=500", NULL};

static int starting_of(player_t *p, int timeout_ms)
{
    uint64_t t0 = h_now_ms();
    while (p->n_starting == 0 && h_now_ms() - t0 < (uint64_t)timeout_ms)
        p_pump(p, 5);
    return p->n_starting;
}

static const char *const LOBBY_ENV[] = {"QUICK_MATCH_SIZE=1", NULL};

static const sc_spec_t SCENE = {"quick", LOBBY_ENV, GAME_ENV, 1, 2, "qm", 4, 0};

static void scenario_quick(void)
{
    scene_t *s = scene_up(&SCENE, RUN);

    /* tag: QUICK_MATCH_SIZE 1 is clamped up to tag's 2: the first waits */
    CHECK_EQ(mu_quick(s->ps[0], "tag"), 1);
    /* arena_lua takes 1: a room forms at once, and the tag player is not taken into it */
    CHECK_EQ(mu_quick(s->ps[1], "arena_lua"), 0);
    CHECK(starting_of(s->ps[1], 5000) == 1);
    CHECK_EQ(s->ps[0]->n_starting, 0);
    /* a second arena_lua player gets a room of its own too */
    CHECK_EQ(mu_quick(s->ps[2], "arena_lua"), 0);
    CHECK(starting_of(s->ps[2], 5000) == 1);
    CHECK(s->ps[2]->starting_match != s->ps[1]->starting_match);
    p_pump(s->ps[0], 100);
    CHECK_EQ(s->ps[0]->n_starting, 0);
    /* the second tag player: the tag room forms with the two of them */
    CHECK_EQ(mu_quick(s->ps[3], "tag"), 0);
    CHECK(starting_of(s->ps[3], 5000) == 1 && starting_of(s->ps[0], 5000) == 1);
    CHECK_EQ(s->ps[0]->starting_match, s->ps[3]->starting_match);
    player_t *tag_ps[2] = {s->ps[0], s->ps[3]};
    if (ps_wait(tag_ps, 2, cond_started, &s->ps[0]->starting_match, 8000) < 0)
        DIE("the tag quick match did not start");
    for (int i = 0; i < 2; i++)
        if (strcmp(tag_ps[i]->start->mode, "tag") != 0 || tag_ps[i]->start->n_players != 2)
            DIE("%s: MATCH_START mode \"%s\" with %zu players, expected tag with 2", tag_ps[i]->name,
                tag_ps[i]->start->mode, tag_ps[i]->start->n_players);
    printf("quick: QUICK_MATCH_SIZE=1 clamped to tag's minimum 2 (the first tag player waited while "
           "two arena_lua players got a room each at once); the two tag players got one tag match "
           "of 2; the queues never mixed\n");
    scene_down(s);
}

int main(int argc, char **argv)
{
    static const lu_scenario_t sc[] = {{"quick", scenario_quick}};
    return lu_main(argc, argv, "modules_quick", RUN, sizeof RUN, sc, 1);
}
