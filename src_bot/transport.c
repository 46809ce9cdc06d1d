/* transport: the bot's --transport (tcp, tls, ws, wss), --ca-file, --insecure, --server-name
 * and --ws-path. One client-role xport (common/xport.h)
 * and, for TLS, one client TLS context, shared by every bot of the run. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "bot.h"
#include "frame.h"
#include "log.h"
#include "util.h"
#include "xport.h"

/* Debian's bundle of the system's trusted CAs (package ca-certificates). */
#define SYSTEM_CA_FILE "/etc/ssl/certs/ca-certificates.crt"

static int kind_of(const char *name)
{
    for (int k = 0; k < XPORT_KINDS; k++)
        if (strcmp(name, xport_kind_name(k)) == 0)
            return k;
    return -1;
}

/* The host part of the first --gateway item: the default TLS server name and WebSocket Host. */
static void first_gateway_host(const run_t *run, char *out, size_t n)
{
    char item[256];
    size_t len = strcspn(run->gateway, ",");
    if (len >= sizeof item)
        len = sizeof item - 1;
    memcpy(item, run->gateway, len);
    item[len] = '\0';
    int port;
    if (addr_split(item, out, n, &port) < 0)
        snprintf(out, n, "%s", item);
}

int bot_transport_setup(run_t *run, const config_t *cfg)
{
    const char *name = config_str(cfg, "BOT_TRANSPORT");
    int kind = kind_of(name);
    if (kind < 0) {
        fprintf(stderr, "bot: --transport must be tcp, tls, ws or wss, got '%s'\n", name);
        return -1;
    }
    snprintf(run->transport, sizeof run->transport, "%s", name);
    if (kind == XPORT_TCP)
        return 0;
    char server_name[256];
    snprintf(server_name, sizeof server_name, "%s", config_str(cfg, "BOT_SERVER_NAME"));
    if (!*server_name)
        first_gateway_host(run, server_name, sizeof server_name);
    if (kind == XPORT_TLS || kind == XPORT_WSS) {
        int insecure = config_int(cfg, "BOT_INSECURE") != 0;
        const char *ca = config_str(cfg, "BOT_CA_FILE");
        if (insecure && *ca) {
            fprintf(stderr, "bot: --insecure and --ca-file exclude each other\n");
            return -1;
        }
        char err[256];
        run->tls = tls_ctx_client(insecure ? NULL : (*ca ? ca : SYSTEM_CA_FILE), err, sizeof err);
        if (!run->tls) {
            fprintf(stderr, "bot: TLS client context: %s\n", err);
            return -1;
        }
    }
    xport_opts_t o = {
        .kind = (xport_kind_t)kind,
        .client = 1,
        .tls = run->tls,
        .server_name = server_name,
        .handshake_ms = (uint32_t)(run->timeout_ms < UINT32_MAX ? run->timeout_ms : UINT32_MAX),
        .ws_max_msg = run->max_frame + FRAME_HDR_LEN,
        .ws_path = config_str(cfg, "BOT_WS_PATH"),
    };
    run->xport = xport_new(&o);
    if (!run->xport) {
        bot_transport_cleanup(run);
        fprintf(stderr, "bot: cannot set up transport %s (--ws-path must be /... of visible "
                        "ASCII)\n", name);
        return -1;
    }
    return 0;
}

void bot_transport_cleanup(run_t *run)
{
    if (run->xport)
        xport_free(run->xport);
    run->xport = NULL;
    if (run->tls)
        tls_ctx_free(run->tls);
    run->tls = NULL;
}

void bot_transport_report(const run_t *run, FILE *f)
{
    if (!run->xport)
        return;
    const xport_stats_t *st = xport_stats(run->xport);
    fprintf(f, "transport %s: %" PRIu64 " handshakes", run->transport, st->handshakes);
    for (int i = 0; i < XF_REASONS; i++)
        if (st->failures[i])
            fprintf(f, ", %" PRIu64 " failed (%s)", st->failures[i], xport_fail_name(i));
    fputc('\n', f);
}
