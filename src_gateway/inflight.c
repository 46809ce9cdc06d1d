/* inflight: the ring of requests in flight on a link (see inflight.h). */
#include "inflight.h"

#include <assert.h>

#include "alloc.h"

static pending_t *slot(const inflight_t *f, uint32_t rid) { return &f->ring[rid & (f->cap - 1)]; }

uint32_t inflight_next(const inflight_t *f)
{
    uint32_t rid = f->next_rid + 1;
    return rid ? rid : 1;
}

pending_t *inflight_find(const inflight_t *f, uint32_t rid)
{
    if (f->n == 0 || rid - f->head > f->next_rid - f->head)
        return NULL;
    pending_t *p = slot(f, rid);
    return p->live && p->rid == rid ? p : NULL;
}

pending_t *inflight_oldest(const inflight_t *f) { return f->n ? slot(f, f->head) : NULL; }

void inflight_release(inflight_t *f, pending_t *p)
{
    assert(p->live && f->n > 0);
    p->live = 0;
    f->n--;
    if (f->n == 0) {
        f->head = f->next_rid + 1;
        return;
    }
    /* keep head on a live request (each slot is passed once: O(1) per request overall) */
    while (!(slot(f, f->head)->live && slot(f, f->head)->rid == f->head))
        f->head++;
}

/* Makes room for rid (next_rid + 1, or 1 past the wrap) in the ring. */
static void make_room(inflight_t *f, uint32_t rid, inflight_drop_fn drop, void *ud)
{
    if (!f->ring) {
        f->cap = INFLIGHT_RING_MIN;
        f->ring = xcalloc(f->cap, sizeof *f->ring);
        return;
    }
    if (f->n == 0 || rid - f->head < f->cap)
        return;
    pending_t *p;
    while ((p = inflight_oldest(f)) && rid - f->head >= INFLIGHT_RING_MAX) {
        drop(ud, p);
        inflight_release(f, p);
    }
    if (f->n == 0 || rid - f->head < f->cap)
        return;
    uint32_t cap = f->cap;
    while (rid - f->head >= cap)
        cap *= 2;
    pending_t *ring = xcalloc(cap, sizeof *ring);
    for (uint32_t r = f->head; r != f->next_rid + 1; r++) {
        pending_t *old = slot(f, r);
        if (old->live && old->rid == r)
            ring[r & (cap - 1)] = *old;
    }
    xfree(f->ring);
    f->ring = ring;
    f->cap = cap;
}

pending_t *inflight_add(inflight_t *f, uint32_t rid, inflight_drop_fn drop, void *ud)
{
    assert(rid == inflight_next(f));
    make_room(f, rid, drop, ud);
    if (f->n == 0)
        f->head = rid;
    f->next_rid = rid;
    pending_t *p = slot(f, rid);
    *p = (pending_t){.rid = rid, .live = 1};
    f->n++;
    return p;
}

void inflight_free(inflight_t *f)
{
    xfree(f->ring);
    *f = (inflight_t){0};
}
