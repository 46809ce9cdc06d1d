/* fence: which BIND_GAME a gateway applies (fence.h). */
#include "fence.h"

#include "link.h"

/* Fencing. Match ids only grow (docs/redis-keys.md, match:seq), so a binding to an older match
 * than the session's is stale. A game daemon binds sessions only to itself, and unbinds only the
 * match it names, on itself: a daemon that was stopped, declared lost and came back after its
 * players were placed elsewhere can neither take them back nor take them out. A lobby binds
 * (RESUME into a running match), to any daemon. */
int bind_allowed(uint32_t cur_game, uint64_t cur_match, uint32_t game_id, uint64_t match_id,
                 int from_type, uint32_t from_id)
{
    if (game_id == 0) /* unbind: only the match the session is in, by its own daemon */
        return cur_game != 0 && (from_type != PEER_GAME || cur_game == from_id) &&
               match_id != 0 && match_id == cur_match;
    if (from_type == PEER_GAME && game_id != from_id)
        return 0;
    return match_id != 0 && match_id >= cur_match;
}
