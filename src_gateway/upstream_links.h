/* upstream_links: what upstream.c (the links) and discovery.c (finding them in the registry)
 * share inside the gateway. Not for the rest of the gateway: it goes through upstream.h. */
#ifndef GATEWAY_UPSTREAM_LINKS_H
#define GATEWAY_UPSTREAM_LINKS_H

#include <uv.h>

#include "frame.h"
#include "inflight.h"
#include "link.h"
#include "resolve.h"
#include "upstream.h"

typedef enum { UL_DOWN, UL_RESOLVING, UL_CONNECTING, UL_WAIT_CHALLENGE, UL_WAIT_READY, UL_UP } ul_state_t;

typedef struct ulink {
    upstreams_t *u;
    int peer_type;
    uint32_t server_id;
    char host[256];
    int port;
    int registry_draining; /* status 3 in the registry */
    int registry_congested; /* status 2: requests go to smooth peers of its type first */
    int link_draining;     /* LINK_DRAINING received */
    uint64_t seen_sweep;   /* last sweep that found it in its list */
    conn_t *conn;
    ul_state_t state;
    link_hs_t hs; /* the handshake (link.h), from HELLO sent to READY heard */
    frame_parser_t parser;
    uint64_t state_since_ms, last_rx_ms, last_ping_ms, next_attempt_ms;
    uint32_t backoff_ms;
    uint32_t failures;
    inflight_t inflight;  /* the requests sent and not answered yet */
    int removed;          /* left the registry: freed once its conn is closed */
    uint64_t grace_since; /* game link: loop ms it went down with sessions kept bound (0: not) */
    uint64_t missing_since; /* loop ms when the registry first lacked it while its link was up */
    resolve_t resolve;    /* its host name, when it is not an address */
    struct ulink *next;
} ulink_t;

/* Closes of logged-in sessions not yet reported to a lobby (none was up): sent to the first
 * lobby link that comes up. Bounded: past UNREPORTED_MAX the oldest is dropped (counted and
 * logged). A late report is safe: the lobby ignores one that is not the user's current
 * session any more. */
#define UNREPORTED_MAX 65536u
typedef struct unreported {
    uint64_t session, user;
} unreported_t;

struct upstreams {
    gw_t *gw;
    upstream_hooks_t h;
    ulink_t *links;
    uint32_t rr[4];
    uint64_t sweep_gen;
    uint64_t last_sweep_ms;
    uint64_t last_publish_ms; /* linked_games checked by the tick (a link turning draining) */
    int subscribed;
    char *games_published; /* the `linked_games` registry field last set (NULL: never) */
    int closing;
    unreported_t *unrep; /* ring of UNREPORTED_MAX, allocated on first use */
    uint32_t unrep_head, unrep_len;
};

static const int PEER_TYPES[] = {PEER_LOBBY, PEER_GAME};

/* The live (not removed) link to that daemon, or NULL. */
ulink_t *find_link(upstreams_t *u, int peer_type, uint32_t id);
/* The registry lost the daemon: 1 when its link should go (see upstream.c). */
int registry_says_gone(ulink_t *l);
/* Marks a link as gone from the registry; it is freed once closed. */
void link_remove(ulink_t *l, const char *why);
/* A daemon the registry lists (status from its hash): its link made, or updated. */
void ensure_link(upstreams_t *u, int peer_type, uint32_t id, const char *host, int port, int status);
/* Reads the registry's server lists (a sweep): links for new ids, removal of missing ones. */
void read_lists(upstreams_t *u);

#endif
