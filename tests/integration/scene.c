/* scene: the cluster, players and matches the match and game-module scenarios share
 * (scene.h). */
#include "scene.h"

void scene_players(scene_t *s, const char *run, const char *who, int n, int per_gw)
{
    CHECK(n >= 1 && n <= SC_MAX_PLAYERS);
    s->n = n;
    if (!per_gw) {
        lu_players_on(s->pl, s->ps, n, run, who, &s->cl);
        return;
    }
    for (int i = 0; i < n; i++) {
        p_init(&s->pl[i], run, who, i, s->cl.port[i / per_gw]);
        s->ps[i] = &s->pl[i];
    }
    p_signup_all(s->ps, n);
}

scene_t *scene_new(void)
{
    return xcalloc(1, sizeof(scene_t));
}

scene_t *scene_up(const sc_spec_t *spec, const char *run)
{
    scene_t *s = scene_new();
    lu_cluster_up(&s->cl, spec->tag, spec->lobby_env, spec->game_env, spec->ngame, spec->ngw);
    scene_players(s, run, spec->who, spec->n, spec->per_gw);
    return s;
}

void scene_down(scene_t *s)
{
    lu_scenario_down(&s->cl, s->ps, s->n);
    xfree(s);
}

sc_match_t scene_match(const scene_t *s, player_t **ps, int n)
{
    sc_match_t m = {0};
    m.room = ps_room(ps, n);
    m.id = ps_start(ps, n, &m.game);
    m.gi = lu_game_index(&s->cl, m.game);
    CHECK(m.gi >= 0);
    return m;
}

uint64_t sc_start_again(player_t **ps, int n, int timeout_ms, const char *since, uint32_t *game, int *refused)
{
    for (int i = 0; i < n; i++)
        p_ready(ps[i]);
    uint64_t t0 = h_now_ms(), again = 0;
    int nref = 0;
    while (!(again = p_try_start(ps[0], game, NULL, 0))) {
        nref++;
        if (h_now_ms() - t0 > (uint64_t)timeout_ms)
            DIE("the room could not start again within %d ms of %s", timeout_ms, since);
        h_sleep_ms(200);
    }
    if (ps_wait(ps, n, cond_started, &again, 5000) < 0)
        DIE("no MATCH_START for match %llu after %s", (unsigned long long)again, since);
    if (refused)
        *refused = nref;
    return again;
}

long long sc_redis_int(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(h_redis(), fmt, ap);
    va_end(ap);
    CHECK(r && r->type == REDIS_REPLY_INTEGER);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

int sc_bot_argv(const char **argv, int cap, const char *const *args, const char *json)
{
    int n = 0;
    argv[n++] = "bot";
    for (int i = 0; args[i] && n < cap - 4; i++)
        argv[n++] = args[i];
    argv[n++] = "--json";
    argv[n++] = json;
    argv[n] = NULL;
    return n;
}
