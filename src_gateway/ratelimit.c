/* ratelimit: the per-session token bucket (ratelimit.h). */
#include "ratelimit.h"

void tbucket_init(tbucket_t *b, int64_t burst, uint64_t now_ms)
{
    b->milli = burst * 1000;
    b->at_ms = now_ms;
}

int tbucket_take(tbucket_t *b, int64_t rate, int64_t burst, uint64_t now_ms)
{
    if (now_ms > b->at_ms) {
        uint64_t dt = now_ms - b->at_ms;
        int64_t cap = burst * 1000;
        /* (a silence longer than the time to fill the bucket fills it: no overflow) */
        if (rate > 0 && dt >= (uint64_t)(cap / rate + 1))
            b->milli = cap;
        else if ((b->milli += (int64_t)dt * rate) > cap)
            b->milli = cap;
        b->at_ms = now_ms;
    }
    if (b->milli < 1000)
        return 0;
    b->milli -= 1000;
    return 1;
}
