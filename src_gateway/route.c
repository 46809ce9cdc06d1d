/* route: the route table as data. Adding a packet type a client may send is one row here. */
#include "route.h"

#include <stddef.h>

#include "cluster.pb-c.h"

static const route_t ROUTES[] = {
    {PACKET_TYPE__PING_REQUEST, ROUTE_GATEWAY, 0, &ping_request__descriptor},
    {PACKET_TYPE__ECHO_REQUEST, ROUTE_ECHO, 0, &echo_request__descriptor},
    /* accounts: the only lobby packets allowed before login */
    {PACKET_TYPE__REGISTER_REQUEST, ROUTE_LOBBY, 0, NULL},
    {PACKET_TYPE__LOGIN_REQUEST, ROUTE_LOBBY, 0, NULL},
    {PACKET_TYPE__RESUME_REQUEST, ROUTE_LOBBY, 0, NULL},
    {PACKET_TYPE__LOGOUT_REQUEST, ROUTE_LOBBY, ROUTE_NEEDS_AUTH, NULL},
    /* rooms, chat, quick match */
    {PACKET_TYPE__CREATE_ROOM_REQUEST, ROUTE_LOBBY, ROUTE_NEEDS_AUTH, NULL},
    {PACKET_TYPE__GET_ROOM_LIST_REQUEST, ROUTE_LOBBY, ROUTE_NEEDS_AUTH, NULL},
    {PACKET_TYPE__JOIN_ROOM_REQUEST, ROUTE_LOBBY, ROUTE_NEEDS_AUTH, NULL},
    {PACKET_TYPE__LEAVE_ROOM_REQUEST, ROUTE_LOBBY, ROUTE_NEEDS_AUTH, NULL},
    {PACKET_TYPE__PREPARE_GAME_REQUEST, ROUTE_LOBBY, ROUTE_NEEDS_AUTH, NULL},
    {PACKET_TYPE__START_GAME_REQUEST, ROUTE_LOBBY, ROUTE_NEEDS_AUTH, NULL},
    {PACKET_TYPE__ROOM_CHAT_REQUEST, ROUTE_LOBBY, ROUTE_NEEDS_AUTH, NULL},
    {PACKET_TYPE__QUICK_MATCH_REQUEST, ROUTE_LOBBY, ROUTE_NEEDS_AUTH, NULL},
    {PACKET_TYPE__QUICK_MATCH_CANCEL_REQUEST, ROUTE_LOBBY, ROUTE_NEEDS_AUTH, NULL},
    {PACKET_TYPE__GET_MATCH_HISTORY_REQUEST, ROUTE_LOBBY, ROUTE_NEEDS_AUTH, NULL},
    /* match: only to the game daemon the session is bound to */
    {PACKET_TYPE__GAME_SNAPSHOT_REQUEST, ROUTE_MATCH, ROUTE_NEEDS_AUTH, NULL},
    {PACKET_TYPE__PLAYER_POSITION_UPDATE, ROUTE_MATCH, ROUTE_NEEDS_AUTH, NULL},
    {PACKET_TYPE__PLAYER_ATTACK_MONSTER, ROUTE_MATCH, ROUTE_NEEDS_AUTH, NULL},
    {PACKET_TYPE__PLAYER_USE_ITEM, ROUTE_MATCH, ROUTE_NEEDS_AUTH, NULL},
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
