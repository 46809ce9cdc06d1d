/* congestion: the smooth / congested status of a daemon (registry status 1 / 2) from one
 * load figure per period, with hysteresis so it does not flap: congested as soon as a period's
 * load reaches enter_pct of the budget, smooth again only after exit_periods periods in a row
 * below exit_pct. Pure: the daemons feed it (game: tick p99 against TICK_MS; lobby: the
 * password-hashing queue against HASH_INFLIGHT) and publish the result. */
#ifndef CLUSTER_CONGESTION_H
#define CLUSTER_CONGESTION_H

typedef struct congestion {
    double enter_pct, exit_pct;
    int exit_periods;
    int congested;
    int calm; /* periods in a row below exit_pct while congested */
} congestion_t;

void congestion_init(congestion_t *c, double enter_pct, double exit_pct, int exit_periods);

/* One period's load in percent of the budget. Returns 1 when the state changed. */
int congestion_feed(congestion_t *c, double load_pct);

#endif
