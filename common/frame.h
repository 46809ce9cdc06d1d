/* frame: the fixed client wire format (DESIGN.md) and an incremental parser for it.
 *
 *   bytes 0-3  payload length L, u32 big-endian, at most the configured max
 *   bytes 4-5  packet type, u16 big-endian
 *   bytes 6-9  sequence, u32 big-endian (a request's seq is echoed by its response; pushes: 0)
 *   bytes 10.. L bytes of payload
 *
 * Inter-server links use the same header (type = link message kind, seq = request id). */
#ifndef CLUSTER_FRAME_H
#define CLUSTER_FRAME_H

#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FRAME_HDR_LEN 10
#define FRAME_DEFAULT_MAX (64u * 1024u)

typedef struct frame_hdr {
    uint32_t len;
    uint16_t type;
    uint32_t seq;
} frame_hdr_t;

enum {
    FRAME_OK = 0,      /* every byte consumed; a partial frame may be buffered */
    FRAME_STOPPED = 1, /* the callback asked to stop; the rest of the input was not consumed */
    FRAME_ETOOBIG = -1 /* a header announced more than max_len: the stream can't be trusted */
};

/* Called once per complete frame. `payload` is valid only during the call. Return 0 to go on,
 * non-zero to stop parsing (for example when the connection is being closed). */
typedef int (*frame_cb)(void *ctx, const frame_hdr_t *hdr, const uint8_t *payload);

/* Incremental parser: handles any split of the stream (a byte at a time, many frames in one
 * read, a header split across reads). Complete frames in the input are passed to the callback
 * without copying; only a trailing partial frame is buffered. Holds no heap memory while idle
 * between frames. */
typedef struct frame_parser {
    uint32_t max_len;
    uint8_t hdr_have;
    uint8_t failed;
    uint8_t hdr[FRAME_HDR_LEN];
    frame_hdr_t cur;   /* header of the frame being assembled, or of the oversized one */
    uint8_t *body;     /* partial payload; NULL when no partial frame is pending */
    uint32_t body_have;
    uint32_t body_cap; /* grows with the bytes received, up to cur.len */
} frame_parser_t;

void frame_parser_init(frame_parser_t *p, uint32_t max_len);
/* Frees the partial frame buffer, if any. The parser may be reused after frame_parser_init. */
void frame_parser_free(frame_parser_t *p);

/* Feeds n bytes. Returns FRAME_OK, FRAME_STOPPED, or FRAME_ETOOBIG (p->cur then holds the
 * offending header, so the caller can answer its seq; every later call fails the same way). */
int frame_parser_feed(frame_parser_t *p, const uint8_t *data, size_t n, frame_cb cb, void *ctx)
    __attribute__((warn_unused_result));

/* Bytes of a partial frame held by the parser (header and body). */
size_t frame_parser_pending(const frame_parser_t *p);

void frame_hdr_write(uint8_t out[FRAME_HDR_LEN], uint32_t len, uint16_t type, uint32_t seq);
void frame_hdr_read(const uint8_t in[FRAME_HDR_LEN], frame_hdr_t *h);

/* Big-endian fields, stored and loaded as whole words (one bswap and one unaligned move each;
 * GCC 12 builds the byte-by-byte form as shifts and ors). */
static inline void put_u16(uint8_t *p, uint16_t v)
{
    v = htobe16(v);
    memcpy(p, &v, sizeof v);
}
static inline void put_u32(uint8_t *p, uint32_t v)
{
    v = htobe32(v);
    memcpy(p, &v, sizeof v);
}
static inline void put_u64(uint8_t *p, uint64_t v)
{
    v = htobe64(v);
    memcpy(p, &v, sizeof v);
}
static inline uint16_t get_u16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return be16toh(v);
}
static inline uint32_t get_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return be32toh(v);
}
static inline uint64_t get_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return be64toh(v);
}

#endif
