/* throttle: login throttling that cannot lock an account's owner out (docs/lobby.md).
 *
 * Failures are counted per (source address, username) and per source address, never per
 * username alone: a stranger's guesses slow the stranger, not the owner elsewhere. Past a
 * number of free failures each further attempt must wait a backoff that doubles per failure
 * (capped); a success clears the pair's count. Counts live in Redis (any lobby sees them) and
 * are forgotten LOGIN_FAIL_WINDOW_S after the last attempt. */
#ifndef LOBBY_THROTTLE_H
#define LOBBY_THROTTLE_H

#include <stdint.h>

#include "lobby.h"

typedef enum {
    THROTTLE_SUCCESS,   /* right password: the pair's count is cleared */
    THROTTLE_FAILURE,   /* wrong password or unknown user: the source's count grows */
    THROTTLE_UNCHECKED, /* never reached the password check (BUSY, database down): no count */
} throttle_outcome_t;

/* status: 1 the attempt may go on (it is counted for the pair already, so concurrent guesses
 * cannot all pass), 0 throttled (retry_ms: the wait before an attempt would be allowed), -1
 * Redis failed. */
typedef void (*throttle_cb)(lobby_t *lb, int status, uint32_t retry_ms, void *ud);

/* Asks whether a login for username from src may be checked now. Returns 0 (cb called later),
 * or -1 when Redis is down (no callback). */
int throttle_check(lobby_t *lb, const uint8_t src[16], const char *username, throttle_cb cb,
                   void *ud);
/* Reports the outcome of an attempt that throttle_check allowed. Fire and forget. */
void throttle_done(lobby_t *lb, const uint8_t src[16], const char *username,
                   throttle_outcome_t outcome);

#endif
