/* rooms: what the room scenarios (lobby, match) share on top of session.h: the account
 * responses (where an account stands after LOGIN), LEAVE_ROOM, and the expected errors of the
 * requests both send. */
#ifndef CLUSTER_BOT_ROOMS_H
#define CLUSTER_BOT_ROOMS_H

#include "session.h"

/* What an account response leads to in a room scenario. */
typedef struct rooms_account {
    int step;              /* the next step */
    int first;             /* LOGIN: the bot's first login (sess_logged_in) */
    const RoomState *room; /* LOGIN: the room the account is still in (NULL: none) */
} rooms_account_t;

/* An ok response to an account request: REGISTER: login next. LOGIN (sess_logged_in): by
 * where the account stands, as an earlier run may have left it in a room: in a room in game,
 * logout (then on with a fresh account; counted as a stuck login); in a waiting room, leave;
 * in none, idle. LOGOUT: sess_after_logout, then a fresh account. Returns 1 with *out set;
 * 0 for the scenario's other requests (nothing done); -1 when LOGIN's response does not
 * decode. */
int rooms_account_ok(session_t *s, uint16_t rq, const uint8_t *payload, size_t len, uint64_t now,
                     const sess_steps_t *steps, rooms_account_t *out);

void rooms_send_leave(session_t *s); /* LEAVE_ROOM */

/* The outcomes a healthy cluster gives under load, of the requests both scenarios send:
 * REGISTER/LOGIN (sess_account_expected); LEAVE_ROOM: ROOM_IN_GAME (the room started
 * meanwhile); CREATE_ROOM and QUICK_MATCH: ALREADY_IN_ROOM. 0 for any other request. */
int rooms_expected(uint16_t rq, int code);

#endif
