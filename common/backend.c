/* backend: gateway links on the backend side and dispatch by table, in a daemon shell
 * (shell.h: registry, drain, admin endpoint, core metrics). */
#include "backend.h"

#include <assert.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "conn.h"
#include "frame.h"
#include "link.h"
#include "log.h"
#include "pb.h"
#include "registry.h"
#include "rconn.h"
#include "shell.h"
#include "util.h"
#include "utlist.h"

#define HANDSHAKE_TIMEOUT_MS 2000
#define LINK_WQ_MAX (64u * 1024u * 1024u)
#define DRAIN_GRACE_MS 200 /* lets requests already on the wire arrive after DRAINING */

typedef struct blink {
    backend_t *be;
    conn_t *conn;
    uint32_t id;
    link_hs_t hs; /* hs.state LINK_HS_UP: authenticated */
    uint32_t gw_id;
    uint64_t last_rx_ms;
    uint64_t opened_ms;
    frame_parser_t parser;
    char peer[64];
    struct blink *next;
} blink_t;

struct backend {
    uv_loop_t *loop;
    backend_opts_t o;
    conn_loop_t *cl;
    uv_tcp_t listener;
    uv_timer_t timer;
    shell_t *sh;
    pb_arena_t arena;
    uint8_t key[LINK_KEY_LEN];
    blink_t *links;
    uint32_t next_link_id;
    unsigned inflight;
    int congested;
    int stopped; /* deregistered: no new links */
    int (*ready)(void *arg, char *why, size_t n);
    void *ready_arg;
    uint64_t requests[METRICS_ENUM_SLOTS];   /* by packet type */
    uint64_t errors_sent[METRICS_ENUM_SLOTS]; /* by ErrorCode */
};

static int link_up(const blink_t *l) { return l->hs.state == LINK_HS_UP; }

static const backend_route_t *find_route(const backend_t *be, uint16_t type)
{
    for (int i = 0; i < be->o.nroutes; i++)
        if (be->o.routes[i].type == type)
            return &be->o.routes[i];
    return NULL;
}

static blink_t *find_link(backend_t *be, uint32_t id)
{
    for (blink_t *l = be->links; l; l = l->next)
        if (l->id == id)
            return l;
    return NULL;
}

static void answer_done(backend_t *be)
{
    if (be->inflight > 0)
        be->inflight--;
}

void backend_reply(backend_t *be, const backend_req_t *req, uint16_t type,
                   const ProtobufCMessage *msg)
{
    answer_done(be);
    blink_t *l = find_link(be, req->link_id);
    if (!l || !link_up(l))
        return; /* the gateway already answered the client with an error */
    size_t n = msg ? protobuf_c_message_get_packed_size(msg) : 0;
    uint8_t *p = link_begin_delivery(l->conn, LINK_RESPONSE, req->rid, req->session, type, req->seq, n);
    if (!p)
        return;
    if (n)
        protobuf_c_message_pack(msg, p);
    link_commit_delivery(l->conn, LINK_RESPONSE, n);
}

void backend_error(backend_t *be, const backend_req_t *req, ErrorCode code, const char *message)
{
    backend_error_retry(be, req, code, message, 0);
}

void backend_error_retry(backend_t *be, const backend_req_t *req, ErrorCode code,
                         const char *message, uint32_t retry_after_ms)
{
    answer_done(be);
    be->errors_sent[metrics_enum_slot((unsigned)code)]++;
    blink_t *l = find_link(be, req->link_id);
    if (!l || !link_up(l))
        return;
    uint8_t buf[512];
    size_t n = pb_pack_error_retry(buf, sizeof buf, code, req->type, message, retry_after_ms);
    uint8_t *p = link_begin_delivery(l->conn, LINK_RESPONSE, req->rid, req->session,
                                     PACKET_TYPE__ERROR_RESPONSE, req->seq, n);
    if (!p)
        return;
    memcpy(p, buf, n);
    link_commit_delivery(l->conn, LINK_RESPONSE, n);
}

void backend_ack(backend_t *be, const backend_req_t *req)
{
    answer_done(be);
    blink_t *l = find_link(be, req->link_id);
    if (!l || !link_up(l))
        return;
    if (!link_begin_delivery(l->conn, LINK_RESPONSE, req->rid, req->session, PACKET_TYPE__PACKET_NONE,
                             req->seq, 0))
        return;
    link_commit_delivery(l->conn, LINK_RESPONSE, 0);
}

static void dispatch(backend_t *be, blink_t *l, uint32_t rid, const link_msg_t *m)
{
    backend_req_t req = {
        .link_id = l->id, .gw_id = l->gw_id, .rid = rid, .session = m->session, .user = m->user,
        .type = m->type, .seq = m->cseq,
    };
    if (m->has_src)
        memcpy(req.src, m->src, sizeof req.src);
    be->inflight++;
    be->requests[metrics_enum_slot(m->type)]++;
    const backend_route_t *r = find_route(be, m->type);
    if (!r) {
        backend_error(be, &req, ERROR_CODE__UNKNOWN_PACKET, "this server does not serve that type");
        return;
    }
    ProtobufCMessage *msg = pb_unpack(&be->arena, r->desc, m->payload, m->len);
    if (!msg) {
        backend_error(be, &req, ERROR_CODE__BAD_REQUEST,
                      be->arena.exhausted ? "message too large to decode"
                                          : "payload is not a valid message of its type");
        return;
    }
    r->fn(be, &req, msg, be->o.ud);
}

static void link_drop(blink_t *l, const char *why)
{
    log_warn("link_dropped", "peer=%s gateway=%u reason=%s", l->peer, l->gw_id, why);
    conn_close(l->conn, CONN_CLOSE_PROTOCOL);
}

/* The handshake's frames (link.h): HELLO -> CHALLENGE, AUTH -> READY. */
static int on_handshake_frame(blink_t *l, const frame_hdr_t *h, const uint8_t *body)
{
    backend_t *be = l->be;
    link_hs_out_t out;
    int rc = link_hs_step(&l->hs, be->key, h->type, body, h->len, &out);
    if (rc < 0) {
        link_drop(l, l->hs.why);
        return 1;
    }
    l->gw_id = l->hs.gw_id;
    if (out.kind)
        (void)link_send(l->conn, out.kind, 0, out.body, out.len);
    if (rc == LINK_HS_DONE) {
        if (shell_draining(be->sh))
            (void)link_send(l->conn, LINK_DRAINING, 0, NULL, 0);
        log_info("link_up", "peer=%s gateway=%u", l->peer, l->gw_id);
    }
    return 0;
}

static int on_link_frame(void *ctx, const frame_hdr_t *h, const uint8_t *body)
{
    blink_t *l = ctx;
    backend_t *be = l->be;
    l->last_rx_ms = uv_now(be->loop);
    if (!link_up(l))
        return on_handshake_frame(l, h, body);
    const char *why;
    int take = link_take_frame(l->conn, 0, h, body, &why);
    if (take < 0)
        link_drop(l, why);
    if (take <= 0)
        return take < 0;
    switch (h->type) {
    case LINK_SESSION_CLOSED:
        if (be->o.on_session_closed)
            be->o.on_session_closed(be, l->gw_id, get_u64(body), get_u64(body + 8), be->o.ud);
        return 0;
    case LINK_GAME_LOST:
        if (be->o.on_game_lost)
            be->o.on_game_lost(be, l->gw_id, get_u32(body), be->o.ud);
        return 0;
    case LINK_REQUEST:
    case LINK_REQUEST_SRC: {
        link_msg_t m;
        int parsed = link_parse(h->type, body, h->len, &m);
        assert(parsed == 0); /* its size was checked */
        (void)parsed;
        dispatch(be, l, h->seq, &m);
        return conn_is_closing(l->conn);
    }
    default: /* link_take_frame took no other kind */
        return 0;
    }
}

static void on_link_read(conn_t *c, const uint8_t *data, size_t n)
{
    blink_t *l = conn_data(c);
    if (frame_parser_feed(&l->parser, data, n, on_link_frame, l) == FRAME_ETOOBIG)
        link_drop(l, "frame_too_large");
}

static void on_link_close(conn_t *c, int reason)
{
    blink_t *l = conn_data(c);
    backend_t *be = l->be;
    LL_DELETE(be->links, l);
    if (link_up(l))
        log_info("link_down", "peer=%s gateway=%u reason=%s", l->peer, l->gw_id,
                 conn_reason_str(reason));
    frame_parser_free(&l->parser);
    xfree(l);
}

static void on_connection(uv_stream_t *server, int status)
{
    backend_t *be = server->data;
    if (status < 0)
        return;
    blink_t *l = xcalloc(1, sizeof *l);
    l->be = be;
    l->id = ++be->next_link_id;
    link_hs_backend(&l->hs, (uint8_t)be->o.peer_type, backend_id(be));
    l->opened_ms = l->last_rx_ms = uv_now(be->loop);
    frame_parser_init(&l->parser, LINK_MAX_FRAME);
    l->conn = conn_new(be->cl, LINK_WQ_MAX, on_link_read, on_link_close, l);
    LL_PREPEND(be->links, l); /* on_link_close takes it out and frees it */
    if (conn_accept(l->conn, server) != 0)
        return;
    if (be->stopped) {
        conn_close(l->conn, CONN_CLOSE_LOCAL);
        return;
    }
    conn_peer_name(l->conn, l->peer, sizeof l->peer);
}

static void on_timer(uv_timer_t *t)
{
    backend_t *be = t->data;
    uint64_t now = uv_now(be->loop);
    for (blink_t *l = be->links; l; l = l->next) {
        if (conn_is_closing(l->conn))
            continue;
        if (!link_up(l) && now - l->opened_ms > HANDSHAKE_TIMEOUT_MS)
            link_drop(l, "handshake_timeout");
        else if (link_up(l) && now - l->last_rx_ms > (uint64_t)be->o.link_dead_ms * 3)
            link_drop(l, "silent");
    }
}

/* ---- the shell's hooks (shell.h) ---- */

static void on_drain(void *ud)
{
    backend_t *be = ud;
    log_info("draining_links", "inflight=%u", be->inflight);
    for (blink_t *l = be->links; l; l = l->next)
        if (link_up(l))
            (void)link_send(l->conn, LINK_DRAINING, 0, NULL, 0);
}

static int busy(void *ud)
{
    backend_t *be = ud;
    return be->inflight > 0 || (be->o.busy && be->o.busy(be->o.ud));
}

static void on_drain_timeout(void *ud)
{
    backend_t *be = ud;
    log_warn("drain_forced", "inflight=%u", be->inflight);
    if (be->o.on_drain_timeout)
        be->o.on_drain_timeout(be->o.ud);
}

static void on_stop(void *ud)
{
    backend_t *be = ud;
    be->stopped = 1;
    log_info("stopped", "inflight=%u", be->inflight);
    if (be->o.on_stop)
        be->o.on_stop(be->o.ud);
    for (blink_t *l = be->links; l; l = l->next)
        conn_close_after_flush(l->conn, CONN_CLOSE_LOCAL);
    uv_close((uv_handle_t *)&be->listener, NULL);
    uv_close((uv_handle_t *)&be->timer, NULL);
    conn_loop_close(be->cl);
}

void backend_drain(backend_t *be) { shell_drain(be->sh); }

static void on_redis(int up, void *ud)
{
    backend_t *be = ud;
    if (up && be->o.on_redis_up && be->o.ud)
        be->o.on_redis_up(be, be->o.ud);
}

static int app_ready(void *ud, char *why, size_t n)
{
    backend_t *be = ud;
    return be->ready ? be->ready(be->ready_arg, why, n) : 1;
}

static void collect(metrics_t *m, void *ud)
{
    backend_t *be = ud;
    metrics_set_gauge(m, "cluster_congested", "1 while the daemon says it is congested (registry status 2)",
                      NULL, be->congested);
    metrics_set_gauge(m, "cluster_backend_inflight_requests", "requests received and not yet answered",
                      NULL, be->inflight);
    metrics_set_enum_counts(m, "cluster_backend_requests_total", "requests received from gateways, by packet type",
                            "type", &packet_type__descriptor, be->requests);
    metrics_set_enum_counts(m, "cluster_backend_errors_sent_total", "error responses sent, by ErrorCode",
                            "code", &error_code__descriptor, be->errors_sent);
    for (blink_t *l = be->links; l; l = l->next) {
        if (!link_up(l) || conn_is_closing(l->conn))
            continue;
        char labels[64];
        snprintf(labels, sizeof labels, "peer_type=gateway,peer_id=%u", l->gw_id);
        metrics_set_gauge(m, "cluster_link_up", "1 while the link to that peer is up (authenticated)",
                          labels, 1);
    }
}

static int listen_on(backend_t *be, const char *addr, char *host, size_t nhost)
{
    int port;
    struct sockaddr_storage ss;
    if (addr_split(addr, host, nhost, &port) < 0 || addr_make(host, port, &ss) != 0) {
        log_error("bad_listen_addr", "value=%s", addr);
        return -1;
    }
    uv_tcp_init(be->loop, &be->listener);
    be->listener.data = be;
    int rc = uv_tcp_bind(&be->listener, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&be->listener, 1024, on_connection);
    if (rc != 0) {
        log_error("listen_failed", "addr=%s error=%s", addr, uv_strerror(rc));
        uv_close((uv_handle_t *)&be->listener, NULL);
        uv_run(be->loop, UV_RUN_NOWAIT);
        return -1;
    }
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    uv_tcp_getsockname(&be->listener, (struct sockaddr *)&bound, &blen);
    return addr_port((struct sockaddr *)&bound);
}

backend_t *backend_new(uv_loop_t *loop, const config_t *cfg, const backend_opts_t *opts)
{
    backend_t *be = xcalloc(1, sizeof *be);
    be->loop = loop;
    be->o = *opts;
    char host[256], advertise[256];
    int port = listen_on(be, config_str(cfg, "LISTEN_ADDR"), host, sizeof host);
    if (port < 0) {
        xfree(be);
        return NULL;
    }
    shell_advertise(advertise, sizeof advertise, config_str(cfg, "ADVERTISE_ADDR"), host);
    shell_opts_t so = {.type = peer_type_name(opts->peer_type), .advertise = advertise, .port = port,
                       .drain_timeout_ms = opts->drain_timeout_ms, .drain_grace_ms = DRAIN_GRACE_MS};
    shell_hooks_t sh = {.ud = be, .drain = on_drain, .busy = busy, .drain_timeout = on_drain_timeout,
                        .stop = on_stop, .ready = app_ready, .collect = collect, .redis_event = on_redis};
    be->sh = shell_new(loop, cfg, &so, &sh);
    if (!be->sh) {
        uv_close((uv_handle_t *)&be->listener, NULL);
        uv_run(loop, UV_RUN_NOWAIT);
        xfree(be);
        return NULL;
    }
    be->cl = conn_loop_new(loop);
    link_key_derive(be->key, config_str(cfg, "CLUSTER_SECRET"));
    pb_arena_init(&be->arena, opts->msg_budget);
    uv_timer_init(loop, &be->timer);
    be->timer.data = be;
    uv_timer_start(&be->timer, on_timer, 50, 50);
    log_info("listening", "addr=%s port=%d advertise=%s", host, port, advertise);
    return be;
}

void backend_echo(backend_t *be, const backend_req_t *req, const ProtobufCMessage *msg, void *ud)
{
    const EchoRequest *in = (const EchoRequest *)msg;
    EchoResponse out = ECHO_RESPONSE__INIT;
    out.payload = in->payload;
    out.server_id = backend_id(be);
    out.served_by = be->o.peer_type == PEER_LOBBY ? ECHO_TARGET__LOBBY : ECHO_TARGET__GAME;
    backend_reply(be, req, PACKET_TYPE__ECHO_RESPONSE, &out.base);
}

uint32_t backend_id(const backend_t *be) { return registry_id(shell_registry(be->sh)); }
rconn_t *backend_redis(const backend_t *be) { return shell_redis(be->sh); }
const char *backend_prefix(const backend_t *be) { return be->o.redis_prefix; }

/* The newest authenticated link to gateway gw_id (a reconnecting gateway may briefly have two). */
static blink_t *link_to_gateway(backend_t *be, uint32_t gw_id)
{
    blink_t *best = NULL;
    for (blink_t *l = be->links; l; l = l->next)
        if (l->gw_id == gw_id && link_up(l) && !conn_is_closing(l->conn) &&
            (!best || l->id > best->id))
            best = l;
    return best;
}

int backend_gateway_linked(backend_t *be, uint32_t gw_id) { return link_to_gateway(be, gw_id) != NULL; }

void backend_set_congested(backend_t *be, int on, const char *why)
{
    on = !!on;
    if (be->congested == on)
        return;
    be->congested = on;
    if (on)
        log_warn("congested", "why=\"%s\"", why);
    else
        log_info("smooth", "why=\"%s\"", why);
    if (!shell_draining(be->sh)) /* draining (3) outranks both */
        registry_set_status(shell_registry(be->sh), on ? REG_STATUS_CONGESTED : REG_STATUS_SMOOTH);
}

int backend_congested(const backend_t *be) { return be->congested; }

size_t backend_gateways_live(backend_t *be, uint32_t *ids, size_t max)
{
    uint64_t now = uv_now(be->loop);
    size_t n = 0;
    for (blink_t *l = be->links; l; l = l->next) {
        if (!link_up(l) || conn_is_closing(l->conn) || now - l->last_rx_ms > (uint64_t)be->o.link_dead_ms)
            continue;
        size_t k = 0;
        while (k < n && ids[k] != l->gw_id)
            k++;
        if (k == n && n < max)
            ids[n++] = l->gw_id;
    }
    return n;
}

void backend_bind(backend_t *be, const backend_req_t *req, uint64_t user)
{
    blink_t *l = find_link(be, req->link_id);
    if (!l || !link_up(l))
        return;
    uint8_t b[16];
    put_u64(b, req->session);
    put_u64(b + 8, user);
    (void)link_send(l->conn, LINK_BIND, 0, b, sizeof b);
}

int backend_push(backend_t *be, uint32_t gw_id, uint64_t session, uint16_t type,
                 const ProtobufCMessage *msg)
{
    blink_t *l = link_to_gateway(be, gw_id);
    if (!l)
        return -1;
    size_t n = msg ? protobuf_c_message_get_packed_size(msg) : 0;
    uint8_t *p = link_begin_delivery(l->conn, LINK_PUSH, 0, session, type, 0, n);
    if (!p)
        return -1;
    if (n)
        protobuf_c_message_pack(msg, p);
    link_commit_delivery(l->conn, LINK_PUSH, n);
    return 0;
}

int backend_bind_game(backend_t *be, uint32_t gw_id, uint64_t session, uint32_t game_id,
                      uint64_t match_id)
{
    blink_t *l = link_to_gateway(be, gw_id);
    if (!l)
        return -1;
    uint8_t b[20];
    put_u64(b, session);
    put_u32(b + 8, game_id);
    put_u64(b + 12, match_id);
    return link_send(l->conn, LINK_BIND_GAME, 0, b, sizeof b);
}

int backend_push_packed(backend_t *be, uint32_t gw_id, uint64_t session, uint16_t type,
                        const uint8_t *payload, size_t len)
{
    blink_t *l = link_to_gateway(be, gw_id);
    if (!l)
        return -1;
    uint8_t *p = link_begin_delivery(l->conn, LINK_PUSH, 0, session, type, 0, len);
    if (!p)
        return -1;
    memcpy(p, payload, len);
    link_commit_delivery(l->conn, LINK_PUSH, len);
    return 0;
}

void backend_user_online(backend_t *be, uint64_t user, uint32_t gw_id, uint64_t session)
{
    uint8_t b[20];
    put_u64(b, user);
    put_u32(b + 8, gw_id);
    put_u64(b + 12, session);
    for (blink_t *l = be->links; l; l = l->next)
        if (link_up(l) && !conn_is_closing(l->conn))
            (void)link_send(l->conn, LINK_USER_ONLINE, 0, b, sizeof b);
}

int backend_kick(backend_t *be, uint32_t gw_id, uint64_t session, ErrorCode code, const char *reason)
{
    blink_t *l = link_to_gateway(be, gw_id);
    if (!l)
        return -1;
    size_t rl = strlen(reason);
    if (rl > LINK_KICK_REASON_MAX)
        rl = LINK_KICK_REASON_MAX;
    uint8_t b[LINK_KICK_PREFIX + LINK_KICK_REASON_MAX];
    put_u64(b, session);
    put_u16(b + 8, (uint16_t)code);
    memcpy(b + LINK_KICK_PREFIX, reason, rl);
    return link_send(l->conn, LINK_KICK, 0, b, LINK_KICK_PREFIX + rl);
}
int backend_draining(const backend_t *be) { return shell_draining(be->sh); }
void backend_set_load(backend_t *be, int games, int players) { registry_set_load(shell_registry(be->sh), games, players); }

int backend_add_reload(backend_t *be, const char *path, admin_reload_work_fn work,
                       admin_reload_apply_fn apply, void *ud)
{
    return shell_add_reload(be->sh, path, work, apply, ud);
}

int backend_set_field(backend_t *be, const char *name, const char *value)
{
    return registry_set_field(shell_registry(be->sh), name, value);
}
void backend_set_ud(backend_t *be, void *ud) { be->o.ud = ud; }
metrics_t *backend_metrics(const backend_t *be) { return shell_metrics(be->sh); }
void backend_set_ready(backend_t *be, int (*ready)(void *arg, char *why, size_t n), void *arg)
{
    be->ready = ready;
    be->ready_arg = arg;
}

void backend_free(backend_t *be)
{
    shell_free(be->sh);
    pb_arena_free(&be->arena);
    sodium_memzero(be->key, sizeof be->key);
    xfree(be);
}
