/* hist: a fixed-size HdrHistogram-style latency histogram (log buckets, linear sub-buckets). */
#ifndef CLUSTER_HIST_H
#define CLUSTER_HIST_H

#include <stdint.h>

/* Layout: values below HIST_SUB_COUNT (256) have a bucket each; above that every power of two
 * [2^k, 2^(k+1)) is split into HIST_SUB_HALF (128) equal sub-buckets, so a bucket is never
 * wider than 1/128 (0.78%) of the values it holds. Values are meant as microseconds; the
 * tracked range is 0 .. HIST_MAX_TRACKABLE (about 19 hours in us), larger values are counted
 * in the last bucket (min, max and the sum stay exact). */
#define HIST_SUB_BITS 8
#define HIST_SUB_COUNT (1u << HIST_SUB_BITS)       /* 256 */
#define HIST_SUB_HALF (HIST_SUB_COUNT / 2u)        /* 128 */
#define HIST_MAX_BITS 36                           /* values below 2^36 are tracked */
#define HIST_MAX_TRACKABLE ((UINT64_C(1) << HIST_MAX_BITS) - 1)
#define HIST_BUCKETS (HIST_SUB_COUNT + (HIST_MAX_BITS - HIST_SUB_BITS) * HIST_SUB_HALF)

/* A plain value type: no heap memory, copy or embed it freely (about 30 KiB). */
typedef struct hist {
    uint64_t count;
    uint64_t min, max; /* exact; min is UINT64_MAX while empty */
    uint64_t sum;      /* exact sum of recorded values, for the mean (saturates) */
    uint64_t counts[HIST_BUCKETS];
} hist_t;

/* Makes h an empty histogram. hist_reset is the same operation, for reuse. */
void hist_init(hist_t *h);
void hist_reset(hist_t *h);

/* Counts one value. O(1), never allocates. */
void hist_record(hist_t *h, uint64_t value);

/* Adds every count of src into dst (dst and src may not be the same histogram). */
void hist_merge(hist_t *dst, const hist_t *src);

uint64_t hist_count(const hist_t *h);
/* Smallest and largest recorded values, exact; 0 when the histogram is empty. */
uint64_t hist_min(const hist_t *h);
uint64_t hist_max(const hist_t *h);
/* Exact arithmetic mean of the recorded values; 0 when empty. */
double hist_mean(const hist_t *h);

/* The value at percentile pct (0..100): the value v of rank ceil(pct/100 * count) in sorted
 * order, reported as the upper bound of v's bucket (so never below v and at most 0.78% above
 * it), capped at the recorded maximum. pct >= 100 gives the exact maximum, pct <= 0 the exact
 * minimum. Returns 0 for an empty histogram. O(number of buckets). */
uint64_t hist_percentile(const hist_t *h, double pct);

/* Bucket index of a value and the largest value of a bucket (exposed for tests). */
uint32_t hist_bucket_of(uint64_t value);
uint64_t hist_bucket_high(uint32_t index);

#endif
