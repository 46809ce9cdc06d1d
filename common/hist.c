/* hist: bucket arithmetic, recording, merging and percentile queries of the latency histogram. */
#include "hist.h"

#include <string.h>

void hist_init(hist_t *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

void hist_reset(hist_t *h) { hist_init(h); }

uint32_t hist_bucket_of(uint64_t value)
{
    if (value > HIST_MAX_TRACKABLE)
        value = HIST_MAX_TRACKABLE;
    if (value < HIST_SUB_COUNT)
        return (uint32_t)value;
    unsigned msb = 63u - (unsigned)__builtin_clzll(value); /* >= HIST_SUB_BITS */
    unsigned shift = msb - (HIST_SUB_BITS - 1);            /* value >> shift is in [128, 256) */
    return HIST_SUB_COUNT + (shift - 1) * HIST_SUB_HALF +
           (uint32_t)((value >> shift) - HIST_SUB_HALF);
}

uint64_t hist_bucket_high(uint32_t index)
{
    if (index < HIST_SUB_COUNT)
        return index;
    uint32_t j = index - HIST_SUB_COUNT;
    unsigned shift = j / HIST_SUB_HALF + 1;
    uint64_t low = (uint64_t)(j % HIST_SUB_HALF + HIST_SUB_HALF) << shift;
    return low + (UINT64_C(1) << shift) - 1;
}

void hist_record(hist_t *h, uint64_t value)
{
    h->counts[hist_bucket_of(value)]++;
    h->count++;
    if (value < h->min)
        h->min = value;
    if (value > h->max)
        h->max = value;
    h->sum = h->sum + value < h->sum ? UINT64_MAX : h->sum + value;
}

void hist_merge(hist_t *dst, const hist_t *src)
{
    if (src->count == 0)
        return;
    for (uint32_t i = 0; i < HIST_BUCKETS; i++)
        dst->counts[i] += src->counts[i];
    dst->count += src->count;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    dst->sum = dst->sum + src->sum < dst->sum ? UINT64_MAX : dst->sum + src->sum;
}

uint64_t hist_count(const hist_t *h) { return h->count; }
uint64_t hist_min(const hist_t *h) { return h->count ? h->min : 0; }
uint64_t hist_max(const hist_t *h) { return h->count ? h->max : 0; }
double hist_mean(const hist_t *h) { return h->count ? (double)h->sum / (double)h->count : 0.0; }

uint64_t hist_percentile(const hist_t *h, double pct)
{
    if (h->count == 0)
        return 0;
    if (!(pct > 0.0)) /* also catches NaN */
        return h->min;
    if (pct >= 100.0)
        return h->max;
    double want = pct / 100.0 * (double)h->count;
    uint64_t rank = (uint64_t)want;
    if ((double)rank < want)
        rank++; /* ceil */
    if (rank < 1)
        rank = 1;
    if (rank > h->count)
        rank = h->count;
    uint64_t seen = 0;
    for (uint32_t i = 0; i < HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = hist_bucket_high(i);
            if (v > h->max)
                v = h->max;
            if (v < h->min)
                v = h->min;
            return v;
        }
    }
    return h->max;
}
