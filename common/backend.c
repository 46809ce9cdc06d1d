/* backend: gateway links on the backend side, dispatch by table, registry and drain. */
#include "backend.h"

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "alloc.h"
#include "conn.h"
#include "epoch.h"
#include "frame.h"
#include "link.h"
#include "log.h"
#include "pb.h"
#include "registry.h"
#include "rconn.h"
#include "util.h"

#define HANDSHAKE_TIMEOUT_MS 2000
#define LINK_WQ_MAX (64u * 1024u * 1024u)
#define DRAIN_GRACE_MS 200 /* lets requests already on the wire arrive after DRAINING */
#define DRAIN_FORCE_GRACE_MS 5000

typedef enum { BL_WAIT_HELLO, BL_WAIT_AUTH, BL_UP } bl_state_t;

typedef struct blink {
    backend_t *be;
    conn_t *conn;
    uint32_t id;
    bl_state_t state;
    uint32_t gw_id;
    uint8_t nonce_g[LINK_NONCE_LEN];
    uint8_t nonce_b[LINK_NONCE_LEN];
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
    uv_signal_t sigterm, sigint;
    rconn_t *rc;
    registry_t *reg;
    epoch_t *epoch; /* notices Redis losing its data (logged and counted) */
    pb_arena_t arena;
    uint8_t key[LINK_KEY_LEN];
    blink_t *links;
    uint32_t next_link_id;
    unsigned inflight;
    int draining;
    int congested;
    int drain_forced;
    uint64_t drain_started_ms;
    int deregistering;
    int closed_handles;
    char advertise[256];
    int port;
    metrics_t *metrics;
    admin_t *admin;
    int (*ready)(void *ud, char *why, size_t n);
    uint64_t requests[METRICS_ENUM_SLOTS];   /* by packet type */
    uint64_t errors_sent[METRICS_ENUM_SLOTS]; /* by ErrorCode */
    uint64_t redis_disconnects;
};

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
    if (!l || l->state != BL_UP)
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
    if (!l || l->state != BL_UP)
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
    if (!l || l->state != BL_UP)
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

static int on_link_frame(void *ctx, const frame_hdr_t *h, const uint8_t *body)
{
    blink_t *l = ctx;
    backend_t *be = l->be;
    l->last_rx_ms = uv_now(be->loop);
    switch (l->state) {
    case BL_WAIT_HELLO:
        if (h->type != LINK_HELLO || h->len != LINK_HELLO_LEN || body[0] != LINK_VERSION ||
            body[1] != PEER_GATEWAY) {
            link_drop(l, "bad_hello");
            return 1;
        }
        l->gw_id = get_u32(body + 2);
        memcpy(l->nonce_g, body + 6, LINK_NONCE_LEN);
        randombytes_buf(l->nonce_b, LINK_NONCE_LEN);
        {
            uint8_t ch[LINK_CHALLENGE_LEN];
            uint32_t my_id = registry_id(be->reg);
            ch[0] = LINK_VERSION;
            ch[1] = (uint8_t)be->o.peer_type;
            put_u32(ch + 2, my_id);
            memcpy(ch + 6, l->nonce_b, LINK_NONCE_LEN);
            link_mac(ch + 6 + LINK_NONCE_LEN, be->key, "be->gw", l->nonce_g, l->nonce_b,
                     (uint8_t)be->o.peer_type, my_id, l->gw_id);
            (void)link_send(l->conn, LINK_CHALLENGE, 0, ch, sizeof ch);
        }
        l->state = BL_WAIT_AUTH;
        return 0;
    case BL_WAIT_AUTH:
        if (h->type != LINK_AUTH || h->len != LINK_MAC_LEN ||
            link_mac_verify(body, be->key, "gw->be", l->nonce_b, l->nonce_g,
                            (uint8_t)be->o.peer_type, registry_id(be->reg), l->gw_id) != 0) {
            link_drop(l, "auth_failed");
            return 1;
        }
        l->state = BL_UP;
        (void)link_send(l->conn, LINK_READY, 0, NULL, 0);
        if (be->draining)
            (void)link_send(l->conn, LINK_DRAINING, 0, NULL, 0);
        log_info("link_up", "peer=%s gateway=%u", l->peer, l->gw_id);
        return 0;
    case BL_UP:
        break;
    }
    switch (h->type) {
    case LINK_PING:
        if (h->len == 8)
            (void)link_send(l->conn, LINK_PONG, 0, body, 8);
        return 0;
    case LINK_PONG:
        return 0;
    case LINK_SESSION_CLOSED:
        if (h->len != 16) {
            link_drop(l, "short_session_closed");
            return 1;
        }
        if (be->o.on_session_closed)
            be->o.on_session_closed(be, l->gw_id, get_u64(body), get_u64(body + 8), be->o.ud);
        return 0;
    case LINK_GAME_LOST:
        if (h->len != 4) {
            link_drop(l, "short_game_lost");
            return 1;
        }
        if (be->o.on_game_lost)
            be->o.on_game_lost(be, l->gw_id, get_u32(body), be->o.ud);
        return 0;
    case LINK_REQUEST:
    case LINK_REQUEST_SRC: {
        link_msg_t m;
        if (link_parse(h->type, body, h->len, &m) < 0) {
            link_drop(l, "short_request");
            return 1;
        }
        dispatch(be, l, h->seq, &m);
        return conn_is_closing(l->conn);
    }
    default:
        link_drop(l, "unexpected_kind");
        return 1;
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
    for (blink_t **pp = &be->links; *pp; pp = &(*pp)->next) {
        if (*pp == l) {
            *pp = l->next;
            break;
        }
    }
    if (l->state == BL_UP)
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
    l->state = BL_WAIT_HELLO;
    l->opened_ms = l->last_rx_ms = uv_now(be->loop);
    frame_parser_init(&l->parser, LINK_MAX_FRAME);
    l->conn = conn_new(be->cl, LINK_WQ_MAX, on_link_read, on_link_close, l);
    if (conn_accept(l->conn, server) != 0)
        return; /* on_link_close frees l */
    if (be->deregistering) {
        conn_close(l->conn, CONN_CLOSE_LOCAL);
        return;
    }
    conn_peer_name(l->conn, l->peer, sizeof l->peer);
    l->next = be->links;
    be->links = l;
}

static void finish_stop(void *ud);

static void on_handle_closed(uv_handle_t *h) { (void)h; }

static void on_timer(uv_timer_t *t)
{
    backend_t *be = t->data;
    uint64_t now = uv_now(be->loop);
    for (blink_t *l = be->links; l; l = l->next) {
        if (conn_is_closing(l->conn))
            continue;
        if (l->state != BL_UP && now - l->opened_ms > HANDSHAKE_TIMEOUT_MS)
            link_drop(l, "handshake_timeout");
        else if (l->state == BL_UP && now - l->last_rx_ms > (uint64_t)be->o.link_dead_ms * 3)
            link_drop(l, "silent");
    }
    if (be->draining && !be->deregistering) {
        uint64_t waited = now - be->drain_started_ms;
        int busy = be->inflight > 0 || (be->o.busy && be->o.busy(be->o.ud));
        int timed_out = waited >= (uint64_t)be->o.drain_timeout_ms;
        /* At the timeout the daemon is told to wrap up (abort matches, record them); it gets
         * DRAIN_FORCE_GRACE_MS more to finish that before the stop goes on regardless. */
        if (timed_out && busy && !be->drain_forced) {
            be->drain_forced = 1;
            log_warn("drain_timeout", "inflight=%u action=force", be->inflight);
            if (be->o.on_drain_timeout)
                be->o.on_drain_timeout(be->o.ud);
            busy = be->inflight > 0 || (be->o.busy && be->o.busy(be->o.ud));
        }
        int forced_out = be->drain_forced &&
                         waited >= (uint64_t)be->o.drain_timeout_ms + DRAIN_FORCE_GRACE_MS;
        if ((!busy && waited >= DRAIN_GRACE_MS) || forced_out) {
            if (busy)
                log_warn("drain_gave_up", "inflight=%u", be->inflight);
            be->deregistering = 1;
            registry_deregister(be->reg, finish_stop, be);
        }
    }
}

static void finish_stop(void *ud)
{
    backend_t *be = ud;
    log_info("stopped", "inflight=%u", be->inflight);
    admin_close(be->admin);
    be->admin = NULL;
    if (be->o.on_stop)
        be->o.on_stop(be->o.ud);
    for (blink_t *l = be->links; l; l = l->next)
        conn_close_after_flush(l->conn, CONN_CLOSE_LOCAL);
    uv_close((uv_handle_t *)&be->listener, on_handle_closed);
    uv_close((uv_handle_t *)&be->timer, on_handle_closed);
    uv_close((uv_handle_t *)&be->sigterm, on_handle_closed);
    uv_close((uv_handle_t *)&be->sigint, on_handle_closed);
    /* Closing the handles restored SIGTERM's default action: a second SIGTERM (a supervisor
     * repeating itself) would now turn this clean exit into a death by signal. */
    signal(SIGTERM, SIG_IGN);
    rconn_close(be->rc);
    registry_free(be->reg);
    conn_loop_close(be->cl);
}

void backend_drain(backend_t *be)
{
    if (be->draining)
        return;
    be->draining = 1;
    be->drain_started_ms = uv_now(be->loop);
    log_info("draining", "inflight=%u timeout_ms=%lld", be->inflight, (long long)be->o.drain_timeout_ms);
    registry_set_status(be->reg, REG_STATUS_DRAINING);
    for (blink_t *l = be->links; l; l = l->next)
        if (l->state == BL_UP)
            (void)link_send(l->conn, LINK_DRAINING, 0, NULL, 0);
}

static void on_signal(uv_signal_t *s, int signum)
{
    backend_t *be = s->data;
    log_info("signal", "signum=%d action=%s", signum, be->draining ? "already_draining" : "drain");
    backend_drain(be);
}

static void on_redis(rconn_t *r, int up, void *ud)
{
    backend_t *be = ud;
    if (!up)
        be->redis_disconnects++;
    registry_redis_event(be->reg, up);
    if (up)
        epoch_redis_up(be->epoch);
    if (up && be->o.on_redis_up && be->o.ud)
        be->o.on_redis_up(be, be->o.ud);
}

/* ---- admin endpoint ---- */

static int admin_ready(void *ud, char *why, size_t n)
{
    backend_t *be = ud;
    if (be->draining)
        snprintf(why, n, "draining");
    else if (!be->rc || !rconn_up(be->rc))
        snprintf(why, n, "redis down");
    else if (!be->reg || !registry_registered(be->reg))
        snprintf(why, n, "not registered");
    else if (be->ready && !be->ready(be->o.ud, why, n))
        return 0;
    else
        return 1;
    return 0;
}

static void admin_drain(void *ud) { backend_drain(ud); }

static void collect(metrics_t *m, void *ud)
{
    backend_t *be = ud;
    metrics_set_gauge(m, "cluster_server_id", "registry id of this daemon (0: not registered yet)",
                      NULL, (double)registry_id(be->reg));
    metrics_set_gauge(m, "cluster_registered", "1 while registered in Redis", NULL,
                      registry_registered(be->reg));
    metrics_set_gauge(m, "cluster_draining", "1 once a graceful stop started", NULL, be->draining);
    metrics_set_gauge(m, "cluster_congested", "1 while the daemon says it is congested (registry status 2)",
                      NULL, be->congested);
    metrics_set_gauge(m, "cluster_redis_up", "1 while the Redis connection is up", "conn=registry",
                      rconn_up(be->rc));
    metrics_set_gauge(m, "cluster_redis_rtt_seconds", "round trip of the last Redis watchdog PING",
                      "conn=registry", (double)rconn_last_rtt_us(be->rc) / 1e6);
    metrics_set_counter(m, "cluster_redis_disconnects_total", "Redis connections lost",
                        "conn=registry", be->redis_disconnects);
    metrics_set_counter(m, "cluster_redis_data_lost_total", "times Redis came back without the cluster's data (epoch changed)",
                        NULL, epoch_losses(be->epoch));
    metrics_set_gauge(m, "cluster_backend_inflight_requests", "requests received and not yet answered",
                      NULL, be->inflight);
    metrics_set_enum_counts(m, "cluster_backend_requests_total", "requests received from gateways, by packet type",
                            "type", &packet_type__descriptor, be->requests);
    metrics_set_enum_counts(m, "cluster_backend_errors_sent_total", "error responses sent, by ErrorCode",
                            "code", &error_code__descriptor, be->errors_sent);
    for (blink_t *l = be->links; l; l = l->next) {
        if (l->state != BL_UP || conn_is_closing(l->conn))
            continue;
        char labels[64];
        snprintf(labels, sizeof labels, "peer_type=gateway,peer_id=%u", l->gw_id);
        metrics_set_gauge(m, "cluster_link_up", "1 while the link to that peer is up (authenticated)",
                          labels, 1);
    }
}

backend_t *backend_new(uv_loop_t *loop, const backend_opts_t *opts)
{
    backend_t *be = xcalloc(1, sizeof *be);
    be->loop = loop;
    be->o = *opts;
    char host[256];
    int port;
    struct sockaddr_storage ss;
    if (addr_split(opts->listen_addr, host, sizeof host, &port) < 0 ||
        addr_make(host, port, &ss) != 0) {
        log_error("bad_listen_addr", "value=%s", opts->listen_addr);
        xfree(be);
        return NULL;
    }
    be->metrics = metrics_new();
    be->cl = conn_loop_new(loop);
    uv_tcp_init(loop, &be->listener);
    be->listener.data = be;
    int rc = uv_tcp_bind(&be->listener, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&be->listener, 1024, on_connection);
    if (rc != 0) {
        log_error("listen_failed", "addr=%s error=%s", opts->listen_addr, uv_strerror(rc));
        uv_close((uv_handle_t *)&be->listener, NULL);
        conn_loop_close(be->cl);
        uv_run(loop, UV_RUN_NOWAIT);
        metrics_free(be->metrics);
        xfree(be);
        return NULL;
    }
    if (admin_enabled(opts->admin_addr)) {
        admin_hooks_t hooks = {.ready = admin_ready, .drain = admin_drain, .ud = be};
        be->admin = admin_new(loop, opts->admin_addr, be->metrics, &hooks);
        if (!be->admin) {
            uv_close((uv_handle_t *)&be->listener, NULL);
            conn_loop_close(be->cl);
            uv_run(loop, UV_RUN_NOWAIT);
            metrics_free(be->metrics);
            xfree(be);
            return NULL;
        }
    }
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    uv_tcp_getsockname(&be->listener, (struct sockaddr *)&bound, &blen);
    be->port = addr_port((struct sockaddr *)&bound);
    if (opts->advertise_addr && *opts->advertise_addr)
        snprintf(be->advertise, sizeof be->advertise, "%s", opts->advertise_addr);
    else if (strcmp(host, "0.0.0.0") != 0 && strcmp(host, "::") != 0)
        snprintf(be->advertise, sizeof be->advertise, "%s", host);
    else
        addr_first_ipv4(be->advertise, sizeof be->advertise);

    link_key_derive(be->key, opts->secret);
    pb_arena_init(&be->arena, opts->msg_budget);
    be->rc = rconn_new(loop, opts->redis_url, "registry", on_redis, be);
    if (!be->rc) {
        log_error("bad_redis_url", "value=%s", opts->redis_url);
        abort(); /* validated by the caller's config check before */
    }
    be->epoch = epoch_new(be->rc, opts->redis_prefix, NULL, NULL);
    be->reg = registry_new(loop, be->rc, opts->redis_prefix, peer_type_name(opts->peer_type),
                           be->advertise, be->port, opts->version, NULL, NULL);
    metrics_on_collect(be->metrics, collect, be);
    if (be->admin)
        admin_publish(be->admin, be->reg, be->advertise);
    uv_timer_init(loop, &be->timer);
    be->timer.data = be;
    uv_timer_start(&be->timer, on_timer, 50, 50);
    uv_signal_init(loop, &be->sigterm);
    uv_signal_init(loop, &be->sigint);
    be->sigterm.data = be->sigint.data = be;
    uv_signal_start(&be->sigterm, on_signal, SIGTERM);
    uv_signal_start(&be->sigint, on_signal, SIGINT);
    log_info("listening", "addr=%s port=%d advertise=%s", host, be->port, be->advertise);
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

uint32_t backend_id(const backend_t *be) { return registry_id(be->reg); }
rconn_t *backend_redis(const backend_t *be) { return be->rc; }
const char *backend_prefix(const backend_t *be) { return be->o.redis_prefix; }

/* The newest authenticated link to gateway gw_id (a reconnecting gateway may briefly have two). */
static blink_t *link_to_gateway(backend_t *be, uint32_t gw_id)
{
    blink_t *best = NULL;
    for (blink_t *l = be->links; l; l = l->next)
        if (l->gw_id == gw_id && l->state == BL_UP && !conn_is_closing(l->conn) &&
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
    if (!be->draining) /* draining (3) outranks both */
        registry_set_status(be->reg, on ? REG_STATUS_CONGESTED : REG_STATUS_SMOOTH);
}

int backend_congested(const backend_t *be) { return be->congested; }

size_t backend_gateways_live(backend_t *be, uint32_t *ids, size_t max)
{
    uint64_t now = uv_now(be->loop);
    size_t n = 0;
    for (blink_t *l = be->links; l; l = l->next) {
        if (l->state != BL_UP || conn_is_closing(l->conn) || now - l->last_rx_ms > (uint64_t)be->o.link_dead_ms)
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
    if (!l || l->state != BL_UP)
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
        if (l->state == BL_UP && !conn_is_closing(l->conn))
            (void)link_send(l->conn, LINK_USER_ONLINE, 0, b, sizeof b);
}

int backend_kick(backend_t *be, uint32_t gw_id, uint64_t session, ErrorCode code, const char *reason)
{
    blink_t *l = link_to_gateway(be, gw_id);
    if (!l)
        return -1;
    size_t rl = strlen(reason);
    if (rl > 200)
        rl = 200;
    uint8_t b[8 + 2 + 200];
    put_u64(b, session);
    put_u16(b + 8, (uint16_t)code);
    memcpy(b + 10, reason, rl);
    return link_send(l->conn, LINK_KICK, 0, b, 10 + rl);
}
int backend_draining(const backend_t *be) { return be->draining; }
void backend_set_load(backend_t *be, int games, int players) { registry_set_load(be->reg, games, players); }

int backend_add_reload(backend_t *be, const char *path, admin_reload_work_fn work,
                       admin_reload_apply_fn apply, void *ud)
{
    return be->admin ? admin_add_reload(be->admin, path, work, apply, ud) : 0;
}

int backend_set_field(backend_t *be, const char *name, const char *value)
{
    return registry_set_field(be->reg, name, value);
}
void backend_set_ud(backend_t *be, void *ud) { be->o.ud = ud; }
metrics_t *backend_metrics(const backend_t *be) { return be->metrics; }
void backend_set_ready(backend_t *be, int (*ready)(void *ud, char *why, size_t n)) { be->ready = ready; }

void backend_free(backend_t *be)
{
    epoch_free(be->epoch);
    pb_arena_free(&be->arena);
    metrics_free(be->metrics);
    sodium_memzero(be->key, sizeof be->key);
    xfree(be);
}
