/* test_ratelimit: the gateway's per-session token bucket (src_gateway/ratelimit.c). */
#include "check.h"
#include "ratelimit.h"

/* Takes until refused; returns how many were allowed. */
static int drain(tbucket_t *b, int64_t rate, int64_t burst, uint64_t now)
{
    int n = 0;
    while (tbucket_take(b, rate, burst, now) && n < 100000000)
        n++;
    return n;
}

int main(void)
{
    tbucket_t b;

    /* a new session may send its whole burst at once, then nothing at the same instant */
    tbucket_init(&b, 20, 1000);
    CHECK_EQ(drain(&b, 100, 20, 1000), 20);
    CHECK_EQ(tbucket_take(&b, 100, 20, 1000), 0);

    /* it refills at rate per second: 100/s gives one packet per 10 ms */
    CHECK_EQ(tbucket_take(&b, 100, 20, 1009), 0);
    CHECK_EQ(tbucket_take(&b, 100, 20, 1010), 1);
    CHECK_EQ(tbucket_take(&b, 100, 20, 1010), 0);
    CHECK_EQ(drain(&b, 100, 20, 1110), 10); /* 100 ms later: 10 more */

    /* fractions add up over many small steps: 1 ms steps at 100/s, 500 ms, 50 packets */
    tbucket_init(&b, 1, 0);
    CHECK_EQ(tbucket_take(&b, 100, 1, 0), 1);
    int got = 0;
    for (uint64_t t = 1; t <= 500; t++)
        got += tbucket_take(&b, 100, 1, t);
    printf("1 ms steps at 100/s for 500 ms: %d packets\n", got);
    CHECK_EQ(got, 50); /* REGRESSION: with a double, 0.1 added ten times fell short of 1.0: 45 */

    /* a long silence refills to the burst, no more */
    tbucket_init(&b, 5, 0);
    CHECK_EQ(drain(&b, 100, 5, 0), 5);
    CHECK_EQ(drain(&b, 100, 5, 3600 * 1000), 5);

    /* a clock that goes back adds nothing and breaks nothing */
    tbucket_init(&b, 3, 5000);
    CHECK_EQ(drain(&b, 100, 3, 5000), 3);
    CHECK_EQ(tbucket_take(&b, 100, 3, 4000), 0);
    CHECK_EQ(tbucket_take(&b, 100, 3, 5010), 1); /* refills from 5000, not from 4000 */

    /* the largest settings: no overflow over a year of silence */
    tbucket_init(&b, 1000000, 0);
    CHECK_EQ(drain(&b, 1000000, 1000000, 0), 1000000);
    CHECK_EQ(drain(&b, 1000000, 1000000, 365ull * 86400 * 1000), 1000000);

    /* rate 0: the burst is all a session ever gets */
    tbucket_init(&b, 4, 0);
    CHECK_EQ(drain(&b, 0, 4, 0), 4);
    CHECK_EQ(drain(&b, 0, 4, 1000000), 0);

    /* burst 0: everything refused, even after refills (the cap is 0) */
    tbucket_init(&b, 0, 0);
    CHECK_EQ(drain(&b, 1000, 0, 10000), 0);

    printf("ratelimit: burst, refill, fractions, cap, clock going back, rate 0, burst 0\n");
    return 0;
}
