/* test_pb: UTF-8 validation, budgeted unpacking of untrusted bytes, error packing. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "cluster.pb-c.h"
#include "pb.h"
#include "ref_utf8.h"

/* ------------------------------------------------------------------ UTF-8 */


static size_t utf8_encode(uint32_t cp, uint8_t *out)
{
    if (cp < 0x80) { out[0] = (uint8_t)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | cp >> 6); out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | cp >> 12); out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | cp >> 18); out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F)); out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

#define U8(lit) (const uint8_t *)(lit), sizeof(lit) - 1

static void utf8_case(const uint8_t *s, size_t n, int want, const char *name)
{
    int got = utf8_valid(s, n);
    if (got != want) {
        fprintf(stderr, "utf8_valid(%s) = %d, want %d\n", name, got, want);
        CHECK(got == want);
    }
    CHECK_EQ(ref_utf8_valid(s, n), want); /* the reference agrees with the case table */
}
#define VALID(lit) utf8_case(U8(lit), 1, #lit)
#define INVALID(lit) utf8_case(U8(lit), 0, #lit)

static void test_utf8(void)
{
    VALID("");
    VALID("plain ascii");
    VALID("a\0b"); /* NUL is a valid code point (strings stop at it in C, see pb_unpack) */
    VALID("\x7F");
    VALID("\xC2\x80");         /* U+0080 */
    VALID("\xDF\xBF");         /* U+07FF */
    VALID("\xE0\xA0\x80");     /* U+0800 */
    VALID("\xED\x9F\xBF");     /* U+D7FF, just below the surrogates */
    VALID("\xEE\x80\x80");     /* U+E000, just above */
    VALID("\xEF\xBF\xBF");     /* U+FFFF */
    VALID("\xF0\x90\x80\x80"); /* U+10000 */
    VALID("\xF4\x8F\xBF\xBF"); /* U+10FFFF, the last code point */
    VALID("h\xC3\xA9llo \xE2\x9C\x93 \xF0\x9F\x98\x80 \xE4\xB8\xAD\xE6\x96\x87");

    /* stray continuation bytes */
    INVALID("\x80");
    INVALID("\xBF");
    INVALID("a\x80z");
    INVALID("\xC3\xA9\xA9");
    /* overlongs */
    INVALID("\xC0\x80"); /* NUL */
    INVALID("\xC0\xAF"); /* '/' */
    INVALID("\xC1\xBF");
    INVALID("\xE0\x80\x80");
    INVALID("\xE0\x9F\xBF"); /* U+07FF in 3 bytes */
    INVALID("\xF0\x80\x80\x80");
    INVALID("\xF0\x8F\xBF\xBF"); /* U+FFFF in 4 bytes */
    INVALID("\xF8\x88\x80\x80\x80");
    INVALID("\xFC\x84\x80\x80\x80\x80");
    /* surrogates, paired or not */
    INVALID("\xED\xA0\x80"); /* U+D800 */
    INVALID("\xED\xAF\xBF");
    INVALID("\xED\xB0\x80");
    INVALID("\xED\xBF\xBF"); /* U+DFFF */
    INVALID("\xED\xA0\xBD\xED\xB8\x80"); /* CESU-8 of U+1F600 */
    /* beyond U+10FFFF */
    INVALID("\xF4\x90\x80\x80"); /* U+110000 */
    INVALID("\xF5\x80\x80\x80");
    INVALID("\xF7\xBF\xBF\xBF");
    INVALID("\xFE");
    INVALID("\xFF");
    INVALID("ok\xFF");
    /* truncated */
    INVALID("\xC2");
    INVALID("\xE0\xA0");
    INVALID("\xE2\x82");
    INVALID("\xF0\x90\x80");
    INVALID("abc\xF0\x9F\x98");
    /* a non-continuation byte where a continuation belongs */
    INVALID("\xC2\x41");
    INVALID("\xC2\xC2\x80");
    INVALID("\xE0\xA0\x41");
    INVALID("\xE2\x28\xA1");
    INVALID("\xF0\x90\x80\xC0");
    INVALID("\xF0\x90\x41\x80");

    /* the length bounds the check: a sequence cut by n is invalid, bytes past n don't count */
    CHECK_EQ(utf8_valid((const uint8_t *)"\xC2\x80", 1), 0);
    CHECK_EQ(utf8_valid((const uint8_t *)"\xF0\x9F\x98\x80", 3), 0);
    CHECK_EQ(utf8_valid((const uint8_t *)"ab\xFF", 2), 1);

    /* every code point, encoded on a heap buffer of its exact size */
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        uint8_t b[4];
        size_t n = utf8_encode(cp, b);
        uint8_t *h = malloc(n);
        CHECK(h);
        memcpy(h, b, n);
        int want = !(cp >= 0xD800 && cp <= 0xDFFF);
        if (utf8_valid(h, n) != want) {
            fprintf(stderr, "code point U+%04X\n", cp);
            CHECK(utf8_valid(h, n) == want);
        }
        free(h);
    }
    /* every 1-, 2- and 3-byte string against the reference */
    for (uint32_t v = 0; v < (1u << 24); v++) {
        uint8_t b[3] = {(uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
        if (v < 256 && utf8_valid(b + 2, 1) != ref_utf8_valid(b + 2, 1)) {
            fprintf(stderr, "byte %02X\n", b[2]);
            CHECK(0);
        }
        if (v < 65536 && utf8_valid(b + 1, 2) != ref_utf8_valid(b + 1, 2)) {
            fprintf(stderr, "bytes %02X %02X\n", b[1], b[2]);
            CHECK(0);
        }
        if (utf8_valid(b, 3) != ref_utf8_valid(b, 3)) {
            fprintf(stderr, "bytes %02X %02X %02X\n", b[0], b[1], b[2]);
            CHECK(0);
        }
    }
    /* 4-byte strings: every lead and second byte, interesting third and fourth bytes */
    static const uint8_t tails[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xF4, 0xFF};
    for (unsigned a = 0; a < 256; a++)
        for (unsigned b = 0; b < 256; b++)
            for (size_t c = 0; c < sizeof tails; c++)
                for (size_t d = 0; d < sizeof tails; d++) {
                    uint8_t s[4] = {(uint8_t)a, (uint8_t)b, tails[c], tails[d]};
                    if (utf8_valid(s, 4) != ref_utf8_valid(s, 4)) {
                        fprintf(stderr, "bytes %02X %02X %02X %02X\n", s[0], s[1], s[2], s[3]);
                        CHECK(0);
                    }
                }
}

/* ------------------------------------------------------------------ wire helpers */

typedef struct wbuf {
    uint8_t b[70000];
    size_t n;
} wbuf_t;

static void w_varint(wbuf_t *w, uint64_t v)
{
    while (v >= 0x80) {
        w->b[w->n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    w->b[w->n++] = (uint8_t)v;
}

static void w_field_varint(wbuf_t *w, unsigned field, uint64_t v)
{
    w_varint(w, (uint64_t)field << 3 | 0);
    w_varint(w, v);
}

static void w_field_bytes(wbuf_t *w, unsigned field, const void *p, size_t n)
{
    w_varint(w, (uint64_t)field << 3 | 2);
    w_varint(w, n);
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

/* ------------------------------------------------------------------ pb_unpack */

static void test_unpack_valid(void)
{
    pb_arena_t a;
    pb_arena_init(&a, 64 * 1024);

    /* packed by protobuf-c */
    uint8_t data[] = "hello \xFF\xFE bytes are not text";
    EchoRequest req = ECHO_REQUEST__INIT;
    req.target = ECHO_TARGET__LOBBY;
    req.payload.data = data;
    req.payload.len = sizeof data - 1;
    uint8_t buf[256];
    size_t n = echo_request__pack(&req, buf);
    CHECK(n > 0 && n == echo_request__get_packed_size(&req));
    EchoRequest *m = (EchoRequest *)pb_unpack(&a, &echo_request__descriptor, buf, n);
    CHECK(m != NULL);
    CHECK(m->base.descriptor == &echo_request__descriptor);
    CHECK_EQ(m->target, ECHO_TARGET__LOBBY);
    CHECK_EQ(m->payload.len, sizeof data - 1);
    CHECK_MEM(m->payload.data, data, sizeof data - 1);
    CHECK(a.used > 0 && a.used <= a.cap);
    CHECK(!a.exhausted);
    /* the message lives in the arena */
    CHECK((uint8_t *)m >= a.base && (uint8_t *)m < a.base + a.cap);

    /* built by hand, fields out of order, an unknown field and a repeated scalar */
    wbuf_t *w = calloc(1, sizeof *w);
    CHECK(w);
    w_field_bytes(w, 2, "xyz", 3);
    w_field_varint(w, 99, 12345); /* unknown: kept, not an error */
    w_field_varint(w, 1, ECHO_TARGET__LOBBY);
    w_field_varint(w, 1, ECHO_TARGET__GAME); /* last one wins */
    m = (EchoRequest *)pb_unpack(&a, &echo_request__descriptor, w->b, w->n);
    CHECK(m != NULL);
    CHECK_EQ(m->target, ECHO_TARGET__GAME);
    CHECK_EQ(m->payload.len, 3);
    CHECK_MEM(m->payload.data, "xyz", 3);

    /* the empty message is valid in proto3: every field at its default */
    m = (EchoRequest *)pb_unpack(&a, &echo_request__descriptor, buf, 0);
    CHECK(m != NULL);
    CHECK_EQ(m->target, ECHO_TARGET__ECHO_TARGET_NONE);
    CHECK_EQ(m->payload.len, 0);

    /* strings: valid multi-byte UTF-8 passes */
    w->n = 0;
    w_field_varint(w, 1, ERROR_CODE__BUSY);
    w_field_bytes(w, 2, "d\xC3\xA9j\xC3\xA0 vu \xF0\x9F\x98\x80", 14);
    w_field_varint(w, 3, 4);
    ErrorResponse *er = (ErrorResponse *)pb_unpack(&a, &error_response__descriptor, w->b, w->n);
    CHECK(er != NULL);
    CHECK_EQ(er->code, ERROR_CODE__BUSY);
    CHECK_STR(er->message, "d\xC3\xA9j\xC3\xA0 vu \xF0\x9F\x98\x80");
    CHECK_EQ(er->request_type, 4);

    /* a NUL inside a string: refused (protobuf-c would silently cut the string there) */
    w->n = 0;
    w_field_bytes(w, 2, "admin\0x", 7);
    REGRESSION("pb_unpack accepted a string with an embedded NUL",
               pb_unpack(&a, &error_response__descriptor, w->b, w->n) != NULL);

    free(w);
    pb_arena_free(&a);
}

static void test_unpack_garbage(void)
{
    pb_arena_t a;
    pb_arena_init(&a, 64 * 1024);
    static const struct {
        const char *name;
        uint8_t b[16];
        size_t n;
    } bad[] = {
        {"truncated tag varint", {0xFF}, 1},
        {"varint field without its value", {0x08}, 1},
        {"truncated value varint", {0x08, 0x80}, 2},
        {"over-long varint", {0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}, 13},
        {"length past the end", {0x12, 0x05, 'a'}, 3},
        {"huge length", {0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 'a'}, 7},
        {"wire type 6", {0x0E, 0x00}, 2},
        {"wire type 7", {0x0F, 0x00}, 2},
        {"bytes field sent as a varint", {0x10, 0x01}, 2},
        {"enum field sent length-delimited", {0x0A, 0x01, 0x01}, 3},
        {"truncated fixed64", {0x79, 0x01, 0x02}, 3},
        {"good field then garbage", {0x08, 0x01, 0xFF}, 3},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        /* exact-size heap copies, so ASan sees any read past the end */
        uint8_t *h = malloc(bad[i].n);
        CHECK(h);
        memcpy(h, bad[i].b, bad[i].n);
        if (pb_unpack(&a, &echo_request__descriptor, h, bad[i].n) != NULL) {
            fprintf(stderr, "garbage case '%s' unpacked\n", bad[i].name);
            CHECK(0);
        }
        free(h);
    }
    /* random bytes for every message type: never crashes, and whatever unpacks re-packs */
    static const ProtobufCMessageDescriptor *const descs[] = {
        &error_response__descriptor, &ping_request__descriptor, &ping_response__descriptor,
        &echo_request__descriptor, &echo_response__descriptor, &kicked__descriptor,
        &server_closing__descriptor,
    };
    uint64_t x = 0x1234567887654321ull;
    int ok = 0;
    for (int i = 0; i < 20000; i++) {
        size_t n = (size_t)(i % 40);
        uint8_t *h = malloc(n ? n : 1);
        CHECK(h);
        for (size_t k = 0; k < n; k++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            h[k] = (uint8_t)x;
        }
        const ProtobufCMessageDescriptor *d = descs[(size_t)i % (sizeof descs / sizeof descs[0])];
        ProtobufCMessage *m = pb_unpack(&a, d, h, n);
        if (m) {
            ok++;
            uint8_t out[128];
            CHECK(protobuf_c_message_get_packed_size(m) <= sizeof out);
            (void)protobuf_c_message_pack(m, out);
        }
        free(h);
    }
    CHECK(ok > 0);
    pb_arena_free(&a);
}

static void test_unpack_budget(void)
{
    pb_arena_t a;
    pb_arena_init(&a, 1024);
    wbuf_t *w = calloc(1, sizeof *w);
    CHECK(w);

    /* a bytes field bigger than the budget */
    uint8_t big[4096];
    memset(big, 'x', sizeof big);
    w_field_varint(w, 1, ECHO_TARGET__GAME);
    w_field_bytes(w, 2, big, sizeof big);
    CHECK(pb_unpack(&a, &echo_request__descriptor, w->b, w->n) == NULL);
    CHECK(a.exhausted);
    CHECK(a.used <= a.cap);

    /* the next message that fits unpacks, and the flag is cleared */
    w->n = 0;
    w_field_bytes(w, 2, big, 100);
    EchoRequest *m = (EchoRequest *)pb_unpack(&a, &echo_request__descriptor, w->b, w->n);
    CHECK(m != NULL);
    CHECK(!a.exhausted);
    CHECK_EQ(m->payload.len, 100);

    /* small on the wire, big in memory: 150 unknown 2-byte fields (300 bytes) cost far
     * more than 1 KiB to unpack (protobuf-c keeps a copy of each unknown field) */
    w->n = 0;
    for (int i = 0; i < 150; i++)
        w_field_varint(w, 15, 1);
    CHECK(w->n < a.cap);
    CHECK(pb_unpack(&a, &echo_request__descriptor, w->b, w->n) == NULL);
    CHECK(a.exhausted);
    /* ... and the same bytes fit a bigger budget: it was the budget, not the bytes */
    {
        pb_arena_t big_arena;
        pb_arena_init(&big_arena, 1 << 20);
        CHECK(pb_unpack(&big_arena, &echo_request__descriptor, w->b, w->n) != NULL);
        CHECK(!big_arena.exhausted);
        CHECK(big_arena.used > a.cap);
        pb_arena_free(&big_arena);
    }

    /* a string bigger than the budget */
    w->n = 0;
    w_field_bytes(w, 2, big, 2000);
    CHECK(pb_unpack(&a, &error_response__descriptor, w->b, w->n) == NULL);
    CHECK(a.exhausted);

    /* a zero budget: nothing unpacks, not even the empty message */
    {
        pb_arena_t z;
        pb_arena_init(&z, 0);
        CHECK(pb_unpack(&z, &ping_request__descriptor, w->b, 0) == NULL);
        CHECK(z.exhausted);
        pb_arena_free(&z);
    }
    free(w);
    pb_arena_free(&a);
}

static void test_unpack_bad_utf8(void)
{
    pb_arena_t a;
    pb_arena_init(&a, 64 * 1024);
    wbuf_t *w = calloc(1, sizeof *w);
    CHECK(w);
    static const char *const bad[] = {
        "\xC0\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80", "abc\xE2\x82", "\x80", "ok\xFF",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        w->n = 0;
        w_field_varint(w, 1, ERROR_CODE__INTERNAL);
        w_field_bytes(w, 2, bad[i], strlen(bad[i]));
        w_field_varint(w, 3, 1);
        CHECK(pb_unpack(&a, &error_response__descriptor, w->b, w->n) == NULL);
        CHECK(!a.exhausted); /* rejected for its content, not its size */
        /* the same check on another message's string field */
        w->n = 0;
        w_field_bytes(w, 2, bad[i], strlen(bad[i]));
        CHECK(pb_unpack(&a, &kicked__descriptor, w->b, w->n) == NULL);
    }
    /* the same bytes in a bytes field are fine */
    w->n = 0;
    w_field_bytes(w, 2, "\xC0\x80\xFF", 3);
    CHECK(pb_unpack(&a, &echo_request__descriptor, w->b, w->n) != NULL);
    free(w);
    pb_arena_free(&a);
}

static void test_arena_reset(void)
{
    pb_arena_t a;
    pb_arena_init(&a, 512);
    EchoRequest req = ECHO_REQUEST__INIT;
    uint8_t data[64];
    memset(data, 'q', sizeof data);
    req.payload.data = data;
    req.payload.len = sizeof data;
    uint8_t buf[128];
    size_t n = echo_request__pack(&req, buf);

    ProtobufCMessage *m1 = pb_unpack(&a, &echo_request__descriptor, buf, n);
    CHECK(m1 != NULL);
    size_t used1 = a.used;
    CHECK(used1 > 0);
    /* Each call starts from an empty arena: same place, same use, and many calls in a row
     * never run out of a budget that fits one message. */
    for (int i = 0; i < 100000; i++) {
        ProtobufCMessage *m = pb_unpack(&a, &echo_request__descriptor, buf, n);
        CHECK(m == m1);
        CHECK_EQ(a.used, used1);
    }
    /* a failed call (over budget) does not poison the next */
    uint8_t big[1024];
    wbuf_t *w = calloc(1, sizeof *w);
    CHECK(w);
    memset(big, 'b', sizeof big);
    w_field_bytes(w, 2, big, sizeof big);
    CHECK(pb_unpack(&a, &echo_request__descriptor, w->b, w->n) == NULL);
    CHECK(a.exhausted);
    CHECK(pb_unpack(&a, &echo_request__descriptor, buf, n) == m1);
    CHECK(!a.exhausted);
    CHECK_EQ(a.used, used1);
    free(w);
    pb_arena_free(&a);
}

/* ------------------------------------------------------------------ oneof */

/* cluster.proto has no oneof yet, so this is the descriptor protoc-c 1.4.1 generates for
 *   message Choice { oneof v { uint64 number = 1; string text = 2; } }
 * written out by hand. The members of a oneof share one union: only the active case's
 * member may be read. */
typedef struct choice {
    ProtobufCMessage base;
    uint32_t v_case; /* 0 not set, 1 number, 2 text */
    union {
        uint64_t number;
        char *text;
    } v;
} choice_t;

static const ProtobufCMessageDescriptor choice_descriptor;

static void choice_init(ProtobufCMessage *m)
{
    choice_t *c = (choice_t *)m;
    memset(c, 0, sizeof *c);
    c->base.descriptor = &choice_descriptor;
}

static const ProtobufCFieldDescriptor choice_fields[2] = {
    {.name = "number", .id = 1, .label = PROTOBUF_C_LABEL_NONE, .type = PROTOBUF_C_TYPE_UINT64,
     .quantifier_offset = offsetof(choice_t, v_case), .offset = offsetof(choice_t, v.number),
     .flags = PROTOBUF_C_FIELD_FLAG_ONEOF},
    {.name = "text", .id = 2, .label = PROTOBUF_C_LABEL_NONE, .type = PROTOBUF_C_TYPE_STRING,
     .quantifier_offset = offsetof(choice_t, v_case), .offset = offsetof(choice_t, v.text),
     .default_value = &protobuf_c_empty_string, .flags = PROTOBUF_C_FIELD_FLAG_ONEOF},
};
static const unsigned choice_by_name[2] = {0, 1};
static const ProtobufCIntRange choice_ranges[2] = {{1, 0}, {0, 2}};
static const ProtobufCMessageDescriptor choice_descriptor = {
    .magic = PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
    .name = "Choice",
    .short_name = "Choice",
    .c_name = "Choice",
    .package_name = "",
    .sizeof_message = sizeof(choice_t),
    .n_fields = 2,
    .fields = choice_fields,
    .fields_sorted_by_name = choice_by_name,
    .n_field_ranges = 1,
    .field_ranges = choice_ranges,
    .message_init = (ProtobufCMessageInit)choice_init,
};

static void test_oneof(void)
{
    pb_arena_t a;
    pb_arena_init(&a, 4096);
    wbuf_t *w = calloc(1, sizeof *w);
    CHECK(w);

    /* the string member, active: checked like any string */
    w_field_bytes(w, 2, "ok \xC3\xA9", 5);
    choice_t *c = (choice_t *)pb_unpack(&a, &choice_descriptor, w->b, w->n);
    CHECK(c != NULL);
    CHECK_EQ(c->v_case, 2);
    CHECK_STR(c->v.text, "ok \xC3\xA9");
    w->n = 0;
    w_field_bytes(w, 2, "bad \xC0\x80", 6);
    CHECK(pb_unpack(&a, &choice_descriptor, w->b, w->n) == NULL);
    /* not set */
    CHECK(pb_unpack(&a, &choice_descriptor, w->b, 0) != NULL);

    /* The number member active: the UTF-8 walk must not read the union as the string
     * member (it would strlen((char *)0x4141414141414141)). Run in a child: today it
     * crashes. */
    w->n = 0;
    w_field_varint(w, 1, 0x4141414141414141ull);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stderr))
            _exit(3);
        choice_t *n = (choice_t *)pb_unpack(&a, &choice_descriptor, w->b, w->n);
        _exit(n && n->v_case == 1 && n->v.number == 0x4141414141414141ull ? 0 : 2);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    REGRESSION("pb_unpack's UTF-8 walk (strings_valid) reads an inactive oneof member: a "
              "string in a oneof crashes on a message whose active member is a number",
              !ok);
    free(w);
    pb_arena_free(&a);
}

/* ------------------------------------------------------------------ errors */

static ErrorResponse *unpack_error(pb_arena_t *a, const uint8_t *buf, size_t n)
{
    return (ErrorResponse *)pb_unpack(a, &error_response__descriptor, buf, n);
}

static void test_pack_error(void)
{
    pb_arena_t a;
    pb_arena_init(&a, 64 * 1024);
    uint8_t buf[512];

    size_t n = pb_pack_error(buf, sizeof buf, ERROR_CODE__BAD_REQUEST, PACKET_TYPE__ECHO_REQUEST,
                             "bad payload");
    CHECK(n > 0 && n <= sizeof buf);
    ErrorResponse *er = unpack_error(&a, buf, n);
    CHECK(er != NULL);
    CHECK_EQ(er->code, ERROR_CODE__BAD_REQUEST);
    CHECK_STR(er->message, "bad payload");
    CHECK_EQ(er->request_type, PACKET_TYPE__ECHO_REQUEST);

    /* NULL message -> empty; the largest type */
    n = pb_pack_error(buf, sizeof buf, ERROR_CODE__FRAME_TOO_LARGE, 0xFFFF, NULL);
    er = unpack_error(&a, buf, n);
    CHECK(er != NULL);
    CHECK_EQ(er->code, ERROR_CODE__FRAME_TOO_LARGE);
    CHECK_STR(er->message, "");
    CHECK_EQ(er->request_type, 0xFFFF);

    /* OK with nothing else packs to nothing (proto3 defaults), and unpacks to the defaults */
    n = pb_pack_error(buf, sizeof buf, ERROR_CODE__OK, 0, "");
    CHECK_EQ(n, 0);
    er = unpack_error(&a, buf, n);
    CHECK(er != NULL && er->code == ERROR_CODE__OK && er->request_type == 0);

    /* a long message is cut to fit a 512-byte buffer */
    char longmsg[2000];
    memset(longmsg, 'x', sizeof longmsg - 1);
    longmsg[sizeof longmsg - 1] = '\0';
    n = pb_pack_error(buf, sizeof buf, ERROR_CODE__INTERNAL, 7, longmsg);
    CHECK(n > 0 && n <= sizeof buf);
    er = unpack_error(&a, buf, n);
    CHECK(er != NULL);
    CHECK(strlen(er->message) >= 100 && strlen(er->message) < 512);
    CHECK(strncmp(er->message, longmsg, strlen(er->message)) == 0);
    CHECK_EQ(er->request_type, 7);

    /* a buffer too small for the message -> 0 */
    CHECK_EQ(pb_pack_error(buf, 3, ERROR_CODE__INTERNAL, 7, "does not fit"), 0);

    /* A long multi-byte message must still be valid UTF-8 after the cut, or the client
     * (and our own pb_unpack) rejects the error response. 300 x U+00E9 (600 bytes): a cut at
     * 255 bytes lands inside a character. */
    char accents[601];
    for (int i = 0; i < 300; i++) {
        accents[2 * i] = '\xC3';
        accents[2 * i + 1] = '\xA9';
    }
    accents[600] = '\0';
    n = pb_pack_error(buf, sizeof buf, ERROR_CODE__BAD_REQUEST, 4, accents);
    CHECK(n > 0);
    er = unpack_error(&a, buf, n);
    REGRESSION("pb_pack_error cuts a long message inside a UTF-8 sequence (snprintf to 256 "
              "bytes), so the ERROR_RESPONSE carries invalid UTF-8",
              er == NULL);
    if (er) {
        CHECK_EQ(er->code, ERROR_CODE__BAD_REQUEST);
        CHECK(utf8_valid((const uint8_t *)er->message, strlen(er->message)));
        CHECK(strlen(er->message) >= 100);
    }
    pb_arena_free(&a);
}

static void test_error_code_name(void)
{
    CHECK_STR(error_code_name(ERROR_CODE__OK), "OK");
    CHECK_STR(error_code_name(ERROR_CODE__UNKNOWN_PACKET), "UNKNOWN_PACKET");
    CHECK_STR(error_code_name(ERROR_CODE__BAD_REQUEST), "BAD_REQUEST");
    CHECK_STR(error_code_name(ERROR_CODE__FRAME_TOO_LARGE), "FRAME_TOO_LARGE");
    CHECK_STR(error_code_name(ERROR_CODE__BUSY), "BUSY");
    CHECK_STR(error_code_name(ERROR_CODE__INTERNAL), "INTERNAL");
    CHECK_STR(error_code_name(-1), "UNKNOWN");
    CHECK_STR(error_code_name(12345), "UNKNOWN");
    CHECK_STR(error_code_name(INT32_MAX), "UNKNOWN");
    /* every value of the enum has its own name */
    for (unsigned i = 0; i < error_code__descriptor.n_values; i++) {
        const ProtobufCEnumValue *v = &error_code__descriptor.values[i];
        CHECK_STR(error_code_name(v->value), v->name);
    }
}

int main(void)
{
    test_utf8();
    test_unpack_valid();
    test_unpack_garbage();
    test_unpack_budget();
    test_unpack_bad_utf8();
    test_arena_reset();
    test_oneof();
    test_pack_error();
    test_error_code_name();
    printf("test_pb: ok\n");
    return 0;
}
