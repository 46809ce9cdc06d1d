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
