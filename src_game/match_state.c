/* match_state: the dispatcher calls of mode.h that only read or set the match_t itself (ids,
 * players, time, the seeded random numbers, over/finish). gamed (match.c) and tools/modrun.c
 * both link this file: a module sees the same values under either; each of them has its own
 * match_backend, match_broadcast and match_fail. */
#include "game.h"

uint64_t match_id(const match_t *m) { return m->id; }
const char *match_mode(const match_t *m) { return m->mode; }
uint32_t match_players(const match_t *m) { return m->n; }
uint64_t match_user(const match_t *m, uint32_t idx) { return idx < m->n ? m->players[idx].user_id : 0; }
const char *match_user_name(const match_t *m, uint32_t idx) { return idx < m->n ? m->players[idx].name : ""; }
uint32_t match_time_limit_ms(const match_t *m) { return m->g->sim_base.time_limit_ms; }
uint32_t match_tick_ms(const match_t *m) { return m->tick_ms; }
uint64_t match_now_ms(const match_t *m) { return m->ticks * m->tick_ms; }
uint64_t match_ticks(const match_t *m) { return m->ticks; }
uint64_t match_seed(const match_t *m) { return m->seed; }
int match_over(const match_t *m) { return m->over || m->fail_kind[0] || m->closing; }

int match_index_of(const match_t *m, uint64_t user)
{
    for (uint32_t i = 0; i < m->n; i++)
        if (m->players[i].user_id == user)
            return (int)i;
    return -1;
}

uint64_t match_random(match_t *m)
{
    /* splitmix64 on the match's own state: a match replays from its seed */
    uint64_t z = (m->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void match_finish(match_t *m) { m->over = 1; }
