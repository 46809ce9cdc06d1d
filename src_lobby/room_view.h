/* room_view: a RoomState decoded from lobby.lua's flat reply (a room, its members and where
 * each is connected). Pure: no I/O; unit-tested (tests/unit/test_room_view.c). */
#ifndef LOBBY_ROOM_VIEW_H
#define LOBBY_ROOM_VIEW_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster.pb-c.h"

#define ROOM_MAX_PLAYERS 64 /* the most a module may allow (DESIGN.md "Game modules") */

typedef struct room_view {
    RoomState state;   /* name and mode point into the reply: valid while it lives */
    RoomMember *members;
    RoomMember **member_ptrs;
    uint32_t *gw;      /* per member: the gateway it is connected to (0: offline) */
    uint64_t *sid;     /* per member: its session there */
} room_view_t;

/* Decodes a room state starting at element `at` of r: room id, name, owner, max players,
 * status (2: in game), match id, game server id, mode, member count n, then n x (user id,
 * username, ready, online, gateway id, session id). Integers may come as Redis integers or
 * decimal strings. Returns the element after it, or -1 (not an array, too short, over
 * ROOM_MAX_PLAYERS members); after -1 there is nothing to free. */
int room_view_parse(room_view_t *v, const redisReply *r, size_t at);
/* Element i of an array reply as an integer (a Redis integer or a decimal string; else 0), or
 * as a string ("" when missing or not a string). */
uint64_t reply_el_u64(const redisReply *r, size_t i);
char *reply_el_str(const redisReply *r, size_t i);
void room_view_free(room_view_t *v);

#endif
