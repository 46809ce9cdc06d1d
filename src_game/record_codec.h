/* record_codec: a pending match record as bytes, for the Redis hash of records not yet in
 * PostgreSQL (docs/faults.md, "Durable match records"). Pure.
 *
 *   "rec1 " owner " " created_ms " " n "\n", then n times: len "\n" and len bytes
 *
 * owner is the game daemon that ended the match, created_ms the wall clock then, the n fields
 * are the record's statement parameters in order (record.c). Versioned by the "rec1" tag. */
#ifndef CLUSTER_RECORD_CODEC_H
#define CLUSTER_RECORD_CODEC_H

#include <stddef.h>
#include <stdint.h>

#define RECORD_FIELDS 17
#define RECORD_FIELD_MAX (1u << 20) /* a field longer than this is refused on decode */

typedef struct record_blob {
    uint32_t owner;
    uint64_t created_ms;
    char *fields[RECORD_FIELDS]; /* NUL-terminated copies (xmalloc) */
} record_blob_t;

/* Encodes; returns an xmalloc'ed buffer and its length in *len. */
char *record_encode(uint32_t owner, uint64_t created_ms, char *const *fields, size_t *len);

/* Decodes len bytes into *out (fields xmalloc'ed: record_blob_free). Returns 0, or -1 on any
 * malformed input (wrong tag or count, a bad number, a field past the end or with a NUL in it,
 * bytes left over); then *out holds nothing to free. */
int record_decode(const char *buf, size_t len, record_blob_t *out);
void record_blob_free(record_blob_t *b);

#endif
