/* gamed: runs matches at a fixed tick (issue 4); today: the ECHO path. */
#include "backend_main.h"
#include "link.h"

/* The game daemon's dispatch table: packet type -> message -> handler. */
static const backend_route_t ROUTES[] = {
    {PACKET_TYPE__ECHO_REQUEST, &echo_request__descriptor, backend_echo},
};

static const backend_app_t APP = {
    .peer_type = PEER_GAME,
    .daemon = "game",
    .about = "gamed: the game daemon of the game server cluster",
    .routes = ROUTES,
    .nroutes = (int)(sizeof ROUTES / sizeof ROUTES[0]),
};

int main(int argc, char **argv) { return backend_main(argc, argv, &APP); }
