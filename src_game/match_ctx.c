/* match_ctx: what mode.h tells a mode about its match that gamed (match.c) and modrun
 * (tools/modrun.c) answer alike: one copy, so a module replays the same under both (the same
 * seed gives the same match_random sequence). */
#include "game.h"

uint64_t match_id(const match_t *m) { return m->id; }
const char *match_mode(const match_t *m) { return m->mode; }
uint32_t match_players(const match_t *m) { return m->n; }
uint64_t match_user(const match_t *m, uint32_t idx) { return idx < m->n ? m->players[idx].user_id : 0; }
const char *match_user_name(const match_t *m, uint32_t idx) { return idx < m->n ? m->players[idx].name : ""; }
uint32_t match_tick_ms(const match_t *m) { return m->tick_ms; }
uint64_t match_now_ms(const match_t *m) { return m->ticks * m->tick_ms; }
uint64_t match_ticks(const match_t *m) { return m->ticks; }
uint64_t match_seed(const match_t *m) { return m->seed; }

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
