/* route: the route table as data. Adding a packet type a client may send is one row here. */
#include "route.h"

#include <stddef.h>

#include "cluster.pb-c.h"

static const route_t ROUTES[] = {
    {PACKET_TYPE__PING_REQUEST, ROUTE_GATEWAY, 0, &ping_request__descriptor},
    {PACKET_TYPE__ECHO_REQUEST, ROUTE_ECHO, 0, &echo_request__descriptor},
};

#define NROUTES ((int)(sizeof ROUTES / sizeof ROUTES[0]))

const route_t *route_lookup(uint16_t type)
{
    for (int i = 0; i < NROUTES; i++)
        if (ROUTES[i].type == type)
            return &ROUTES[i];
    return NULL;
}

const route_t *route_table(int *n)
{
    *n = NROUTES;
    return ROUTES;
}
