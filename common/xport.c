/* xport: transport setups shared by the conns of a listener or a client. */
#include "xport.h"

#include <string.h>

#include "alloc.h"
#include "conn_internal.h"
#include "log.h"

xport_t *xport_new(const xport_opts_t *o)
{
    if ((o->kind == XPORT_TLS || o->kind == XPORT_WSS) && !o->tls) {
        log_error("bad_config", "transport=%s reason=\"no TLS context\"", xport_kind_name(o->kind));
        return NULL;
    }
    if ((o->kind == XPORT_WS || o->kind == XPORT_WSS) && !o->ws_max_msg) {
        log_error("bad_config", "transport=%s reason=\"no WebSocket message bound\"",
                  xport_kind_name(o->kind));
        return NULL;
    }
    xport_t *x = xcalloc(1, sizeof *x);
    x->o = *o;
    x->origins = xstrdup(o->ws_origins ? o->ws_origins : "");
    x->server_name = xstrdup(o->server_name ? o->server_name : "");
    x->o.ws_origins = x->origins;
    x->o.server_name = x->server_name;
    if (!x->o.ws_handshake_max)
        x->o.ws_handshake_max = 8192;
    return x;
}

void xport_free(xport_t *x)
{
    if (!x)
        return;
    xfree(x->origins);
    xfree(x->server_name);
    xfree(x);
}

xport_kind_t xport_kind(const xport_t *x) { return x->o.kind; }
const xport_stats_t *xport_stats(const xport_t *x) { return &x->st; }

const char *xport_kind_name(int kind)
{
    static const char *n[XPORT_KINDS] = {"tcp", "tls", "ws", "wss"};
    return kind >= 0 && kind < XPORT_KINDS ? n[kind] : "?";
}

const char *xport_fail_name(int reason)
{
    static const char *n[XF_REASONS] = {"timeout",      "not_tls",    "tls_version", "tls_other",
                                        "http_bad",     "http_method", "http_path",  "ws_version",
                                        "ws_key",       "origin",     "too_large",   "peer_closed",
                                        "ws_response"};
    return reason >= 0 && reason < XF_REASONS ? n[reason] : "?";
}
