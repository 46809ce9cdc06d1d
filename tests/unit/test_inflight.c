/* test_inflight: the gateway's ring of requests in flight on a link (src_gateway/inflight.c):
 * find by rid after answers in and out of order, the oldest kept at head, stale rids (answered,
 * never taken, from the future) not found, the ring growing when a slow request is overtaken
 * by more than its size (nothing lost, nothing moved to the wrong slot), a request overtaken by
 * INFLIGHT_RING_MAX later ones dropped through the callback exactly once, and the rid wrap
 * (2^32 - 1 is followed by 1, never 0). */
#include "check.h"
#include "inflight.h"

static uint32_t dropped[8];
static size_t ndropped;

static void on_drop(void *ud, const pending_t *p)
{
    CHECK(ud == (void *)dropped);
    CHECK(p->live);
    if (ndropped < 8)
        dropped[ndropped] = p->rid;
    ndropped++;
}

/* Takes the next rid and tags its slot with the rid as the session, so a moved slot shows. */
static uint32_t add(inflight_t *f)
{
    uint32_t rid = inflight_next(f);
    pending_t *p = inflight_add(f, rid, on_drop, dropped);
    CHECK_EQ(p->rid, rid);
    CHECK_EQ(p->quiet, 0);
    CHECK_EQ(p->deadline_ms, 0);
    p->session = 1000000ull + rid;
    return rid;
}

static void answer(inflight_t *f, uint32_t rid)
{
    pending_t *p = inflight_find(f, rid);
    CHECK(p != NULL);
    CHECK_EQ(p->session, 1000000ull + rid);
    inflight_release(f, p);
    CHECK(inflight_find(f, rid) == NULL);
}

static void test_order(void)
{
    inflight_t f = {0};
    CHECK(inflight_oldest(&f) == NULL);
    CHECK(inflight_find(&f, 1) == NULL);
    for (uint32_t i = 1; i <= 10; i++)
        CHECK_EQ(add(&f), i);
    CHECK_EQ(f.n, 10);
    CHECK_EQ(inflight_oldest(&f)->rid, 1);
    /* out of order: the oldest stays 1 until 1 is answered, then skips the answered ones */
    answer(&f, 5);
    answer(&f, 2);
    CHECK_EQ(inflight_oldest(&f)->rid, 1);
    answer(&f, 1);
    CHECK_EQ(inflight_oldest(&f)->rid, 3);
    /* answered twice, never taken, from the future, 0: not found */
    CHECK(inflight_find(&f, 5) == NULL);
    CHECK(inflight_find(&f, 11) == NULL);
    CHECK(inflight_find(&f, 0) == NULL);
    CHECK(inflight_find(&f, 1u << 31) == NULL);
    for (uint32_t r = 3; r <= 10; r++)
        if (r != 5)
            answer(&f, r);
    CHECK_EQ(f.n, 0);
    CHECK(inflight_oldest(&f) == NULL);
    CHECK_EQ(add(&f), 11);
    CHECK_EQ(inflight_oldest(&f)->rid, 11);
    CHECK_EQ(f.cap, INFLIGHT_RING_MIN);
    inflight_free(&f);
    printf("order: found after answers in and out of order; stale rids not found\n");
}

static void test_growth(void)
{
    inflight_t f = {0};
    uint32_t slow = add(&f);
    /* 10 x the ring overtake the slow one, each answered at once: the ring grows, never drops */
    for (uint32_t i = 0; i < 10 * INFLIGHT_RING_MIN; i++)
        answer(&f, add(&f));
    CHECK_EQ(ndropped, 0);
    CHECK(f.cap > INFLIGHT_RING_MIN);
    CHECK_EQ(f.n, 1);
    CHECK_EQ(inflight_oldest(&f)->rid, slow);
    /* many in flight across the growth: each still in its own slot */
    uint32_t first = add(&f);
    for (uint32_t i = 1; i < 3000; i++)
        add(&f);
    for (uint32_t r = first; r < first + 3000; r += 7)
        answer(&f, r);
    answer(&f, slow);
    CHECK_EQ(inflight_oldest(&f)->rid, first + 1);
    inflight_free(&f);
    CHECK(f.ring == NULL && f.n == 0);
    printf("growth: a slow request overtaken by 10 rings of answered ones keeps its slot\n");
}

static void test_overtaken(void)
{
    inflight_t f = {0};
    ndropped = 0;
    uint32_t slow = add(&f);
    uint32_t r = 0;
    for (uint32_t i = 0; i < INFLIGHT_RING_MAX; i++) {
        r = add(&f);
        inflight_release(&f, inflight_find(&f, r));
    }
    /* the INFLIGHT_RING_MAX-th later request drops the slow one, once */
    CHECK_EQ(ndropped, 1);
    CHECK_EQ(dropped[0], slow);
    CHECK(inflight_find(&f, slow) == NULL);
    CHECK_EQ(f.n, 0);
    CHECK(f.cap <= INFLIGHT_RING_MAX);
    inflight_free(&f);
    printf("overtaken: dropped once after %u later requests\n", INFLIGHT_RING_MAX);
}

static void test_wrap(void)
{
    inflight_t f = {0};
    ndropped = 0;
    f.next_rid = UINT32_MAX - 3;
    f.head = f.next_rid + 1;
    uint32_t rids[8];
    for (int i = 0; i < 8; i++)
        rids[i] = add(&f);
    CHECK_EQ(rids[0], UINT32_MAX - 2);
    CHECK_EQ(rids[2], UINT32_MAX);
    CHECK_EQ(rids[3], 1); /* 0 is never used */
    CHECK_EQ(rids[7], 5);
    CHECK(inflight_find(&f, 0) == NULL);
    answer(&f, rids[0]);
    CHECK_EQ(inflight_oldest(&f)->rid, UINT32_MAX - 1);
    answer(&f, UINT32_MAX - 1);
    answer(&f, UINT32_MAX);
    CHECK_EQ(inflight_oldest(&f)->rid, 1);
    for (int i = 3; i < 8; i++)
        answer(&f, rids[i]);
    CHECK_EQ(f.n, 0);
    CHECK_EQ(ndropped, 0);
    inflight_free(&f);
    printf("wrap: 2^32 - 1 is followed by 1; found and released across the wrap\n");
}

int main(void)
{
    test_order();
    test_growth();
    test_overtaken();
    test_wrap();
    printf("inflight: all passed\n");
    return 0;
}
