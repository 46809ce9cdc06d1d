/* upstream: gateway-side links to lobby and game daemons (found by discovery.c): connect,
 * handshake, requests in flight, routing, pings and the dead link rule. */
#include "upstream.h"

#include <assert.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "frame.h"
#include "inflight.h"
#include "log.h"
#include "upstream_links.h"
#include "util.h"
#include "utlist.h"

static const char *state_name(ul_state_t s)
{
    static const char *n[] = {"down", "resolving", "connecting", "wait_challenge", "wait_ready", "up"};
    return n[s];
}


static void link_connect(ulink_t *l);
static void link_close(ulink_t *l, const char *why);
static void report_unreported(ulink_t *l);

static void fail_pending(ulink_t *l, ErrorCode code, const char *msg)
{
    upstreams_t *u = l->u;
    pending_t *p;
    while ((p = inflight_oldest(&l->inflight))) {
        if (!p->quiet)
            u->h.deliver_error(u->h.ud, p->session, p->cseq, p->type, code, msg);
        inflight_release(&l->inflight, p);
    }
}

/* A request overtaken by INFLIGHT_RING_MAX later ones on its link: TIMEOUT now. */
static void drop_overtaken(void *ud, const pending_t *p)
{
    ulink_t *l = ud;
    l->u->gw->stats.timeouts++;
    if (!p->quiet)
        l->u->h.deliver_error(l->u->h.ud, p->session, p->cseq, p->type, ERROR_CODE__TIMEOUT,
                              "the server did not answer in time");
}

ulink_t *find_link(upstreams_t *u, int peer_type, uint32_t id)
{
    for (ulink_t *l = u->links; l; l = l->next)
        if (l->peer_type == peer_type && l->server_id == id && !l->removed)
            return l;
    return NULL;
}

static void free_link(ulink_t *l)
{
    upstreams_t *u = l->u;
    LL_DELETE(u->links, l);
    frame_parser_free(&l->parser);
    inflight_free(&l->inflight);
    xfree(l);
}

static void maybe_free(ulink_t *l)
{
    if (l->removed && !l->conn && !l->resolve.pending)
        free_link(l);
}

static void publish_linked_games(upstreams_t *u);

static void set_state(ulink_t *l, ul_state_t s)
{
    int changed = (l->state == UL_UP) != (s == UL_UP);
    l->state = s;
    l->state_since_ms = uv_now(l->u->gw->loop);
    if (changed && l->peer_type == PEER_GAME)
        publish_linked_games(l->u); /* at once: a client may start a match right after */
}

/* ---- link frames ---- */

/* The daemon refused our resync: NOT_IN_GAME / MATCH_OVER mean the session's match ended while
 * the link was cut (its GAME_OVER and unbind were lost with the link): unbind the session, as
 * the daemon would have. Other refusals (a mode without snapshots) change nothing. */
static void resync_refused(ulink_t *l, uint64_t session, const uint8_t *payload, size_t len)
{
    upstreams_t *u = l->u;
    ErrorResponse *e = error_response__unpack(NULL, len, payload);
    if (!e)
        return;
    int ended = e->code == ERROR_CODE__NOT_IN_GAME || e->code == ERROR_CODE__MATCH_OVER;
    error_response__free_unpacked(e, NULL);
    if (!ended || u->h.game_of(u->h.ud, session) != l->server_id)
        return;
    log_info("resync_unbound", "session=%llu game=%u reason=\"its match ended during the cut\"",
             (unsigned long long)session, l->server_id);
    (void)u->h.bind_game(u->h.ud, session, 0, u->h.match_of(u->h.ud, session), l->server_id);
}

/* READY heard: the link is up. */
static void link_ready(ulink_t *l)
{
    upstreams_t *u = l->u;
    set_state(l, UL_UP);
    l->backoff_ms = 0;
    l->failures = 0;
    l->link_draining = 0;
    l->last_ping_ms = l->last_rx_ms;
    log_info("link_up", "type=%s id=%u host=%s port=%d", peer_type_name(l->peer_type),
             l->server_id, l->host, l->port);
    if (l->peer_type == PEER_LOBBY)
        report_unreported(l);
    if (l->peer_type == PEER_GAME && l->grace_since) {
        uint64_t gap = uv_now(u->gw->loop) - l->grace_since;
        l->grace_since = 0;
        size_t n = u->h.game_back(u->h.ud, l->server_id);
        log_warn("game_link_healed", "id=%u gap_ms=%llu sessions_resynced=%zu", l->server_id,
                 (unsigned long long)gap, n);
    }
}

/* The handshake's frames (link.h): CHALLENGE -> AUTH, READY. */
static int on_handshake_frame(ulink_t *l, const frame_hdr_t *h, const uint8_t *body)
{
    link_hs_out_t out;
    int rc = link_hs_step(&l->hs, l->u->gw->key, h->type, body, h->len, &out);
    if (rc == LINK_HS_MISMATCH)
        log_warn("link_refused", "type=%s id=%u reason=identity_mismatch got_type=%d got_id=%u",
                 peer_type_name(l->peer_type), l->server_id, l->hs.be_type, l->hs.be_id);
    else if (rc < 0 && strcmp(l->hs.why, "auth_failed") == 0)
        log_warn("link_auth_failed", "type=%s id=%u host=%s port=%d reason=bad_mac",
                 peer_type_name(l->peer_type), l->server_id, l->host, l->port);
    if (rc < 0) {
        link_close(l, l->hs.why);
        return 1;
    }
    if (out.kind)
        (void)link_send(l->conn, out.kind, 0, out.body, out.len);
    if (rc == LINK_HS_DONE)
        link_ready(l);
    else
        set_state(l, UL_WAIT_READY);
    return 0;
}

static int on_response(ulink_t *l, const frame_hdr_t *h, const uint8_t *body)
{
    upstreams_t *u = l->u;
    link_msg_t m;
    int parsed = link_parse(LINK_RESPONSE, body, h->len, &m);
    assert(parsed == 0); /* its size was checked */
    (void)parsed;
    pending_t *p = inflight_find(&l->inflight, h->seq);
    if (!p)
        return 0; /* timed out already: the client got TIMEOUT */
    u->gw->stats.responses++;
    if (p->quiet) {
        /* our own resync: a snapshot goes to the client as a push, anything else nowhere */
        if (m.type == PACKET_TYPE__GAME_SNAPSHOT_RESPONSE &&
            u->h.game_of(u->h.ud, p->session) == l->server_id)
            u->h.deliver(u->h.ud, p->session, m.type, 0, m.payload, m.len);
        else if (m.type == PACKET_TYPE__ERROR_RESPONSE)
            resync_refused(l, p->session, m.payload, m.len);
    } else if (m.type != PACKET_TYPE__PACKET_NONE) /* NONE: a one-way request's acknowledgement */
        u->h.deliver(u->h.ud, p->session, m.type, p->cseq, m.payload, m.len);
    inflight_release(&l->inflight, p);
    return 0;
}

static int on_kick(ulink_t *l, const frame_hdr_t *h, const uint8_t *body)
{
    upstreams_t *u = l->u;
    size_t rl = h->len - LINK_KICK_PREFIX;
    char reason[LINK_KICK_REASON_MAX + 1];
    memcpy(reason, body + LINK_KICK_PREFIX, rl);
    reason[rl] = '\0';
    if (!utf8_valid((const uint8_t *)reason, rl))
        snprintf(reason, sizeof reason, "kicked");
    /* a game daemon may kick only the sessions bound to it */
    if (l->peer_type == PEER_GAME && u->h.game_of(u->h.ud, get_u64(body)) != l->server_id) {
        u->gw->stats.binds_fenced++;
        return 0;
    }
    u->h.kick(u->h.ud, get_u64(body), (ErrorCode)get_u16(body + 8), reason);
    return 0;
}

static int on_push(ulink_t *l, const frame_hdr_t *h, const uint8_t *body)
{
    upstreams_t *u = l->u;
    link_msg_t m;
    int parsed = link_parse(LINK_PUSH, body, h->len, &m);
    assert(parsed == 0);
    (void)parsed;
    /* A game daemon pushes only to sessions bound to it (a daemon that was declared dead and
     * came back must not reach players who moved on). */
    if (l->peer_type == PEER_GAME && u->h.game_of(u->h.ud, m.session) != l->server_id)
        return 0;
    u->h.deliver(u->h.ud, m.session, m.type, 0, m.payload, m.len);
    return 0;
}

/* The fixed-size messages: BIND, USER_ONLINE, BIND_GAME. */
static int on_binding(ulink_t *l, const frame_hdr_t *h, const uint8_t *body)
{
    upstreams_t *u = l->u;
    if (h->type == LINK_BIND_GAME) {
        /* fenced by the session layer: a game daemon's bind names its match (session.h) */
        (void)u->h.bind_game(u->h.ud, get_u64(body), get_u32(body + 8), get_u64(body + 12),
                             l->peer_type == PEER_GAME ? l->server_id : 0);
        return 0;
    }
    if (l->peer_type != PEER_LOBBY) { /* only a lobby logs users in */
        if (h->type == LINK_BIND)
            u->gw->stats.binds_fenced++;
        return 0;
    }
    if (h->type == LINK_BIND)
        u->h.bind_user(u->h.ud, get_u64(body), get_u64(body + 8));
    else
        u->h.user_online(u->h.ud, get_u64(body),
                         get_u32(body + 8) == registry_id(u->gw->reg) ? get_u64(body + 12) : 0);
    return 0;
}

static int on_link_frame(void *ctx, const frame_hdr_t *h, const uint8_t *body)
{
    ulink_t *l = ctx;
    l->last_rx_ms = uv_now(l->u->gw->loop);
    if (l->state == UL_WAIT_CHALLENGE || l->state == UL_WAIT_READY)
        return on_handshake_frame(l, h, body);
    if (l->state != UL_UP)
        return 1;
    const char *why;
    int take = link_take_frame(l->conn, 1, h, body, &why);
    if (take < 0)
        link_close(l, why);
    if (take <= 0)
        return take < 0;
    switch (h->type) {
    case LINK_DRAINING:
        if (!l->link_draining)
            log_info("link_draining", "type=%s id=%u", peer_type_name(l->peer_type), l->server_id);
        l->link_draining = 1;
        return 0;
    case LINK_RESPONSE:
        return on_response(l, h, body);
    case LINK_KICK:
        return on_kick(l, h, body);
    case LINK_PUSH:
        return on_push(l, h, body);
    case LINK_BIND:
    case LINK_USER_ONLINE:
    case LINK_BIND_GAME:
        return on_binding(l, h, body);
    default: /* link_take_frame took no other kind */
        return 0;
    }
}

static void on_link_read(conn_t *c, const uint8_t *data, size_t n)
{
    ulink_t *l = conn_data(c);
    if (frame_parser_feed(&l->parser, data, n, on_link_frame, l) == FRAME_ETOOBIG)
        link_close(l, "frame_too_large");
}

static void schedule_retry(ulink_t *l)
{
    gw_t *gw = l->u->gw;
    l->backoff_ms = l->backoff_ms ? l->backoff_ms * 2 : 50;
    if (l->backoff_ms > (uint32_t)gw->s.reconnect_max_ms)
        l->backoff_ms = (uint32_t)gw->s.reconnect_max_ms;
    /* jitter of up to a quarter, so gateways don't reconnect in lockstep */
    uint32_t jitter = l->backoff_ms / 4 ? randombytes_uniform(l->backoff_ms / 4) : 0;
    l->next_attempt_ms = uv_now(gw->loop) + l->backoff_ms + jitter;
    set_state(l, UL_DOWN);
}

/* A lobby link that is up, round robin; NULL when there is none. */
static ulink_t *pick_lobby(upstreams_t *u)
{
    ulink_t *cands[64];
    int k = 0;
    for (ulink_t *x = u->links; x && k < 64; x = x->next)
        if (x->peer_type == PEER_LOBBY && x->state == UL_UP && !x->removed && !conn_is_closing(x->conn))
            cands[k++] = x;
    return k ? cands[u->rr[PEER_LOBBY]++ % (uint32_t)k] : NULL;
}

static void game_lost(ulink_t *l)
{
    upstreams_t *u = l->u;
    l->grace_since = 0;
    size_t n = u->h.game_lost(u->h.ud, l->server_id);
    /* Tell a lobby: it puts the rooms of that daemon's matches back to waiting. (With none up,
     * the lobbies' own sweep of game daemons gone from the registry does it later.) */
    ulink_t *lobby = pick_lobby(u);
    log_warn("game_lost", "id=%u sessions_aborted=%zu lobby_told=%d", l->server_id, n, lobby != NULL);
    if (lobby) {
        uint8_t b[4];
        put_u32(b, l->server_id);
        (void)link_send(lobby->conn, LINK_GAME_LOST, 0, b, 4);
    }
}

static void on_link_close(conn_t *c, int reason)
{
    ulink_t *l = conn_data(c);
    int was_up = l->state == UL_UP;
    l->conn = NULL;
    frame_parser_free(&l->parser);
    fail_pending(l, ERROR_CODE__SERVICE_UNAVAILABLE, "server went away");
    if (was_up && l->peer_type == PEER_GAME) {
        /* Gone from the registry, or no grace: its matches are over now. Else the sessions stay
         * bound while the link is re-established (MATCH_LINK_GRACE_MS; upstreams_tick). */
        if (l->removed || l->u->gw->s.match_link_grace_ms == 0) {
            game_lost(l);
        } else if (!l->grace_since) {
            l->grace_since = uv_now(l->u->gw->loop);
            log_warn("game_link_grace", "id=%u grace_ms=%lld action=\"sessions kept bound until the "
                     "link is back or the grace passes\"", l->server_id,
                     (long long)l->u->gw->s.match_link_grace_ms);
        }
    }
    if (was_up)
        log_warn("link_down", "type=%s id=%u reason=%s", peer_type_name(l->peer_type),
                 l->server_id, conn_reason_str(reason));
    else if (l->failures == 0 || l->failures % 50 == 0)
        log_info("link_connect_failed", "type=%s id=%u host=%s port=%d state=%s reason=%s failures=%u",
                 peer_type_name(l->peer_type), l->server_id, l->host, l->port,
                 state_name(l->state), conn_reason_str(reason), l->failures + 1);
    if (!was_up)
        l->failures++;
    schedule_retry(l);
    /* A game link just lost with its sessions kept: try again at once; a killed daemon's port
     * refuses at once (on_link_connected ends its matches), so only a live one gets the grace. */
    if (was_up && l->grace_since && !l->removed)
        link_connect(l);
    maybe_free(l);
}

static void link_close(ulink_t *l, const char *why)
{
    if (!l->conn)
        return;
    log_debug("link_close", "type=%s id=%u why=%s", peer_type_name(l->peer_type), l->server_id, why);
    conn_close(l->conn, CONN_CLOSE_PROTOCOL);
}

static void on_link_connected(conn_t *c, int status)
{
    ulink_t *l = conn_data(c);
    if (status != 0) {
        /* Refused: nothing listens on its port any more, the daemon process is gone (killed,
         * crashed); a partition or a stalled daemon never refuses. No grace for its matches. */
        if (status == UV_ECONNREFUSED && l->grace_since) {
            log_warn("game_link_refused", "id=%u action=\"its matches end: the daemon is gone\"",
                     l->server_id);
            game_lost(l);
        }
        conn_close(c, CONN_CLOSE_IO);
        return;
    }
    link_hs_out_t hello;
    link_hs_gateway(&l->hs, registry_id(l->u->gw->reg), (uint8_t)l->peer_type, l->server_id, &hello);
    (void)link_send(c, hello.kind, 0, hello.body, hello.len);
    set_state(l, UL_WAIT_CHALLENGE);
}

static void connect_addr(ulink_t *l, const struct sockaddr *sa)
{
    gw_t *gw = l->u->gw;
    frame_parser_init(&l->parser, LINK_MAX_FRAME);
    l->conn = conn_new(gw->cl, 64u * 1024u * 1024u, on_link_read, on_link_close, l);
    set_state(l, UL_CONNECTING);
    if (conn_connect(l->conn, sa, on_link_connected) != 0)
        conn_close(l->conn, CONN_CLOSE_IO);
}

static void on_resolved(resolve_t *rq, int status, const struct sockaddr *addr)
{
    ulink_t *l = rq->data;
    if (l->removed || status < 0) {
        if (!l->removed) {
            log_warn("link_resolve_failed", "host=%s error=%s", l->host, uv_strerror(status));
            l->failures++;
            schedule_retry(l);
        }
        maybe_free(l);
        return;
    }
    struct sockaddr_storage ss;
    memcpy(&ss, addr, addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
    if (ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)l->port);
    else
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)l->port);
    connect_addr(l, (struct sockaddr *)&ss);
}

static void link_connect(ulink_t *l)
{
    if (l->conn || l->resolve.pending || l->removed)
        return;
    if (registry_id(l->u->gw->reg) == 0)
        return; /* not registered yet: our HELLO needs our id */
    struct sockaddr_storage ss;
    if (addr_make(l->host, l->port, &ss) == 0) {
        connect_addr(l, (struct sockaddr *)&ss);
        return;
    }
    /* A host name (docker-compose service names): resolve without blocking the loop. */
    set_state(l, UL_RESOLVING);
    if (resolve_start(l->u->gw->loop, &l->resolve, l->host, on_resolved, l) != 0)
        schedule_retry(l);
}

/* The registry lacks a server whose link may still be up. A link that is up and answering
 * pings is kept for a registry expiry period: after a Redis restart (its data lost) every
 * daemon registers again within a heartbeat, and dropping healthy links meanwhile would
 * refuse every request. A dead or hung daemon's link is not up, so it goes at once. */
int registry_says_gone(ulink_t *l)
{
    uint64_t now = uv_now(l->u->gw->loop);
    if (l->state != UL_UP || !l->conn || conn_is_closing(l->conn))
        return 1;
    if (!l->missing_since)
        l->missing_since = now;
    return now - l->missing_since > REG_EXPIRE_MS;
}

/* Marks a link as gone from the registry; it is freed once closed. */
void link_remove(ulink_t *l, const char *why)
{
    if (l->removed)
        return;
    log_info("link_removed", "type=%s id=%u reason=%s", peer_type_name(l->peer_type), l->server_id, why);
    l->removed = 1;
    if (l->grace_since) /* down in its grace, and now gone from the registry: its matches end */
        game_lost(l);
    if (l->conn)
        conn_close(l->conn, CONN_CLOSE_LOCAL);
    else
        resolve_cancel(&l->resolve);
    maybe_free(l);
}

void ensure_link(upstreams_t *u, int peer_type, uint32_t id, const char *host, int port, int status)
{
    ulink_t *l = find_link(u, peer_type, id);
    if (l && (strcmp(l->host, host) != 0 || l->port != port)) {
        link_remove(l, "address_changed");
        l = NULL;
    }
    if (!l) {
        l = xcalloc(1, sizeof *l);
        l->u = u;
        l->peer_type = peer_type;
        l->server_id = id;
        snprintf(l->host, sizeof l->host, "%s", host);
        l->port = port;
        LL_PREPEND(u->links, l);
        log_info("link_added", "type=%s id=%u host=%s port=%d", peer_type_name(peer_type), id, host, port);
        set_state(l, UL_DOWN);
        link_connect(l);
    }
    l->registry_draining = status == REG_STATUS_DRAINING;
    l->registry_congested = status == REG_STATUS_CONGESTED;
    l->seen_sweep = u->sweep_gen;
    l->missing_since = 0;
}

/* ---- routing ---- */

static ErrorCode forward_on(upstreams_t *u, ulink_t *l, const uint8_t *src, uint64_t session,
                            uint64_t user, uint16_t type, uint32_t seq, const uint8_t *payload,
                            size_t len);

ErrorCode upstream_resync(upstreams_t *u, uint32_t server_id, uint64_t session, uint64_t user)
{
    ulink_t *l = find_link(u, PEER_GAME, server_id);
    if (!l || l->state != UL_UP || conn_is_closing(l->conn))
        return ERROR_CODE__SERVICE_UNAVAILABLE;
    ErrorCode ec = forward_on(u, l, NULL, session, user, PACKET_TYPE__GAME_SNAPSHOT_REQUEST, 0, NULL, 0);
    if (ec == ERROR_CODE__OK)
        inflight_find(&l->inflight, l->inflight.next_rid)->quiet = 1;
    return ec;
}

ErrorCode upstream_forward(upstreams_t *u, int peer_type, uint64_t session, uint64_t user,
                           uint16_t type, uint32_t seq, const uint8_t *payload, size_t len)
{
    return upstream_forward_src(u, peer_type, NULL, session, user, type, seq, payload, len);
}

ErrorCode upstream_forward_src(upstreams_t *u, int peer_type, const uint8_t *src, uint64_t session,
                               uint64_t user, uint16_t type, uint32_t seq, const uint8_t *payload,
                               size_t len)
{
    /* Round robin over the usable links of that type: the smooth ones, or when every one is
     * congested, all of them. */
    ulink_t *cands[64];
    int n = 0, smooth = 0;
    for (ulink_t *l = u->links; l && n < 64; l = l->next)
        if (l->peer_type == peer_type && l->state == UL_UP && !l->removed && !l->link_draining &&
            !l->registry_draining && !conn_is_closing(l->conn)) {
            if (!l->registry_congested) {
                if (smooth < n) /* smooth ones gather at the front */
                    cands[n] = cands[smooth];
                n++;
                cands[smooth++] = l;
            } else {
                cands[n++] = l;
            }
        }
    if (n == 0)
        return ERROR_CODE__SERVICE_UNAVAILABLE;
    if (smooth)
        n = smooth;
    return forward_on(u, cands[u->rr[peer_type]++ % (uint32_t)n], src, session, user, type, seq,
                      payload, len);
}

ErrorCode upstream_forward_to(upstreams_t *u, int peer_type, uint32_t server_id, uint64_t session,
                              uint64_t user, uint16_t type, uint32_t seq, const uint8_t *payload,
                              size_t len)
{
    ulink_t *l = find_link(u, peer_type, server_id);
    if (!l || l->state != UL_UP || conn_is_closing(l->conn))
        return ERROR_CODE__SERVICE_UNAVAILABLE;
    return forward_on(u, l, NULL, session, user, type, seq, payload, len);
}

static ErrorCode forward_on(upstreams_t *u, ulink_t *l, const uint8_t *src, uint64_t session,
                            uint64_t user, uint16_t type, uint32_t seq, const uint8_t *payload,
                            size_t len)
{
    uint32_t rid = inflight_next(&l->inflight);
    if (link_send_request_src(l->conn, rid, src, session, user, type, seq, payload, len) != 0)
        return ERROR_CODE__SERVICE_UNAVAILABLE;
    pending_t *p = inflight_add(&l->inflight, rid, drop_overtaken, l);
    p->type = type;
    p->cseq = seq;
    p->session = session;
    p->deadline_ms = uv_now(u->gw->loop) + (uint64_t)u->gw->s.request_timeout_ms;
    return ERROR_CODE__OK;
}

static void send_session_closed(ulink_t *l, uint64_t session, uint64_t user)
{
    uint8_t b[16];
    put_u64(b, session);
    put_u64(b + 8, user);
    (void)link_send(l->conn, LINK_SESSION_CLOSED, 0, b, sizeof b);
}

void upstream_session_closed(upstreams_t *u, uint64_t session, uint64_t user)
{
    ulink_t *l = pick_lobby(u);
    if (l) {
        send_session_closed(l, session, user);
        return;
    }
    gw_stats_t *st = &u->gw->stats;
    if (!u->unrep)
        u->unrep = xmalloc(UNREPORTED_MAX * sizeof *u->unrep);
    if (u->unrep_len == UNREPORTED_MAX) { /* drop the oldest */
        u->unrep_head = (u->unrep_head + 1) % UNREPORTED_MAX;
        u->unrep_len--;
        if (st->closes_lost++ % 1000 == 0)
            log_warn("session_close_lost", "queued=%u lost=%llu reason=\"no lobby up, queue full\"",
                     u->unrep_len, (unsigned long long)st->closes_lost);
    }
    u->unrep[(u->unrep_head + u->unrep_len++) % UNREPORTED_MAX] = (unreported_t){session, user};
    st->closes_queued++;
    if (u->unrep_len == 1)
        log_warn("session_close_queued", "session=%llu user=%llu reason=no_lobby "
                 "action=\"reported when a lobby link is up\"",
                 (unsigned long long)session, (unsigned long long)user);
}

/* A lobby link just came up: the closes that found none. */
static void report_unreported(ulink_t *l)
{
    upstreams_t *u = l->u;
    if (!u->unrep_len)
        return;
    uint32_t n = u->unrep_len;
    for (; u->unrep_len; u->unrep_len--, u->unrep_head = (u->unrep_head + 1) % UNREPORTED_MAX) {
        const unreported_t *e = &u->unrep[u->unrep_head];
        send_session_closed(l, e->session, e->user);
    }
    u->unrep_head = 0;
    xfree(u->unrep); /* the ring is only needed while no lobby is up */
    u->unrep = NULL;
    log_info("session_closes_reported", "count=%u lobby=%u", n, l->server_id);
}

/* ---- periodic work ---- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The game daemons this gateway can reach now (link up, not draining), as the field
 * `linked_games` of its registry entry ("3,7,12"): the lobby places a match only on a daemon
 * every player's gateway lists (docs/matches.md). Set when it changes. */
static void publish_linked_games(upstreams_t *u)
{
    if (u->closing)
        return;
    size_t n = 0, cap = 0;
    for (const ulink_t *l = u->links; l; l = l->next)
        cap++;
    uint32_t *ids = xmalloc((cap ? cap : 1) * sizeof *ids);
    for (const ulink_t *l = u->links; l; l = l->next)
        if (l->peer_type == PEER_GAME && l->state == UL_UP && !l->removed && !l->link_draining &&
            !l->registry_draining)
            ids[n++] = l->server_id;
    qsort(ids, n, sizeof *ids, cmp_u32);
    char *s = xmalloc(n * 11 + 1);
    size_t at = 0;
    s[0] = 0;
    for (size_t i = 0; i < n; i++)
        at += (size_t)sprintf(s + at, i ? ",%u" : "%u", ids[i]);
    xfree(ids);
    if (u->games_published && strcmp(u->games_published, s) == 0) {
        xfree(s);
        return;
    }
    if (registry_set_field(u->gw->reg, "linked_games", s) != 0) {
        xfree(s);
        return;
    }
    log_debug("linked_games", "games=\"%s\"", s);
    xfree(u->games_published);
    u->games_published = s;
}


void upstreams_tick(upstreams_t *u)
{
    gw_t *gw = u->gw;
    uint64_t now = uv_now(gw->loop);
    for (ulink_t *l = u->links; l; l = l->next) {
        if (l->removed)
            continue;
        /* Requests past their deadline: oldest first. */
        pending_t *p;
        while ((p = inflight_oldest(&l->inflight)) && p->deadline_ms <= now) {
            gw->stats.timeouts++;
            if (!p->quiet)
                u->h.deliver_error(u->h.ud, p->session, p->cseq, p->type, ERROR_CODE__TIMEOUT,
                                   "the server did not answer in time");
            inflight_release(&l->inflight, p);
        }
        if (l->grace_since && l->state != UL_UP &&
            now - l->grace_since >= (uint64_t)gw->s.match_link_grace_ms) {
            log_warn("game_link_grace_over", "id=%u grace_ms=%lld", l->server_id,
                     (long long)gw->s.match_link_grace_ms);
            game_lost(l);
        }
        switch (l->state) {
        case UL_DOWN:
            if (now >= l->next_attempt_ms)
                link_connect(l);
            break;
        case UL_CONNECTING:
        case UL_WAIT_CHALLENGE:
        case UL_WAIT_READY:
            if (now - l->state_since_ms > (uint64_t)gw->s.link_dead_ms)
                link_close(l, "handshake_timeout");
            break;
        case UL_UP:
            if (now - l->last_rx_ms > (uint64_t)gw->s.link_dead_ms) {
                log_warn("link_dead", "type=%s id=%u silent_ms=%llu", peer_type_name(l->peer_type),
                         l->server_id, (unsigned long long)(now - l->last_rx_ms));
                link_close(l, "silent");
            } else if (now - l->last_ping_ms >= (uint64_t)gw->s.link_ping_ms) {
                l->last_ping_ms = now;
                (void)link_send_ping(l->conn, LINK_PING, now);
            }
            break;
        case UL_RESOLVING:
            break;
        }
    }
    if (rconn_up(gw->redis) && now - u->last_sweep_ms >= (uint64_t)gw->s.sweep_ms)
        read_lists(u);
    /* Links going up or down publish at once (set_state); a peer turning draining is caught
     * here, twice a second, not at every 25 ms tick. */
    if (now - u->last_publish_ms >= 500) {
        u->last_publish_ms = now;
        publish_linked_games(u);
    }
}

upstreams_t *upstreams_new(gw_t *gw)
{
    upstreams_t *u = xcalloc(1, sizeof *u);
    u->gw = gw;
    return u;
}

void upstreams_set_hooks(upstreams_t *u, const upstream_hooks_t *h) { u->h = *h; }

int upstreams_up_count(const upstreams_t *u, int peer_type)
{
    int n = 0;
    for (const ulink_t *l = u->links; l; l = l->next)
        n += l->peer_type == peer_type && l->state == UL_UP && !l->removed;
    return n;
}

size_t upstreams_pending(const upstreams_t *u)
{
    size_t n = 0;
    for (const ulink_t *l = u->links; l; l = l->next)
        n += l->inflight.n;
    return n;
}

void upstreams_collect(const upstreams_t *u, metrics_t *m)
{
    for (const ulink_t *l = u->links; l; l = l->next) {
        if (l->removed)
            continue;
        char labels[64];
        snprintf(labels, sizeof labels, "peer_type=%s,peer_id=%u",
                 l->peer_type == PEER_LOBBY ? "lobby" : "game", l->server_id);
        metrics_set_gauge(m, "cluster_link_up", "1 while the link to that peer is up (authenticated)",
                          labels, l->state == UL_UP);
        metrics_set_gauge(m, "cluster_link_draining", "1 while that peer is draining", labels,
                          l->link_draining || l->registry_draining);
        metrics_set_gauge(m, "cluster_link_pending_requests", "requests in flight on the link",
                          labels, (double)l->inflight.n);
    }
}

void upstreams_close(upstreams_t *u)
{
    u->closing = 1; /* the registry goes before the links' close callbacks: publish no more */
    for (ulink_t *l = u->links, *next; l; l = next) {
        next = l->next;
        link_remove(l, "shutdown");
    }
}

void upstreams_free(upstreams_t *u)
{
    xfree(u->unrep);
    xfree(u->games_published);
    xfree(u);
}
