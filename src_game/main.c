/* gamed: runs matches at a fixed tick (issue 4); today: the ECHO path. */
#include "backend_main.h"
#include "link.h"

/* The game daemon's dispatch table: packet type -> message -> handler. */
static const backend_route_t ROUTES[] = {
    {PACKET_TYPE__ECHO_REQUEST, &echo_request__descriptor, backend_echo},
};

int main(int argc, char **argv)
{
    return backend_main(argc, argv, PEER_GAME, "game",
                        "gamed: the game daemon of the game server cluster", ROUTES,
                        (int)(sizeof ROUTES / sizeof ROUTES[0]));
}
