/* stopsig: SIGTERM and SIGINT as events on the loop, through a signalfd.
 *
 * stopsig_block() runs first in main, before any thread exists, so every thread (libuv's
 * pool, the admin HTTP thread, the hashing pool) inherits them blocked: no thread ever takes
 * them with a handler or the default action. The loop reads them from a signalfd while it
 * serves; once the daemon closes that, a further SIGTERM stays pending and the clean exit in
 * progress finishes (a supervisor repeating its SIGTERM cannot turn it into a death by
 * signal, as closing a uv_signal_t would: libuv restores the default action). */
#ifndef CLUSTER_STOPSIG_H
#define CLUSTER_STOPSIG_H

#include <uv.h>

typedef struct stopsig stopsig_t;
typedef void (*stopsig_cb)(int signum, void *ud);

/* Blocks SIGTERM and SIGINT in the calling thread (and the threads it creates later). */
void stopsig_block(void);
/* Delivers each SIGTERM/SIGINT to cb on the loop. NULL on failure (logged). */
stopsig_t *stopsig_start(uv_loop_t *loop, stopsig_cb cb, void *ud);
/* Stops delivering; the signals stay blocked. Freed once the loop has closed its handle. */
void stopsig_close(stopsig_t *s);

#endif
