/* Unit tests of common/metrics: Prometheus text rendering, label escaping, series that live
 * only while collected, per-enum counts and histogram buckets. */
#include "metrics.h"

#include "alloc.h"
#include "check.h"
#include "cluster.pb-c.h"

static int collect_links = 2;

static void collect(metrics_t *m, void *ud)
{
    int *calls = ud;
    (*calls)++;
    for (int i = 1; i <= collect_links; i++) {
        char labels[32];
        snprintf(labels, sizeof labels, "peer_id=%d", i);
        metrics_set_gauge(m, "t_link_up", "link up", labels, 1);
    }
    uint64_t counts[METRICS_ENUM_SLOTS] = {0};
    counts[PACKET_TYPE__ECHO_REQUEST] = 3;
    counts[255] = 1;
    counts[metrics_enum_slot(999)] = 2;
    metrics_set_enum_counts(m, "t_packets_total", "packets", "type", &packet_type__descriptor, counts);
}

static char *render(metrics_t *m)
{
    size_t len;
    char *t = metrics_render(m, &len);
    CHECK_EQ(strlen(t), len);
    return t;
}

int main(void)
{
    metrics_t *m = metrics_new();
    metric_t *c = metrics_counter(m, "t_requests_total", "requests\nserved \\ all", NULL);
    CHECK(metrics_counter(m, "t_requests_total", "ignored", NULL) == c);
    metric_inc(c);
    metric_add(c, 41);
    CHECK_EQ(metric_count(c), 42);
    metric_t *g = metrics_gauge(m, "t_temp", "a gauge", "room=a\"b\\c");
    metric_set(g, 1.5);
    metric_t *h = metrics_histogram(m, "t_tick_seconds", "ticks", NULL);
    metric_observe_us(h, 50);     /* 0.05 ms: in every bucket */
    metric_observe_us(h, 700);    /* 0.7 ms: le=0.001 and up */
    metric_observe_us(h, 20000);  /* 20 ms: le=0.025 and up */
    metric_observe_us(h, 99000000); /* 99 s: only +Inf */
    int calls = 0;
    metrics_on_collect(m, collect, &calls);

    char *t = render(m);
    CHECK_EQ(calls, 1);
    CHECK(strstr(t, "# HELP t_requests_total requests\\nserved \\\\ all\n# TYPE t_requests_total counter\n"
                    "t_requests_total 42\n") != NULL);
    CHECK(strstr(t, "# TYPE t_temp gauge\nt_temp{room=\"a\\\"b\\\\c\"} 1.5\n") != NULL);
    CHECK(strstr(t, "t_tick_seconds_bucket{le=\"0.0001\"} 1\n") != NULL);
    CHECK(strstr(t, "t_tick_seconds_bucket{le=\"0.0005\"} 1\n") != NULL);
    CHECK(strstr(t, "t_tick_seconds_bucket{le=\"0.001\"} 2\n") != NULL);
    CHECK(strstr(t, "t_tick_seconds_bucket{le=\"0.01\"} 2\n") != NULL);
    CHECK(strstr(t, "t_tick_seconds_bucket{le=\"0.025\"} 3\n") != NULL);
    CHECK(strstr(t, "t_tick_seconds_bucket{le=\"10\"} 3\n") != NULL);
    CHECK(strstr(t, "t_tick_seconds_bucket{le=\"+Inf\"} 4\n") != NULL);
    CHECK(strstr(t, "t_tick_seconds_count 4\n") != NULL);
    CHECK(strstr(t, "t_tick_seconds_sum 99.02075\n") != NULL);
    CHECK(strstr(t, "# TYPE t_tick_seconds histogram\n") != NULL);
    CHECK(strstr(t, "t_link_up{peer_id=\"1\"} 1\nt_link_up{peer_id=\"2\"} 1\n") != NULL);
    CHECK(strstr(t, "t_packets_total{type=\"ECHO_REQUEST\"} 3\n") != NULL);
    CHECK(strstr(t, "t_packets_total{type=\"255\"} 1\n") != NULL);
    CHECK(strstr(t, "t_packets_total{type=\"other\"} 2\n") != NULL);
    xfree(t);

    /* a link that went away: its series is not set by the next collection, so it is gone */
    collect_links = 1;
    t = render(m);
    CHECK_EQ(calls, 2);
    CHECK(strstr(t, "t_link_up{peer_id=\"1\"} 1\n") != NULL);
    CHECK(strstr(t, "peer_id=\"2\"") == NULL);
    CHECK(strstr(t, "t_requests_total 42\n") != NULL); /* handles stay */
    xfree(t);
    collect_links = 0;
    t = render(m);
    CHECK(strstr(t, "t_link_up") == NULL); /* no series: no HELP/TYPE either */
    xfree(t);

    metrics_free(m);
    CHECK_EQ(alloc_used(), 0);
    printf("metrics: ok\n");
    return 0;
}
