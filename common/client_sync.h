/* client_sync: a blocking wrapper around client_t with its own private loop, for tests. */
#ifndef CLUSTER_CLIENT_SYNC_H
#define CLUSTER_CLIENT_SYNC_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h" /* CLIENT_ECLOSED, CLIENT_ETIMEDOUT */

typedef struct csync csync_t;

/* Connects to a numeric host (max frame FRAME_DEFAULT_MAX), running a private uv loop until
 * connected or timeout_ms passed. Returns the connection, or NULL on failure or timeout (all
 * its resources already released). */
csync_t *csync_connect(const char *host, int port, int timeout_ms);
/* The same over transport x (client role, xport.h; NULL: plain TCP), handshake included in
 * timeout_ms. x is not owned and must outlive the connection. */
csync_t *csync_connect_x(const char *host, int port, xport_t *x, int timeout_ms);
/* As csync_connect, from the numeric local address source (NULL: the kernel's choice). */
csync_t *csync_connect_from(const char *host, int port, const char *source, int timeout_ms);
/* Both: from source (NULL: any) over transport x (NULL: plain TCP). */
csync_t *csync_connect_from_x(const char *host, int port, const char *source, xport_t *x,
                              int timeout_ms);

/* Sends one request and waits up to timeout_ms for the frame carrying its seq. Returns 0 with
 * *resp_type, *payload (xmalloc'ed even when *len is 0; the caller xfrees it) and *len set;
 * or CLIENT_ECLOSED (the connection closed first, was already closed, or refused the bytes),
 * or CLIENT_ETIMEDOUT. A response that arrives after its request timed out
 * is dropped. Pushes arriving meanwhile are queued for csync_wait_push. */
int csync_request(csync_t *s, uint16_t type, const ProtobufCMessage *msg, uint16_t *resp_type,
                  uint8_t **payload, size_t *len, int timeout_ms);

/* As csync_request with an already-packed payload (len may be 0). */
int csync_request_raw(csync_t *s, uint16_t type, const uint8_t *data, size_t data_len,
                      uint16_t *resp_type, uint8_t **payload, size_t *len, int timeout_ms);

/* Queues arbitrary bytes and hands them to the kernel. Returns 0, or CLIENT_ECLOSED. */
int csync_send_bytes(csync_t *s, const void *data, size_t len);

/* Takes the oldest queued push (a frame no request waits for: seq 0 or an unknown seq),
 * waiting up to timeout_ms for one. Returns 0 with *type, *payload (xmalloc'ed, caller
 * xfrees) and *len set; CLIENT_ECLOSED when none is queued and the connection is closed;
 * CLIENT_ETIMEDOUT. seq may be NULL; otherwise it receives the frame's seq. */
int csync_wait_push_seq(csync_t *s, uint16_t *type, uint32_t *seq, uint8_t **payload,
                        size_t *len, int timeout_ms);
int csync_wait_push(csync_t *s, uint16_t *type, uint8_t **payload, size_t *len, int timeout_ms);

/* Number of pushes queued and not yet taken. */
size_t csync_pushes(const csync_t *s);

/* Waits for the connection to close. Returns 0 once it is closed (at once if it already is),
 * or CLIENT_ETIMEDOUT. Frames arriving meanwhile are kept (pushes queued). */
int csync_wait_closed(csync_t *s, int timeout_ms);

/* 1 while connected. */
int csync_is_connected(const csync_t *s);

/* Runs the loop for ms milliseconds (delivering responses and queueing pushes). Returns 0 if
 * the connection is still open afterwards, else CLIENT_ECLOSED. */
int csync_pump(csync_t *s, int ms);

/* Closes the connection and frees everything: queued pushes, the client, the loop (closed
 * cleanly, no handle or byte left behind). NULL is ignored. */
void csync_close(csync_t *s);

#endif
