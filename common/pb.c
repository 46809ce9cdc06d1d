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

/* Checks what protobuf-c accepts but we must not: invalid UTF-8 in strings, and unknown fields
 * with number 0 (forbidden by protobuf; libprotobuf-c 1.4 keeps them from an over-long key,
 * and its own re-pack of the message then fails to decode). Recurses into sub-messages. */
static int message_valid(const ProtobufCMessage *m, int depth)
{
    if (depth > 32)
        return 0;
    for (unsigned k = 0; k < m->n_unknown_fields; k++)
        if (m->unknown_fields[k].tag == 0)
            return 0;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned f = 0; f < d->n_fields; f++) {
        const ProtobufCFieldDescriptor *fd = &d->fields[f];
        /* a oneof member other than the one set holds another member's bytes */
        if ((fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)((const char *)m + fd->quantifier_offset) != fd->id)
            continue;
        if (fd->type != PROTOBUF_C_TYPE_STRING && fd->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const char *base = (const char *)m + fd->offset;
        size_t count = 1;
        const void *items = base;
        if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
            count = *(const size_t *)((const char *)m + fd->quantifier_offset);
            items = *(void *const *)base;
        }
        for (size_t k = 0; k < count; k++) {
            const void *item = ((void *const *)items)[k];
            if (fd->label != PROTOBUF_C_LABEL_REPEATED)
                item = *(void *const *)base;
            if (!item)
                continue;
            if (fd->type == PROTOBUF_C_TYPE_STRING) {
                const char *str = item;
                if (!utf8_valid((const uint8_t *)str, strlen(str)))
                    return 0;
            } else if (!message_valid(item, depth + 1)) {
                return 0;
            }
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
    if (!message_valid(m, 0))
        return NULL;
    return m;
}

int pb_send(conn_t *c, uint16_t type, uint32_t seq, const ProtobufCMessage *msg)
{
    size_t n = msg ? protobuf_c_message_get_packed_size(msg) : 0;
    uint8_t *p = conn_reserve(c, FRAME_HDR_LEN + n);
    if (!p)
        return -1;
    frame_hdr_write(p, (uint32_t)n, type, seq);
    if (n)
        protobuf_c_message_pack(msg, p + FRAME_HDR_LEN);
    conn_commit(c, FRAME_HDR_LEN + n);
    return 0;
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

int pb_send_error(conn_t *c, uint32_t seq, ErrorCode code, uint16_t request_type,
                  const char *message)
{
    uint8_t buf[512];
    size_t n = pb_pack_error(buf, sizeof buf, code, request_type, message);
    uint8_t *p = conn_reserve(c, FRAME_HDR_LEN + n);
    if (!p)
        return -1;
    frame_hdr_write(p, (uint32_t)n, PACKET_TYPE__ERROR_RESPONSE, seq);
    memcpy(p + FRAME_HDR_LEN, buf, n);
    conn_commit(c, FRAME_HDR_LEN + n);
    return 0;
}

const char *error_code_name(int code)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&error_code__descriptor, code);
    return v ? v->name : "UNKNOWN";
}
