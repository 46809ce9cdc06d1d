/* arena_events: the arena's simulation events of one tick (sim.h) turned into the entity lists
 * of a GameStateUpdate (spawns, moves, attacks, damage, deaths, player moves), the same for
 * every player of the co-op match. Pure: no I/O; unit-tested (tests/unit/test_arena_events.c). */
#ifndef GAME_ARENA_EVENTS_H
#define GAME_ARENA_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "cluster.pb-c.h"
#include "sim.h"

#define ARENA_UPD_MAX 512 /* entries per list in one update; more are left out */

/* Fills u's entity lists from the nev events; users[i] is the user id of player index i (n
 * players; an event naming an index >= n is left out, an unknown killer is user 0). The lists
 * point into static arrays reused at every call: encode u before the next call, on one thread.
 * Returns 1 when player states may have changed (damage, deaths, items, waves, the end). */
int arena_collect_events(const uint64_t *users, uint32_t n, const sim_event_t *ev, size_t nev,
                         GameStateUpdate *u);

#endif
