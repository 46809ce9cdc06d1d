/* player: the one player_t of the integration tests: an account on a blocking connection
 * (every scenario uses these fields), and the client-side view of its lobby pushes and its match
 * that lobby_util.c builds for the match tests (test_match_*.c, test_modules_*.c). */
#ifndef TESTS_PLAYER_H
#define TESTS_PLAYER_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "client_sync.h"
#include "cluster.pb-c.h"

#define LU_MAX_MONS 512

#define LU_MAX_EVENTS 64

typedef struct lu_mon {
    uint32_t id;
    float x, y;
    int32_t hp;
} lu_mon_t;

typedef struct lu_room_ev {
    char event[24];
    int status;
    int nmembers, nready;
    uint64_t match;
    uint32_t game;
    uint64_t at_ms;
} lu_room_ev_t;

typedef struct player {
    csync_t *c;
    int port;
    char name[32];
    char pass[48];
    uint64_t uid;
    char token[80];
    /* lobby pushes */
    lu_room_ev_t ev[LU_MAX_EVENTS];
    int nev;
    int n_starting;
    uint64_t starting_match;
    uint32_t starting_game;
    /* the match */
    MatchStart *start;         /* the last MATCH_START (owned) */
    uint64_t start_ms;         /* when it arrived */
    uint64_t match_id;
    uint32_t tick_ms;
    float x, y;
    int32_t hp;
    int alive;
    uint32_t potions;
    uint64_t pos_ms;           /* when x/y were last accepted */
    lu_mon_t mons[LU_MAX_MONS];
    int nmons;
    /* per-match counters (reset by MATCH_START) */
    int n_updates;
    uint32_t first_tick, last_tick;
    int tick_not_increasing;
    int max_entities;          /* most entity changes in one update */
    int updates_multi;         /* updates carrying more than one entity change */
    int foreign_uids;          /* updates naming a user who is not in this player's match */
    int died_seen;             /* a PlayerDamaged with died for this player */
    GameOver *over;            /* owned */
    uint64_t over_ms;
    MatchAborted *aborted;     /* owned */
    uint64_t aborted_ms;
    int n_over, n_aborted;
    int kicked, closing, other_pushes;
    /* the bot */
    uint64_t next_attack_ms, next_move_ms;
    int potion_used;
    int moves, clamped, attacks_ok, kills, refused[64];
    /* game modules: every MATCH_DATA push goes to on_match_data (when set) */
    void (*on_match_data)(struct player *p, const MatchData *d);
    void *md_ud;
    int n_match_data;
} player_t;

/* Zeroes p and names its account "<kind><run>_<scen><i>" (password from scen and i), to be
 * connected to the gateway on port. */
static inline void p_account_init(player_t *p, char kind, const char *run, const char *scen, int i, int port)
{
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%c%s_%s%d", kind, run, scen, i);
    snprintf(p->pass, sizeof p->pass, "pw-%s-%d-secret", scen, i);
    p->port = port;
}

#endif
