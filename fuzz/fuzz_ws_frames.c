/* fuzz_ws_frames: our WebSocket layer over wslay (common/ws.c) as a server, fed arbitrary
 * frames after a valid upgrade, in chunk sizes taken from the input, through a real conn on a
 * libuv loop (no socket: conn_test_feed hands the bytes to the transport as a read would).
 *
 * Input: byte 0: chunk size (1-256); the rest is what the client sends after its upgrade.
 * Checks: every message delivered to the reader is exactly one frame of our wire format
 * (length field + 10 = message length, at most the bound); the conn closes cleanly and frees
 * everything (ASan/LSan). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "conn_internal.h"
#include "frame.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MSG (1024 + FRAME_HDR_LEN)

static const char UPGRADE[] = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

static int closed;

static void on_read(conn_t *c, const uint8_t *d, size_t n)
{
    (void)c;
    if (n < FRAME_HDR_LEN || n > MAX_MSG)
        abort();
    frame_hdr_t h;
    frame_hdr_read(d, &h);
    if ((size_t)h.len + FRAME_HDR_LEN != n)
        abort();
}

static void on_close(conn_t *c, int reason)
{
    (void)c; (void)reason;
    closed = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 20000)
        return 0;
    static uv_loop_t loop;
    static conn_loop_t *cl;
    static xport_t *x;
    if (!cl) {
        log_set_level(LOG_ERROR); /* a ping flood is logged at info: not once per input */
        uv_loop_init(&loop);
        cl = conn_loop_new(&loop);
        xport_opts_t o = {.kind = XPORT_WS, .ws_max_msg = MAX_MSG, .ws_ping_rate = 50, .ws_ping_burst = 50};
        x = xport_new(&o);
    }
    size_t step = (size_t)data[0] + 1;
    data++;
    size--;
    closed = 0;
    conn_t *c = conn_new_x(cl, x, 1 << 20, on_read, on_close, NULL);
    if (conn_test_start(c) != 0)
        abort();
    conn_test_feed(c, (const uint8_t *)UPGRADE, sizeof UPGRADE - 1);
    for (size_t off = 0; off < size && !conn_is_closing(c);) {
        size_t n = size - off < step ? size - off : step;
        uint8_t *chunk = malloc(n);
        if (!chunk)
            abort();
        memcpy(chunk, data + off, n);
        conn_test_feed(c, chunk, n);
        free(chunk);
        off += n;
    }
    conn_close(c, CONN_CLOSE_LOCAL);
    while (!closed)
        uv_run(&loop, UV_RUN_NOWAIT);
    return 0;
}
