/* alloc: malloc wrappers that count bytes in use (the way redis zmalloc does). */
#include "alloc.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_size_t used;

static void *account(void *p)
{
    if (!p) {
        fputs("fatal: out of memory\n", stderr);
        abort();
    }
    atomic_fetch_add_explicit(&used, malloc_usable_size(p), memory_order_relaxed);
    return p;
}

void *xmalloc(size_t n) { return account(malloc(n ? n : 1)); }

void *xcalloc(size_t count, size_t n) { return account(calloc(count ? count : 1, n ? n : 1)); }

void *xrealloc(void *p, size_t n)
{
    if (!p)
        return xmalloc(n);
    size_t old = malloc_usable_size(p);
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fputs("fatal: out of memory\n", stderr);
        abort();
    }
    atomic_fetch_sub_explicit(&used, old, memory_order_relaxed);
    atomic_fetch_add_explicit(&used, malloc_usable_size(q), memory_order_relaxed);
    return q;
}

char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = xmalloc(n);
    memcpy(d, s, n);
    return d;
}

void xfree(void *p)
{
    if (!p)
        return;
    atomic_fetch_sub_explicit(&used, malloc_usable_size(p), memory_order_relaxed);
    free(p);
}

size_t alloc_used(void) { return atomic_load_explicit(&used, memory_order_relaxed); }
