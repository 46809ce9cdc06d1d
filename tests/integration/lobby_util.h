/* lobby_util: helpers for integration tests that drive whole matches through real gateways,
 * lobby and game daemons (the test_match_*.c binaries): a small cluster, blocking players
 * that register/login/join/ready/start, a client-side view of the match built from the pushes
 * (MATCH_START, GAME_STATE_UPDATE, GAME_OVER, MATCH_ABORTED, ROOM_UPDATE, GAME_STARTING), an
 * honest bot step (move toward the nearest monster within the speed, attack in range, use a
 * potion), and direct libpq queries of the match records. Defined in lobby_util.c (the arena
 * players' moves and bot steps: lu_play.c), linked into every test that includes this header. */
#ifndef TESTS_LOBBY_UTIL_H
#define TESTS_LOBBY_UTIL_H

#include <ctype.h>
#include <libpq-fe.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "client.h"
#include "client_sync.h"
#include "cluster.pb-c.h"
#include "harness.h"
#include "player.h"
#include "res.h"

/* high limits: the tests send game packets in tight loops */
extern const char *const LU_GW_ENV[];

const char *outcome_name(int o);

/* Fails the test with a formatted message (then the daemons' log tails). */
__attribute__((noreturn, format(printf, 2, 3))) void lu_die(int line, const char *fmt, ...);

#define DIE(...) lu_die(__LINE__, __VA_ARGS__)

/* ------------------------------------------------------------------------------------------ */
/* cluster */

#define LU_MAX_GW 2

#define LU_MAX_LOBBY 2

#define LU_MAX_GAME 4

typedef struct cluster {
    proc_t *gw[LU_MAX_GW];
    int port[LU_MAX_GW];
    uint32_t gw_id[LU_MAX_GW];
    int ngw;
    proc_t *lobby[LU_MAX_LOBBY];
    uint32_t lobby_id[LU_MAX_LOBBY];
    int nlobby;
    proc_t *game[LU_MAX_GAME];
    uint32_t game_id[LU_MAX_GAME];
    int ngame;
    char dburl[300];
} cluster_t;

uint32_t lu_server_id(proc_t *p);

/* A new prefix; PostgreSQL must be up. Match ids come from INCR <prefix>match:seq, which
 * starts again with every prefix while PostgreSQL keeps the records of the earlier scenarios
 * (keyed by match id): each scenario starts its ids at its own base. */
void lu_cluster_init(cluster_t *cl, const char *tag);

proc_t *lu_add_lobby(cluster_t *cl, const char *const *extra);

/* A game daemon with extra settings (they win over DATABASE_URL); returns its index. */
int lu_add_game(cluster_t *cl, const char *const *extra);

int lu_game_index(const cluster_t *cl, uint32_t id);

void lu_add_gateway(cluster_t *cl);

/* Sends ECHO (LOBBY and GAME) through every gateway until every live lobby and game daemon
 * has answered through it: the links both ways are up, so pushes and binds arrive. */
void lu_wait_links(cluster_t *cl);

/* h_stop when the process is still running (SIGTERM, exit 0 within timeout_ms). */
void lu_stop(proc_t *p, int timeout_ms);

void lu_cluster_down(cluster_t *cl);

/* ------------------------------------------------------------------------------------------ */
/* Redis registry */

/* HGET <prefix><key> field as a number; -1 when missing. */
long long lu_hget_num(const char *key, const char *field);

long long lu_game_field(uint32_t game_id, const char *field);

/* Waits until the registry field equals want; returns ms taken or -1. */
int lu_wait_game_field(uint32_t game_id, const char *field, long long want, int timeout_ms);

/* ------------------------------------------------------------------------------------------ */
/* the client-side view of one player (player_t: player.h) */

void p_init(player_t *p, const char *run, const char *scen, int i, int port);

/* Frees the messages of a match a player (or a test) kept; each may be NULL. */
void lu_free_match_msgs(MatchStart *start, GameOver *over, MatchAborted *aborted);

void p_match_reset(player_t *p);

void p_free(player_t *p);

lu_mon_t *p_mon(player_t *p, uint32_t id);

int p_in_match(const player_t *p, uint64_t uid);

void p_apply_state(player_t *p, const PlayerState *s);

void p_on_update(player_t *p, const GameStateUpdate *u);

void p_on_push(player_t *p, uint16_t t, const uint8_t *b, size_t n);

/* Handles every push already queued (without reading the socket). */
void p_take_queued(player_t *p);

/* Reads the socket for ms (at least 1: csync_pump(0) may block) and handles the pushes. */
void p_pump(player_t *p, int ms);

typedef int (*p_cond_fn)(const player_t *p, const void *arg);

/* Pumps every player of ps (in turn, 2 ms each) until cond holds for all of them; returns
 * the ms taken or -1 on timeout. */
int ps_wait(player_t **ps, int n, p_cond_fn cond, const void *arg, int timeout_ms);

int cond_started(const player_t *p, const void *arg);

int cond_over(const player_t *p, const void *arg);

int cond_aborted(const player_t *p, const void *arg);

int cond_starting(const player_t *p, const void *arg);

/* arg: the event name; true once the newest ROOM_UPDATE has that event */
int cond_event(const player_t *p, const void *arg);

/* The newest ROOM_UPDATE with that event, or NULL. */
const lu_room_ev_t *p_last_event(const player_t *p, const char *event);

int cond_has_event(const player_t *p, const void *arg);

/* Prints a player's ROOM_UPDATE events (for failure messages). */
void p_dump_events(const player_t *p);

/* ------------------------------------------------------------------------------------------ */
/* blocking requests */

res_t p_call_raw(player_t *pl, uint16_t type, const uint8_t *data, size_t n);

res_t p_call(player_t *pl, uint16_t type, const ProtobufCMessage *m);

/* Expects a response of type want and decodes it as d (caller frees with
 * protobuf_c_message_free_unpacked). */
void *ok_res(res_t r, const char *who, uint16_t req_type, uint16_t want,
                              const ProtobufCMessageDescriptor *d, int line);

#define OK_CALL(pl, REQ, msg, RESP, desc)                                                      \
    ok_res(p_call((pl), PACKET_TYPE__##REQ, (msg)), (pl)->name, PACKET_TYPE__##REQ,             \
           PACKET_TYPE__##RESP, &(desc), __LINE__)

/* Expects ERROR_RESPONSE(code) with request_type and a non-empty message. */
void err_res(res_t r, const char *who, uint16_t req_type, int code, int line);

#define ERR_CALL(pl, REQ, msg, CODE)                                                           \
    err_res(p_call((pl), PACKET_TYPE__##REQ, (msg)), (pl)->name, PACKET_TYPE__##REQ,            \
            ERROR_CODE__##CODE, __LINE__)

/* ------------------------------------------------------------------------------------------ */
/* accounts and rooms */

void p_connect(player_t *p);

void p_signup(player_t *p);

void p_signup_all(player_t **ps, int n);

uint64_t p_create_room(player_t *p, uint32_t max);

void p_join_room(player_t *p, uint64_t room);

void p_ready(player_t *p);

/* ECHO to target (a lobby or a game daemon) through p's gateway, answered ok. */
void p_echo(player_t *p, EchoTarget target);

/* Owner ps[0] creates a room for all n, the others join, everyone readies. */
uint64_t ps_room(player_t **ps, int n);

#define LU_SPEED 8.0f       /* sim.h: player_speed */

#define LU_RANGE 3.0f       /* sim.h: attack_range */

#define LU_COOLDOWN_MS 500  /* sim.h: attack_cooldown_ms */

/* START_GAME by p, once: the match id (and *game, if set, the daemon) when the lobby placed
 * it; 0 when it did not, with the response described into why (n bytes) if why is set. */
uint64_t p_try_start(player_t *p, uint32_t *game, char *why, size_t n);
/* START_GAME by ps[0] (all ready, n <= 16); then every player gets GAME_STARTING for the match
 * from the daemon the response named within 5 s. Returns the match id; *game that daemon. */
uint64_t ps_request_start(player_t **ps, int n, uint32_t *game);
/* START_GAME by ps[0] (all ready); then every player gets GAME_STARTING and MATCH_START with
 * all n players. Returns the match id; *game the daemon told. */
uint64_t ps_start(player_t **ps, int n, uint32_t *game);

/* ------------------------------------------------------------------------------------------ */
/* game requests */

GameSnapshotResponse *p_snapshot(player_t *p);

const PlayerState *snap_player(const GameSnapshotResponse *s, uint64_t uid);

const MonsterState *snap_monster(const GameSnapshotResponse *s, uint32_t id);

/* Sends a move; returns the raw result (caller inspects). On success updates p's position. */
res_t p_move_raw(player_t *p, float x, float y, int *clamped, float *ox, float *oy);

res_t p_attack_raw(player_t *p, uint32_t id, PlayerAttackResponse **out);

res_t p_item_raw(player_t *p, uint32_t item, PlayerUseItemResponse **out);

lu_mon_t *p_nearest(player_t *p, float *dist);

/* A step an honest client may take now: three quarters of the speed over the time since its
 * last accepted position (at most 250 ms), so a game daemon whose ticks lag behind the wall
 * clock by up to half still accepts it (speed_tolerance 1.5). */
float p_honest_step(const player_t *p);

/* Moves toward (tx, ty) by at most an honest step, stopping `stop` short of it. Returns 1 if
 * a move was sent. flee: move away from it instead. */
int p_step_toward(player_t *p, float tx, float ty, float stop, int flee, float aw, float ah);

/* One honest step of the bot: use a potion once (when hurt, or 2 s in), attack the nearest
 * monster when it is clearly in range and the cooldown has passed, else walk toward it.
 * Refusals are counted in p->refused[code]. */
void p_bot_step(player_t *p);

/* Every player of ps plays (bot steps) for ms, or until stop(p) holds for all of them. */
void ps_play(player_t **ps, int n, int ms, p_cond_fn stop, const void *arg);

/* ------------------------------------------------------------------------------------------ */
/* PostgreSQL */

PGconn *lu_pg(void);

/* One integer from a query with one text parameter; -1 on NULL / no row. */
long long lu_pg_num(PGconn *db, const char *sql, const char *param);

typedef struct lu_rec {
    int found;
    uint32_t game;
    uint64_t room;
    char outcome[16];
    long long duration_ms;
    int nplayers;
    struct {
        uint64_t uid;
        char name[32];
        uint32_t kills, dd, dt, deaths, score;
    } pl[8];
} lu_rec_t;

/* Reads the record of match id (with a fresh connection: PostgreSQL may have restarted). */
lu_rec_t lu_pg_record(uint64_t match);

/* Polls until the record of match has its matches row; returns ms taken or -1. */
int lu_pg_wait_record(uint64_t match, lu_rec_t *out, int timeout_ms);

const char *lu_outcome_text(int o);

/* The record equals what GAME_OVER told: outcome, one row per result with equal numbers. */
void lu_check_record_vs_over(const lu_rec_t *rec, const GameOver *go, uint32_t game, int line);

/* A per-run tag for usernames (the accounts table outlives prefixes within one binary). */
void lu_run_tag(char *out, size_t n);

/* lu_main.c: a cluster for a scenario: one lobby (lobby_env, may be NULL), ngame game daemons
 * (game_env each, in order: index i is cl->game[i]), ngw gateways, links up. */
void lu_cluster_up(cluster_t *cl, const char *tag, const char *const *lobby_env, const char *const *game_env,
                   int ngame, int ngw);
/* The end of a scenario: frees the n players, then lu_cluster_down (every daemon must exit 0). */
void lu_scenario_down(cluster_t *cl, player_t **ps, int n);
/* n players (signed up and logged in) spread over the cluster's gateways. */
void lu_players_on(player_t *pl, player_t **ps, int n, const char *run, const char *scen, const cluster_t *cl);

typedef struct lu_scenario {
    const char *name;
    void (*run)(void);
} lu_scenario_t;

/* The main of a scenario program: h_init(name), a run tag into run, PostgreSQL up, then every
 * scenario in order, or only the one argv[1] names. Returns main's exit status. */
int lu_main(int argc, char **argv, const char *name, char *run, size_t runlen, const lu_scenario_t *sc, size_t n);

#endif
