/* rooms: the room code the lobby and match scenarios share. */
#include "rooms.h"

/* LOGIN answered ok: the next step by the room the account is in. */
static int login_step(session_t *s, const uint8_t *payload, size_t len, uint64_t now,
                      const sess_steps_t *steps, rooms_account_t *out)
{
    run_t *run = s->bot->run;
    LoginResponse *r = sess_logged_in(s, payload, len, now, &out->first);
    if (!r)
        return -1;
    out->room = r->room;
    if (!r->room)
        return steps->idle;
    if (r->room->status == ROOM_STATUS__IN_GAME) {
        run->st.stuck_logins++; /* a room in game keeps its players: on with a fresh account */
        return steps->logout;
    }
    return steps->leave;
}

int rooms_account_ok(session_t *s, uint16_t rq, const uint8_t *payload, size_t len, uint64_t now,
                     const sess_steps_t *steps, rooms_account_t *out)
{
    out->first = 0;
    out->room = NULL;
    switch (rq) {
    case PACKET_TYPE__REGISTER_REQUEST:
        sess_registered(s);
        out->step = steps->login;
        return 1;
    case PACKET_TYPE__LOGIN_REQUEST:
        out->step = login_step(s, payload, len, now, steps, out);
        return out->step < 0 ? -1 : 1;
    case PACKET_TYPE__LOGOUT_REQUEST:
        out->step = sess_after_logout(s, 1, 1, steps);
        return 1;
    default:
        return 0;
    }
}

void rooms_send_leave(session_t *s)
{
    LeaveRoomRequest rq = LEAVE_ROOM_REQUEST__INIT;
    (void)sess_send(s, PACKET_TYPE__LEAVE_ROOM_REQUEST, &rq.base);
}

int rooms_expected(uint16_t rq, int code)
{
    switch (rq) {
    case PACKET_TYPE__REGISTER_REQUEST:
    case PACKET_TYPE__LOGIN_REQUEST:
        return sess_account_expected(rq, code);
    case PACKET_TYPE__CREATE_ROOM_REQUEST:
    case PACKET_TYPE__QUICK_MATCH_REQUEST:
        return code == ERROR_CODE__ALREADY_IN_ROOM;
    case PACKET_TYPE__LEAVE_ROOM_REQUEST:
        return code == ERROR_CODE__ROOM_IN_GAME;
    default:
        return 0;
    }
}
