/* res: a blocking request through csync and what came back, for the integration tests' helper
 * libraries (lobby_cluster.c, lobby_util.c): the response or ERROR_RESPONSE decoded, timing,
 * and the names of packet types and error codes for messages. */
#ifndef TESTS_RES_H
#define TESTS_RES_H

#include <stddef.h>
#include <stdint.h>

#include "client_sync.h"
#include "cluster.pb-c.h"

#define T_REQ 6000 /* ms a single request may take */

typedef struct res {
    int rc;           /* 0 or CLIENT_E* */
    uint16_t type;    /* response type */
    int err;          /* error code when type is ERROR_RESPONSE */
    uint32_t req_type;
    char msg[256];
    uint8_t *p;
    size_t len;
    int ms;
} res_t;

const char *err_name(int code);
const char *type_name(int t);

/* Fills err, req_type and msg when r is an ERROR_RESPONSE (fails the test if undecodable). */
void res_parse_error(res_t *r);
void res_free(res_t *r);
/* One line for a failure message: the response, the error, or why there was none. */
void res_describe(const res_t *r, char *out, size_t n);

/* r must be a response of type want (to a req_type request) that decodes as d: returns the
 * message (the caller frees it) and frees r. Otherwise prints "FAILED line <line>: [who: ]..."
 * and fails the test. */
void *res_expect(res_t r, const char *who, uint16_t req_type, uint16_t want,
                 const ProtobufCMessageDescriptor *d, int line);
/* *r must be ERROR_RESPONSE(code) to req_type with a non-empty message; frees it. Otherwise fails
 * the test as res_expect. */
void res_expect_error(res_t *r, const char *who, uint16_t req_type, int code, int line);

/* Sends type with data on c and waits up to T_REQ for the response. */
res_t call_raw(csync_t *c, uint16_t type, const uint8_t *data, size_t n);
/* The same with m packed (NULL: empty). */
res_t call(csync_t *c, uint16_t type, const ProtobufCMessage *m);
/* call, sent again while the answer is ERROR_RESPONSE(BUSY) (the lobby's bounded hashing queue):
 * at most 200 retries, 20 ms apart; returns the last answer. */
res_t call_unbusy(csync_t *c, uint16_t type, const ProtobufCMessage *m);
/* Queues one frame (m packed, NULL: empty) with the given seq without waiting: its response,
 * if any, lands in the push queue by its seq. Fails the test if it cannot be sent. */
void send_frame(csync_t *c, uint16_t type, uint32_t seq, const ProtobufCMessage *m);

#endif
