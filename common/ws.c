/* ws: the WebSocket transport of conn (RFC 6455), over TCP or TLS, either role. The opening
 * handshake is ws_upgrade.c (http-parser); received frames go through wslay's event API
 * (masking rules, control frames, fragments assembled up to the message bound, close
 * handshake, ping answered with pong); our own messages are framed in place at commit time,
 * so a frame queued with reserve/commit is still packed once, where it is sent from. One
 * binary message carries exactly one frame of the wire format; a text message is closed with
 * 1003, a malformed message with 1002, a message over the bound with 1009, a ping flood 1008. */
#include <sodium.h>
#include <string.h>

#include "alloc.h"
#include "conn_internal.h"
#include "frame.h"
#include "log.h"

static int is_client(const conn_x_t *x) { return x->x->o.client; }

/* Counts the close frame we sent, once. */
static void note_close_sent(conn_x_t *x)
{
    if (x->ws_closing || !x->ws || !wslay_event_get_close_sent(x->ws))
        return;
    x->ws_closing = 1;
    uint16_t code = wslay_event_get_status_code_sent(x->ws);
    unsigned slot = code >= 1000 && code < 1000 + XPORT_WS_CODES - 1 ? code - 1000u : XPORT_WS_CODES - 1;
    x->x->st.ws_closes[slot]++;
    log_debug("ws_close_sent", "code=%u", (unsigned)code);
}

/* Stops reading and closes with code once what is queued (pongs) is sent: wslay puts a
 * close in front of its queue, so it is queued after the recv (see ws_on_bytes). */
static void ws_fail(conn_x_t *x, uint16_t code, const char *why)
{
    (void)why;
    if (!x->ws_fail_code)
        x->ws_fail_code = code;
    wslay_event_shutdown_read(x->ws);
}

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *ud)
{
    (void)flags;
    conn_x_t *x = ud;
    if (x->ws_in_len == 0 || x->c->closing) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t k = len < x->ws_in_len ? len : x->ws_in_len;
    memcpy(buf, x->ws_in, k);
    x->ws_in += k;
    x->ws_in_len -= k;
    return (ssize_t)k;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *ud)
{
    (void)flags;
    conn_x_t *x = ud;
    uint8_t *p = conn_raw_reserve(x->c, len);
    if (!p) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    memcpy(p, data, len);
    conn_raw_commit(x->c, len);
    return (ssize_t)len;
}

static int genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *ud)
{
    (void)ctx; (void)ud;
    randombytes_buf(buf, len);
    return 0;
}

/* Pings answered at most ws_ping_rate per second (burst ws_ping_burst): past it, 1008. */
static void on_frame_start(wslay_event_context_ptr ctx, const struct wslay_event_on_frame_recv_start_arg *arg,
                           void *ud)
{
    conn_x_t *x = ud;
    if (arg->opcode != WSLAY_PING || is_client(x) || x->x->o.ws_ping_rate <= 0)
        return;
    uint64_t now = uv_now(x->c->cl->loop);
    x->ping_tokens += (double)(now - x->ping_ms) * x->x->o.ws_ping_rate / 1000.0;
    if (x->ping_tokens > x->x->o.ws_ping_burst)
        x->ping_tokens = x->x->o.ws_ping_burst;
    x->ping_ms = now;
    if (x->ping_tokens < 1.0) {
        log_info("ws_ping_flood", "%s", "action=close code=1008");
        ws_fail(x, WSLAY_CODE_POLICY_VIOLATION, "too many pings");
        return;
    }
    x->ping_tokens -= 1.0;
    (void)ctx;
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *ud)
{
    (void)ctx;
    conn_x_t *x = ud;
    conn_t *c = x->c;
    if (arg->opcode == WSLAY_TEXT_FRAME) {
        ws_fail(x, WSLAY_CODE_UNSUPPORTED_DATA, "binary messages only");
        return;
    }
    if (arg->opcode != WSLAY_BINARY_FRAME || x->ws_closing || c->closing || c->flush_then_close)
        return; /* ping, pong, close: wslay answers them */
    const uint8_t *m = arg->msg;
    size_t n = arg->msg_length;
    uint32_t len = 0;
    if (n >= FRAME_HDR_LEN)
        memcpy(&len, m, 4);
    if (n < FRAME_HDR_LEN || (size_t)be32toh(len) != n - FRAME_HDR_LEN) {
        ws_fail(x, WSLAY_CODE_PROTOCOL_ERROR, "one message must carry exactly one frame");
        return;
    }
    c->on_read(c, m, n);
}

static const struct wslay_event_callbacks CALLBACKS = {
    .recv_callback = recv_cb,
    .send_callback = send_cb,
    .genmask_callback = genmask_cb,
    .on_frame_recv_start_callback = on_frame_start,
    .on_msg_recv_callback = on_msg,
};

/* Sends what wslay queued (pongs, close frames); ends the conn once both sides are done. */
static void ws_pump(conn_t *c)
{
    conn_x_t *x = conn_x(c);
    if (c->closing)
        return;
    if (wslay_event_send(x->ws) != 0 && !c->closing) {
        conn_close(c, CONN_CLOSE_IO);
        return;
    }
    note_close_sent(x);
    if (!c->closing && !c->flush_then_close && !wslay_event_want_read(x->ws) &&
        !wslay_event_want_write(x->ws))
        conn_close_after_flush(c, wslay_event_get_close_received(x->ws) &&
                                          wslay_event_get_status_code_sent(x->ws) != WSLAY_CODE_PROTOCOL_ERROR
                                      ? CONN_CLOSE_EOF
                                      : CONN_CLOSE_PROTOCOL);
}

/* Makes wslay's context (at the upgrade, and again after an idle release). */
static int make_ctx(conn_x_t *x)
{
    int rc = is_client(x) ? wslay_event_context_client_init(&x->ws, &CALLBACKS, x)
                          : wslay_event_context_server_init(&x->ws, &CALLBACKS, x);
    if (rc != 0) {
        x->ws = NULL;
        return -1;
    }
    wslay_event_config_set_max_recv_msg_length(x->ws, x->x->o.ws_max_msg);
    return 0;
}

/* The upgrade is done; wslay's context is made with the first frame's bytes. */
static int open_ws(conn_t *c)
{
    conn_x_t *x = conn_x(c);
    x->ping_tokens = x->x->o.ws_ping_burst;
    x->ping_ms = uv_now(c->cl->loop);
    x->ws_rx_ms = x->ping_ms;
    x->ws_open = 1;
    return 0;
}

/* Follows the frame boundaries of the peer's bytes (headers only: wslay does the parsing that
 * matters), to know when wslay holds nothing. */
static void track_frames(conn_x_t *x, const uint8_t *p, size_t n)
{
    while (n) {
        if (x->ws_frame_left) {
            size_t k = n < x->ws_frame_left ? n : (size_t)x->ws_frame_left;
            x->ws_frame_left -= k;
            p += k;
            n -= k;
            continue;
        }
        x->ws_hdr[x->ws_hdr_have++] = *p++;
        n--;
        if (x->ws_hdr_have < 2)
            continue;
        uint8_t l7 = x->ws_hdr[1] & 0x7f;
        size_t ext = l7 == 126 ? 2 : l7 == 127 ? 8 : 0;
        if (x->ws_hdr_have < 2 + ext + ((x->ws_hdr[1] & 0x80) ? 4u : 0u))
            continue;
        uint64_t len = l7;
        if (ext) {
            len = 0;
            for (size_t i = 0; i < ext; i++)
                len = len << 8 | x->ws_hdr[2 + i];
        }
        if (!(x->ws_hdr[0] & 0x08)) /* a data frame: a message goes on until FIN */
            x->ws_frag = !(x->ws_hdr[0] & 0x80);
        x->ws_frame_left = len;
        x->ws_hdr_have = 0;
    }
}

/* A conn quiet this long before its last read gives wslay's context back after it (a chatty
 * one keeps it: making one costs ~0.3 us and 9.4 KiB). */
#define WS_CTX_KEEP_MS 1000

/* Frees wslay's context when it holds nothing (see conn_x_t). */
static void maybe_release(conn_t *c)
{
    conn_x_t *x = conn_x(c);
    if (!x->ws || c->closing || c->flush_then_close || x->ws_closing || x->ws_fail_code ||
        x->ws_hdr_have || x->ws_frame_left || x->ws_frag || !wslay_event_get_read_enabled(x->ws) ||
        wslay_event_get_queued_msg_count(x->ws) || wslay_event_get_close_received(x->ws) ||
        wslay_event_get_close_sent(x->ws))
        return;
    wslay_event_context_free(x->ws);
    x->ws = NULL;
}

void ws_lower_ready(conn_t *c)
{
    conn_x_t *x = conn_x(c);
    x->up = ws_upgrade_new(is_client(x), x->x->o.ws_handshake_max);
    if (!is_client(x))
        return;
    char req[1024];
    const char *host = *x->x->server_name ? x->x->server_name : "localhost";
    size_t n = ws_upgrade_request(req, sizeof req, host, x->ws_key);
    conn_raw_write(c, req, n);
}

int ws_start(conn_t *c)
{
    ws_lower_ready(c);
    return 0;
}

/* The HTTP upgrade: returns how many bytes it took, or -1 when the conn is done with. */
static long upgrade_feed(conn_t *c, const uint8_t *data, size_t n)
{
    conn_x_t *x = conn_x(c);
    size_t used = 0;
    int r = ws_upgrade_feed(x->up, data, n, &used);
    if (r == WS_UP_MORE)
        return (long)n;
    char reply[640], accept[WS_ACCEPT_LEN + 1] = "";
    int status = r == WS_UP_ETOOBIG ? 431 : 400;
    int reason = r == WS_UP_ETOOBIG ? XF_TOO_LARGE : XF_HTTP_BAD;
    if (is_client(x)) {
        reason = XF_WS_RESPONSE;
        if (r == WS_UP_DONE && ws_upgrade_check_response(x->up, x->ws_key) == 0)
            reason = -1;
    } else if (r == WS_UP_DONE) {
        reason = ws_upgrade_check_request(x->up, x->x->o.ws_origins, accept, &status);
        if (reason == 0)
            reason = -1;
    }
    ws_upgrade_free(x->up);
    x->up = NULL;
    if (!is_client(x))
        conn_raw_write(c, reply, ws_upgrade_reply(reply, sizeof reply, status, accept));
    if (reason >= 0 || open_ws(c) != 0) {
        conn_hs_fail(c, reason >= 0 ? reason : XF_WS_RESPONSE);
        return -1;
    }
    conn_ready(c);
    return c->closing || c->flush_then_close ? -1 : (long)used;
}

void ws_on_bytes(conn_t *c, const uint8_t *data, size_t n)
{
    conn_x_t *x = conn_x(c);
    if (x->up) {
        long used = upgrade_feed(c, data, n);
        if (used < 0 || !x->ws_open)
            return;
        data += used;
        n -= (size_t)used;
    }
    if (!x->ws_open || n == 0)
        return;
    if (!x->ws && make_ctx(x) != 0) {
        conn_close(c, CONN_CLOSE_IO);
        return;
    }
    uint64_t now = uv_now(c->cl->loop);
    int quiet = now - x->ws_rx_ms >= WS_CTX_KEEP_MS;
    x->ws_rx_ms = now;
    track_frames(x, data, n);
    x->ws_in = data;
    x->ws_in_len = n;
    int rc = wslay_event_recv(x->ws);
    x->ws_in = NULL;
    x->ws_in_len = 0;
    if (c->closing)
        return;
    if (rc == WSLAY_ERR_NOMEM) {
        conn_close(c, CONN_CLOSE_IO);
        return;
    }
    if (rc == 0 && x->ws_fail_code) {
        if (wslay_event_send(x->ws) != 0 && !c->closing) {
            conn_close(c, CONN_CLOSE_IO);
            return;
        }
        if (!c->closing)
            (void)wslay_event_queue_close(x->ws, x->ws_fail_code, NULL, 0);
    }
    if (rc != 0) {
        /* Our callbacks did not fail (the conn would be closing): wslay's frame layer refused a
         * frame (a control frame over 125 bytes, a bad length) and queued a close without a
         * status. The RFC's answer is 1002: sent here instead. */
        static const uint8_t CLOSE_1002[] = {0x88, 0x02, 0x03, 0xEA};
        conn_raw_write(c, CLOSE_1002, sizeof CLOSE_1002);
        x->ws_closing = 1;
        x->x->st.ws_closes[WSLAY_CODE_PROTOCOL_ERROR - 1000]++;
        conn_close_after_flush(c, CONN_CLOSE_PROTOCOL);
        return;
    }
    ws_pump(c);
    if (quiet)
        maybe_release(c);
}

static size_t hdr_len(size_t n, int client)
{
    return (n < 126 ? 2u : n < 65536 ? 4u : 10u) + (client ? 4u : 0u);
}

uint8_t *ws_reserve(conn_t *c, size_t n)
{
    conn_x_t *x = conn_x(c);
    if (!x->ws_open || x->ws_closing)
        return NULL;
    size_t hl = hdr_len(n, is_client(x));
    uint8_t *p = conn_raw_reserve(c, hl + n);
    if (!p)
        return NULL;
    x->ws_res = (uint8_t)hl;
    return p + hl;
}

void ws_commit(conn_t *c, size_t n)
{
    conn_x_t *x = conn_x(c);
    int client = is_client(x);
    uint8_t *b = c->out + c->out_len;
    size_t hl = hdr_len(n, client);
    if (hl != x->ws_res) /* committed fewer bytes than reserved: a shorter header */
        memmove(b + hl, b + x->ws_res, n);
    b[0] = 0x82; /* FIN, binary */
    size_t i = 2;
    if (n < 126) {
        b[1] = (uint8_t)n;
    } else if (n < 65536) {
        b[1] = 126;
        b[2] = (uint8_t)(n >> 8);
        b[3] = (uint8_t)n;
        i = 4;
    } else {
        b[1] = 127;
        for (int k = 0; k < 8; k++)
            b[2 + k] = (uint8_t)((uint64_t)n >> (56 - 8 * k));
        i = 10;
    }
    if (client) {
        b[1] |= 0x80;
        randombytes_buf(b + i, 4);
        uint8_t *key = b + i, *p = b + hl;
        for (size_t k = 0; k < n; k++)
            p[k] ^= key[k & 3];
    }
    conn_raw_commit(c, hl + n);
}

void ws_goodbye(conn_t *c, int reason)
{
    conn_x_t *x = conn_x(c);
    if (!x->ws_open || x->ws_closing || (!x->ws && make_ctx(x) != 0))
        return;
    uint16_t code = reason == CONN_CLOSE_PROTOCOL ? WSLAY_CODE_POLICY_VIOLATION
                                                  : WSLAY_CODE_NORMAL_CLOSURE;
    if (wslay_event_queue_close(x->ws, code, NULL, 0) != 0)
        return;
    if (wslay_event_send(x->ws) == 0)
        note_close_sent(x);
}

void ws_release(conn_t *c)
{
    conn_x_t *x = conn_x(c);
    if (x->ws)
        wslay_event_context_free(x->ws);
    x->ws = NULL;
    ws_upgrade_free(x->up);
    x->up = NULL;
}
