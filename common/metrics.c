/* metrics: counters, gauges and histograms rendered as Prometheus text format 0.0.4. */
#include "metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utlist.h>

#include "alloc.h"
#include "hist.h"
#include "log.h"
#include "sbuf.h"
#include "util.h"

typedef enum { M_COUNTER, M_GAUGE, M_HISTOGRAM } mtype_t;

struct metric {
    struct family *f;
    char *labels; /* rendered: k="v",k2="v2" ("" when none) */
    char *key;    /* the labels as given, for lookups */
    int is_volatile;
    uint64_t gen; /* render generation that last set a volatile series */
    uint64_t count;
    double value;
    hist_t *hist;
    struct metric *prev, *next;
};

typedef struct family {
    char *name, *help;
    mtype_t type;
    metric_t *series; /* utlist DL, in creation order */
    struct family *prev, *next;
} family_t;

typedef struct collector {
    metrics_collect_cb cb;
    void *ud;
    struct collector *prev, *next;
} collector_t;

struct metrics {
    family_t *families;      /* utlist DL, in creation order (the render order) */
    collector_t *collectors; /* utlist DL, in registration order */
    uint64_t gen;
};

static const double BUCKETS_S[] = {METRICS_BUCKETS_S};
#define NBUCKETS (sizeof BUCKETS_S / sizeof BUCKETS_S[0])

metrics_t *metrics_new(void) { return xcalloc(1, sizeof(metrics_t)); }

static void series_free(metric_t *s)
{
    xfree(s->labels);
    xfree(s->key);
    xfree(s->hist);
    xfree(s);
}

void metrics_free(metrics_t *m)
{
    if (!m)
        return;
    family_t *f, *fn;
    DL_FOREACH_SAFE(m->families, f, fn) {
        metric_t *s, *sn;
        DL_FOREACH_SAFE(f->series, s, sn)
            series_free(s);
        xfree(f->name);
        xfree(f->help);
        xfree(f);
    }
    collector_t *c, *cn;
    DL_FOREACH_SAFE(m->collectors, c, cn)
        xfree(c);
    xfree(m);
}

/* "k=v,k2=v2" -> k="v",k2="v2" with \, " and newline escaped in the values. */
static char *render_labels(const char *in)
{
    sbuf_t b = {0};
    sbuf_put(&b, "", 0);
    const char *p = in ? in : "";
    while (*p) {
        const char *eq = strchr(p, '=');
        if (!eq)
            break;
        const char *end = strchr(eq + 1, ',');
        if (!end)
            end = eq + strlen(eq);
        if (b.len)
            sbuf_str(&b, ",");
        sbuf_put(&b, p, (size_t)(eq - p));
        sbuf_str(&b, "=\"");
        for (const char *v = eq + 1; v < end; v++) {
            if (*v == '\\' || *v == '"')
                sbuf_put(&b, "\\", 1);
            if (*v == '\n')
                sbuf_str(&b, "\\n");
            else
                sbuf_put(&b, v, 1);
        }
        sbuf_str(&b, "\"");
        p = *end ? end + 1 : end;
    }
    return b.p;
}

static family_t *family_get(metrics_t *m, const char *name, const char *help, mtype_t type)
{
    family_t *f;
    DL_FOREACH(m->families, f) {
        if (strcmp(f->name, name) == 0) {
            if (f->type != type) {
                log_error("metrics_type_clash", "name=%s", name);
                abort();
            }
            return f;
        }
    }
    f = xcalloc(1, sizeof *f);
    f->name = xstrdup(name);
    f->help = xstrdup(help ? help : "");
    f->type = type;
    DL_APPEND(m->families, f);
    return f;
}

static metric_t *series_get(metrics_t *m, const char *name, const char *help, mtype_t type,
                            const char *labels)
{
    family_t *f = family_get(m, name, help, type);
    const char *key = labels ? labels : "";
    metric_t *s;
    DL_FOREACH(f->series, s)
        if (strcmp(s->key, key) == 0)
            return s;
    s = xcalloc(1, sizeof *s);
    s->f = f;
    s->key = xstrdup(key);
    s->labels = render_labels(key);
    if (type == M_HISTOGRAM) {
        s->hist = xmalloc(sizeof *s->hist);
        hist_init(s->hist);
    }
    DL_APPEND(f->series, s);
    return s;
}

metric_t *metrics_counter(metrics_t *m, const char *name, const char *help, const char *labels)
{
    return series_get(m, name, help, M_COUNTER, labels);
}

metric_t *metrics_gauge(metrics_t *m, const char *name, const char *help, const char *labels)
{
    return series_get(m, name, help, M_GAUGE, labels);
}

metric_t *metrics_histogram(metrics_t *m, const char *name, const char *help, const char *labels)
{
    return series_get(m, name, help, M_HISTOGRAM, labels);
}

void metric_inc(metric_t *c) { c->count++; }
void metric_add(metric_t *c, uint64_t n) { c->count += n; }
void metric_set(metric_t *g, double v) { g->value = v; }
void metric_observe_us(metric_t *h, uint64_t us) { hist_record(h->hist, us); }
uint64_t metric_count(const metric_t *c) { return c->count; }

/* A series set by a collector: it lives only while each render sets it again. */
static metric_t *volatile_series(metrics_t *m, const char *name, const char *help, mtype_t type,
                                 const char *labels)
{
    metric_t *s = series_get(m, name, help, type, labels);
    s->is_volatile = 1;
    s->gen = m->gen;
    return s;
}

void metrics_set_gauge(metrics_t *m, const char *name, const char *help, const char *labels,
                       double v)
{
    volatile_series(m, name, help, M_GAUGE, labels)->value = v;
}

void metrics_set_counter(metrics_t *m, const char *name, const char *help, const char *labels,
                         uint64_t v)
{
    volatile_series(m, name, help, M_COUNTER, labels)->count = v;
}

void metrics_set_enum_counts(metrics_t *m, const char *name, const char *help, const char *key,
                             const ProtobufCEnumDescriptor *desc, const uint64_t *counts)
{
    for (unsigned i = 0; i < METRICS_ENUM_SLOTS; i++) {
        if (!counts[i])
            continue;
        char labels[160];
        const ProtobufCEnumValue *v = i < 256 ? protobuf_c_enum_descriptor_get_value(desc, (int)i) : NULL;
        if (v)
            snprintf(labels, sizeof labels, "%s=%s", key, v->name);
        else if (i < 256)
            snprintf(labels, sizeof labels, "%s=%u", key, i);
        else
            snprintf(labels, sizeof labels, "%s=other", key);
        metrics_set_counter(m, name, help, labels, counts[i]);
    }
}

void metrics_on_collect(metrics_t *m, metrics_collect_cb cb, void *ud)
{
    collector_t *c = xcalloc(1, sizeof *c);
    c->cb = cb;
    c->ud = ud;
    DL_APPEND(m->collectors, c);
}

static void put_double(sbuf_t *b, double v)
{
    if (isnan(v))
        sbuf_str(b, "NaN");
    else if (isinf(v))
        sbuf_str(b, v > 0 ? "+Inf" : "-Inf");
    else
        sbuf_printf(b, "%.15g", v);
}

/* name{labels[,extra]} */
static void put_name(sbuf_t *b, const char *name, const char *suffix, const metric_t *s,
                     const char *extra)
{
    sbuf_str(b, name);
    sbuf_str(b, suffix);
    if (s->labels[0] || extra) {
        sbuf_str(b, "{");
        sbuf_str(b, s->labels);
        if (extra) {
            if (s->labels[0])
                sbuf_str(b, ",");
            sbuf_str(b, extra);
        }
        sbuf_str(b, "}");
    }
    sbuf_str(b, " ");
}

static void render_histogram(sbuf_t *b, const family_t *f, const metric_t *s)
{
    const hist_t *h = s->hist;
    uint64_t cum = 0;
    uint32_t i = 0;
    for (size_t k = 0; k < NBUCKETS; k++) {
        uint64_t bound_us = (uint64_t)llround(BUCKETS_S[k] * 1e6);
        while (i < HIST_BUCKETS && hist_bucket_high(i) <= bound_us)
            cum += h->counts[i++];
        char le[48];
        snprintf(le, sizeof le, "le=\"%g\"", BUCKETS_S[k]);
        put_name(b, f->name, "_bucket", s, le);
        sbuf_printf(b, "%llu\n", (unsigned long long)cum);
    }
    put_name(b, f->name, "_bucket", s, "le=\"+Inf\"");
    sbuf_printf(b, "%llu\n", (unsigned long long)h->count);
    put_name(b, f->name, "_sum", s, NULL);
    put_double(b, (double)h->sum / 1e6);
    sbuf_str(b, "\n");
    put_name(b, f->name, "_count", s, NULL);
    sbuf_printf(b, "%llu\n", (unsigned long long)h->count);
}

char *metrics_render(metrics_t *m, size_t *len)
{
    m->gen++;
    collector_t *c;
    DL_FOREACH(m->collectors, c)
        c->cb(m, c->ud);
    sbuf_t b = {0};
    sbuf_put(&b, "", 0);
    static const char *type_names[] = {"counter", "gauge", "histogram"};
    family_t *f;
    DL_FOREACH(m->families, f) {
        /* drop volatile series that this collection did not set */
        metric_t *s, *sn;
        DL_FOREACH_SAFE(f->series, s, sn) {
            if (s->is_volatile && s->gen != m->gen) {
                DL_DELETE(f->series, s);
                series_free(s);
            }
        }
        if (!f->series)
            continue;
        sbuf_printf(&b, "# HELP %s ", f->name);
        for (const char *p = f->help; *p; p++) {
            if (*p == '\\')
                sbuf_str(&b, "\\\\");
            else if (*p == '\n')
                sbuf_str(&b, "\\n");
            else
                sbuf_put(&b, p, 1);
        }
        sbuf_printf(&b, "\n# TYPE %s %s\n", f->name, type_names[f->type]);
        DL_FOREACH(f->series, s) {
            switch (f->type) {
            case M_COUNTER:
                put_name(&b, f->name, "", s, NULL);
                sbuf_printf(&b, "%llu\n", (unsigned long long)s->count);
                break;
            case M_GAUGE:
                put_name(&b, f->name, "", s, NULL);
                put_double(&b, s->value);
                sbuf_str(&b, "\n");
                break;
            case M_HISTOGRAM:
                render_histogram(&b, f, s);
                break;
            }
        }
    }
    *len = b.len;
    return b.p;
}
