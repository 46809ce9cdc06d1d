/* ws_upgrade: the HTTP/1.1 side of the WebSocket opening handshake (RFC 6455 section 4),
 * parsed with http-parser (nodejs/http-parser, Debian's libhttp-parser): the server reads and
 * checks the upgrade request and writes its answer; the client writes the request and checks
 * the 101 answer. Pure: no I/O, so it is unit-tested and fuzzed alone. */
#ifndef CLUSTER_WS_UPGRADE_H
#define CLUSTER_WS_UPGRADE_H

#include <stddef.h>
#include <stdint.h>

typedef struct ws_upgrade ws_upgrade_t;

enum {
    WS_UP_MORE = 0,     /* the request (or response) is not complete yet */
    WS_UP_DONE = 1,     /* complete: check it */
    WS_UP_EBAD = -1,    /* not HTTP/1.x */
    WS_UP_ETOOBIG = -2, /* more than max_bytes without the end of the headers */
};

#define WS_ACCEPT_LEN 28 /* base64 of a SHA-1 */
#define WS_KEY_LEN 24    /* base64 of 16 bytes */

/* A parser for one request (response = 0) or response (1) of at most max_bytes. */
ws_upgrade_t *ws_upgrade_new(int response, size_t max_bytes);
void ws_upgrade_free(ws_upgrade_t *u);

/* Feeds n bytes. On WS_UP_DONE, *used is how many of these n bytes belonged to the message
 * (the rest are WebSocket frames that came with it). Once DONE or failed, stays so. */
int ws_upgrade_feed(ws_upgrade_t *u, const uint8_t *data, size_t n, size_t *used)
    __attribute__((warn_unused_result));

/* Server: checks a complete request: GET, HTTP/1.1, path "/", Host, Upgrade: websocket,
 * Connection: upgrade, Sec-WebSocket-Version: 13, a Sec-WebSocket-Key of 16 bytes, and the
 * Origin against `origins` (comma-separated; NULL or "": any; a request without Origin, not
 * from a browser, passes). Returns 0 with the Sec-WebSocket-Accept value in accept, or an
 * xport_fail_t reason with the HTTP status to answer in *status. */
int ws_upgrade_check_request(const ws_upgrade_t *u, const char *origins,
                             char accept[WS_ACCEPT_LEN + 1], int *status)
    __attribute__((warn_unused_result));

/* Client: checks a complete response against the key it sent: 101, Upgrade, Connection, the
 * right Sec-WebSocket-Accept, no extension. 0 or -1. */
int ws_upgrade_check_response(const ws_upgrade_t *u, const char *key)
    __attribute__((warn_unused_result));

/* Sec-WebSocket-Accept for a key. */
void ws_accept_key(const char *key, size_t key_len, char out[WS_ACCEPT_LEN + 1]);

/* Writes the server's answer: 101 with accept, or an error status with a short text body
 * (426 also carries Sec-WebSocket-Version: 13). Returns its length (cap >= 512). */
size_t ws_upgrade_reply(char *out, size_t cap, int status, const char *accept);
/* Writes a client's upgrade request for path "/" on host with a fresh key (stored in key,
 * for ws_upgrade_check_response). Returns its length (cap >= 512). */
size_t ws_upgrade_request(char *out, size_t cap, const char *host, char key[WS_KEY_LEN + 1]);

#endif
