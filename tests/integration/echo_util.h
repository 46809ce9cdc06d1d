/* echo_util: one ECHO round trip through the gateway, for integration tests. */
#ifndef TESTS_ECHO_UTIL_H
#define TESTS_ECHO_UTIL_H

#include <stdint.h>
#include <string.h>

#include "alloc.h"
#include "client_sync.h"
#include "cluster.pb-c.h"
#include "harness.h"

/* Sends ECHO_REQUEST(target, payload) and waits. Returns 0 on an ECHO_RESPONSE whose payload
 * matches (server id in *server_id), the ErrorCode (> 0) on an ERROR_RESPONSE, -1 on a
 * transport failure or a mismatched payload. */
static inline int echo_once(csync_t *c, EchoTarget target, uint32_t *server_id, int timeout_ms)
{
    static uint32_t counter;
    char text[64];
    snprintf(text, sizeof text, "echo-%u", ++counter);
    EchoRequest req = ECHO_REQUEST__INIT;
    req.target = target;
    req.payload.data = (uint8_t *)text;
    req.payload.len = strlen(text);
    uint16_t type;
    uint8_t *p = NULL;
    size_t len;
    int rc = csync_request(c, PACKET_TYPE__ECHO_REQUEST, &req.base, &type, &p, &len, timeout_ms);
    if (rc != 0)
        return -1;
    int result = -1;
    if (type == PACKET_TYPE__ECHO_RESPONSE) {
        EchoResponse *r = echo_response__unpack(NULL, len, p);
        if (r && r->payload.len == strlen(text) && memcmp(r->payload.data, text, r->payload.len) == 0) {
            result = 0;
            if (server_id)
                *server_id = r->server_id;
        }
        if (r)
            echo_response__free_unpacked(r, NULL);
    } else if (type == PACKET_TYPE__ERROR_RESPONSE) {
        ErrorResponse *e = error_response__unpack(NULL, len, p);
        result = e ? (int)e->code : -1;
        if (e)
            error_response__free_unpacked(e, NULL);
    }
    xfree(p);
    return result;
}

static inline csync_t *connect_gw(int port)
{
    csync_t *c = csync_connect("127.0.0.1", port, 3000);
    CHECK(c != NULL);
    return c;
}

#endif
