/* test_protocol_doc: docs/protocol.md checked against the code, so the page a studio writes its
 * client from cannot drift from what the cluster does.
 *
 * - Every example byte dump marked `<!-- dump:NAME -->` is encoded again here with protobuf-c,
 *   the frame codec (common/frame.c) and, for WebSocket, libwslay's frame encoder: a dump that
 *   differs by one byte fails. Dumps marked `<!-- capture:tls_* -->` are TLS records (random
 *   keys, so not reproducible): their record header and length are checked.
 * - Every PacketType and ErrorCode of proto/ has a row in the page's tables.
 * - The packet table's "login" and "match" columns agree with the gateway's route table
 *   (src_gateway/route.c), and every type clients may send is marked as sent by the client.
 *
 * `test_protocol_doc --print [--cert CERT.pem --key KEY.pem]` prints the dumps as the page holds
 * them; with a certificate it also performs a TLS handshake in memory (OpenSSL memory BIOs) and
 * prints the TLS records that carry the TCP and WebSocket examples (how the page's captures were
 * made). */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

#include "check.h"
#include "cluster.pb-c.h"
#include "frame.h"
#include "route.h"

#ifndef PROTOCOL_MD
#error "PROTOCOL_MD (the path of docs/protocol.md) must be defined by the build"
#endif

#define DUMP_MAX 512

typedef struct dump {
    const char *name;
    uint8_t b[DUMP_MAX];
    size_t n;
} dump_t;

/* ------------------------------------------------------------------ the examples */

static size_t frame_msg(uint8_t *out, uint16_t type, uint32_t seq, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    CHECK(FRAME_HDR_LEN + n <= DUMP_MAX);
    frame_hdr_write(out, (uint32_t)n, type, seq);
    protobuf_c_message_pack(m, out + FRAME_HDR_LEN);
    return FRAME_HDR_LEN + n;
}

static void ex_ping(dump_t *d)
{
    PingRequest m = PING_REQUEST__INIT;
    m.client_time = 1234;
    d->n = frame_msg(d->b, PACKET_TYPE__PING_REQUEST, 1, &m.base);
}

static void ex_pong(dump_t *d)
{
    PingResponse m = PING_RESPONSE__INIT;
    m.client_time = 1234;
    m.server_time_ms = UINT64_C(1767225600000); /* 2026-01-01T00:00:00Z */
    d->n = frame_msg(d->b, PACKET_TYPE__PING_RESPONSE, 1, &m.base);
}

static void ex_login(dump_t *d)
{
    LoginRequest m = LOGIN_REQUEST__INIT;
    m.username = (char *)"alice";
    m.password = (char *)"correct horse";
    d->n = frame_msg(d->b, PACKET_TYPE__LOGIN_REQUEST, 2, &m.base);
}

static void ex_error(dump_t *d)
{
    ErrorResponse m = ERROR_RESPONSE__INIT;
    m.code = ERROR_CODE__INVALID_CREDENTIALS;
    m.message = (char *)"wrong username or password";
    m.request_type = PACKET_TYPE__LOGIN_REQUEST;
    d->n = frame_msg(d->b, PACKET_TYPE__ERROR_RESPONSE, 2, &m.base);
}

static void ex_push(dump_t *d)
{
    GameStarting m = GAME_STARTING__INIT;
    m.room_id = 7;
    m.match_id = 42;
    m.game_server_id = 3;
    d->n = frame_msg(d->b, PACKET_TYPE__GAME_STARTING, 0, &m.base);
}

/* WebSocket framing through wslay's frame layer: one binary message, FIN set, no extension. */
typedef struct ws_out {
    uint8_t *b;
    size_t n;
} ws_out_t;

static ssize_t ws_send_cb(const uint8_t *data, size_t len, int flags, void *ud)
{
    ws_out_t *o = ud;
    CHECK(o->n + len <= DUMP_MAX);
    memcpy(o->b + o->n, data, len);
    o->n += len;
    return (ssize_t)len;
}

static ssize_t ws_recv_cb(uint8_t *buf, size_t len, int flags, void *ud) { return -1; }

static int ws_mask_cb(uint8_t *buf, size_t len, void *ud)
{
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d}; /* RFC 6455's example key */
    for (size_t i = 0; i < len; i++)
        buf[i] = key[i % 4];
    return 0;
}

static void ws_wrap(dump_t *d, const dump_t *inner, int masked)
{
    struct wslay_frame_callbacks cbs = {ws_send_cb, ws_recv_cb, ws_mask_cb};
    ws_out_t o = {d->b, 0};
    wslay_frame_context_ptr ctx;
    CHECK(wslay_frame_context_init(&ctx, &cbs, &o) == 0);
    struct wslay_frame_iocb io = {
        .fin = 1, .rsv = 0, .opcode = WSLAY_BINARY_FRAME, .payload_length = inner->n,
        .mask = (uint8_t)masked, .data = inner->b, .data_length = inner->n,
    };
    CHECK(wslay_frame_send(ctx, &io) == (ssize_t)inner->n);
    wslay_frame_context_free(ctx);
    d->n = o.n;
}

enum { D_PING, D_PONG, D_LOGIN, D_ERROR, D_PUSH, D_WS_PING, D_WS_PONG, D_COUNT };

static void build_dumps(dump_t *d)
{
    static const char *const names[D_COUNT] = {"tcp_ping", "tcp_pong", "tcp_login", "tcp_error",
                                               "tcp_push", "ws_ping", "ws_pong"};
    for (int i = 0; i < D_COUNT; i++)
        d[i].name = names[i];
    ex_ping(&d[D_PING]);
    ex_pong(&d[D_PONG]);
    ex_login(&d[D_LOGIN]);
    ex_error(&d[D_ERROR]);
    ex_push(&d[D_PUSH]);
    ws_wrap(&d[D_WS_PING], &d[D_PING], 1);
    ws_wrap(&d[D_WS_PONG], &d[D_PONG], 0);
}

/* ------------------------------------------------------------------ printing */

static void print_hex(FILE *f, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i += 16) {
        fprintf(f, "%04zx:", i);
        for (size_t k = i; k < n && k < i + 16; k++)
            fprintf(f, " %02x", b[k]);
        fputc('\n', f);
    }
}

static void print_block(const char *kind, const char *name, const uint8_t *b, size_t n)
{
    printf("<!-- %s:%s -->\n```text\n", kind, name);
    print_hex(stdout, b, n);
    printf("```\n\n");
}

/* Moves what one side wrote to the other side's input. */
static void bio_pump(BIO *from, BIO *to)
{
    uint8_t buf[4096];
    int n;
    while ((n = BIO_read(from, buf, sizeof buf)) > 0)
        CHECK(BIO_write(to, buf, n) == n);
}

/* A TLS 1.3 handshake between two in-memory endpoints, then the client's records for each
 * plaintext: what a capture of the connection shows after the handshake. */
static void print_tls(const char *cert, const char *key, const dump_t *d)
{
    SSL_CTX *sctx = SSL_CTX_new(TLS_server_method()), *cctx = SSL_CTX_new(TLS_client_method());
    CHECK(sctx && cctx);
    CHECK(SSL_CTX_use_certificate_chain_file(sctx, cert) == 1);
    CHECK(SSL_CTX_use_PrivateKey_file(sctx, key, SSL_FILETYPE_PEM) == 1);
    SSL_CTX_set_min_proto_version(sctx, TLS1_2_VERSION);
    SSL *s = SSL_new(sctx), *c = SSL_new(cctx);
    BIO *c_in = BIO_new(BIO_s_mem()), *c_out = BIO_new(BIO_s_mem());
    BIO *s_in = BIO_new(BIO_s_mem()), *s_out = BIO_new(BIO_s_mem());
    SSL_set_bio(c, c_in, c_out);
    SSL_set_bio(s, s_in, s_out);
    SSL_set_connect_state(c);
    SSL_set_accept_state(s);
    for (int i = 0; i < 10 && !(SSL_is_init_finished(c) && SSL_is_init_finished(s)); i++) {
        (void)SSL_do_handshake(c);
        bio_pump(c_out, s_in);
        (void)SSL_do_handshake(s);
        bio_pump(s_out, c_in);
    }
    CHECK(SSL_is_init_finished(c) && SSL_is_init_finished(s));
    printf("<!-- %s, cipher %s -->\n\n", SSL_get_version(c), SSL_get_cipher_name(c));
    const dump_t *plain[2] = {&d[D_PING], &d[D_WS_PING]};
    const char *names[2] = {"tls_ping", "wss_ping"};
    for (int i = 0; i < 2; i++) {
        CHECK(SSL_write(c, plain[i]->b, (int)plain[i]->n) == (int)plain[i]->n);
        uint8_t rec[DUMP_MAX];
        int n = BIO_read(c_out, rec, sizeof rec);
        CHECK(n > 0);
        print_block("capture", names[i], rec, (size_t)n);
    }
    SSL_free(c);
    SSL_free(s);
    SSL_CTX_free(cctx);
    SSL_CTX_free(sctx);
}

/* ------------------------------------------------------------------ reading the page */

static char *read_doc(size_t *len)
{
    FILE *f = fopen(PROTOCOL_MD, "rb");
    CHECK(f != NULL);
    CHECK(fseek(f, 0, SEEK_END) == 0);
    long n = ftell(f);
    CHECK(n > 0);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    CHECK(s && fread(s, 1, (size_t)n, f) == (size_t)n);
    s[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return s;
}

/* The bytes of the fenced block after `<!-- KIND:NAME -->`: lines "OFFSET: xx xx ...".
 * Returns the count, or -1 when the marker or its block is missing. */
static long doc_block(const char *doc, const char *kind, const char *name, uint8_t *out, size_t cap)
{
    char marker[96];
    snprintf(marker, sizeof marker, "<!-- %s:%s -->", kind, name);
    const char *p = strstr(doc, marker);
    if (!p || !(p = strstr(p, "```")) || !(p = strchr(p, '\n')))
        return -1;
    size_t n = 0;
    for (p++; *p && strncmp(p, "```", 3) != 0;) {
        const char *eol = strchr(p, '\n');
        if (!eol)
            return -1;
        const char *q = memchr(p, ':', (size_t)(eol - p));
        for (q = q ? q + 1 : eol; q < eol;) {
            unsigned v;
            int used;
            if (sscanf(q, " %2x%n", &v, &used) != 1)
                break;
            CHECK(n < cap);
            out[n++] = (uint8_t)v;
            q += used;
        }
        p = eol + 1;
    }
    return *p ? (long)n : -1;
}

/* The table row of the page that starts "| NUMBER | `NAME` |", or NULL. Copied into row. */
static const char *doc_row(const char *doc, int number, const char *name, char *row, size_t cap)
{
    char start[96];
    snprintf(start, sizeof start, "\n| %d | `%s` |", number, name);
    const char *p = strstr(doc, start);
    if (!p)
        return NULL;
    p++;
    const char *eol = strchr(p, '\n');
    size_t n = eol ? (size_t)(eol - p) : strlen(p);
    CHECK(n < cap);
    memcpy(row, p, n);
    row[n] = '\0';
    return row;
}

/* Column i (0-based) of a table row, trimmed, into out. */
static void row_col(const char *row, int i, char *out, size_t cap)
{
    const char *p = row;
    for (int k = 0; k <= i; k++) {
        p = strchr(p, '|');
        CHECK(p != NULL);
        p++;
    }
    while (*p == ' ')
        p++;
    const char *e = strchr(p, '|');
    CHECK(e != NULL);
    while (e > p && e[-1] == ' ')
        e--;
    size_t n = (size_t)(e - p);
    CHECK(n < cap);
    memcpy(out, p, n);
    out[n] = '\0';
}

/* ------------------------------------------------------------------ the checks */

static void check_dumps(const char *doc, const dump_t *d)
{
    for (int i = 0; i < D_COUNT; i++) {
        uint8_t got[DUMP_MAX];
        long n = doc_block(doc, "dump", d[i].name, got, sizeof got);
        if (n != (long)d[i].n || memcmp(got, d[i].b, d[i].n) != 0) {
            fprintf(stderr, "docs/protocol.md: dump %s differs from the encoder's bytes:\n", d[i].name);
            print_hex(stderr, d[i].b, d[i].n);
            exit(1);
        }
    }
    /* TLS 1.3 application data: type 0x17, legacy version 3.3, length = plaintext + the inner
     * content type byte + a 16-byte AEAD tag. */
    const dump_t *plain[2] = {&d[D_PING], &d[D_WS_PING]};
    const char *names[2] = {"tls_ping", "wss_ping"};
    for (int i = 0; i < 2; i++) {
        uint8_t rec[DUMP_MAX];
        long n = doc_block(doc, "capture", names[i], rec, sizeof rec);
        CHECK(n == 5 + (long)plain[i]->n + 17);
        CHECK(rec[0] == 0x17 && rec[1] == 0x03 && rec[2] == 0x03);
        CHECK_EQ((rec[3] << 8) | rec[4], plain[i]->n + 17);
    }
}

static void check_packet_rows(const char *doc)
{
    const ProtobufCEnumDescriptor *ed = &packet_type__descriptor;
    for (unsigned i = 0; i < ed->n_values; i++) {
        const ProtobufCEnumValue *v = &ed->values[i];
        if (v->value == 0)
            continue;
        char row[1024], by[64], login[64], match[64];
        if (!doc_row(doc, v->value, v->name, row, sizeof row)) {
            fprintf(stderr, "docs/protocol.md: no row \"| %d | `%s` |\" in the packet table\n", v->value,
                    v->name);
            exit(1);
        }
        row_col(row, 2, by, sizeof by);
        row_col(row, 5, login, sizeof login);
        row_col(row, 6, match, sizeof match);
        const route_t *r = route_lookup((uint16_t)v->value);
        if (r) {
            if (strcmp(by, "client") != 0 || strcmp(login, (r->flags & ROUTE_NEEDS_AUTH) ? "yes" : "no") != 0 ||
                strcmp(match, r->target == ROUTE_MATCH ? "yes" : "no") != 0) {
                fprintf(stderr, "docs/protocol.md: row of %s disagrees with src_gateway/route.c:\n%s\n",
                        v->name, row);
                exit(1);
            }
        } else if (strcmp(by, "client") == 0 && !strstr(row, "without its route")) {
            fprintf(stderr, "docs/protocol.md: %s is sent by the client but the gateway has no route "
                            "for it (say what \"a gateway without its route\" answers)\n", v->name);
            exit(1);
        } else if (strcmp(by, "client") != 0) {
            CHECK(strcmp(by, "server") == 0);
        }
    }
    int n;
    const route_t *routes = route_table(&n);
    CHECK(n > 0 && routes != NULL);
}

static void check_error_rows(const char *doc)
{
    const ProtobufCEnumDescriptor *ed = &error_code__descriptor;
    for (unsigned i = 0; i < ed->n_values; i++) {
        char row[2048];
        if (!doc_row(doc, ed->values[i].value, ed->values[i].name, row, sizeof row)) {
            fprintf(stderr, "docs/protocol.md: no row \"| %d | `%s` |\" in the error table\n",
                    ed->values[i].value, ed->values[i].name);
            exit(1);
        }
    }
}

/* The checks must catch what they claim to: a changed byte, a missing row. */
static void check_the_checks(const char *doc, size_t len, const dump_t *d)
{
    char *copy = malloc(len + 1);
    CHECK(copy != NULL);
    memcpy(copy, doc, len + 1);
    char *m = strstr(copy, "<!-- dump:tcp_login -->");
    CHECK(m != NULL);
    m[5] = 'X'; /* the marker no longer names the dump */
    uint8_t got[DUMP_MAX];
    CHECK(doc_block(copy, "dump", "tcp_login", got, sizeof got) == -1);
    char row[1024];
    CHECK(doc_row(doc, 102, "LOGIN_RESPONSE", row, sizeof row) == NULL);
    CHECK(doc_row(doc, 102, "LOGIN_REQUEST", row, sizeof row) != NULL);
    long n = doc_block(doc, "dump", "tcp_login", got, sizeof got);
    CHECK(n == (long)d[D_LOGIN].n);
    got[n - 1] ^= 1;
    CHECK(memcmp(got, d[D_LOGIN].b, d[D_LOGIN].n) != 0);
    free(copy);
}

int main(int argc, char **argv)
{
    dump_t d[D_COUNT];
    memset(d, 0, sizeof d);
    build_dumps(d);
    if (argc > 1 && strcmp(argv[1], "--print") == 0) {
        for (int i = 0; i < D_COUNT; i++)
            print_block("dump", d[i].name, d[i].b, d[i].n);
        if (argc == 6 && strcmp(argv[2], "--cert") == 0 && strcmp(argv[4], "--key") == 0)
            print_tls(argv[3], argv[5], d);
        return 0;
    }
    size_t len;
    char *doc = read_doc(&len);
    check_dumps(doc, d);
    check_packet_rows(doc);
    check_error_rows(doc);
    check_the_checks(doc, len, d);
    free(doc);
    printf("docs/protocol.md agrees with the encoders, proto/ and the route table\n");
    return 0;
}
