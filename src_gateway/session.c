/* session: client connections of the gateway. */
#include "session.h"

#include <string.h>

#include "alloc.h"
#include "frame.h"
#include "log.h"
#include "ratelimit.h"
#include "route.h"
#include "srcaddr.h"
#include "upstream.h"
#include "util.h"
#include "utlist.h"

typedef struct session {
    sessions_t *ss;
    conn_t *conn;
    uint64_t id; /* generation << 32 | slot */
    uint64_t user_id;
    uint64_t match_id;
    uint32_t game_id;  /* game daemon running the session's match, 0 if none */
    uint64_t last_rx_ms;
    tbucket_t rate;
    uint32_t refused_in_a_row;
    struct session *lru_prev, *lru_next; /* ordered by last_rx_ms, oldest first */
    frame_parser_t parser;
} session_t;

typedef struct slot {
    session_t *s;
    uint32_t gen;
} slot_t;

struct sessions {
    gw_t *gw;
    slot_t *slots;
    uint32_t nslots, cap;
    uint32_t *free_slots;
    uint32_t nfree;
    size_t count;
    session_t *lru;
};

sessions_t *sessions_new(gw_t *gw)
{
    sessions_t *ss = xcalloc(1, sizeof *ss);
    ss->gw = gw;
    return ss;
}

size_t sessions_count(const sessions_t *ss) { return ss->count; }

static session_t *session_get(sessions_t *ss, uint64_t id)
{
    uint32_t slot = (uint32_t)id, gen = (uint32_t)(id >> 32);
    if (slot >= ss->nslots || ss->slots[slot].gen != gen)
        return NULL;
    return ss->slots[slot].s;
}

/* The sessions by last whole frame received, oldest first (utlist: lru->lru_prev is the newest). */
static void lru_unlink(sessions_t *ss, session_t *s) { DL_DELETE2(ss->lru, s, lru_prev, lru_next); }
static void lru_append(sessions_t *ss, session_t *s) { DL_APPEND2(ss->lru, s, lru_prev, lru_next); }

/* Counts one frame queued for a client (exported on /metrics). */
static void count_out(gw_t *gw, uint16_t type, size_t payload_len)
{
    gw->stats.packets_out[metrics_enum_slot(type)]++;
    gw->stats.bytes_out += FRAME_HDR_LEN + payload_len;
}

static int send_msg(session_t *s, uint16_t type, uint32_t seq, const ProtobufCMessage *msg)
{
    count_out(s->ss->gw, type, msg ? protobuf_c_message_get_packed_size(msg) : 0);
    pb_sink_t sink = pb_conn_sink(s->conn);
    return pb_put(&sink, type, seq, msg);
}

/* The code of a packed ErrorResponse from a backend: field 1, a varint, which protobuf-c
 * writes first; absent means OK (0). 256 ("other") when it can't be read. */
static unsigned error_code_of(const uint8_t *p, size_t n)
{
    if (n == 0 || p[0] != 0x08)
        return 0;
    unsigned v = 0;
    for (size_t i = 1, shift = 0; i < n && shift < 28; i++, shift += 7) {
        v |= (unsigned)(p[i] & 0x7f) << shift;
        if (!(p[i] & 0x80))
            return v;
    }
    return 256;
}

/* Queues one frame to the client. Returns 0, or -1 when the connection refused it. */
static int write_frame(session_t *s, uint16_t type, uint32_t seq, const uint8_t *payload, size_t len)
{
    uint8_t *p = conn_reserve(s->conn, FRAME_HDR_LEN + len);
    if (!p)
        return -1;
    frame_hdr_write(p, (uint32_t)len, type, seq);
    memcpy(p + FRAME_HDR_LEN, payload, len);
    conn_commit(s->conn, FRAME_HDR_LEN + len);
    return 0;
}

static void send_error(session_t *s, uint32_t seq, ErrorCode code, uint16_t type, const char *msg)
{
    gw_t *gw = s->ss->gw;
    gw->stats.errors_sent++;
    gw->stats.errors_out[metrics_enum_slot((unsigned)code)]++;
    uint8_t buf[512];
    size_t n = pb_pack_error(buf, sizeof buf, code, type, msg);
    count_out(gw, PACKET_TYPE__ERROR_RESPONSE, n);
    (void)write_frame(s, PACKET_TYPE__ERROR_RESPONSE, seq, buf, n);
}

static int rate_take(session_t *s, uint64_t now)
{
    const gw_settings_t *st = &s->ss->gw->s;
    return tbucket_take(&s->rate, st->rate_limit, st->rate_burst, now);
}

static void handle_gateway_packet(session_t *s, const frame_hdr_t *h, const ProtobufCMessage *msg)
{
    if (h->type == PACKET_TYPE__PING_REQUEST) {
        const PingRequest *in = (const PingRequest *)msg;
        PingResponse out = PING_RESPONSE__INIT;
        out.client_time = in->client_time;
        out.server_time_ms = wall_ms();
        s->ss->gw->stats.frames_out++;
        (void)send_msg(s, PACKET_TYPE__PING_RESPONSE, h->seq, &out.base);
    }
}

/* A LOGIN carries the client's source address to the lobby, whose login throttling counts
 * failures per address (docs/lobby.md). Returns src filled in, or NULL for other types or
 * when the peer's address can't be read (the lobby then counts it under "unknown"). */
static const uint8_t *login_source(const session_t *s, uint16_t type, uint8_t src[SRCADDR_LEN])
{
    if (type != PACKET_TYPE__LOGIN_REQUEST)
        return NULL;
    char peer[80];
    conn_peer_name(s->conn, peer, sizeof peer);
    return srcaddr_from_peer(peer, src) == 0 ? src : NULL;
}

/* A whole frame is activity (a peer trickling bytes of one frame is idle), and takes a token
 * from the session's rate limiter. Returns 1 to go on, 0 when refused (answered), -1 when the
 * session is being closed for flooding. */
static int admit_frame(session_t *s, const frame_hdr_t *h, uint64_t now)
{
    gw_t *gw = s->ss->gw;
    if (s->last_rx_ms != now) {
        s->last_rx_ms = now;
        lru_unlink(s->ss, s);
        lru_append(s->ss, s);
    }
    if (rate_take(s, now)) {
        s->refused_in_a_row = 0;
        return 1;
    }
    if (++s->refused_in_a_row > (uint32_t)gw->s.rate_kick_after) {
        gw->stats.dropped_flood++;
        log_warn("client_flood", "session=%llu action=close", (unsigned long long)s->id);
        send_error(s, h->seq, ERROR_CODE__RATE_LIMITED, h->type, "rate limit: disconnected");
        conn_close_after_flush(s->conn, CONN_CLOSE_PROTOCOL);
        return -1;
    }
    send_error(s, h->seq, ERROR_CODE__RATE_LIMITED, h->type, "too many packets per second");
    return 0;
}

/* A match packet goes to the game daemon the session is bound to. */
static void forward_to_match(session_t *s, const frame_hdr_t *h, const uint8_t *payload)
{
    gw_t *gw = s->ss->gw;
    if (!s->game_id) {
        send_error(s, h->seq, ERROR_CODE__NOT_IN_GAME, h->type, "not in a running match");
        return;
    }
    ErrorCode ec = upstream_forward_to(gw->ups, PEER_GAME, s->game_id, s->id, s->user_id, h->type,
                                       h->seq, payload, h->len);
    if (ec != ERROR_CODE__OK) /* (its link may be down within MATCH_LINK_GRACE_MS: retry) */
        send_error(s, h->seq, ec, h->type, "the match's server is unreachable; retry shortly");
    else
        gw->stats.forwarded++;
}

/* The daemon type a routed packet goes to (any live one of that type), or 0 when the packet was
 * answered here. */
static int target_peer(session_t *s, const frame_hdr_t *h, const route_t *r,
                       const ProtobufCMessage *msg)
{
    switch (r->target) {
    case ROUTE_LOBBY:
        return PEER_LOBBY;
    case ROUTE_GAME:
        return PEER_GAME;
    case ROUTE_ECHO: {
        const EchoRequest *e = (const EchoRequest *)msg;
        if (e->target == ECHO_TARGET__LOBBY)
            return PEER_LOBBY;
        if (e->target == ECHO_TARGET__GAME)
            return PEER_GAME;
        send_error(s, h->seq, ERROR_CODE__BAD_REQUEST, h->type, "echo target must be LOBBY or GAME");
        return 0;
    }
    default:
        send_error(s, h->seq, ERROR_CODE__INTERNAL, h->type, "no route");
        return 0;
    }
}

static int on_client_frame(void *ctx, const frame_hdr_t *h, const uint8_t *payload)
{
    session_t *s = ctx;
    gw_t *gw = s->ss->gw;
    gw->stats.frames_in++;
    gw->stats.packets_in[metrics_enum_slot(h->type)]++;
    int admitted = admit_frame(s, h, uv_now(gw->loop));
    if (admitted <= 0)
        return admitted < 0;
    const route_t *r = route_lookup(h->type);
    if (!r) {
        send_error(s, h->seq, ERROR_CODE__UNKNOWN_PACKET, h->type, "unknown packet type");
        return 0;
    }
    if ((r->flags & ROUTE_NEEDS_AUTH) && s->user_id == 0) {
        send_error(s, h->seq, ERROR_CODE__NOT_AUTHENTICATED, h->type, "log in first");
        return 0;
    }
    const ProtobufCMessage *msg = NULL;
    if (r->desc) {
        msg = pb_unpack(&gw->arena, r->desc, payload, h->len);
        if (!msg) {
            send_error(s, h->seq, ERROR_CODE__BAD_REQUEST, h->type,
                       "payload is not a valid message of its type");
            return 0;
        }
    }
    if (r->target == ROUTE_GATEWAY) {
        handle_gateway_packet(s, h, msg);
        return 0;
    }
    if (r->target == ROUTE_MATCH) {
        forward_to_match(s, h, payload);
        return 0;
    }
    int peer = target_peer(s, h, r, msg);
    if (!peer)
        return 0;
    uint8_t src[SRCADDR_LEN];
    ErrorCode ec = upstream_forward_src(gw->ups, peer, login_source(s, h->type, src), s->id,
                                        s->user_id, h->type, h->seq, payload, h->len);
    if (ec != ERROR_CODE__OK)
        send_error(s, h->seq, ec, h->type,
                   ec == ERROR_CODE__SERVICE_UNAVAILABLE ? "no live server for this request"
                                                         : "could not forward");
    else
        gw->stats.forwarded++;
    return 0;
}

static void on_client_read(conn_t *c, const uint8_t *data, size_t n)
{
    session_t *s = conn_data(c);
    sessions_t *ss = s->ss;
    ss->gw->stats.bytes_in += n;
    if (frame_parser_feed(&s->parser, data, n, on_client_frame, s) == FRAME_ETOOBIG) {
        ss->gw->stats.dropped_bad_frame++;
        log_info("client_bad_frame", "session=%llu len=%u max=%u action=close",
                 (unsigned long long)s->id, s->parser.cur.len, s->parser.max_len);
        send_error(s, s->parser.cur.seq, ERROR_CODE__FRAME_TOO_LARGE, s->parser.cur.type,
                   "frame longer than the maximum");
        conn_close_after_flush(c, CONN_CLOSE_PROTOCOL);
    }
}

static void on_client_close(conn_t *c, int reason)
{
    session_t *s = conn_data(c);
    sessions_t *ss = s->ss;
    if (s->user_id)
        upstream_session_closed(ss->gw->ups, s->id, s->user_id);
    if (reason == CONN_CLOSE_OVERFLOW) {
        ss->gw->stats.dropped_slow++;
        log_warn("client_dropped", "session=%llu reason=%s", (unsigned long long)s->id,
                 conn_reason_str(reason));
    } else {
        log_debug("client_closed", "session=%llu reason=%s", (unsigned long long)s->id,
                  conn_reason_str(reason));
    }
    uint32_t slot = (uint32_t)s->id;
    ss->slots[slot].s = NULL;
    ss->slots[slot].gen++;
    ss->free_slots[ss->nfree++] = slot;
    ss->count--;
    lru_unlink(ss, s);
    frame_parser_free(&s->parser);
    xfree(s);
}

void sessions_accept(sessions_t *ss, uv_stream_t *listener, xport_t *x)
{
    gw_t *gw = ss->gw;
    session_t *s = xcalloc(1, sizeof *s);
    s->ss = ss;
    s->conn = conn_new_x(gw->cl, x, gw->s.write_queue_max, on_client_read, NULL, s);
    if (conn_accept(s->conn, listener) != 0) {
        xfree(s); /* no close callback was set: the conn frees itself */
        return;
    }
    if (gw->draining || (int64_t)ss->count >= gw->s.max_sessions) {
        gw->stats.refused++;
        conn_close(s->conn, CONN_CLOSE_LOCAL);
        xfree(s);
        return;
    }
    uint32_t slot;
    if (ss->nfree) {
        slot = ss->free_slots[--ss->nfree];
    } else {
        if (ss->nslots == ss->cap) {
            ss->cap = ss->cap ? ss->cap * 2 : 1024;
            ss->slots = xrealloc(ss->slots, ss->cap * sizeof *ss->slots);
            ss->free_slots = xrealloc(ss->free_slots, ss->cap * sizeof *ss->free_slots);
        }
        slot = ss->nslots++;
        ss->slots[slot].gen = 1;
    }
    gw->stats.accepted++;
    ss->slots[slot].s = s;
    s->id = ((uint64_t)ss->slots[slot].gen << 32) | slot;
    s->last_rx_ms = uv_now(gw->loop);
    tbucket_init(&s->rate, gw->s.rate_burst, s->last_rx_ms);
    frame_parser_init(&s->parser, gw->s.max_frame);
    conn_set_close_cb(s->conn, on_client_close);
    lru_append(ss, s);
    ss->count++;
}

void sessions_sweep(sessions_t *ss)
{
    uint64_t now = uv_now(ss->gw->loop);
    uint64_t limit = (uint64_t)ss->gw->s.idle_timeout_ms;
    session_t *s = ss->lru;
    while (s && now - s->last_rx_ms > limit) {
        session_t *next = s->lru_next;
        if (!conn_is_closing(s->conn)) {
            ss->gw->stats.dropped_idle++;
            log_debug("client_idle", "session=%llu action=close", (unsigned long long)s->id);
            conn_close(s->conn, CONN_CLOSE_IDLE);
        }
        s = next;
    }
}

void session_deliver(sessions_t *ss, uint64_t session_id, uint16_t type, uint32_t seq,
                     const uint8_t *payload, size_t len)
{
    session_t *s = session_get(ss, session_id);
    if (!s)
        return;
    if (write_frame(s, type, seq, payload, len) != 0)
        return;
    ss->gw->stats.frames_out++;
    count_out(ss->gw, type, len);
    if (type == PACKET_TYPE__ERROR_RESPONSE)
        ss->gw->stats.errors_out[metrics_enum_slot(error_code_of(payload, len))]++;
}

void session_deliver_error(sessions_t *ss, uint64_t session_id, uint32_t seq,
                           uint16_t request_type, ErrorCode code, const char *message)
{
    session_t *s = session_get(ss, session_id);
    if (s)
        send_error(s, seq, code, request_type, message);
}

void session_bind_user(sessions_t *ss, uint64_t session_id, uint64_t user)
{
    session_t *s = session_get(ss, session_id);
    if (!s)
        return;
    log_debug("session_bound", "session=%llu user=%llu", (unsigned long long)session_id,
              (unsigned long long)user);
    if (user != s->user_id) {
        /* another user, or none: the match binding was the old user's */
        s->game_id = 0;
        s->match_id = 0;
    }
    s->user_id = user;
}

int session_bind_game(sessions_t *ss, uint64_t session_id, uint32_t game_id, uint64_t match_id,
                      uint32_t from_game)
{
    session_t *s = session_get(ss, session_id);
    if (!s)
        return 0;
    const char *stale = NULL;
    if (from_game) {
        if (game_id && game_id != from_game)
            stale = "bind_to_other_daemon";
        else if (game_id && s->game_id && match_id < s->match_id)
            stale = "older_match";
        else if (!game_id && (s->game_id != from_game || s->match_id != match_id))
            stale = "not_bound_to_that_match";
    }
    if (stale) {
        ss->gw->stats.binds_fenced++;
        log_info("bind_fenced", "session=%llu from_game=%u game=%u match=%llu bound_game=%u "
                 "bound_match=%llu reason=%s", (unsigned long long)session_id, from_game, game_id,
                 (unsigned long long)match_id, s->game_id, (unsigned long long)s->match_id, stale);
        return 0;
    }
    log_debug("session_game", "session=%llu game=%u match=%llu", (unsigned long long)session_id,
              game_id, (unsigned long long)match_id);
    s->game_id = game_id;
    s->match_id = game_id ? match_id : 0;
    return 1;
}

uint32_t session_game(sessions_t *ss, uint64_t session_id)
{
    session_t *s = session_get(ss, session_id);
    return s ? s->game_id : 0;
}

uint64_t session_match(sessions_t *ss, uint64_t session_id)
{
    session_t *s = session_get(ss, session_id);
    return s ? s->match_id : 0;
}

size_t sessions_game_lost(sessions_t *ss, uint32_t game_id)
{
    size_t n = 0;
    for (uint32_t i = 0; i < ss->nslots; i++) {
        session_t *s = ss->slots[i].s;
        if (!s || s->game_id != game_id)
            continue;
        MatchAborted m = MATCH_ABORTED__INIT;
        m.match_id = s->match_id;
        m.reason = (char *)"the match's game server was lost";
        (void)send_msg(s, PACKET_TYPE__MATCH_ABORTED, 0, &m.base);
        s->game_id = 0;
        s->match_id = 0;
        n++;
    }
    return n;
}

size_t sessions_game_back(sessions_t *ss, uint32_t game_id)
{
    size_t n = 0;
    for (uint32_t i = 0; i < ss->nslots; i++) {
        session_t *s = ss->slots[i].s;
        if (s && s->game_id == game_id &&
            upstream_resync(ss->gw->ups, game_id, s->id, s->user_id) == ERROR_CODE__OK)
            n++;
    }
    return n;
}

void session_kick(sessions_t *ss, uint64_t session_id, ErrorCode code, const char *reason)
{
    session_t *s = session_get(ss, session_id);
    if (!s)
        return;
    log_info("session_kicked", "session=%llu user=%llu code=%s", (unsigned long long)session_id,
             (unsigned long long)s->user_id, error_code_name(code));
    Kicked k = KICKED__INIT;
    k.code = code;
    k.reason = (char *)reason;
    (void)send_msg(s, PACKET_TYPE__KICKED, 0, &k.base);
    /* The lobby already moved the user elsewhere: this session must not report a close. */
    s->user_id = 0;
    conn_close_after_flush(s->conn, CONN_CLOSE_LOCAL);
}

int session_kick_operator(sessions_t *ss, uint64_t session_id, const char *reason)
{
    session_t *s = session_get(ss, session_id);
    if (!s || conn_is_closing(s->conn))
        return -1;
    log_info("session_kicked", "session=%llu user=%llu by=operator", (unsigned long long)session_id,
             (unsigned long long)s->user_id);
    Kicked k = KICKED__INIT;
    k.code = ERROR_CODE__OK;
    k.reason = (char *)reason;
    (void)send_msg(s, PACKET_TYPE__KICKED, 0, &k.base);
    /* user_id stays: the close is reported to a lobby (the user is offline now) */
    conn_close_after_flush(s->conn, CONN_CLOSE_LOCAL);
    return 0;
}

size_t sessions_user_online(sessions_t *ss, uint64_t user, uint64_t keep)
{
    size_t n = 0;
    for (uint32_t i = 0; user && i < ss->nslots; i++) {
        session_t *s = ss->slots[i].s;
        if (!s || s->user_id != user || s->id == keep || conn_is_closing(s->conn))
            continue;
        session_kick(ss, s->id, ERROR_CODE__ALREADY_AUTHENTICATED, "logged in from another connection");
        n++;
    }
    return n;
}

size_t sessions_lost(sessions_t *ss)
{
    size_t n = 0;
    for (uint32_t i = 0; i < ss->nslots; i++) {
        session_t *s = ss->slots[i].s;
        if (!s || !s->user_id || conn_is_closing(s->conn))
            continue;
        session_kick(ss, s->id, ERROR_CODE__SESSION_LOST,
                     "the cluster lost its session data: log in again");
        n++;
    }
    return n;
}

void sessions_close_all(sessions_t *ss)
{
    ServerClosing sc = SERVER_CLOSING__INIT;
    sc.reconnect_after_ms = 0;
    for (uint32_t i = 0; i < ss->nslots; i++) {
        session_t *s = ss->slots[i].s;
        if (!s)
            continue;
        /* Reported now, while the lobby links are up (main.c flushes them before closing
         * them); the connection's own close comes later and must not report again. */
        if (s->user_id) {
            upstream_session_closed(ss->gw->ups, s->id, s->user_id);
            s->user_id = 0;
        }
        (void)send_msg(s, PACKET_TYPE__SERVER_CLOSING, 0, &sc.base);
        conn_close_after_flush(s->conn, CONN_CLOSE_LOCAL);
    }
}

void sessions_free(sessions_t *ss)
{
    xfree(ss->slots);
    xfree(ss->free_slots);
    xfree(ss);
}

/* ---- the callbacks upstream.c delivers through ---- */

static void hook_deliver(void *ud, uint64_t session, uint16_t type, uint32_t seq,
                         const uint8_t *payload, size_t len)
{
    session_deliver(ud, session, type, seq, payload, len);
}
static void hook_deliver_error(void *ud, uint64_t session, uint32_t seq, uint16_t request_type,
                               ErrorCode code, const char *message)
{
    session_deliver_error(ud, session, seq, request_type, code, message);
}
static void hook_bind_user(void *ud, uint64_t session, uint64_t user)
{
    session_bind_user(ud, session, user);
}
static int hook_bind_game(void *ud, uint64_t session, uint32_t game_id, uint64_t match_id,
                          uint32_t from_game)
{
    return session_bind_game(ud, session, game_id, match_id, from_game);
}
static uint32_t hook_game_of(void *ud, uint64_t session) { return session_game(ud, session); }
static uint64_t hook_match_of(void *ud, uint64_t session) { return session_match(ud, session); }
static size_t hook_game_lost(void *ud, uint32_t game_id) { return sessions_game_lost(ud, game_id); }
static size_t hook_game_back(void *ud, uint32_t game_id) { return sessions_game_back(ud, game_id); }
static void hook_kick(void *ud, uint64_t session, ErrorCode code, const char *reason)
{
    session_kick(ud, session, code, reason);
}

static void hook_user_online(void *ud, uint64_t user, uint64_t keep)
{
    (void)sessions_user_online(ud, user, keep);
}

upstream_hooks_t sessions_upstream_hooks(sessions_t *ss)
{
    return (upstream_hooks_t){
        .deliver = hook_deliver,
        .deliver_error = hook_deliver_error,
        .bind_user = hook_bind_user,
        .bind_game = hook_bind_game,
        .game_of = hook_game_of,
        .match_of = hook_match_of,
        .game_lost = hook_game_lost,
        .game_back = hook_game_back,
        .kick = hook_kick,
        .user_online = hook_user_online,
        .ud = ss,
    };
}
