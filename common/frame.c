/* frame: header codec and the incremental, zero-copy-when-possible frame parser. */
#include "frame.h"

#include <string.h>

#include "alloc.h"

void frame_hdr_write(uint8_t out[FRAME_HDR_LEN], uint32_t len, uint16_t type, uint32_t seq)
{
    put_u32(out, len);
    put_u16(out + 4, type);
    put_u32(out + 6, seq);
}

void frame_hdr_read(const uint8_t in[FRAME_HDR_LEN], frame_hdr_t *h)
{
    h->len = get_u32(in);
    h->type = get_u16(in + 4);
    h->seq = get_u32(in + 6);
}

void frame_parser_init(frame_parser_t *p, uint32_t max_len)
{
    memset(p, 0, sizeof *p);
    p->max_len = max_len;
}

void frame_parser_free(frame_parser_t *p)
{
    xfree(p->body);
    p->body = NULL;
    p->body_have = 0;
    p->body_cap = 0;
    p->hdr_have = 0;
}

size_t frame_parser_pending(const frame_parser_t *p) { return p->hdr_have + p->body_have; }

int frame_parser_feed(frame_parser_t *p, const uint8_t *data, size_t n, frame_cb cb, void *ctx)
{
    if (p->failed)
        return FRAME_ETOOBIG;
    while (n > 0) {
        /* Fast path: nothing buffered and a whole header in the input. */
        if (p->hdr_have == 0 && n >= FRAME_HDR_LEN) {
            frame_hdr_read(data, &p->cur);
            if (p->cur.len > p->max_len) {
                p->failed = 1;
                return FRAME_ETOOBIG;
            }
            if (n - FRAME_HDR_LEN >= p->cur.len) {
                size_t used = FRAME_HDR_LEN + p->cur.len;
                frame_hdr_t h = p->cur;
                data += used;
                n -= used;
                if (cb(ctx, &h, data - h.len))
                    return FRAME_STOPPED;
                continue;
            }
            memcpy(p->hdr, data, FRAME_HDR_LEN);
            p->hdr_have = FRAME_HDR_LEN;
            data += FRAME_HDR_LEN;
            n -= FRAME_HDR_LEN;
            p->body_have = 0;
            continue;
        }
        /* Slow path: assemble a header split across reads. */
        if (p->hdr_have < FRAME_HDR_LEN) {
            size_t take = FRAME_HDR_LEN - p->hdr_have;
            if (take > n)
                take = n;
            memcpy(p->hdr + p->hdr_have, data, take);
            p->hdr_have = (uint8_t)(p->hdr_have + take);
            data += take;
            n -= take;
            if (p->hdr_have < FRAME_HDR_LEN)
                return FRAME_OK;
            frame_hdr_read(p->hdr, &p->cur);
            if (p->cur.len > p->max_len) {
                p->failed = 1;
                return FRAME_ETOOBIG;
            }
            p->body_have = 0;
        }
        /* Assemble the body. */
        size_t take = p->cur.len - p->body_have;
        if (take > n)
            take = n;
        if (take) {
            /* Grow with the bytes that arrived, not with the length announced: a peer that
             * announces 64 KiB and trickles bytes holds only what it sent. */
            if (p->body_have + take > p->body_cap) {
                uint32_t cap = p->body_cap ? p->body_cap : 256;
                while (cap < p->body_have + take)
                    cap *= 2;
                if (cap > p->cur.len)
                    cap = p->cur.len;
                p->body = xrealloc(p->body, cap);
                p->body_cap = cap;
            }
            memcpy(p->body + p->body_have, data, take);
            p->body_have += (uint32_t)take;
            data += take;
            n -= take;
        }
        if (p->body_have < p->cur.len)
            return FRAME_OK;
        frame_hdr_t h = p->cur;
        uint8_t *body = p->body;
        p->body = NULL;
        p->body_have = 0;
        p->body_cap = 0;
        p->hdr_have = 0;
        int stop = cb(ctx, &h, body);
        xfree(body);
        if (stop)
            return FRAME_STOPPED;
    }
    return FRAME_OK;
}
