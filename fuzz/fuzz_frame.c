/* fuzz_frame: the incremental frame parser against a simple reference decoder, fed in chunk
 * sizes taken from the input.
 *
 * Input: byte 0 picks the max frame length, byte 1 the number of chunk sizes (1-8) that follow
 * (each 1-256, used in turn), byte 2 a packet type at which the callback stops; the rest is
 * the stream. Checks: the frames delivered (type, seq, payload) are exactly the reference's,
 * in order; every len <= max; pending <= max + 10 and equal to the bytes not yet delivered;
 * after FRAME_ETOOBIG p->cur is the reference's bad header and every later feed fails. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT 40000
#define MAX_FRAMES (MAX_INPUT / FRAME_HDR_LEN + 1)

typedef struct ref_frame {
    frame_hdr_t h;
    size_t off; /* of the payload, in the stream */
} ref_frame_t;

typedef struct run {
    const uint8_t *stream;
    size_t size;
    uint32_t max;
    uint16_t stop_type;
    size_t nref;      /* frames the reference decodes (up to and including the stop) */
    int ref_result;   /* FRAME_OK, FRAME_STOPPED or FRAME_ETOOBIG */
    frame_hdr_t bad;  /* the oversized header, for FRAME_ETOOBIG */
    size_t ref_tail;  /* bytes after the last complete frame, for FRAME_OK */
    size_t got;       /* frames delivered by the parser so far */
    size_t delivered; /* stream bytes of those frames */
    ref_frame_t ref[MAX_FRAMES]; /* last: the per-run reset stops here */
} run_t;

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_frame: %s\n", what);
    abort();
}

static void reference(run_t *r)
{
    size_t off = 0;
    r->nref = 0;
    r->ref_result = FRAME_OK;
    while (r->size - off >= FRAME_HDR_LEN) {
        frame_hdr_t h;
        frame_hdr_read(r->stream + off, &h);
        if (h.len > r->max) {
            r->ref_result = FRAME_ETOOBIG;
            r->bad = h;
            return;
        }
        if (r->size - off - FRAME_HDR_LEN < h.len)
            break;
        if (r->nref == MAX_FRAMES)
            fail("too many frames for the reference table"); /* can't happen: see MAX_INPUT */
        r->ref[r->nref].h = h;
        r->ref[r->nref].off = off + FRAME_HDR_LEN;
        r->nref++;
        off += FRAME_HDR_LEN + h.len;
        if (h.type == r->stop_type) {
            r->ref_result = FRAME_STOPPED;
            return;
        }
    }
    r->ref_tail = r->size - off;
}

static int on_frame(void *ctx, const frame_hdr_t *h, const uint8_t *payload)
{
    run_t *r = ctx;
    if (h->len > r->max)
        fail("delivered a frame over the max");
    if (r->got >= r->nref)
        fail("delivered a frame the reference does not have");
    const ref_frame_t *e = &r->ref[r->got];
    if (h->len != e->h.len || h->type != e->h.type || h->seq != e->h.seq)
        fail("header differs from the reference");
    if (h->len && memcmp(payload, r->stream + e->off, h->len) != 0)
        fail("payload differs from the reference");
    r->got++;
    r->delivered = e->off + h->len;
    return h->type == r->stop_type;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3 || size > MAX_INPUT)
        return 0;
    static run_t r; /* big: keep it off the stack */
    memset(&r, 0, offsetof(run_t, ref));
    /* small maxima mostly (so frames fit in fuzz inputs), sometimes the real default */
    uint8_t m = data[0];
    r.max = m == 255 ? FRAME_DEFAULT_MAX : m == 254 ? 0 : m;
    size_t nchunks = 1 + (data[1] & 7);
    r.stop_type = data[2];
    data += 3;
    size -= 3;
    if (size < nchunks)
        return 0;
    size_t chunks[8];
    for (size_t i = 0; i < nchunks; i++)
        chunks[i] = (size_t)data[i] + 1;
    data += nchunks;
    size -= nchunks;
    r.stream = data;
    r.size = size;
    reference(&r);

    frame_parser_t p;
    frame_parser_init(&p, r.max);
    size_t off = 0, ci = 0;
    int rc = FRAME_OK;
    while (off < size) {
        size_t n = chunks[ci++ % nchunks];
        if (n > size - off)
            n = size - off;
        /* an exact-size heap copy, so ASan sees a read past the chunk */
        uint8_t *chunk = malloc(n);
        if (!chunk)
            abort();
        memcpy(chunk, data + off, n);
        rc = frame_parser_feed(&p, chunk, n, on_frame, &r);
        free(chunk);
        off += n;
        if (frame_parser_pending(&p) > (size_t)r.max + FRAME_HDR_LEN)
            fail("pending over max + header");
        if (rc == FRAME_OK && frame_parser_pending(&p) != off - r.delivered)
            fail("pending is not the bytes not yet delivered");
        if (rc != FRAME_OK)
            break;
    }
    if (rc != r.ref_result)
        fail("result differs from the reference");
    if (r.got != r.nref)
        fail("frame count differs from the reference");
    if (rc == FRAME_OK && frame_parser_pending(&p) != r.ref_tail)
        fail("pending at the end differs from the reference");
    if (rc == FRAME_ETOOBIG) {
        if (p.cur.len != r.bad.len || p.cur.type != r.bad.type || p.cur.seq != r.bad.seq)
            fail("p->cur is not the oversized header");
        uint8_t empty[FRAME_HDR_LEN] = {0};
        if (frame_parser_feed(&p, empty, sizeof empty, on_frame, &r) != FRAME_ETOOBIG)
            fail("a feed after FRAME_ETOOBIG did not fail");
        if (r.got != r.nref)
            fail("a frame was delivered after FRAME_ETOOBIG");
    }
    frame_parser_free(&p);
    return 0;
}
