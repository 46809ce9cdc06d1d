/* listeners: one uv_tcp_t listener per configured transport. */
#include "listeners.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "alloc.h"
#include "frame.h"
#include "log.h"
#include "session.h"
#include "supervisor.h"
#include "util.h"
#include "xport.h"

typedef struct listener {
    uv_tcp_t tcp;
    listeners_t *ls;
    xport_t *x; /* NULL: plain TCP */
    int kind;
    int on;
    int port;
    uint64_t accepted;
    char host[256];
} listener_t;

struct listeners {
    gw_t *gw;
    listener_t l[XPORT_KINDS];
    tls_ctx_t *tls;
    char cert_file[1024], key_file[1024];
    uint64_t reloads_ok, reloads_failed;
    int first; /* kind of the listener advertised */
};

static const char *const ADDR_OPT[XPORT_KINDS] = {"LISTEN_ADDR", "TLS_LISTEN_ADDR", "WS_LISTEN_ADDR",
                                                  "WSS_LISTEN_ADDR"};

static void on_client(uv_stream_t *server, int status)
{
    listener_t *l = server->data;
    if (status < 0) {
        log_warn("accept_failed", "transport=%s error=%s", xport_kind_name(l->kind), uv_strerror(status));
        return;
    }
    l->accepted++;
    sessions_accept(l->ls->gw->sessions, server, l->x);
}

static int listen_on(listeners_t *ls, int kind, const char *addr)
{
    listener_t *l = &ls->l[kind];
    int port;
    struct sockaddr_storage ss;
    if (addr_split(addr, l->host, sizeof l->host, &port) < 0 || addr_make(l->host, port, &ss) != 0) {
        log_error("bad_config", "option=%s value=%s reason=not_numeric", ADDR_OPT[kind], addr);
        return -1;
    }
    uv_tcp_init(ls->gw->loop, &l->tcp);
    l->tcp.data = l;
    l->on = 1;
    int rc;
    if (getenv("GATEWAY_WORKER")) {
        /* a worker: one of the SO_REUSEPORT group its supervisor holds the port for */
        int fd = reuseport_socket((struct sockaddr *)&ss, 0);
        rc = fd < 0 ? uv_translate_sys_error(-fd) : uv_tcp_open(&l->tcp, fd);
        if (fd >= 0 && rc != 0)
            close(fd);
    } else {
        rc = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, 0);
    }
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&l->tcp, 4096, on_client);
    if (rc != 0) {
        log_error("listen_failed", "transport=%s addr=%s error=%s", xport_kind_name(kind), addr,
                  uv_strerror(rc));
        return -1;
    }
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&bound, &blen);
    l->port = addr_port((struct sockaddr *)&bound);
    if (kind != XPORT_TCP)
        log_info("listening_transport", "transport=%s addr=%s port=%d", xport_kind_name(kind), l->host,
                 l->port);
    return 0;
}

static xport_t *make_xport(listeners_t *ls, int kind, const config_t *cfg)
{
    const gw_settings_t *s = &ls->gw->s;
    int64_t tls_ms = config_int(cfg, "TLS_HANDSHAKE_MS"), ws_ms = config_int(cfg, "WS_HANDSHAKE_MS");
    xport_opts_t o = {
        .kind = (xport_kind_t)kind,
        .tls = ls->tls,
        .handshake_ms = (uint32_t)(kind == XPORT_TLS ? tls_ms : kind == XPORT_WS ? ws_ms : tls_ms + ws_ms),
        .ws_max_msg = s->max_frame + FRAME_HDR_LEN,
        .ws_handshake_max = (uint32_t)config_int(cfg, "WS_HANDSHAKE_MAX"),
        .ws_origins = config_str(cfg, "WS_ALLOWED_ORIGINS"),
        .ws_ping_rate = (double)s->rate_limit,
        .ws_ping_burst = (double)s->rate_burst,
    };
    return xport_new(&o);
}

listeners_t *listeners_new(gw_t *gw, const config_t *cfg)
{
    listeners_t *ls = xcalloc(1, sizeof *ls);
    ls->gw = gw;
    ls->first = -1;
    snprintf(ls->cert_file, sizeof ls->cert_file, "%s", config_str(cfg, "TLS_CERT_FILE"));
    snprintf(ls->key_file, sizeof ls->key_file, "%s", config_str(cfg, "TLS_KEY_FILE"));
    if (*config_str(cfg, "TLS_LISTEN_ADDR") || *config_str(cfg, "WSS_LISTEN_ADDR")) {
        char err[512];
        ls->tls = tls_ctx_server(ls->cert_file, ls->key_file, err, sizeof err);
        if (!ls->tls) {
            log_error("tls_config_failed", "cert=%s key=%s error=\"%s\"", ls->cert_file, ls->key_file, err);
            goto fail;
        }
        char desc[512];
        tls_ctx_describe(ls->tls, desc, sizeof desc);
        log_info("tls_loaded", "cert=%s %s", ls->cert_file, desc);
    }
    for (int k = 0; k < XPORT_KINDS; k++) {
        const char *addr = config_str(cfg, ADDR_OPT[k]);
        ls->l[k].ls = ls;
        ls->l[k].kind = k;
        if (!*addr)
            continue;
        if (k != XPORT_TCP && !(ls->l[k].x = make_xport(ls, k, cfg)))
            goto fail;
        if (listen_on(ls, k, addr) != 0)
            goto fail;
        if (ls->first < 0)
            ls->first = k;
    }
    if (ls->first < 0) {
        log_error("bad_config", "%s", "reason=\"no listener: set LISTEN_ADDR, TLS_LISTEN_ADDR, WS_LISTEN_ADDR or WSS_LISTEN_ADDR\"");
        goto fail;
    }
    return ls;
fail:
    listeners_close(ls);
    return NULL; /* the process exits: what was allocated goes with it */
}

int listeners_port(const listeners_t *ls) { return ls->l[ls->first].port; }
const char *listeners_host(const listeners_t *ls) { return ls->l[ls->first].host; }

typedef struct tls_load {
    tls_ctx_t *fresh; /* NULL on failure */
    char err[512];
} tls_load_t;

void *listeners_tls_load(void *ud)
{
    listeners_t *ls = ud;
    tls_load_t *r = xcalloc(1, sizeof *r);
    if (ls->tls) /* set at start, never changed after */
        r->fresh = tls_ctx_server(ls->cert_file, ls->key_file, r->err, sizeof r->err);
    return r;
}

int listeners_tls_apply(void *ud, void *loaded, char *msg, size_t n)
{
    listeners_t *ls = ud;
    tls_load_t *r = loaded;
    int status = 200;
    if (!ls->tls) {
        snprintf(msg, n, "no TLS listener (TLS_LISTEN_ADDR and WSS_LISTEN_ADDR are empty)\n");
        status = 409;
    } else if (!r->fresh) {
        ls->reloads_failed++;
        log_error("tls_reload_failed", "cert=%s key=%s error=\"%s\" action=\"kept the previous certificate\"",
                  ls->cert_file, ls->key_file, r->err);
        snprintf(msg, n, "reload failed, the previous certificate stays: %s\n", r->err);
        status = 500;
    } else {
        tls_ctx_adopt(ls->tls, r->fresh);
        ls->reloads_ok++;
        char desc[512];
        tls_ctx_describe(ls->tls, desc, sizeof desc);
        log_info("tls_reloaded", "cert=%s %s", ls->cert_file, desc);
        snprintf(msg, n, "reloaded %s: %s\n", ls->cert_file, desc);
    }
    xfree(r);
    return status;
}

void listeners_collect(const listeners_t *ls, metrics_t *m)
{
    for (int k = 0; k < XPORT_KINDS; k++) {
        const listener_t *l = &ls->l[k];
        if (!l->on)
            continue;
        char labels[96];
        snprintf(labels, sizeof labels, "transport=%s", xport_kind_name(k));
        metrics_set_counter(m, "cluster_gateway_transport_connections_total",
                            "client connections accepted, by transport", labels, l->accepted);
        if (!l->x)
            continue;
        const xport_stats_t *st = xport_stats(l->x);
        metrics_set_counter(m, "cluster_gateway_transport_handshakes_total",
                            "transport handshakes (TLS, WebSocket upgrade) completed", labels, st->handshakes);
        for (int r = 0; r < XF_REASONS; r++) {
            snprintf(labels, sizeof labels, "transport=%s,reason=%s", xport_kind_name(k), xport_fail_name(r));
            metrics_set_counter(m, "cluster_gateway_transport_handshake_failures_total",
                                "transport handshakes failed, by transport and reason", labels, st->failures[r]);
        }
        if (k != XPORT_WS && k != XPORT_WSS)
            continue;
        for (int c = 0; c < XPORT_WS_CODES; c++) {
            if (!st->ws_closes[c])
                continue;
            if (c == XPORT_WS_CODES - 1)
                snprintf(labels, sizeof labels, "transport=%s,code=other", xport_kind_name(k));
            else
                snprintf(labels, sizeof labels, "transport=%s,code=%d", xport_kind_name(k), 1000 + c);
            metrics_set_counter(m, "cluster_gateway_ws_closes_sent_total",
                                "WebSocket close frames sent, by close code", labels, st->ws_closes[c]);
        }
    }
    if (ls->tls) {
        metrics_set_counter(m, "cluster_gateway_tls_reloads_total", "certificate reloads", "result=ok",
                            ls->reloads_ok);
        metrics_set_counter(m, "cluster_gateway_tls_reloads_total", "certificate reloads", "result=failed",
                            ls->reloads_failed);
    }
}

static void noop_close(uv_handle_t *h) { (void)h; }

void listeners_close(listeners_t *ls)
{
    for (int k = 0; k < XPORT_KINDS; k++) {
        if (ls->l[k].on && !uv_is_closing((uv_handle_t *)&ls->l[k].tcp))
            uv_close((uv_handle_t *)&ls->l[k].tcp, noop_close);
    }
}

void listeners_free(listeners_t *ls)
{
    if (!ls)
        return;
    for (int k = 0; k < XPORT_KINDS; k++)
        xport_free(ls->l[k].x);
    tls_ctx_free(ls->tls);
    xfree(ls);
}
