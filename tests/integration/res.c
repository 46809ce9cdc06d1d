/* res: blocking requests and their results (see res.h). */
#include "res.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "frame.h"
#include "harness.h"

const char *err_name(int code)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&error_code__descriptor, code);
    return v ? v->name : "?";
}

const char *type_name(int t)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&packet_type__descriptor, t);
    return v ? v->name : "?";
}

void res_parse_error(res_t *r)
{
    if (r->type != PACKET_TYPE__ERROR_RESPONSE)
        return;
    ErrorResponse *e = error_response__unpack(NULL, r->len, r->p);
    if (!e) {
        fprintf(stderr, "undecodable ERROR_RESPONSE\n");
        h_fail();
    }
    r->err = e->code;
    r->req_type = e->request_type;
    snprintf(r->msg, sizeof r->msg, "%s", e->message ? e->message : "");
    error_response__free_unpacked(e, NULL);
}

res_t call_raw(csync_t *c, uint16_t type, const uint8_t *data, size_t n)
{
    res_t r;
    memset(&r, 0, sizeof r);
    uint64_t t0 = h_now_ms();
    r.rc = csync_request_raw(c, type, data, n, &r.type, &r.p, &r.len, T_REQ);
    r.ms = (int)(h_now_ms() - t0);
    if (r.rc == 0)
        res_parse_error(&r);
    return r;
}

/* m packed (NULL: empty) into an xmalloc'ed buffer of *n bytes (xfree it). */
static uint8_t *res_pack(const ProtobufCMessage *m, size_t *n)
{
    *n = m ? protobuf_c_message_get_packed_size(m) : 0;
    uint8_t *buf = xmalloc(*n ? *n : 1);
    if (*n)
        protobuf_c_message_pack(m, buf);
    return buf;
}

res_t call(csync_t *c, uint16_t type, const ProtobufCMessage *m)
{
    size_t n;
    uint8_t *buf = res_pack(m, &n);
    res_t r = call_raw(c, type, buf, n);
    xfree(buf);
    return r;
}

static __attribute__((noreturn)) void res_fail(int line, const char *who, const char *what)
{
    fprintf(stderr, "FAILED line %d: %s%s%s\n", line, who ? who : "", who ? ": " : "", what);
    h_fail();
}

void *res_expect(res_t r, const char *who, uint16_t req_type, uint16_t want,
                 const ProtobufCMessageDescriptor *d, int line)
{
    char what[600];
    if (r.rc != 0 || r.type != want) {
        char got[400];
        res_describe(&r, got, sizeof got);
        snprintf(what, sizeof what, "%s: expected %s, got %s", type_name(req_type), type_name(want), got);
        res_fail(line, who, what);
    }
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, r.len, r.p);
    if (!m) {
        snprintf(what, sizeof what, "%s does not decode", type_name(want));
        res_fail(line, who, what);
    }
    res_free(&r);
    return m;
}

void res_expect_error(res_t *r, const char *who, uint16_t req_type, int code, int line)
{
    if (r->rc != 0 || r->type != PACKET_TYPE__ERROR_RESPONSE || r->err != code || r->req_type != req_type ||
        r->msg[0] == '\0') {
        char got[400], what[600];
        res_describe(r, got, sizeof got);
        snprintf(what, sizeof what, "%s: expected ERROR_RESPONSE %s with a message, got %s",
                 type_name(req_type), err_name(code), got);
        res_fail(line, who, what);
    }
    res_free(r);
}

res_t call_unbusy(csync_t *c, uint16_t type, const ProtobufCMessage *m)
{
    for (int tries = 0;; tries++) {
        res_t r = call(c, type, m);
        if (!(r.rc == 0 && r.type == PACKET_TYPE__ERROR_RESPONSE && r.err == ERROR_CODE__BUSY && tries < 200))
            return r;
        res_free(&r);
        h_sleep_ms(20);
    }
}

void send_frame(csync_t *c, uint16_t type, uint32_t seq, const ProtobufCMessage *m)
{
    size_t n = m ? protobuf_c_message_get_packed_size(m) : 0;
    uint8_t *buf = xmalloc(FRAME_HDR_LEN + n);
    frame_hdr_write(buf, (uint32_t)n, type, seq);
    if (n)
        protobuf_c_message_pack(m, buf + FRAME_HDR_LEN);
    CHECK_EQ(csync_send_bytes(c, buf, FRAME_HDR_LEN + n), 0);
    xfree(buf);
}

void res_free(res_t *r)
{
    xfree(r->p);
    r->p = NULL;
}

void res_describe(const res_t *r, char *out, size_t n)
{
    if (r->rc != 0)
        snprintf(out, n, "no response (%s) after %d ms", client_strerror(r->rc), r->ms);
    else if (r->type == PACKET_TYPE__ERROR_RESPONSE)
        snprintf(out, n, "ERROR_RESPONSE %s \"%s\" (request_type %u)", err_name(r->err), r->msg,
                 r->req_type);
    else
        snprintf(out, n, "%s (%zu bytes)", type_name(r->type), r->len);
}
