/* lu_main: what every scenario program of the match tests starts and ends with (lobby_util.h):
 * its cluster, its players, its main. */
#include "lobby_util.h"

void lu_cluster_up(cluster_t *cl, const char *tag, const char *const *lobby_env, const char *const *game_env,
                   int ngame, int ngw)
{
    lu_cluster_init(cl, tag);
    lu_add_lobby(cl, lobby_env);
    for (int i = 0; i < ngame; i++)
        lu_add_game(cl, game_env);
    for (int i = 0; i < ngw; i++)
        lu_add_gateway(cl);
    lu_wait_links(cl);
}

void lu_scenario_down(cluster_t *cl, player_t **ps, int n)
{
    for (int i = 0; i < n; i++)
        p_free(ps[i]);
    lu_cluster_down(cl);
}

void lu_players_on(player_t *pl, player_t **ps, int n, const char *run, const char *scen, const cluster_t *cl)
{
    for (int i = 0; i < n; i++) {
        p_init(&pl[i], run, scen, i, cl->port[i % cl->ngw]);
        ps[i] = &pl[i];
    }
    p_signup_all(ps, n);
}

int lu_main(int argc, char **argv, const char *name, char *run, size_t runlen, const lu_scenario_t *sc, size_t n)
{
    h_init(name);
    lu_run_tag(run, runlen);
    h_pg_start();
    uint64_t t0 = h_now_ms();
    const char *only = argc > 1 ? argv[1] : "";
    int ran = 0;
    for (size_t i = 0; i < n; i++)
        if (!*only || strcmp(only, sc[i].name) == 0) {
            sc[i].run();
            ran++;
        }
    if (!ran) {
        fprintf(stderr, "test_%s: no scenario named \"%s\"\n", name, only);
        return 2;
    }
    printf("test_%s: all passed in %llu ms\n", name, (unsigned long long)(h_now_ms() - t0));
    return 0;
}
