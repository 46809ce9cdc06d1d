/* modules_util: what the game-module integration tests (test_modules_*.c) share on top of
 * lobby_util.h and scene.h: rooms and quick match with a mode, starting a module match, the
 * checks that a module match's record (PostgreSQL and GET_MATCH_HISTORY) says what GAME_OVER
 * told, and running the bot binary with its JSON report. */
#ifndef TESTS_MODULES_UTIL_H
#define TESTS_MODULES_UTIL_H

#include "scene.h"

/* The game daemons' setting for the repository's example modules. */
#define MU_MODULES_DIR "GAME_MODULES_DIR=" REPO_DIR "/modules"

/* The example modules' MATCH_DATA fields: little-endian u32, u64 and IEEE float. */
uint32_t mu_rd32(const uint8_t *p);
uint64_t mu_rd64(const uint8_t *p);
float mu_rdf(const uint8_t *p);

/* CREATE_ROOM(mode, max) by p, answered ok: returns the room id; *max_out (if set) the room's
 * max_players; the room's mode must be `mode` (or "arena" for ""). */
uint64_t mu_create_room(player_t *p, const char *mode, uint32_t max, uint32_t *max_out);
/* CREATE_ROOM(mode, max) answered ERROR_RESPONSE(code); the message goes to msg (n bytes). */
void mu_create_err(player_t *p, const char *mode, uint32_t max, int code, char *msg, size_t n);
/* QUICK_MATCH(mode) answered ok: returns `queued`. */
uint32_t mu_quick(player_t *p, const char *mode);
void mu_quick_err(player_t *p, const char *mode, int code);

/* Everyone of ps joins ps[0]'s room (created already) and readies. */
void mu_fill_room(player_t **ps, int n, uint64_t room);
/* START_GAME by ps[0]: every player gets GAME_STARTING (mode `mode`) and MATCH_START (mode
 * `mode`). Returns the match id; *game the daemon placed on. */
uint64_t mu_start(player_t **ps, int n, const char *mode, uint32_t *game);
/* A match of ps[0..n-1] in mode: ps[0] creates a room of max (mu_create_room; *max_out, if set,
 * its max_players), the others join and everyone readies (mu_fill_room), then mu_start. */
sc_match_t mu_match(const scene_t *s, player_t **ps, int n, const char *mode, uint32_t max,
                    uint32_t *max_out);
/* Pumps every player until each has GAME_OVER or MATCH_ABORTED; fails after timeout_ms. */
void mu_wait_over(player_t **ps, int n, int timeout_ms);

/* The module match's record equals GAME_OVER: matches.mode, summary, outcome 'finished',
 * game_server_id, room; per player score and outcome. */
void mu_check_record(const GameOver *go, uint32_t game, const char *mode);
/* p's GET_MATCH_HISTORY shows the match with mode, summary, FINISHED, its score and outcome. */
void mu_check_history(player_t *p, const GameOver *go, const char *mode);

/* Sends MATCH_DATA_SEND(op, data) from p with the given seq, one-way (no response is awaited;
 * a refusal comes back as an ERROR_RESPONSE with that seq: see mu_wait_refusal). */
void mu_send_data(player_t *p, uint32_t op, const void *data, size_t len, uint32_t seq);
/* Waits up to timeout_ms for an ERROR_RESPONSE with seq; returns its code, or -1 if none came.
 * Pushes read meanwhile are handled as usual. */
int mu_wait_refusal(player_t *p, uint32_t seq, int timeout_ms);

/* Runs the bot binary with args (NULL-terminated; "--json FILE" added) to its exit within
 * timeout_ms; returns its exit status and the JSON report's text (caller frees). */
int mu_bot(const char *name, const char *const *args, int timeout_ms, char **json);
/* The number after "key": in the JSON text, searched after the first "section": (NULL: from
 * the start); fails the test when missing. */
double mu_json_num(const char *json, const char *section, const char *key);

#endif
