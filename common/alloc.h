/* alloc: the one allocation wrapper pair, so each daemon can report its heap bytes. */
#ifndef CLUSTER_ALLOC_H
#define CLUSTER_ALLOC_H
#include <stddef.h>

/* Allocate or abort: out of memory is not a condition this code recovers from. */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
void xfree(void *p);

/* Bytes currently allocated through these functions (usable sizes). */
size_t alloc_used(void);

#endif
