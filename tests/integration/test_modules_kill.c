/* test_modules_kill: a game daemon killed -9 in the middle of module matches (like
 * arena matches): every player gets MATCH_ABORTED within 3 s, the rooms are
 * waiting again, each killed match is recorded exactly once as 'aborted' with all its players
 * (by the lobby that ended it, delivered by the surviving daemon: docs/faults.md), and the
 * same room starts again on the other daemon serving the mode. */
#include "modules_util.h"

static char RUN[8];

static const char *const GAME_ENV[] = {MU_MODULES_DIR, "MATCH_TIME_LIMIT_MS=30000",
                                       "DRAIN_TIMEOUT_MS=500", NULL};

/* The room's latest update since the kill (*arg, ms) says waiting. The gateway's MATCH_ABORTED
 * and the lobby's ROOM_UPDATE come from different daemons: either may arrive first. */
static int room_waiting(const player_t *p, const void *arg)
{
    uint64_t since = *(const uint64_t *)arg;
    for (int i = p->nev - 1; i >= 0; i--)
        if (p->ev[i].at_ms >= since)
            return p->ev[i].status == ROOM_STATUS__WAITING;
    return 0;
}

static const sc_spec_t SCENE = {"kill", NULL, GAME_ENV, 2, 2, "kil", 4, 0};

static void scenario_kill(void)
{
    scene_t *s = scene_up(&SCENE, RUN);
    /* a tag match of 2 and an arena_lua match of 2: placed on both daemons or one */
    player_t *tag_ps[2] = {s->ps[0], s->ps[1]}, *lua_ps[2] = {s->ps[2], s->ps[3]};
    sc_match_t mtag = mu_match(s, tag_ps, 2, "tag", 2, NULL);
    sc_match_t mlua = mu_match(s, lua_ps, 2, "arena_lua", 2, NULL);
    /* kill the tag match's daemon; whoever plays on it must be told */
    for (int i = 0; i < 4; i++)
        p_pump(s->ps[i], 50);
    h_kill(s->cl.game[mtag.gi], SIGKILL);
    uint64_t t_kill = h_now_ms();
    int n_victims = mlua.game == mtag.game ? 4 : 2;
    player_t **victims = mlua.game == mtag.game ? s->ps : tag_ps;
    if (ps_wait(victims, n_victims, cond_aborted, NULL, 5000) < 0)
        DIE("not every player of the killed daemon got MATCH_ABORTED within 5 s");
    int worst = 0;
    for (int i = 0; i < n_victims; i++) {
        int ms = (int)(victims[i]->aborted_ms - t_kill);
        if (ms > worst)
            worst = ms;
    }
    if (worst > 3000)
        DIE("MATCH_ABORTED %d ms after kill -9 (limit 3000)", worst);
    if (ps_wait(tag_ps, 2, room_waiting, &t_kill, 5000) < 0)
        DIE("the tag room is not waiting again after the kill");
    /* each killed match: one record, aborted, with both players, never half-written */
    uint64_t killed[2] = {mtag.id, mlua.id};
    for (int k = 0; k < (mlua.game == mtag.game ? 2 : 1); k++) {
        lu_rec_t rec;
        if (lu_pg_wait_record(killed[k], &rec, 15000) < 0)
            DIE("the killed match %llu was never recorded", (unsigned long long)killed[k]);
        CHECK(strcmp(rec.outcome, "aborted") == 0);
        CHECK_EQ(rec.nplayers, 2);
    }
    /* the same room starts again, on the daemon still alive */
    for (int i = 0; i < 2; i++)
        p_ready(tag_ps[i]);
    uint32_t g2 = 0;
    uint64_t m2 = mu_start(tag_ps, 2, "tag", &g2);
    CHECK(m2 != mtag.id);
    CHECK_EQ(g2, s->cl.game_id[1 - mtag.gi]);
    printf("kill -9: game %u killed with %s; MATCH_ABORTED to its %d players within %d ms (limit 3000), "
           "the tag room waiting again, each killed match recorded once as aborted, the room restarted as match "
           "%llu on game %u\n",
           mtag.game, mlua.game == mtag.game ? "a tag and an arena_lua match" : "a tag match", n_victims,
           worst, (unsigned long long)m2, g2);
    scene_down(s);
}

int main(int argc, char **argv)
{
    static const lu_scenario_t sc[] = {{"kill", scenario_kill}};
    return lu_main(argc, argv, "modules_kill", RUN, sizeof RUN, sc, 1);
}
