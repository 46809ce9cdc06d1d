/* listeners: the gateway's client listeners, one per transport whose address is set
 * (LISTEN_ADDR, TLS_LISTEN_ADDR, WS_LISTEN_ADDR, WSS_LISTEN_ADDR), their transport setups
 * (xport.h), the TLS context and its reload, and the per-transport metrics. Accepted conns go
 * to the session layer, which never learns which transport they speak. */
#ifndef GATEWAY_LISTENERS_H
#define GATEWAY_LISTENERS_H

#include <stddef.h>

#include "config.h"
#include "gateway.h"

typedef struct listeners listeners_t;

/* Binds and listens on every transport whose address is set. Returns NULL (after logging
 * why) on a bad address, a failed bind, a TLS listener without a loadable certificate, or
 * no listener at all. */
listeners_t *listeners_new(gw_t *gw, const config_t *cfg);
/* The host and port to advertise in the registry: the TCP listener's, else the first one's. */
int listeners_port(const listeners_t *ls);
const char *listeners_host(const listeners_t *ls);
/* Reloads TLS_CERT_FILE and TLS_KEY_FILE. Returns 0 (msg describes the new certificate), -1
 * (the old one stays; msg says why) or -2 when no TLS listener is configured. Logged and
 * counted either way. */
int listeners_reload_tls(listeners_t *ls, char *msg, size_t n);
/* Per-transport gauges and counters for /metrics. */
void listeners_collect(const listeners_t *ls, metrics_t *m);
/* Stops accepting (the drain). */
void listeners_close(listeners_t *ls);
/* Frees, once every conn is closed and the loop has run the close callbacks. */
void listeners_free(listeners_t *ls);

#endif
