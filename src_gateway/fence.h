/* fence: which BIND_GAME messages a gateway applies to a session. Pure: the session's binding
 * and the message in, yes or no out (docs/link-protocol.md, "Fencing"). */
#ifndef CLUSTER_FENCE_H
#define CLUSTER_FENCE_H

#include <stdint.h>

/* The session is bound to cur_game running cur_match (0, 0: none); the message binds it to
 * game_id running match_id (game_id 0: unbinds match_id); it came from a backend of from_type
 * (PEER_LOBBY, PEER_GAME) with registry id from_id. Returns 1 to apply it, 0 if it is stale. */
int bind_allowed(uint32_t cur_game, uint64_t cur_match, uint32_t game_id, uint64_t match_id,
                 int from_type, uint32_t from_id);

#endif
