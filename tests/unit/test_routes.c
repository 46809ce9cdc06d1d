/* test_routes: a packet type a client may send lives in three places: proto's PacketType
 * (cluster.proto), the gateway's route table (src_gateway/route.c) and the dispatch table of
 * the daemon that answers it (ROUTES in src_lobby/main.c, src_game/main.c, read here as text).
 * This checks they agree, so they cannot drift: every route names a PacketType value; every
 * *_REQUEST, PLAYER_* and *_SEND value has a route (or is the gateway's own: PING); a lobby
 * route has a lobby handler, a match route a game handler, ECHO both, and no daemon handles a
 * type the gateway would not send it; each handler's message descriptor is the one its
 * type's name says (FOO_BAR_REQUEST -> foo_bar_request__descriptor), and so is the gateway's
 * when it decodes one. */
#include <ctype.h>

#include "check.h"
#include "cluster.pb-c.h"
#include "read_file.h"
#include "route.h"

#define MAXR 64

typedef struct drow {
    char type[64]; /* PacketType value name, e.g. LOGIN_REQUEST */
    char desc[64]; /* descriptor symbol, e.g. login_request__descriptor */
} drow_t;

/* The rows {PACKET_TYPE__X, &y__descriptor, handler} of the ROUTES table in a daemon's main.c. */
static int daemon_rows(const char *path, drow_t *rows)
{
    char *src = read_file(path);
    const char *p = strstr(src, "backend_route_t ROUTES[] = {");
    CHECK(p != NULL);
    const char *end = strstr(p, "};");
    CHECK(end != NULL);
    int n = 0;
    for (const char *q = strstr(p, "{PACKET_TYPE__"); q && q < end; q = strstr(q + 1, "{PACKET_TYPE__")) {
        CHECK(n < MAXR);
        CHECK_EQ(sscanf(q, "{PACKET_TYPE__%63[A-Z_], &%63[a-z_]", rows[n].type, rows[n].desc), 2);
        n++;
    }
    free(src);
    CHECK(n > 0);
    return n;
}

static const char *type_name(int type)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&packet_type__descriptor, type);
    return v ? v->name : NULL;
}

/* FOO_BAR_REQUEST -> foo_bar_request__descriptor */
static void desc_of(const char *type, char *out, size_t n)
{
    size_t k = 0;
    for (; type[k] && k + 1 < n; k++)
        out[k] = (char)tolower((unsigned char)type[k]);
    out[k] = '\0';
    snprintf(out + k, n - k, "__descriptor");
}

/* The protobuf-c message name of a descriptor symbol: foo_bar_request -> cluster.FooBarRequest */
static int desc_matches(const ProtobufCMessageDescriptor *d, const char *type)
{
    char want[96];
    size_t k = 0;
    int up = 1;
    for (const char *c = type; *c && k + 1 < sizeof want; c++) {
        if (*c == '_') {
            up = 1;
            continue;
        }
        want[k++] = up ? *c : (char)tolower((unsigned char)*c);
        up = 0;
    }
    want[k] = '\0';
    return strcmp(d->short_name, want) == 0;
}

static const drow_t *find(const drow_t *rows, int n, const char *type)
{
    for (int i = 0; i < n; i++)
        if (strcmp(rows[i].type, type) == 0)
            return &rows[i];
    return NULL;
}

int main(void)
{
    int nr;
    const route_t *routes = route_table(&nr);
    drow_t lobby[MAXR], game[MAXR];
    int nl = daemon_rows(LOBBY_MAIN_C, lobby), ng = daemon_rows(GAME_MAIN_C, game);

    /* every route names a PacketType value; its target's daemon handles it */
    for (int i = 0; i < nr; i++) {
        const char *name = type_name(routes[i].type);
        if (!name) {
            fprintf(stderr, "route %d: type %u is not a PacketType value\n", i, routes[i].type);
            return 1;
        }
        char want[96];
        desc_of(name, want, sizeof want);
        const drow_t *l = find(lobby, nl, name), *g = find(game, ng, name);
        switch (routes[i].target) {
        case ROUTE_LOBBY:
            CHECK(l && !g);
            break;
        case ROUTE_MATCH:
        case ROUTE_GAME:
            CHECK(g && !l);
            break;
        case ROUTE_ECHO:
            CHECK(l && g);
            break;
        case ROUTE_GATEWAY:
            CHECK(!l && !g);
            break;
        }
        if (l && strcmp(l->desc, want) != 0)
            fprintf(stderr, "%s: lobby decodes %s, want %s\n", name, l->desc, want), exit(1);
        if (g && strcmp(g->desc, want) != 0)
            fprintf(stderr, "%s: game decodes %s, want %s\n", name, g->desc, want), exit(1);
        if (routes[i].desc && !desc_matches(routes[i].desc, name))
            fprintf(stderr, "%s: the gateway decodes %s\n", name, routes[i].desc->name), exit(1);
    }
    /* no daemon handles a type the gateway would not route to it */
    for (int i = 0; i < nl; i++) {
        const route_t *r = NULL;
        for (int k = 0; k < nr && !r; k++)
            if (strcmp(type_name(routes[k].type), lobby[i].type) == 0)
                r = &routes[k];
        if (!r || (r->target != ROUTE_LOBBY && r->target != ROUTE_ECHO))
            fprintf(stderr, "lobby handles %s, which the gateway does not send it\n", lobby[i].type), exit(1);
    }
    for (int i = 0; i < ng; i++) {
        const route_t *r = NULL;
        for (int k = 0; k < nr && !r; k++)
            if (strcmp(type_name(routes[k].type), game[i].type) == 0)
                r = &routes[k];
        if (!r || (r->target != ROUTE_MATCH && r->target != ROUTE_GAME && r->target != ROUTE_ECHO))
            fprintf(stderr, "gamed handles %s, which the gateway does not send it\n", game[i].type), exit(1);
    }
    /* every client-sent PacketType value has a route */
    int client_types = 0;
    for (unsigned v = 0; v < packet_type__descriptor.n_values; v++) {
        const ProtobufCEnumValue *ev = &packet_type__descriptor.values[v];
        size_t len = strlen(ev->name);
        int is_request = (len > 8 && strcmp(ev->name + len - 8, "_REQUEST") == 0) ||
                         (len > 5 && strcmp(ev->name + len - 5, "_SEND") == 0) ||
                         (strncmp(ev->name, "PLAYER_", 7) == 0 && strstr(ev->name, "_RESPONSE") == NULL &&
                          strcmp(ev->name, "PLAYER_STATE") != 0);
        if (!is_request)
            continue;
        client_types++;
        if (!route_lookup((uint16_t)ev->value))
            fprintf(stderr, "PacketType %s has no route in src_gateway/route.c\n", ev->name), exit(1);
    }
    CHECK_EQ(client_types, nr);
    printf("routes: %d client packet types, each with one route; lobby handles %d, gamed %d; "
           "descriptors agree with the names\n",
           nr, nl, ng);
    return 0;
}
