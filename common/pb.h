/* pb: protobuf-c glue: unpacking untrusted bytes within a byte budget, string checks, and
 * packing a message straight into a byte sink's output as one frame (zero-copy: the message
 * is packed where the sink will send it from). */
#ifndef CLUSTER_PB_H
#define CLUSTER_PB_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster.pb-c.h"
#include "conn.h"

/* A bump arena that backs protobuf-c's allocator: a message that needs more than `cap` bytes
 * to unpack fails instead of exhausting memory. One arena per loop; reset per message. */
typedef struct pb_arena {
    uint8_t *base;
    size_t cap, used;
    int exhausted;
    ProtobufCAllocator allocator;
} pb_arena_t;

void pb_arena_init(pb_arena_t *a, size_t cap);
void pb_arena_free(pb_arena_t *a);

/* Unpacks `data` as a message of `desc` into the arena (resetting it first), then checks every
 * string field (recursively) is valid UTF-8 without NUL, and no field is numbered 0. Returns
 * NULL when the bytes are not a valid message, need more than the budget, or fail those checks.
 * The message lives until the next call. */
ProtobufCMessage *pb_unpack(pb_arena_t *a, const ProtobufCMessageDescriptor *desc,
                            const uint8_t *data, size_t len) __attribute__((warn_unused_result));

/* 1 if s[0..n) is valid UTF-8 (no overlongs, no surrogates, at most U+10FFFF). */
int utf8_valid(const uint8_t *s, size_t n) __attribute__((warn_unused_result));

/* Where a frame is packed: the reserve/commit pair of any byte pipe. reserve returns space for
 * n bytes (NULL: refused, nothing may be written); commit(k) hands over the first k of them
 * as one unit (a WebSocket pipe sends one commit as one message). */
typedef struct pb_sink {
    uint8_t *(*reserve)(void *to, size_t n);
    void (*commit)(void *to, size_t n);
    void *to;
} pb_sink_t;

/* Packs one frame (header + packed msg, or an empty payload when msg is NULL) into the sink
 * with one reserve and one commit. Returns 0, or -1 when the sink refused the bytes. */
int pb_put(const pb_sink_t *s, uint16_t type, uint32_t seq, const ProtobufCMessage *msg);
/* Packs an ERROR_RESPONSE frame with the given seq into the sink. */
int pb_put_error(const pb_sink_t *s, uint32_t seq, ErrorCode code, uint16_t request_type,
                 const char *message);

/* The sink of a connection (any transport: conn.h). */
pb_sink_t pb_conn_sink(conn_t *c);
/* pb_put / pb_put_error into pb_conn_sink(c): for programs that hold a conn of their own
 * (the client library, bench's echo server). */
int pb_send(conn_t *c, uint16_t type, uint32_t seq, const ProtobufCMessage *msg);
int pb_send_error(conn_t *c, uint32_t seq, ErrorCode code, uint16_t request_type,
                  const char *message);

/* Packs an ERROR_RESPONSE into buf (at least 512 bytes); returns its length. message is cut
 * to fit. */
size_t pb_pack_error(uint8_t *buf, size_t cap, ErrorCode code, uint16_t request_type,
                     const char *message);

const char *error_code_name(int code);

#endif
