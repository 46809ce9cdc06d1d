/* client: the game-client side of the wire format on a libuv loop (bot, integration tests). */
#ifndef CLUSTER_CLIENT_H
#define CLUSTER_CLIENT_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "conn.h"

typedef struct client client_t;

/* Events passed to client_event_cb. */
enum {
    CLIENT_EV_CONNECTED = 1, /* status 0 */
    CLIENT_EV_CLOSED = 2     /* status: see client_event_cb */
};

/* Request outcomes other than 0 (a response frame arrived). */
enum {
    CLIENT_ECLOSED = -1,   /* the connection closed (or client_close was called) first */
    CLIENT_ETIMEDOUT = -2, /* no response within the client's request timeout */
};

#define CLIENT_DEFAULT_TIMEOUT_MS 10000
#define CLIENT_WQ_MAX (64u * 1024u * 1024u) /* bound of the output queue */

/* CLIENT_EV_CONNECTED: status 0. CLIENT_EV_CLOSED: the connection is gone (called once, and
 * not at all after client_close); status is a negative libuv error code when the connection
 * attempt failed, otherwise the conn_close_reason_t (CONN_CLOSE_EOF: the server closed it,
 * CONN_CLOSE_PROTOCOL: it sent a frame over the max, CONN_CLOSE_IO, CONN_CLOSE_OVERFLOW).
 * Requests still pending have been answered with CLIENT_ECLOSED before the event. The client
 * stays allocated until client_close. */
typedef void (*client_event_cb)(client_t *c, int event, int status, void *ud);

/* Called exactly once per request that client_request accepted. status 0: a frame with the
 * request's seq arrived; resp_type is its type (may be PACKET_TYPE__ERROR_RESPONSE) and
 * payload/len its bytes, valid only during the call. status CLIENT_ECLOSED or
 * CLIENT_ETIMEDOUT: no response (resp_type 0, payload NULL, len 0). */
typedef void (*client_response_cb)(client_t *c, int status, uint16_t resp_type,
                                   const uint8_t *payload, size_t len, void *ud);

/* Frames nobody waits for: pushes (seq 0) and responses to seqs that are not pending (timed
 * out, or never sent). payload is valid only during the call. */
typedef void (*client_push_cb)(client_t *c, uint16_t type, uint32_t seq, const uint8_t *payload,
                               size_t len, void *ud);

/* A new, unconnected client on `loop` (whose conn_loop is `cl`). Frames announcing more than
 * max_frame payload bytes (0: FRAME_DEFAULT_MAX) close the connection. Never fails. */
client_t *client_new(uv_loop_t *loop, conn_loop_t *cl, uint32_t max_frame);

/* Starts connecting to a numeric IPv4/IPv6 host. Returns 0, then cb reports
 * CLIENT_EV_CONNECTED or CLIENT_EV_CLOSED; or a negative libuv error code, and cb is never
 * called. A client connects once: a second call returns UV_EALREADY. */
/* Connects from this local address (port 0: any free port) instead of the kernel's choice:
 * to hold more connections than one source address's ephemeral ports allow. Call before
 * client_connect; a bind failure is returned by client_connect. */
void client_set_source(client_t *c, const struct sockaddr *src);

/* Speaks transport x (xport.h, client role: TLS, WebSocket or WebSocket over TLS) instead of
 * plain TCP. x is shared by any number of clients, is not owned, and must outlive them. Call
 * before client_connect. CLIENT_EV_CONNECTED then comes once the transport's handshake is
 * done (TLS verified, WebSocket upgraded); a failed handshake is CLIENT_EV_CLOSED with
 * status CONN_CLOSE_HANDSHAKE. Every request is one WebSocket message. */
void client_set_xport(client_t *c, xport_t *x);

int client_connect(client_t *c, const char *host, int port, client_event_cb cb, void *ud)
    __attribute__((warn_unused_result));

/* Sends one request frame with the next seq (1, 2, ...; never 0) and msg packed as payload
 * (msg NULL: empty payload). Returns the seq, or -1 when the client is not connected or the
 * bytes were refused (output queue over its bound: the connection is then closed); on -1 the
 * callback is never called. Otherwise cb is called exactly once, never from inside this
 * call. O(1) and, once warmed up, allocation-free. */
int64_t client_request(client_t *c, uint16_t type, const ProtobufCMessage *msg,
                       client_response_cb cb, void *ud);

/* As client_request, with the payload already packed (len bytes, may be 0). */
int64_t client_request_raw(client_t *c, uint16_t type, const uint8_t *payload, size_t len,
                           client_response_cb cb, void *ud);

/* Sends a one-way message (MATCH_DATA_SEND): one frame with the next seq and msg packed as
 * payload, and no pending request, so nothing waits or times out. A refusal the server
 * answers (ERROR_RESPONSE with this seq) reaches the push callback. Returns the seq, or -1
 * as client_request does. */
int64_t client_send(client_t *c, uint16_t type, const ProtobufCMessage *msg);

/* The seq the next client_request will use (to derive payloads from it before sending). */
uint32_t client_next_seq(const client_t *c);

/* Queues arbitrary bytes (no framing: for hostile-input tests). Returns 0, or -1 when not
 * connected or refused. */
int client_send_bytes(client_t *c, const void *data, size_t len);

/* Receiver of frames that match no pending request (NULL: they are dropped). */
void client_set_push_cb(client_t *c, client_push_cb cb, void *ud);

/* Request timeout in milliseconds (0: none), measured from each request's send; applies to
 * requests already pending too. Expiry is checked by one timer per client. */
void client_set_timeout(client_t *c, uint64_t timeout_ms);

/* 1 once connected and until the connection closes or client_close is called. */
int client_is_connected(const client_t *c);

/* Closes the connection (queued output is dropped) and releases the client. Every pending
 * request's callback is called with CLIENT_ECLOSED before this returns; after it returns no
 * callback of this client runs again. The memory is freed once libuv is done with the
 * handles, so the loop must run afterwards. Safe from inside any of the client's callbacks;
 * c must not be used after the call. */
void client_close(client_t *c);

const char *client_strerror(int status);

#endif
