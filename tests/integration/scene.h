/* scene: what the match and game-module scenarios (test_match_*.c, test_modules_*.c and their
 * kin) stand on: a cluster with its players, brought up with one call and taken down with one,
 * a match of some of those players, and the small Redis and bot-process steps they share. On
 * top of lobby_util.h; defined in scene.c, linked wherever lobby_util.c is. */
#ifndef TESTS_SCENE_H
#define TESTS_SCENE_H

#include "lobby_util.h"

#define SC_MAX_PLAYERS 16

/* What a scene is made of: lu_cluster_up(tag, lobby_env, game_env, ngame, ngw), then n players
 * named after `who`, signed up and logged in. per_gw 0: the players go round the gateways
 * (player i on gateway i % ngw); k: k at a time on each (player i on gateway i / k). */
typedef struct sc_spec {
    const char *tag;
    const char *const *lobby_env;
    const char *const *game_env;
    int ngame, ngw;
    const char *who;
    int n;
    int per_gw;
} sc_spec_t;

typedef struct scene {
    cluster_t cl;
    int n;
    player_t pl[SC_MAX_PLAYERS];
    player_t *ps[SC_MAX_PLAYERS]; /* ps[i] = &pl[i] */
} scene_t;

/* The cluster and players of spec, up; run is the program's run tag (lu_main). */
scene_t *scene_up(const sc_spec_t *spec, const char *run);
/* An empty scene, for a cluster brought up by hand into s->cl (then scene_players). */
scene_t *scene_new(void);
/* n players named after who, signed up and logged in on s->cl's gateways (per_gw: sc_spec_t). */
void scene_players(scene_t *s, const char *run, const char *who, int n, int per_gw);
/* The end of the scenario: lu_scenario_down of its cluster and players (every daemon must exit
 * 0), then s is freed (the daemons' proc_t stay readable: their logs). */
void scene_down(scene_t *s);

typedef struct sc_match {
    uint64_t room;
    uint64_t id;
    uint32_t game; /* the game daemon it was placed on: s->cl.game[gi] */
    int gi;
} sc_match_t;

/* An arena match of ps[0..n-1]: ps_room (ps[0] owns it, all ready), then ps_start. */
sc_match_t scene_match(const scene_t *s, player_t **ps, int n);

/* ps (all in one room, waiting) ready again and ps[0] sends START_GAME every 200 ms until the
 * lobby places the match, at most timeout_ms (`since` names what that counts from); then every
 * one gets MATCH_START within 5 s. Returns the match id; *game (if set) the daemon placed on,
 * *refused (if set) the starts refused meanwhile. */
uint64_t sc_start_again(player_t **ps, int n, int timeout_ms, const char *since, uint32_t *game,
                        int *refused);

/* The integer reply of a Redis command (printf-style; the caller puts h_prefix() in the keys). */
__attribute__((format(printf, 1, 2))) long long sc_redis_int(const char *fmt, ...);

/* The argv of the bot binary: "bot", args (NULL-terminated) as far as cap leaves room, then
 * "--json" json and the closing NULL; returns the count before that NULL. */
int sc_bot_argv(const char **argv, int cap, const char *const *args, const char *json);

#endif
