/* metrics: a small registry of counters, gauges and histograms, rendered as Prometheus text
 * (exposition format 0.0.4). Owned and touched by the event loop thread only: the admin module
 * (admin.h) renders it on the loop and hands the text to its HTTP thread.
 *
 * Two ways to feed it:
 * - handles for hot paths: metrics_counter() once, then metric_inc() per event (no lookup);
 * - collectors (metrics_on_collect) that run right before each render and set values they
 *   already keep elsewhere (session counts, link states, arrays of per-type counts) with
 *   metrics_set_gauge / metrics_set_counter. Series set that way exist only while they are
 *   set: one not set again by the next render (a link that went away) disappears.
 *
 * Histograms record microseconds into a hist_t (hist.h) and are exported as Prometheus
 * histograms in seconds, with fixed cumulative buckets (METRICS_BUCKETS_S), _sum and _count;
 * they are never reset. A bucket `le` counts the values whose hist bucket lies entirely at or
 * below le, so a value within 0.78% above a bound may land one bucket higher, never lower. */
#ifndef CLUSTER_METRICS_H
#define CLUSTER_METRICS_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

typedef struct metrics metrics_t;
typedef struct metric metric_t;

/* Upper bounds (seconds) of the histogram buckets; +Inf is added. */
#define METRICS_BUCKETS_S                                                                      \
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,     \
        2.5, 5.0, 10.0

/* Slots of a per-enum-value count array (packet types, error codes): values 0..255 have a
 * slot each, anything larger shares the last one (exported as "other"). */
#define METRICS_ENUM_SLOTS 257
static inline unsigned metrics_enum_slot(unsigned v) { return v < 256 ? v : 256; }

typedef void (*metrics_collect_cb)(metrics_t *m, void *ud);

metrics_t *metrics_new(void);
/* Frees the registry and every series; handles become invalid. */
void metrics_free(metrics_t *m);

/* Returns the series `name{labels}`, creating it (and its family, with help as # HELP) on first
 * use; the same arguments return the same series. labels is NULL or "" (none) or
 * "key=value[,key=value...]" (values may not contain ',' or '='; they are quoted and escaped
 * on output). A name already registered with another type is a bug: aborts. */
metric_t *metrics_counter(metrics_t *m, const char *name, const char *help, const char *labels);
metric_t *metrics_gauge(metrics_t *m, const char *name, const char *help, const char *labels);
metric_t *metrics_histogram(metrics_t *m, const char *name, const char *help, const char *labels);

void metric_inc(metric_t *counter);
void metric_add(metric_t *counter, uint64_t n);
void metric_set(metric_t *gauge, double v);
/* Records one value, in microseconds, into a histogram. */
void metric_observe_us(metric_t *histogram, uint64_t us);
/* The value of a counter (for tests and the collectors). */
uint64_t metric_count(const metric_t *counter);

/* From a collector: sets a series that lives only while collected (see the top). */
void metrics_set_gauge(metrics_t *m, const char *name, const char *help, const char *labels,
                       double v);
void metrics_set_counter(metrics_t *m, const char *name, const char *help, const char *labels,
                         uint64_t v);
/* From a collector: one counter series per non-zero slot of counts (METRICS_ENUM_SLOTS
 * long), labelled key=<the enum value's name in desc> (its number when it has no name,
 * "other" for the last slot). */
void metrics_set_enum_counts(metrics_t *m, const char *name, const char *help, const char *key,
                             const ProtobufCEnumDescriptor *desc, const uint64_t *counts);

/* Adds a collector, run by every metrics_render in the order added. */
void metrics_on_collect(metrics_t *m, metrics_collect_cb cb, void *ud);

/* Runs the collectors, then renders every family with at least one series. Returns the text
 * (xmalloc'ed, NUL-terminated, the caller xfrees it) and its length in *len. */
char *metrics_render(metrics_t *m, size_t *len);

#endif
