/* test_hist: the latency histogram against a sorted-array reference on seeded random data. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "alloc.h"
#include "check.h"
#include "hist.h"

static uint64_t rng_state = UINT64_C(0x9E3779B97F4A7C15);

static uint64_t rng_next(void) /* splitmix64: fixed seed, same data on every run */
{
    uint64_t z = (rng_state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Rank of percentile pct among n sorted values (1-based), the same definition hist.h states. */
static size_t ref_rank(double pct, size_t n)
{
    double want = pct / 100.0 * (double)n;
    size_t rank = (size_t)want;
    if ((double)rank < want)
        rank++;
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return rank;
}

/* r must be in the same bucket as the true value: never below it, at most 1/128 above it. */
static void check_close(uint64_t got, uint64_t want, double pct)
{
    uint64_t slack = want / HIST_SUB_HALF;
    if (got < want || got > want + slack) {
        fprintf(stderr, "percentile %.3f: got %llu, reference %llu (allowed up to %llu)\n", pct,
                (unsigned long long)got, (unsigned long long)want,
                (unsigned long long)(want + slack));
    }
    CHECK(got >= want);
    CHECK(got <= want + slack);
}

static const double PCTS[] = {0.001, 0.1, 1, 5, 10, 25, 33.3, 50, 66.6, 75, 90,
                              95,    99,  99.5, 99.9, 99.99, 99.999, 100};

static void check_against_reference(const hist_t *h, uint64_t *vals, size_t n)
{
    qsort(vals, n, sizeof *vals, cmp_u64);
    CHECK_EQ(hist_count(h), n);
    CHECK_EQ(hist_min(h), vals[0]);
    CHECK_EQ(hist_max(h), vals[n - 1]);
    for (size_t i = 0; i < sizeof PCTS / sizeof PCTS[0]; i++) {
        uint64_t want = vals[ref_rank(PCTS[i], n) - 1];
        check_close(hist_percentile(h, PCTS[i]), want, PCTS[i]);
    }
    CHECK_EQ(hist_percentile(h, 100.0), vals[n - 1]);
    CHECK_EQ(hist_percentile(h, 0.0), vals[0]);
    long double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += vals[i];
    double mean = (double)(sum / n);
    CHECK(fabs(hist_mean(h) - mean) <= mean * 1e-9 + 1e-9);
}

static void test_empty(void)
{
    hist_t *h = xmalloc(sizeof *h);
    hist_init(h);
    CHECK_EQ(hist_count(h), 0);
    CHECK_EQ(hist_min(h), 0);
    CHECK_EQ(hist_max(h), 0);
    CHECK(hist_mean(h) == 0.0);
    CHECK_EQ(hist_percentile(h, 50), 0);
    CHECK_EQ(hist_percentile(h, 100), 0);
    CHECK_EQ(hist_percentile(h, 0), 0);
    /* merging an empty histogram changes nothing, merging into one copies */
    hist_t *g = xmalloc(sizeof *g);
    hist_init(g);
    hist_record(g, 42);
    hist_merge(g, h);
    CHECK_EQ(hist_count(g), 1);
    CHECK_EQ(hist_min(g), 42);
    hist_merge(h, g);
    CHECK_EQ(hist_count(h), 1);
    CHECK_EQ(hist_min(h), 42);
    CHECK_EQ(hist_max(h), 42);
    CHECK_EQ(hist_percentile(h, 50), 42);
    hist_reset(h);
    CHECK_EQ(hist_count(h), 0);
    CHECK_EQ(hist_max(h), 0);
    xfree(g);
    xfree(h);
}

/* Every value maps into a bucket whose top is >= it and within 1/128 of it; buckets are
 * contiguous and increasing. */
static void test_buckets(void)
{
    uint64_t prev_high = 0;
    for (uint32_t i = 0; i < HIST_BUCKETS; i++) {
        uint64_t high = hist_bucket_high(i);
        if (i > 0)
            CHECK(high > prev_high);
        CHECK_EQ(hist_bucket_of(high), i);
        CHECK_EQ(hist_bucket_of(prev_high + (i > 0)), i); /* lowest value of bucket i */
        prev_high = high;
    }
    CHECK(prev_high == HIST_MAX_TRACKABLE);
    CHECK(60ull * 1000 * 1000 < HIST_MAX_TRACKABLE); /* 60 s in us fits */
    for (int k = 0; k < 200000; k++) {
        uint64_t v = rng_next() >> (rng_next() % 64);
        if (v > HIST_MAX_TRACKABLE)
            v = HIST_MAX_TRACKABLE;
        uint64_t high = hist_bucket_high(hist_bucket_of(v));
        CHECK(high >= v);
        CHECK(high - v <= v / HIST_SUB_HALF);
    }
    for (uint64_t v = 0; v < 5000; v++)
        CHECK(hist_bucket_high(hist_bucket_of(v)) >= v);
}

/* Log-uniform values from 1 us to 60 s, the shape of real latencies. */
static uint64_t random_latency(void)
{
    double u = (double)(rng_next() >> 11) / 9007199254740992.0;
    uint64_t v = (uint64_t)exp(u * log(60e6));
    return v < 1 ? 1 : v;
}

static void test_random(void)
{
    enum { N = 200000 };
    uint64_t *vals = xmalloc(N * sizeof *vals);
    hist_t *h = xmalloc(sizeof *h);
    hist_init(h);
    for (size_t i = 0; i < N; i++) {
        vals[i] = random_latency();
        hist_record(h, vals[i]);
    }
    check_against_reference(h, vals, N);

    /* small and narrow sets: exact region and single values */
    hist_reset(h);
    for (size_t i = 0; i < 1000; i++) {
        vals[i] = 1 + rng_next() % 200;
        hist_record(h, vals[i]);
    }
    check_against_reference(h, vals, 1000);
    for (double p = 0.5; p < 100; p += 0.5) /* below 256 every bucket is exact */
        CHECK_EQ(hist_percentile(h, p), vals[ref_rank(p, 1000) - 1]);

    hist_reset(h);
    vals[0] = 12345678;
    hist_record(h, vals[0]);
    check_against_reference(h, vals, 1);
    CHECK_EQ(hist_percentile(h, 50), 12345678); /* capped at the exact max */

    /* a normal-ish cluster around 5 ms with a few huge outliers */
    hist_reset(h);
    for (size_t i = 0; i < 50000; i++) {
        vals[i] = 4000 + rng_next() % 2000;
        if (i % 10000 == 0)
            vals[i] = 30 * 1000 * 1000 + i;
        hist_record(h, vals[i]);
    }
    check_against_reference(h, vals, 50000);

    xfree(h);
    xfree(vals);
}

static void test_merge(void)
{
    enum { N = 100000 };
    uint64_t *vals = xmalloc(N * sizeof *vals);
    hist_t *a = xmalloc(sizeof *a), *b = xmalloc(sizeof *b), *all = xmalloc(sizeof *all);
    hist_init(a);
    hist_init(b);
    hist_init(all);
    for (size_t i = 0; i < N; i++) {
        /* a gets the low half of the range, b the high: merge must fix min and max */
        vals[i] = random_latency();
        hist_record(vals[i] < 50000 ? a : b, vals[i]);
        hist_record(all, vals[i]);
    }
    CHECK(hist_count(a) > 0 && hist_count(b) > 0);
    hist_merge(b, a);
    CHECK_EQ(hist_count(b), N);
    CHECK_EQ(hist_min(b), hist_min(all));
    CHECK_EQ(hist_max(b), hist_max(all));
    for (size_t i = 0; i < sizeof PCTS / sizeof PCTS[0]; i++)
        CHECK_EQ(hist_percentile(b, PCTS[i]), hist_percentile(all, PCTS[i]));
    check_against_reference(b, vals, N);
    xfree(all);
    xfree(b);
    xfree(a);
    xfree(vals);
}

static void test_min_max_extremes(void)
{
    hist_t *h = xmalloc(sizeof *h);
    hist_init(h);
    hist_record(h, 0);
    hist_record(h, UINT64_C(1) << 50); /* beyond the tracked range: clamped bucket, exact max */
    hist_record(h, 777);
    CHECK_EQ(hist_min(h), 0);
    CHECK_EQ(hist_max(h), UINT64_C(1) << 50);
    CHECK_EQ(hist_percentile(h, 100), UINT64_C(1) << 50);
    CHECK_EQ(hist_percentile(h, 0), 0);
    CHECK_EQ(hist_percentile(h, 10), 0);
    uint64_t mid = hist_percentile(h, 50);
    CHECK(mid >= 777 && mid <= 777 + 777 / HIST_SUB_HALF);
    CHECK(hist_percentile(h, 99) >= HIST_MAX_TRACKABLE);
    xfree(h);
}

int main(void)
{
    test_empty();
    test_buckets();
    test_random();
    test_merge();
    test_min_max_extremes();
    printf("test_hist: ok\n");
    return 0;
}
