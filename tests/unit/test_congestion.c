/* test_congestion: the smooth / congested hysteresis (common/congestion.c). */
#include <math.h>

#include "check.h"
#include "congestion.h"

int main(void)
{
    congestion_t c;
    congestion_init(&c, 80, 50, 3);
    CHECK_EQ(c.congested, 0);

    /* below the entry level: stays smooth, however long */
    for (int i = 0; i < 10; i++)
        CHECK_EQ(congestion_feed(&c, 79.9), 0);
    CHECK_EQ(c.congested, 0);

    /* one period at the entry level: congested at once, reported once */
    CHECK_EQ(congestion_feed(&c, 80), 1);
    CHECK_EQ(c.congested, 1);
    CHECK_EQ(congestion_feed(&c, 95), 0);
    CHECK_EQ(c.congested, 1);

    /* between the levels: stays congested */
    for (int i = 0; i < 10; i++)
        CHECK_EQ(congestion_feed(&c, 60), 0);
    CHECK_EQ(c.congested, 1);

    /* two calm periods, then a busy one: the count starts again */
    CHECK_EQ(congestion_feed(&c, 10), 0);
    CHECK_EQ(congestion_feed(&c, 10), 0);
    CHECK_EQ(congestion_feed(&c, 55), 0);
    CHECK_EQ(congestion_feed(&c, 10), 0);
    CHECK_EQ(congestion_feed(&c, 10), 0);
    CHECK_EQ(c.congested, 1);
    /* the third calm period in a row: smooth again, reported once */
    CHECK_EQ(congestion_feed(&c, 10), 1);
    CHECK_EQ(c.congested, 0);
    CHECK_EQ(congestion_feed(&c, 10), 0);

    /* a NaN load (no tick this period) changes nothing either way */
    CHECK_EQ(congestion_feed(&c, NAN), 0);
    CHECK_EQ(c.congested, 0);
    CHECK_EQ(congestion_feed(&c, 100), 1);
    CHECK_EQ(congestion_feed(&c, NAN), 0);
    CHECK_EQ(c.congested, 1);

    /* an exit level above the entry level is clamped to it: no state where both apply */
    congestion_init(&c, 50, 70, 1);
    CHECK(c.exit_pct == 50);
    CHECK_EQ(congestion_feed(&c, 60), 1);
    CHECK_EQ(congestion_feed(&c, 49), 1);
    CHECK_EQ(c.congested, 0);

    /* exit_periods 0 behaves as 1 */
    congestion_init(&c, 80, 50, 0);
    CHECK_EQ(congestion_feed(&c, 90), 1);
    CHECK_EQ(congestion_feed(&c, 40), 1);
    printf("test_congestion: all passed\n");
    return 0;
}
