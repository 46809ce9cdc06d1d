/* route: the gateway's one route table, packet type -> where it goes and what it needs. */
#ifndef GATEWAY_ROUTE_H
#define GATEWAY_ROUTE_H

#include <protobuf-c/protobuf-c.h>
#include <stdint.h>

typedef enum {
    ROUTE_GATEWAY = 0, /* answered by the gateway itself */
    ROUTE_LOBBY,       /* any live lobby daemon */
    ROUTE_GAME,        /* any live game daemon (ROUTE_MATCH: the session's bound one) */
    ROUTE_ECHO,        /* lobby or game, as the decoded EchoRequest.target says */
    ROUTE_MATCH,       /* the game daemon running the session's match (NOT_IN_GAME if none) */
} route_target_t;

enum {
    ROUTE_NEEDS_AUTH = 1u << 0, /* refused with NOT_AUTHENTICATED before login */
};

typedef struct route {
    uint16_t type;
    route_target_t target;
    uint32_t flags;
    /* Non-NULL: the gateway decodes and checks the payload before routing (BAD_REQUEST when
     * it is not a valid message). NULL: the backend checks it. */
    const ProtobufCMessageDescriptor *desc;
} route_t;

/* The route of a packet type, or NULL when clients may not send that type. */
const route_t *route_lookup(uint16_t type);

/* The whole table, for documentation and tests. */
const route_t *route_table(int *n);

#endif
