/* test_fence: which BIND_GAME a gateway applies (src_gateway/fence.c). Daemons A=7 and B=9;
 * matches 100 < 200 (match ids only grow). */
#include "check.h"
#include "fence.h"
#include "link.h"

enum { A = 7, B = 9, L = 3 };

int main(void)
{
    /* a game daemon binds a free session to itself */
    CHECK_EQ(bind_allowed(0, 0, A, 100, PEER_GAME, A), 1);
    /* ... never to another daemon */
    CHECK_EQ(bind_allowed(0, 0, B, 100, PEER_GAME, A), 0);
    /* a newer match takes a session over from an older one (placed again elsewhere) */
    CHECK_EQ(bind_allowed(A, 100, B, 200, PEER_GAME, B), 1);
    /* the stale daemon coming back cannot take it back into its older match */
    CHECK_EQ(bind_allowed(B, 200, A, 100, PEER_GAME, A), 0);
    /* ... nor unbind it: not its daemon, not its match (unfenced, 20 of 40 players of a bot run
     * got NOT_IN_GAME for the rest of their new match) */
    CHECK_EQ(bind_allowed(B, 200, 0, 100, PEER_GAME, A), 0);
    /* the same daemon unbinding an older match of its own does not touch the newer one */
    CHECK_EQ(bind_allowed(A, 200, 0, 100, PEER_GAME, A), 0);
    /* the match's own daemon unbinds it at its end */
    CHECK_EQ(bind_allowed(A, 100, 0, 100, PEER_GAME, A), 1);
    /* an unbind without a match id, or of a session bound to nothing, is refused */
    CHECK_EQ(bind_allowed(A, 100, 0, 0, PEER_GAME, A), 0);
    CHECK_EQ(bind_allowed(0, 0, 0, 100, PEER_GAME, A), 0);
    /* a bind without a match id is refused */
    CHECK_EQ(bind_allowed(0, 0, A, 0, PEER_GAME, A), 0);
    /* binding the same match again (a repeated pick-up) is fine */
    CHECK_EQ(bind_allowed(A, 100, A, 100, PEER_GAME, A), 1);
    /* a lobby binds to any daemon (RESUME into a running match), not to an older match */
    CHECK_EQ(bind_allowed(0, 0, B, 200, PEER_LOBBY, L), 1);
    CHECK_EQ(bind_allowed(A, 100, B, 200, PEER_LOBBY, L), 1);
    CHECK_EQ(bind_allowed(B, 200, A, 100, PEER_LOBBY, L), 0);
    printf("fence: binds to self only, never to an older match; unbinds of the current match by "
           "its daemon only\n");
    return 0;
}
