/* status: the live status line, once a second while the bot runs: connections open, ok
 * responses per second and their p99 over the last second, unexpected errors so far (and
 * timeouts and disconnects when there are any). On a terminal (stderr a tty) one line is
 * rewritten in place with \r; otherwise a plain line per second, for logs. --quiet turns the
 * line off; the seconds are kept either way for the report's timeline. */
#include <inttypes.h>
#include <stdio.h>

#include "alloc.h"
#include "bot.h"
#include "util.h"

static void take_sample(run_t *run, uint64_t now)
{
    double dt = (double)(now - run->win_t_ns) / 1e9;
    sample_t s = {
        .t_s = (double)(now - run->t_start) / 1e9,
        .connected = run->connected_now,
        .ok = run->win_ok,
        .rps = dt > 0 ? (double)run->win_ok / dt : 0.0,
        .p99_us = hist_count(&run->win_latency_us) ? hist_percentile(&run->win_latency_us, 99) : 0,
        .errors = run->st.errors,
    };
    if (run->nsamples == run->samples_cap) {
        run->samples_cap = run->samples_cap ? run->samples_cap * 2 : 64;
        run->samples = xrealloc(run->samples, run->samples_cap * sizeof *run->samples);
    }
    run->samples[run->nsamples++] = s;
    hist_reset(&run->win_latency_us);
    run->win_ok = 0;
    run->win_t_ns = now;

    if (!run->status)
        return;
    char line[256];
    int n = snprintf(line, sizeof line,
                     "bot [%6.1fs] %s connected %" PRIu64 "/%u  %.0f req/s  p99 %.3f ms  "
                     "errors %" PRIu64,
                     s.t_s, run->stopping ? "draining" : run->scenario->name, s.connected,
                     run->nbots, s.rps, (double)s.p99_us / 1000.0, s.errors);
    if (n > 0 && (size_t)n < sizeof line && run->st.timeouts)
        n += snprintf(line + n, sizeof line - (size_t)n, "  timeouts %" PRIu64, run->st.timeouts);
    if (n > 0 && (size_t)n < sizeof line && run->st.disconnects)
        n += snprintf(line + n, sizeof line - (size_t)n, "  disconnects %" PRIu64,
                      run->st.disconnects);
    if (run->status == 1) {
        fprintf(stderr, "\r%s\033[K", line);
        run->status_printed = 1;
    } else {
        fprintf(stderr, "%s\n", line);
    }
    fflush(stderr);
}

static void on_status(uv_timer_t *t)
{
    take_sample(t->data, mono_ns());
}

void status_start(run_t *run)
{
    run->win_t_ns = run->t_start;
    uv_timer_start(&run->status_timer, on_status, 1000, 1000);
}

void status_end(run_t *run)
{
    if (run->status_printed)
        fputc('\n', stderr);
    run->status_printed = 0;
}
