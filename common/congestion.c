/* congestion: see congestion.h. */
#include "congestion.h"

void congestion_init(congestion_t *c, double enter_pct, double exit_pct, int exit_periods)
{
    c->enter_pct = enter_pct;
    c->exit_pct = exit_pct < enter_pct ? exit_pct : enter_pct;
    c->exit_periods = exit_periods > 0 ? exit_periods : 1;
    c->congested = 0;
    c->calm = 0;
}

int congestion_feed(congestion_t *c, double load_pct)
{
    if (!(load_pct == load_pct)) /* NaN: no information this period */
        return 0;
    if (load_pct >= c->enter_pct) {
        c->calm = 0;
        if (c->congested)
            return 0;
        c->congested = 1;
        return 1;
    }
    if (!c->congested)
        return 0;
    if (load_pct >= c->exit_pct) {
        c->calm = 0;
        return 0;
    }
    if (++c->calm < c->exit_periods)
        return 0;
    c->congested = 0;
    c->calm = 0;
    return 1;
}
