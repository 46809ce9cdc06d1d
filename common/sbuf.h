/* sbuf: a growing text buffer, always NUL-terminated once anything was put (the metrics page,
 * the record's PostgreSQL array literals). A plain value type: zero-initialise it, put, take
 * `p` (owned by the caller, freed with xfree) or xfree(b.p). */
#ifndef CLUSTER_SBUF_H
#define CLUSTER_SBUF_H

#include <stddef.h>

typedef struct sbuf {
    char *p;    /* NULL until the first put */
    size_t len; /* bytes in p, the NUL not counted */
    size_t cap;
} sbuf_t;

/* Appends n bytes of s (n may be 0: makes p an empty string). Aborts when out of memory, as
 * xrealloc does. */
void sbuf_put(sbuf_t *b, const char *s, size_t n);
/* Appends the NUL-terminated s. */
void sbuf_str(sbuf_t *b, const char *s);
/* Appends printf's output for fmt (without a length limit). */
void sbuf_printf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
