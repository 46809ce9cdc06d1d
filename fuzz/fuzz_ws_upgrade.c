/* fuzz_ws_upgrade: the WebSocket upgrade parser (ws_upgrade.c over http-parser), as a server
 * reading a request and as a client reading a response, fed in chunk sizes taken from the
 * input.
 *
 * Input: byte 0: chunk size (1-256); byte 1 bit 0: response mode, bit 1: an Origin allow-list;
 * the rest is the stream. Checks: `used` never exceeds the chunk; once DONE or failed the state
 * sticks; a DONE request's check returns 0 with status 101 and a 28-byte accept, or a known
 * reason with one of the statuses we answer; every reply we would write is a complete HTTP
 * head. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ws_upgrade.h"
#include "xport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_ws_upgrade: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 20000)
        return 0;
    size_t step = (size_t)data[0] + 1;
    int response = data[1] & 1;
    const char *origins = (data[1] & 2) ? "https://a.example,https://b.example" : NULL;
    data += 2;
    size -= 2;
    ws_upgrade_t *u = ws_upgrade_new(response, 4096);
    int r = WS_UP_MORE;
    size_t off = 0;
    while (off < size) {
        size_t n = size - off < step ? size - off : step;
        uint8_t *chunk = malloc(n); /* exact size: ASan sees a read past the chunk */
        if (!chunk)
            abort();
        memcpy(chunk, data + off, n);
        size_t used = 0;
        int prev = r;
        r = ws_upgrade_feed(u, chunk, n, &used);
        free(chunk);
        if (used > n)
            fail("used more than the chunk");
        if (prev != WS_UP_MORE && r != prev)
            fail("a final state changed");
        if (r != WS_UP_DONE && used != 0)
            fail("used set without DONE");
        off += n;
    }
    if (r == WS_UP_DONE && !response) {
        char accept[WS_ACCEPT_LEN + 1] = "";
        int status = 0;
        int reason = ws_upgrade_check_request(u, origins, accept, &status);
        if (reason == 0 && (status != 101 || strlen(accept) != WS_ACCEPT_LEN))
            fail("accepted without 101 and an accept key");
        if (reason != 0 && (reason < 0 || reason >= XF_REASONS))
            fail("unknown reason");
        if (reason != 0 && status != 400 && status != 403 && status != 404 && status != 405 && status != 426)
            fail("unexpected status");
        char reply[640];
        size_t k = ws_upgrade_reply(reply, sizeof reply, status, accept);
        if (k < 4 || (memcmp(reply + k - 4, "\r\n\r\n", 4) != 0 && reply[k - 1] != '\n'))
            fail("reply is not a complete HTTP head");
    }
    if (r == WS_UP_DONE && response)
        (void)ws_upgrade_check_response(u, "dGhlIHNhbXBsZSBub25jZQ==");
    ws_upgrade_free(u);
    return 0;
}
