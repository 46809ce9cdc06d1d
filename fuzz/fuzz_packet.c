/* fuzz_packet: budgeted unpacking of untrusted bytes as every message of the protocol.
 *
 * Input: byte 0 picks a message descriptor (among every message protoc-c generated, listed
 * by fuzz/CMakeLists.txt); the rest is unpacked with pb_unpack under a small budget. What
 * unpacks must pack again, the packed bytes must unpack (under the same budget), and packing
 * that gives the same bytes. utf8_valid is checked against a reference on the whole input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pb.h"
#include "ref_utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern const ProtobufCMessageDescriptor *const fuzz_message_descriptors[];
extern const size_t fuzz_n_message_descriptors;

#define BUDGET 2048

static void fail(const char *what, const ProtobufCMessageDescriptor *d)
{
    fprintf(stderr, "fuzz_packet: %s (%s)\n", what, d ? d->name : "-");
    abort();
}


static uint8_t *pack(const ProtobufCMessage *m, size_t *n)
{
    *n = protobuf_c_message_get_packed_size(m);
    uint8_t *b = malloc(*n ? *n : 1);
    if (!b)
        abort();
    if (protobuf_c_message_pack(m, b) != *n)
        fail("pack wrote a different size than get_packed_size", m->descriptor);
    return b;
}

/* 1 if m or a message inside it keeps an unknown field numbered 0. libprotobuf-c 1.4.1 rejects
 * a key whose first byte says field 0 (0x01..0x07) but accepts field 0 spelled as an over-long
 * varint (0x81 0x00): pb_unpack then keeps it as an unknown field, the repack spells it 0x01,
 * and that no longer unpacks. pb_unpack refuses such messages; this checks it does. */
static int has_field_zero(const ProtobufCMessage *m, int depth)
{
    for (unsigned i = 0; i < m->n_unknown_fields; i++)
        if (m->unknown_fields[i].tag == 0)
            return 1;
    if (depth > 32)
        return 0;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned f = 0; f < d->n_fields; f++) {
        const ProtobufCFieldDescriptor *fd = &d->fields[f];
        if (fd->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const char *base = (const char *)m + fd->offset;
        if ((fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)((const char *)m + fd->quantifier_offset) != fd->id)
            continue;
        if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t count = *(const size_t *)((const char *)m + fd->quantifier_offset);
            ProtobufCMessage *const *items = *(ProtobufCMessage *const *const *)base;
            for (size_t k = 0; k < count; k++)
                if (items[k] && has_field_zero(items[k], depth + 1))
                    return 1;
        } else {
            const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)base;
            if (sub && has_field_zero(sub, depth + 1))
                return 1;
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static pb_arena_t first, second;
    static int ready;
    if (!ready) {
        pb_arena_init(&first, BUDGET);
        pb_arena_init(&second, BUDGET);
        ready = 1;
    }
    if (utf8_valid(data, size) != ref_utf8_valid(data, size))
        fail("utf8_valid differs from the reference", NULL);
    if (size < 1)
        return 0;

    const ProtobufCMessageDescriptor *d = fuzz_message_descriptors[data[0] % fuzz_n_message_descriptors];
    /* an exact-size heap copy, so ASan sees a read past the end */
    size_t n = size - 1;
    uint8_t *in = malloc(n ? n : 1);
    if (!in)
        abort();
    memcpy(in, data + 1, n);
    ProtobufCMessage *m = pb_unpack(&first, d, in, n);
    free(in); /* the message must not point into the input */
    if (first.used > first.cap)
        fail("arena over its budget", d);
    if (!m)
        return 0;
    if (first.exhausted)
        fail("a message unpacked although the arena ran out", d);
    if (m->descriptor != d)
        fail("wrong descriptor", d);
    if (!protobuf_c_message_check(m))
        fail("protobuf_c_message_check failed", d);

    size_t n1, n2;
    uint8_t *b1 = pack(m, &n1);
    if (has_field_zero(m, 0))
        fail("pb_unpack accepted an unknown field numbered 0", d);
    ProtobufCMessage *m2 = pb_unpack(&second, d, b1, n1);
    if (!m2)
        fail(second.exhausted ? "the repacked message needs more than the budget"
                              : "the repacked message does not unpack",
             d);
    uint8_t *b2 = pack(m2, &n2);
    if (n1 != n2 || memcmp(b1, b2, n1) != 0)
        fail("pack(unpack(pack(m))) != pack(m)", d);
    free(b1);
    free(b2);
    return 0;
}
