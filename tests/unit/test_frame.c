/* test_frame: the frame header codec and the incremental parser under every split of a stream. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "check.h"
#include "frame.h"

/* ------------------------------------------------------------------ a deterministic PRNG */

static uint64_t rng_state;

static void rng_seed(uint64_t s) { rng_state = s ? s : 0x9E3779B97F4A7C15ull; }

static uint32_t rng_next(void) /* xorshift64* */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}

static uint32_t rng_range(uint32_t lo, uint32_t hi) { return lo + rng_next() % (hi - lo + 1); }

/* ------------------------------------------------------------------ test streams */

typedef struct expect {
    uint32_t len;
    uint16_t type;
    uint32_t seq;
    size_t off; /* offset of the frame's header in the stream */
} expect_t;

typedef struct stream {
    uint8_t *bytes;
    size_t size;
    expect_t *frames;
    size_t nframes;
} stream_t;

static uint8_t payload_byte(size_t frame, uint32_t i) { return (uint8_t)(frame * 131u + i * 7u + (i >> 8)); }

static void stream_build(stream_t *s, const uint32_t *lens, size_t n)
{
    s->size = 0;
    for (size_t i = 0; i < n; i++)
        s->size += FRAME_HDR_LEN + lens[i];
    s->bytes = malloc(s->size ? s->size : 1);
    s->frames = calloc(n ? n : 1, sizeof *s->frames);
    s->nframes = n;
    CHECK(s->bytes && s->frames);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        expect_t *e = &s->frames[i];
        e->len = lens[i];
        e->type = (uint16_t)(i * 977u + 1u);
        e->seq = (uint32_t)(i * 2654435761u);
        e->off = off;
        frame_hdr_write(s->bytes + off, e->len, e->type, e->seq);
        off += FRAME_HDR_LEN;
        for (uint32_t k = 0; k < e->len; k++)
            s->bytes[off + k] = payload_byte(i, k);
        off += e->len;
    }
    CHECK_EQ(off, s->size);
}

static void stream_free(stream_t *s)
{
    free(s->bytes);
    free(s->frames);
}

/* ------------------------------------------------------------------ the checking callback */

typedef struct recorder {
    const stream_t *s;
    size_t next;           /* index of the next expected frame */
    size_t consumed;       /* stream bytes of the frames delivered so far */
    /* the chunk being fed, to check the zero-copy path */
    const uint8_t *chunk;
    size_t chunk_off, chunk_len;
    size_t zero_copy, copied;
    size_t stop_at;        /* return non-zero after delivering frame index stop_at */
} recorder_t;

static int on_frame(void *ctx, const frame_hdr_t *h, const uint8_t *payload)
{
    recorder_t *r = ctx;
    CHECK(r->next < r->s->nframes);
    const expect_t *e = &r->s->frames[r->next];
    CHECK_EQ(h->len, e->len);
    CHECK_EQ(h->type, e->type);
    CHECK_EQ(h->seq, e->seq);
    if (h->len)
        CHECK(payload != NULL);
    for (uint32_t k = 0; k < h->len; k++)
        if (payload[k] != payload_byte(r->next, k)) {
            fprintf(stderr, "frame %zu byte %u: got %u want %u\n", r->next, k, payload[k],
                    payload_byte(r->next, k));
            CHECK(!"payload intact");
        }
    /* A frame wholly inside the chunk being fed is delivered without a copy: its payload
     * pointer is into the caller's buffer. One that straddles chunks comes from the parser's
     * own buffer. */
    size_t start = e->off, end = e->off + FRAME_HDR_LEN + e->len;
    if (r->chunk && start >= r->chunk_off && end <= r->chunk_off + r->chunk_len) {
        CHECK(payload == r->chunk + (start - r->chunk_off) + FRAME_HDR_LEN);
        r->zero_copy++;
    } else if (r->chunk && e->len > 0) {
        CHECK(payload < r->chunk || payload >= r->chunk + r->chunk_len);
        r->copied++;
    }
    r->consumed = end;
    r->next++;
    return r->next - 1 == r->stop_at;
}

static void recorder_init(recorder_t *r, const stream_t *s)
{
    memset(r, 0, sizeof *r);
    r->s = s;
    r->stop_at = SIZE_MAX;
}

/* A parser being fed a stream: the parser, what it delivered, the heap in use before it. */
typedef struct feeder {
    frame_parser_t p;
    recorder_t r;
    size_t base;
} feeder_t;

static void feeder_start(feeder_t *f, const stream_t *s, uint32_t max)
{
    f->base = alloc_used();
    frame_parser_init(&f->p, max);
    recorder_init(&f->r, s);
}

/* Feeds [off, off+len) of the stream as one chunk from a heap copy (so ASan catches a read
 * past the chunk) and checks the result and the pending count. */
static void feed_chunk(feeder_t *f, size_t off, size_t len)
{
    frame_parser_t *p = &f->p;
    recorder_t *r = &f->r;
    uint8_t *copy = malloc(len ? len : 1);
    CHECK(copy);
    if (len)
        memcpy(copy, r->s->bytes + off, len);
    r->chunk = copy;
    r->chunk_off = off;
    r->chunk_len = len;
    int rc = frame_parser_feed(p, copy, len, on_frame, r);
    CHECK_EQ(rc, FRAME_OK);
    CHECK_EQ(frame_parser_pending(p), off + len - r->consumed);
    CHECK(frame_parser_pending(p) <= (size_t)p->max_len + FRAME_HDR_LEN);
    r->chunk = NULL;
    free(copy);
}

static void finish(feeder_t *f)
{
    CHECK_EQ(f->r.next, f->r.s->nframes);
    CHECK_EQ(f->r.consumed, f->r.s->size);
    CHECK_EQ(frame_parser_pending(&f->p), 0);
    CHECK(f->p.body == NULL);
    CHECK_EQ(alloc_used(), f->base); /* idle between frames: no heap held */
    frame_parser_free(&f->p);
}

/* ------------------------------------------------------------------ the feeds */

static void feed_all_at_once(const stream_t *s, uint32_t max)
{
    feeder_t f;
    feeder_start(&f, s, max);
    feed_chunk(&f, 0, s->size);
    CHECK_EQ(f.r.zero_copy, s->nframes); /* every frame on the fast path */
    CHECK_EQ(f.r.copied, 0);
    finish(&f);
}

static void feed_bytewise(const stream_t *s, uint32_t max)
{
    feeder_t f;
    feeder_start(&f, s, max);
    for (size_t i = 0; i < s->size; i++)
        feed_chunk(&f, i, 1);
    finish(&f);
}

static void feed_random_chunks(const stream_t *s, uint32_t max, uint64_t seed, uint32_t maxchunk)
{
    feeder_t f;
    feeder_start(&f, s, max);
    rng_seed(seed);
    size_t off = 0;
    while (off < s->size) {
        size_t n = rng_range(0, maxchunk); /* includes empty feeds */
        if (n > s->size - off)
            n = s->size - off;
        feed_chunk(&f, off, n);
        off += n;
    }
    finish(&f);
}

/* Two feeds, split at `at`. */
static void feed_split(const stream_t *s, uint32_t max, size_t at)
{
    feeder_t f;
    feeder_start(&f, s, max);
    feed_chunk(&f, 0, at);
    feed_chunk(&f, at, s->size - at);
    finish(&f);
}

/* Three feeds: the stream up to a frame's header, the first k bytes of that frame, the rest. */
static void feed_header_split(const stream_t *s, uint32_t max, size_t frame, size_t k)
{
    feeder_t f;
    feeder_start(&f, s, max);
    size_t at = s->frames[frame].off;
    feed_chunk(&f, 0, at);
    feed_chunk(&f, at, k);
    if (k < FRAME_HDR_LEN + s->frames[frame].len)
        CHECK_EQ(frame_parser_pending(&f.p), k);
    feed_chunk(&f, at + k, s->size - at - k);
    finish(&f);
}

/* ------------------------------------------------------------------ tests */

static void test_header_codec(void)
{
    uint8_t b[FRAME_HDR_LEN];
    frame_hdr_write(b, 0x01020304u, 0x0506u, 0x0708090Au);
    static const uint8_t want[FRAME_HDR_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    CHECK_MEM(b, want, FRAME_HDR_LEN);
    frame_hdr_t h;
    frame_hdr_read(b, &h);
    CHECK_EQ(h.len, 0x01020304u);
    CHECK_EQ(h.type, 0x0506u);
    CHECK_EQ(h.seq, 0x0708090Au);

    frame_hdr_write(b, 0xFFFFFFFFu, 0xFFFFu, 0xFFFFFFFFu);
    for (int i = 0; i < FRAME_HDR_LEN; i++)
        CHECK_EQ(b[i], 0xFF);
    frame_hdr_read(b, &h);
    CHECK_EQ(h.len, 0xFFFFFFFFu);
    CHECK_EQ(h.type, 0xFFFFu);
    CHECK_EQ(h.seq, 0xFFFFFFFFu);

    frame_hdr_write(b, 65536, 4, 0x80000001u);
    static const uint8_t want2[FRAME_HDR_LEN] = {0, 1, 0, 0, 0, 4, 0x80, 0, 0, 1};
    CHECK_MEM(b, want2, FRAME_HDR_LEN);

    frame_hdr_write(b, 0, 0, 0);
    frame_hdr_read(b, &h);
    CHECK(h.len == 0 && h.type == 0 && h.seq == 0);

    /* the byte helpers */
    uint8_t w[8];
    put_u16(w, 0xBEEF);
    CHECK(w[0] == 0xBE && w[1] == 0xEF);
    CHECK_EQ(get_u16(w), 0xBEEF);
    put_u32(w, 0xDEADBEEFu);
    CHECK(w[0] == 0xDE && w[1] == 0xAD && w[2] == 0xBE && w[3] == 0xEF);
    CHECK_EQ(get_u32(w), 0xDEADBEEFu);
    put_u64(w, 0x0102030405060708ull);
    for (int i = 0; i < 8; i++)
        CHECK_EQ(w[i], i + 1);
    CHECK(get_u64(w) == 0x0102030405060708ull);
    put_u64(w, UINT64_MAX);
    CHECK(get_u64(w) == UINT64_MAX);

    /* random round trips */
    rng_seed(42);
    for (int i = 0; i < 10000; i++) {
        uint32_t len = rng_next(), seq = rng_next();
        uint16_t type = (uint16_t)rng_next();
        frame_hdr_write(b, len, type, seq);
        CHECK_EQ(get_u32(b), len);
        frame_hdr_read(b, &h);
        CHECK(h.len == len && h.type == type && h.seq == seq);
    }
}

/* The main stream: zero-length and max-length payloads, payloads around the header size,
 * runs of empty frames, and random sizes. */
static void make_main_stream(stream_t *s, uint32_t max, uint64_t seed)
{
    uint32_t lens[96];
    size_t n = 0;
    static const uint32_t fixed[] = {0, 1, 9, 10, 11, 0, 0, 0, 2, 3};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        lens[n++] = fixed[i];
    lens[n++] = max;
    lens[n++] = max - 1;
    lens[n++] = 0;
    lens[n++] = max;
    lens[n++] = max;
    rng_seed(seed);
    while (n < 90)
        lens[n++] = rng_next() % 4 == 0 ? 0 : rng_range(1, rng_next() % 3 == 0 ? max : 40);
    lens[n++] = max;
    lens[n++] = 0;
    stream_build(s, lens, n);
}

static void test_splits(uint32_t max, uint64_t seed)
{
    stream_t s;
    make_main_stream(&s, max, seed);

    feed_all_at_once(&s, max);
    feed_bytewise(&s, max);
    for (uint64_t k = 1; k <= 20; k++)
        feed_random_chunks(&s, max, seed * 1000 + k, (uint32_t)(k % 4 == 0 ? 3 : k % 4 == 1 ? 17 : k % 4 == 2 ? max / 2 + 5 : 3 * max));
    /* Split inside each frame's header at every offset, and just after it. */
    for (size_t f = 0; f < s.nframes; f++)
        for (size_t k = 0; k <= FRAME_HDR_LEN + 1 && s.frames[f].off + k <= s.size; k++)
            feed_header_split(&s, max, f, k);
    stream_free(&s);
}

/* A short stream cut into two feeds at every offset. */
static void test_every_two_way_split(void)
{
    static const uint32_t lens[] = {0, 5, 10, 0, 64, 1, 0, 63, 64};
    stream_t s;
    stream_build(&s, lens, sizeof lens / sizeof lens[0]);
    for (size_t at = 0; at <= s.size; at++)
        feed_split(&s, 64, at);
    stream_free(&s);
}

static void test_zero_copy(void)
{
    /* Frames that arrive whole are delivered from the caller's buffer; a frame straddling two
     * feeds is copied, and the frames after it in the second feed are zero-copy again. */
    static const uint32_t lens[] = {5, 6, 7, 8};
    stream_t s;
    stream_build(&s, lens, 4);
    feeder_t f;
    feeder_start(&f, &s, 100);
    size_t cut = s.frames[1].off + 12; /* inside frame 1's payload */
    feed_chunk(&f, 0, cut);
    CHECK_EQ(f.r.zero_copy, 1);
    CHECK_EQ(f.r.copied, 0);
    CHECK(f.p.body != NULL); /* the partial frame is buffered */
    CHECK_EQ(frame_parser_pending(&f.p), 12);
    feed_chunk(&f, cut, s.size - cut);
    CHECK_EQ(f.r.zero_copy, 3);
    CHECK_EQ(f.r.copied, 1);
    finish(&f);
    stream_free(&s);
}

typedef struct count_ctx {
    int frames;
    int stop_after; /* stop when frames reaches this */
    frame_hdr_t last;
} count_ctx_t;

static int count_cb(void *ctx, const frame_hdr_t *h, const uint8_t *payload)
{
    count_ctx_t *c = ctx;
    (void)payload;
    c->frames++;
    c->last = *h;
    return c->frames == c->stop_after;
}

static void test_too_big(void)
{
    const uint32_t max = 1000;
    size_t base = alloc_used();
    uint8_t buf[3 * FRAME_HDR_LEN + 1000 + 50];
    size_t n = 0;
    frame_hdr_write(buf, 3, 7, 70); /* one good frame first */
    memset(buf + FRAME_HDR_LEN, 'a', 3);
    n = FRAME_HDR_LEN + 3;
    frame_hdr_write(buf + n, max + 1, 0x1234, 0xDEADBEEFu);
    n += FRAME_HDR_LEN;
    memset(buf + n, 'b', 50);
    n += 50;

    /* all at once: the good frame is delivered, then the oversized header fails */
    {
        frame_parser_t p;
        count_ctx_t c = {0, 0, {0, 0, 0}};
        frame_parser_init(&p, max);
        CHECK_EQ(frame_parser_feed(&p, buf, n, count_cb, &c), FRAME_ETOOBIG);
        CHECK_EQ(c.frames, 1);
        CHECK_EQ(p.cur.len, max + 1);
        CHECK_EQ(p.cur.type, 0x1234);
        CHECK_EQ(p.cur.seq, 0xDEADBEEFu);
        CHECK_EQ(alloc_used(), base); /* rejected before allocating for the body */
        /* every later feed fails, even a good frame or an empty feed, and delivers nothing */
        uint8_t good[FRAME_HDR_LEN];
        frame_hdr_write(good, 0, 1, 1);
        CHECK_EQ(frame_parser_feed(&p, good, sizeof good, count_cb, &c), FRAME_ETOOBIG);
        CHECK_EQ(frame_parser_feed(&p, good, 0, count_cb, &c), FRAME_ETOOBIG);
        CHECK_EQ(c.frames, 1);
        CHECK_EQ(p.cur.len, max + 1); /* still the offending header */
        CHECK_EQ(p.cur.seq, 0xDEADBEEFu);
        frame_parser_free(&p);
        CHECK_EQ(alloc_used(), base);
    }
    /* a byte at a time: fails on the oversized header's last byte */
    {
        frame_parser_t p;
        count_ctx_t c = {0, 0, {0, 0, 0}};
        frame_parser_init(&p, max);
        size_t i = 0;
        int rc = FRAME_OK;
        for (; i < n; i++) {
            rc = frame_parser_feed(&p, buf + i, 1, count_cb, &c);
            if (rc != FRAME_OK)
                break;
        }
        CHECK_EQ(rc, FRAME_ETOOBIG);
        CHECK_EQ(i, FRAME_HDR_LEN + 3 + FRAME_HDR_LEN - 1);
        CHECK_EQ(c.frames, 1);
        CHECK_EQ(p.cur.len, max + 1);
        CHECK_EQ(p.cur.type, 0x1234);
        CHECK_EQ(p.cur.seq, 0xDEADBEEFu);
        CHECK_EQ(alloc_used(), base);
        for (; i < n; i++)
            CHECK_EQ(frame_parser_feed(&p, buf + i, 1, count_cb, &c), FRAME_ETOOBIG);
        CHECK_EQ(c.frames, 1);
        frame_parser_free(&p);
        CHECK_EQ(alloc_used(), base);
    }
    /* the biggest length there is, header split at every offset */
    for (size_t k = 0; k <= FRAME_HDR_LEN; k++) {
        uint8_t h[FRAME_HDR_LEN];
        frame_hdr_write(h, UINT32_MAX, 9, 99);
        frame_parser_t p;
        count_ctx_t c = {0, 0, {0, 0, 0}};
        frame_parser_init(&p, max);
        int rc1 = frame_parser_feed(&p, h, k, count_cb, &c);
        CHECK_EQ(rc1, k == FRAME_HDR_LEN ? FRAME_ETOOBIG : FRAME_OK);
        int rc2 = frame_parser_feed(&p, h + k, FRAME_HDR_LEN - k, count_cb, &c);
        CHECK_EQ(rc2, FRAME_ETOOBIG);
        CHECK_EQ(p.cur.len, UINT32_MAX);
        CHECK_EQ(p.cur.type, 9);
        CHECK_EQ(p.cur.seq, 99);
        CHECK_EQ(c.frames, 0);
        frame_parser_free(&p);
        CHECK_EQ(alloc_used(), base);
    }
    /* max 0: only empty frames pass */
    {
        frame_parser_t p;
        count_ctx_t c = {0, 0, {0, 0, 0}};
        uint8_t h[2 * FRAME_HDR_LEN];
        frame_hdr_write(h, 0, 1, 2);
        frame_hdr_write(h + FRAME_HDR_LEN, 1, 3, 4);
        frame_parser_init(&p, 0);
        CHECK_EQ(frame_parser_feed(&p, h, sizeof h, count_cb, &c), FRAME_ETOOBIG);
        CHECK_EQ(c.frames, 1);
        CHECK_EQ(p.cur.len, 1);
        CHECK_EQ(p.cur.seq, 4);
        frame_parser_free(&p);
    }
}

static void test_exactly_max(void)
{
    /* At the default max, through both paths. */
    const uint32_t max = FRAME_DEFAULT_MAX;
    uint32_t lens[] = {max, max, 0};
    stream_t s;
    stream_build(&s, lens, 3);
    feed_all_at_once(&s, max);
    feed_split(&s, max, FRAME_HDR_LEN + max / 2);
    feed_split(&s, max, 3);
    feed_random_chunks(&s, max, 7, 9000);
    stream_free(&s);

    /* max + 1 under the same max fails */
    uint8_t h[FRAME_HDR_LEN];
    frame_hdr_write(h, max + 1, 1, 1);
    frame_parser_t p;
    count_ctx_t c = {0, 0, {0, 0, 0}};
    frame_parser_init(&p, max);
    CHECK_EQ(frame_parser_feed(&p, h, sizeof h, count_cb, &c), FRAME_ETOOBIG);
    frame_parser_free(&p);
}

static void test_stop(void)
{
    static const uint32_t lens[] = {4, 0, 8, 2, 6};
    stream_t s;
    stream_build(&s, lens, 5);
    size_t base = alloc_used();

    /* fast path: stop after the second frame; the rest is not delivered */
    for (int stop = 1; stop <= 5; stop++) {
        frame_parser_t p;
        count_ctx_t c = {0, stop, {0, 0, 0}};
        frame_parser_init(&p, 64);
        CHECK_EQ(frame_parser_feed(&p, s.bytes, s.size, count_cb, &c), FRAME_STOPPED);
        CHECK_EQ(c.frames, stop);
        CHECK_EQ(c.last.seq, s.frames[stop - 1].seq);
        frame_parser_free(&p);
        CHECK_EQ(alloc_used(), base);
    }
    /* slow path: a byte at a time, the callback stops on a frame assembled in the buffer */
    for (int stop = 1; stop <= 5; stop++) {
        frame_parser_t p;
        count_ctx_t c = {0, stop, {0, 0, 0}};
        frame_parser_init(&p, 64);
        int rc = FRAME_OK;
        size_t i = 0;
        for (; i < s.size && rc == FRAME_OK; i++)
            rc = frame_parser_feed(&p, s.bytes + i, 1, count_cb, &c);
        CHECK_EQ(rc, FRAME_STOPPED);
        CHECK_EQ(i, s.frames[stop - 1].off + FRAME_HDR_LEN + s.frames[stop - 1].len);
        CHECK_EQ(c.frames, stop);
        CHECK_EQ(frame_parser_pending(&p), 0);
        frame_parser_free(&p);
        CHECK_EQ(alloc_used(), base);
    }
    /* stop with more input behind it in the same feed, after a buffered frame */
    {
        frame_parser_t p;
        count_ctx_t c = {0, 1, {0, 0, 0}};
        frame_parser_init(&p, 64);
        CHECK_EQ(frame_parser_feed(&p, s.bytes, 5, count_cb, &c), FRAME_OK);
        CHECK_EQ(frame_parser_feed(&p, s.bytes + 5, s.size - 5, count_cb, &c), FRAME_STOPPED);
        CHECK_EQ(c.frames, 1);
        frame_parser_free(&p);
        CHECK_EQ(alloc_used(), base);
    }
    stream_free(&s);
}

static void test_pending_and_free(void)
{
    uint8_t f[FRAME_HDR_LEN + 20];
    frame_hdr_write(f, 20, 5, 6);
    memset(f + FRAME_HDR_LEN, 'z', 20);
    size_t base = alloc_used();
    frame_parser_t p;
    count_ctx_t c = {0, 0, {0, 0, 0}};
    frame_parser_init(&p, 100);
    CHECK_EQ(frame_parser_pending(&p), 0);
    CHECK_EQ(frame_parser_feed(&p, f, 0, count_cb, &c), FRAME_OK);
    CHECK_EQ(frame_parser_pending(&p), 0);
    CHECK_EQ(frame_parser_feed(&p, f, 3, count_cb, &c), FRAME_OK);
    CHECK_EQ(frame_parser_pending(&p), 3);
    CHECK_EQ(frame_parser_feed(&p, f + 3, 7, count_cb, &c), FRAME_OK);
    CHECK_EQ(frame_parser_pending(&p), 10);
    CHECK_EQ(frame_parser_feed(&p, f + 10, 5, count_cb, &c), FRAME_OK);
    CHECK_EQ(frame_parser_pending(&p), 15);
    CHECK_EQ(c.frames, 0);
    CHECK(alloc_used() > base); /* the partial body is held */
    /* free with a partial frame pending releases it, and the parser can be re-inited */
    frame_parser_free(&p);
    CHECK_EQ(frame_parser_pending(&p), 0);
    CHECK_EQ(alloc_used(), base);
    frame_parser_free(&p); /* twice is harmless */
    frame_parser_init(&p, 100);
    CHECK_EQ(frame_parser_feed(&p, f, sizeof f, count_cb, &c), FRAME_OK);
    CHECK_EQ(c.frames, 1);
    CHECK_EQ(c.last.len, 20);
    frame_parser_free(&p);
    CHECK_EQ(alloc_used(), base);
}

int main(void)
{
    test_header_codec();
    test_splits(300, 1);
    test_splits(300, 2);
    test_splits(64, 3);
    test_splits(4096, 4);
    test_every_two_way_split();
    test_zero_copy();
    test_too_big();
    test_exactly_max();
    test_stop();
    test_pending_and_free();
    printf("test_frame: ok\n");
    return 0;
}
