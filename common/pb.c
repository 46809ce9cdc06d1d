/* pb: budgeted unpack, UTF-8 validation, and frame packing for protobuf-c messages. */
#include "pb.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "frame.h"

static void *arena_alloc(void *ud, size_t size)
{
    pb_arena_t *a = ud;
    size_t need = (size + 15) & ~(size_t)15;
    if (need < size || need > a->cap - a->used) {
        a->exhausted = 1;
        return NULL;
    }
    void *p = a->base + a->used;
    a->used += need;
    return p;
}

static void arena_free(void *ud, void *p) { (void)ud; (void)p; }

void pb_arena_init(pb_arena_t *a, size_t cap)
{
    a->base = xmalloc(cap);
    a->cap = cap;
    a->used = 0;
    a->exhausted = 0;
    a->allocator.alloc = arena_alloc;
    a->allocator.free = arena_free;
    a->allocator.allocator_data = a;
}

void pb_arena_free(pb_arena_t *a)
{
    xfree(a->base);
    a->base = NULL;
}

int utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; }
        else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; }
        else return 0;
        if (n - i < len)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

static int read_varint(const uint8_t *p, size_t n, size_t *i, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && *i < n; shift += 7) {
        uint8_t b = p[(*i)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 1;
        }
    }
    return 0;
}

/* Checks, on the encoded bytes, what protobuf-c accepts but we must not: a string field that
 * is not valid UTF-8 or holds a NUL (protobuf-c would silently cut it at the NUL), and a field
 * numbered 0 (forbidden by protobuf; libprotobuf-c 1.4 keeps one spelled as an over-long
 * varint key, and its own re-pack of the message then fails to decode). Walks nested
 * messages with their descriptors; unknown fields are skipped by wire type. Runs after
 * protobuf-c parsed the same bytes, yet checks every bound itself. */
static int wire_valid(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n, int depth)
{
    if (depth > 32)
        return 0;
    size_t i = 0;
    while (i < n) {
        uint64_t key, v;
        if (!read_varint(p, n, &i, &key) || (key >> 3) == 0 || (key >> 3) > UINT32_MAX)
            return 0;
        switch (key & 7) {
        case 0:
            if (!read_varint(p, n, &i, &v))
                return 0;
            break;
        case 1:
            if (n - i < 8)
                return 0;
            i += 8;
            break;
        case 5:
            if (n - i < 4)
                return 0;
            i += 4;
            break;
        case 2: {
            if (!read_varint(p, n, &i, &v) || v > n - i)
                return 0;
            const ProtobufCFieldDescriptor *f =
                protobuf_c_message_descriptor_get_field(d, (unsigned)(key >> 3));
            if (f && f->type == PROTOBUF_C_TYPE_STRING &&
                (memchr(p + i, 0, (size_t)v) || !utf8_valid(p + i, (size_t)v)))
                return 0;
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE &&
                !wire_valid(f->descriptor, p + i, (size_t)v, depth + 1))
                return 0;
            i += (size_t)v;
            break;
        }
        default:
            return 0; /* groups are not used by this protocol */
        }
    }
    return 1;
}

ProtobufCMessage *pb_unpack(pb_arena_t *a, const ProtobufCMessageDescriptor *desc,
                            const uint8_t *data, size_t len)
{
    a->used = 0;
    a->exhausted = 0;
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, &a->allocator, len, data);
    if (!m)
        return NULL;
    if (!wire_valid(desc, data, len, 0))
        return NULL;
    return m;
}

int pb_put(const pb_sink_t *s, uint16_t type, uint32_t seq, const ProtobufCMessage *msg)
{
    size_t n = msg ? protobuf_c_message_get_packed_size(msg) : 0;
    uint8_t *p = s->reserve(s->to, FRAME_HDR_LEN + n);
    if (!p)
        return -1;
    frame_hdr_write(p, (uint32_t)n, type, seq);
    if (n)
        protobuf_c_message_pack(msg, p + FRAME_HDR_LEN);
    s->commit(s->to, FRAME_HDR_LEN + n);
    return 0;
}

static uint8_t *conn_sink_reserve(void *to, size_t n) { return conn_reserve(to, n); }
static void conn_sink_commit(void *to, size_t n) { conn_commit(to, n); }

pb_sink_t pb_conn_sink(conn_t *c)
{
    return (pb_sink_t){.reserve = conn_sink_reserve, .commit = conn_sink_commit, .to = c};
}

int pb_send(conn_t *c, uint16_t type, uint32_t seq, const ProtobufCMessage *msg)
{
    pb_sink_t s = pb_conn_sink(c);
    return pb_put(&s, type, seq, msg);
}

size_t pb_pack_error(uint8_t *buf, size_t cap, ErrorCode code, uint16_t request_type,
                     const char *message)
{
    char msg[256];
    snprintf(msg, sizeof msg, "%s", message ? message : "");
    /* never cut a character in two: clients reject invalid UTF-8 */
    for (size_t l = strlen(msg); l > 0 && !utf8_valid((const uint8_t *)msg, l);)
        msg[--l] = '\0';
    ErrorResponse er = ERROR_RESPONSE__INIT;
    er.code = code;
    er.message = msg;
    er.request_type = request_type;
    size_t n = error_response__get_packed_size(&er);
    if (n > cap)
        return 0;
    return error_response__pack(&er, buf);
}

int pb_put_error(const pb_sink_t *s, uint32_t seq, ErrorCode code, uint16_t request_type,
                 const char *message)
{
    uint8_t buf[512];
    size_t n = pb_pack_error(buf, sizeof buf, code, request_type, message);
    uint8_t *p = s->reserve(s->to, FRAME_HDR_LEN + n);
    if (!p)
        return -1;
    frame_hdr_write(p, (uint32_t)n, PACKET_TYPE__ERROR_RESPONSE, seq);
    memcpy(p + FRAME_HDR_LEN, buf, n);
    s->commit(s->to, FRAME_HDR_LEN + n);
    return 0;
}

int pb_send_error(conn_t *c, uint32_t seq, ErrorCode code, uint16_t request_type,
                  const char *message)
{
    pb_sink_t s = pb_conn_sink(c);
    return pb_put_error(&s, seq, code, request_type, message);
}

const char *error_code_name(int code)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&error_code__descriptor, code);
    return v ? v->name : "UNKNOWN";
}
