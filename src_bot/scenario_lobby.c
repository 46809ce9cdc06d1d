/* scenario lobby: every bot registers and logs in, then cycles through rooms: create one (or
 * list and join one with a free seat), get ready, start it when owner, chat now and then,
 * leave. One request in flight per bot at a time, at least 1/--rate s apart.
 *
 * A started room stays IN_GAME with its players in it until its match ends (forever where
 * no game daemon runs matches; up to MATCH_TIME_LIMIT_MS where one does), and neither
 * LEAVE_ROOM nor LOGOUT takes a player out of a room in game, so an account that was in a
 * started room cannot create or join meanwhile. After a start the bot tries LEAVE_ROOM
 * (answered ROOM_IN_GAME), LOGOUTs and goes on with a fresh account: PREFIX<index>_<n>.
 * A member whose room's owner is offline (a room handed back after a match whose players
 * had logged out) leaves at once instead of waiting for a start that cannot come.
 *
 * Expected outcomes (counted by code, not failures): races between bots (ROOM_FULL,
 * ROOM_NOT_FOUND, ROOM_IN_GAME, ALREADY_IN_ROOM, NOT_ALL_READY), SERVICE_UNAVAILABLE on START
 * (no healthy game daemon), USERNAME_TAKEN on REGISTER (the account is there from an earlier
 * run) and BUSY on REGISTER/LOGIN (password hashing is saturated: retried after a backoff). */
#include <inttypes.h>
#include <string.h>

#include "log.h"
#include "rooms.h"
#include "util.h"

typedef enum {
    S_REGISTER = 0,
    S_LOGIN,
    S_CYCLE,        /* logged in, in no room: create, or list and join */
    S_CREATE,
    S_LIST,
    S_JOIN,         /* join_id picked from the list */
    S_READY,        /* in a room, not ready yet */
    S_WAIT,         /* ready; owner: start when full and ready or at the deadline */
    S_LEAVE,        /* leave a waiting room (or the unknown one ALREADY_IN_ROOM spoke of) */
    S_INGAME_LEAVE, /* the room started: try to leave (ROOM_IN_GAME expected), then log out */
    S_LOGOUT,       /* log out, then on with a fresh account */
    S_DONE,         /* nothing more to do (final logout sent, or out of account names) */
} step_t;

typedef struct lbot {
    session_t s; /* first: a session_t * is an lbot_t * */
    step_t step;
    int gate_wait;
    /* room */
    uint64_t room_id, owner_id, join_id;
    uint32_t max_players, members, ready;
    int in_game, will_start, owner_online;
    uint64_t deadline_ns, next_chat_ns;
    uint32_t rooms_made, chats;
} lbot_t;

/* The scenario's state (its bots' session scen). */
typedef struct lobby {
    sess_pool_t pool; /* first: an account scenario's state */
    /* Connected bots that have not logged in yet. Password hashing is the scarce resource:
     * while any bot waits for its first login, fresh accounts (which cost two hashes each)
     * wait. */
    uint32_t first_login_pending;
} lobby_t;
#define GATE_POLL_MS 50

static void lb_act(lbot_t *b);

static const sess_steps_t ACCOUNT_STEPS = {S_LOGIN, S_REGISTER, S_LOGOUT, S_DONE, S_LEAVE, S_CYCLE};

/* ------------------------------------------------------------------ helpers */

static uint64_t rnd(lbot_t *b) { return sess_rnd(&b->s); }
static uint32_t rnd_below(lbot_t *b, uint32_t n) { return sess_rnd_below(&b->s, n); }
static int lb_send(lbot_t *b, uint16_t type, const ProtobufCMessage *msg)
{
    return sess_send(&b->s, type, msg);
}
static void lb_wake(lbot_t *b) { sess_wake(&b->s); }
static lobby_t *lobby_of(const lbot_t *b) { return b->s.scen; }

static void room_clear(lbot_t *b)
{
    b->room_id = b->owner_id = 0;
    b->max_players = b->members = b->ready = 0;
    b->in_game = 0;
}

/* Takes in a room state from a response or a ROOM_UPDATE. In game is final for a room: an
 * older snapshot arriving late (via another lobby) does not undo it. */
static void room_take(lbot_t *b, const RoomState *r)
{
    if (!r)
        return;
    if (r->room_id != b->room_id) {
        b->room_id = r->room_id;
        b->in_game = 0;
    }
    b->owner_id = r->owner_id;
    b->max_players = r->max_players;
    b->members = (uint32_t)r->n_members;
    b->ready = 0;
    b->owner_online = 0;
    for (size_t i = 0; i < r->n_members; i++) {
        if (!r->members[i])
            continue;
        if (r->members[i]->ready)
            b->ready++;
        if (r->members[i]->user_id == r->owner_id)
            b->owner_online = r->members[i]->online;
    }
    if (r->status == ROOM_STATUS__IN_GAME)
        b->in_game = 1;
}

static int is_owner(const lbot_t *b) { return b->room_id && b->owner_id == b->s.user_id; }

/* Entering a room: when to give up waiting, and whether to start it as its owner. */
static void room_entered(lbot_t *b, uint64_t now, int owner)
{
    run_t *run = b->s.bot->run;
    b->deadline_ns = now + run->room_wait_ms * MS * (owner ? 1u : 3u);
    b->will_start = rnd_below(b, 100) < run->start_pct;
    if (run->chat_interval_ms)
        b->next_chat_ns = now + rnd(b) % (run->chat_interval_ms * MS);
}

/* Is (request type, code) one of the outcomes a healthy cluster gives under this load? */
static int expected_error(const session_t *s, uint16_t rq, int code)
{
    (void)s;
    switch (rq) {
    case PACKET_TYPE__JOIN_ROOM_REQUEST:
        return code == ERROR_CODE__ROOM_FULL || code == ERROR_CODE__ROOM_NOT_FOUND ||
               code == ERROR_CODE__ROOM_IN_GAME || code == ERROR_CODE__ALREADY_IN_ROOM;
    case PACKET_TYPE__PREPARE_GAME_REQUEST:
        return code == ERROR_CODE__ROOM_IN_GAME;
    case PACKET_TYPE__START_GAME_REQUEST:
        return code == ERROR_CODE__NOT_ALL_READY || code == ERROR_CODE__SERVICE_UNAVAILABLE ||
               code == ERROR_CODE__ROOM_IN_GAME;
    default: /* REGISTER, LOGIN, CREATE_ROOM, LEAVE_ROOM */
        return rooms_expected(rq, code);
    }
}

/* ------------------------------------------------------------------ requests */

static void send_create(lbot_t *b)
{
    char name[33];
    snprintf(name, sizeof name, "room %u.%u", b->s.bot->index, ++b->rooms_made);
    CreateRoomRequest rq = CREATE_ROOM_REQUEST__INIT;
    rq.name = name;
    rq.max_players = 2 + rnd_below(b, 3);
    (void)lb_send(b, PACKET_TYPE__CREATE_ROOM_REQUEST, &rq.base);
}

static void send_chat(lbot_t *b)
{
    char text[96];
    snprintf(text, sizeof text, "hello from %s, line %u", b->s.user, ++b->chats);
    RoomChatRequest rq = ROOM_CHAT_REQUEST__INIT;
    rq.text = text;
    (void)lb_send(b, PACKET_TYPE__ROOM_CHAT_REQUEST, &rq.base);
}

/* Waiting in a room, ready. Sends what is due, or sleeps until something is. */
static void act_wait(lbot_t *b, uint64_t now)
{
    run_t *run = b->s.bot->run;
    if (b->in_game) {
        b->step = S_INGAME_LEAVE;
        lb_act(b);
        return;
    }
    int due = now + SLACK_NS >= b->deadline_ns;
    if (is_owner(b)) {
        int full_ready = b->members >= b->max_players && b->ready >= b->members;
        if (full_ready || due) {
            if (b->will_start && b->members >= 2) {
                StartGameRequest rq = START_GAME_REQUEST__INIT;
                (void)lb_send(b, PACKET_TYPE__START_GAME_REQUEST, &rq.base);
            } else {
                b->step = S_LEAVE; /* alone, or not starting this one */
                lb_act(b);
            }
            return;
        }
    } else if (due || !b->owner_online) {
        b->step = S_LEAVE; /* no start came, or none can come */
        lb_act(b);
        return;
    }
    if (run->chat_interval_ms && now + SLACK_NS >= b->next_chat_ns) {
        b->next_chat_ns = now + run->chat_interval_ms * MS;
        send_chat(b);
        return;
    }
    uint64_t t = b->deadline_ns;
    if (run->chat_interval_ms && b->next_chat_ns < t)
        t = b->next_chat_ns;
    sess_sleep_until(&b->s, t, now);
}

/* REGISTER or LOGIN of a fresh account, once no bot waits for its first login (keeping
 * the connection alive meanwhile). */
static void act_account(lbot_t *b, uint64_t now)
{
    if (b->s.ever_logged_in && lobby_of(b)->first_login_pending) {
        if (!b->gate_wait) {
            b->gate_wait = 1;
            b->s.bot->run->st.rotation_waits++;
        }
        if (sess_keepalive_due(&b->s, now))
            sess_send_ping(&b->s);
        else
            sess_sleep_until(&b->s, now + GATE_POLL_MS * MS, now);
        return;
    }
    b->gate_wait = 0;
    (void)sess_act_account(&b->s, (int)b->step, &ACCOUNT_STEPS);
}

/* Sends the bot's next request (or sleeps when it waits in a room). */
static void lb_act(lbot_t *b)
{
    run_t *run = b->s.bot->run;
    if (!sess_can_act(&b->s))
        return;
    uint64_t now = mono_ns();
    switch (b->step) {
    case S_REGISTER:
    case S_LOGIN:
        act_account(b, now);
        break;
    case S_CYCLE:
        b->step = rnd_below(b, 100) < run->create_pct ? S_CREATE : S_LIST;
        lb_act(b);
        break;
    case S_CREATE:
        send_create(b);
        break;
    case S_LIST: {
        GetRoomListRequest rq = GET_ROOM_LIST_REQUEST__INIT;
        rq.page = 0;
        rq.page_size = 20;
        (void)lb_send(b, PACKET_TYPE__GET_ROOM_LIST_REQUEST, &rq.base);
        break;
    }
    case S_JOIN: {
        JoinRoomRequest rq = JOIN_ROOM_REQUEST__INIT;
        rq.room_id = b->join_id;
        (void)lb_send(b, PACKET_TYPE__JOIN_ROOM_REQUEST, &rq.base);
        break;
    }
    case S_READY:
        if (b->in_game) {
            b->step = S_INGAME_LEAVE;
            lb_act(b);
        } else {
            PrepareGameRequest rq = PREPARE_GAME_REQUEST__INIT;
            rq.ready = 1;
            (void)lb_send(b, PACKET_TYPE__PREPARE_GAME_REQUEST, &rq.base);
        }
        break;
    case S_WAIT:
        act_wait(b, now);
        break;
    case S_LEAVE:
    case S_INGAME_LEAVE:
        rooms_send_leave(&b->s);
        break;
    case S_LOGOUT:
        (void)sess_act_account(&b->s, (int)b->step, &ACCOUNT_STEPS);
        break;
    case S_DONE:
        break;
    }
}

/* ------------------------------------------------------------------ responses */

#define UNPACK(T, desc) ((T *)pb_unpack(&b->s.bot->run->arena, &desc, payload, len))

/* CREATE_ROOM or JOIN_ROOM answered with the room: in it, counted in *count, to get ready
 * (owner: as its creator, or as the member a join made the owner). Returns -1 (nothing done)
 * when the response did not decode or had no room (room NULL). */
static int room_joined(lbot_t *b, const RoomState *room, uint64_t now, int created,
                       uint64_t *count)
{
    if (!room)
        return -1;
    (*count)++;
    room_clear(b);
    room_take(b, room);
    room_entered(b, now, created || is_owner(b));
    b->step = S_READY;
    return 0;
}

/* GET_ROOM_LIST answered: a random room with a free seat to join; none: create one. */
static void room_pick(lbot_t *b, const GetRoomListResponse *r)
{
    uint32_t free_rooms = 0;
    for (size_t i = 0; i < r->n_rooms; i++)
        if (r->rooms[i]->players < r->rooms[i]->max_players)
            free_rooms++;
    b->step = S_CREATE;
    if (!free_rooms)
        return;
    uint32_t pick = rnd_below(b, free_rooms);
    for (size_t i = 0; i < r->n_rooms; i++) {
        if (r->rooms[i]->players >= r->rooms[i]->max_players)
            continue;
        if (pick-- == 0) {
            b->join_id = r->rooms[i]->room_id;
            b->step = S_JOIN;
            return;
        }
    }
}

/* A response to a room request. Returns -1 when the payload does not decode. */
static int room_ok(lbot_t *b, uint16_t rq, const uint8_t *payload, size_t len, uint64_t now)
{
    stats_t *st = &b->s.bot->run->st;
    switch (rq) {
    case PACKET_TYPE__CREATE_ROOM_REQUEST: {
        CreateRoomResponse *r = UNPACK(CreateRoomResponse, create_room_response__descriptor);
        return room_joined(b, r ? r->room : NULL, now, 1, &st->rooms_created);
    }
    case PACKET_TYPE__GET_ROOM_LIST_REQUEST: {
        GetRoomListResponse *r = UNPACK(GetRoomListResponse, get_room_list_response__descriptor);
        if (!r)
            return -1;
        room_pick(b, r);
        return 0;
    }
    case PACKET_TYPE__JOIN_ROOM_REQUEST: {
        JoinRoomResponse *r = UNPACK(JoinRoomResponse, join_room_response__descriptor);
        return room_joined(b, r ? r->room : NULL, now, 0, &st->joins);
    }
    case PACKET_TYPE__PREPARE_GAME_REQUEST: {
        PrepareGameResponse *r = UNPACK(PrepareGameResponse, prepare_game_response__descriptor);
        if (!r || !r->room)
            return -1;
        room_take(b, r->room);
        b->step = S_WAIT;
        return 0;
    }
    }
    return -1;
}

/* A response of the expected type: advance. Returns -1 when the payload does not decode. */
static int on_ok(session_t *s, uint16_t rq, const uint8_t *payload, size_t len, uint64_t now)
{
    lbot_t *b = (lbot_t *)s;
    stats_t *st = &s->bot->run->st;
    rooms_account_t acc;
    int rc = rooms_account_ok(s, rq, payload, len, now, &ACCOUNT_STEPS, &acc);
    if (rc < 0)
        return -1;
    if (rc) { /* REGISTER, LOGIN, LOGOUT */
        if (acc.first)
            lobby_of(b)->first_login_pending--;
        if (rq != PACKET_TYPE__REGISTER_REQUEST) {
            room_clear(b); /* logged out: in no room; logged in: in LOGIN's (an earlier run's) */
            room_take(b, acc.room);
        }
        b->step = (step_t)acc.step;
        return 0;
    }
    switch (rq) {
    case PACKET_TYPE__START_GAME_REQUEST:
        st->starts++;
        b->in_game = 1;
        b->step = S_INGAME_LEAVE;
        return 0;
    case PACKET_TYPE__LEAVE_ROOM_REQUEST:
        st->leaves++;
        room_clear(b);
        b->step = S_CYCLE;
        return 0;
    case PACKET_TYPE__ROOM_CHAT_REQUEST:
        st->chat_lines++;
        return 0; /* back to waiting */
    case PACKET_TYPE__PING_REQUEST:
        return 0;
    }
    return room_ok(b, rq, payload, len, now);
}

/* An ERROR_RESPONSE: expected outcomes move the bot on; unexpected ones too, after a pause,
 * to a step that gets it back on track. */
static void on_error(session_t *s, uint16_t rq, int code, uint64_t now)
{
    lbot_t *b = (lbot_t *)s;
    int step = (int)b->step;
    if (sess_on_account_error(s, rq, code, now, &step, 1, &ACCOUNT_STEPS)) {
        b->step = (step_t)step;
        if (code == ERROR_CODE__NOT_AUTHENTICATED || rq == PACKET_TYPE__LOGOUT_REQUEST)
            room_clear(b); /* logged out: in no room */
        return;
    }
    switch (rq) {
    case PACKET_TYPE__CREATE_ROOM_REQUEST:
    case PACKET_TYPE__JOIN_ROOM_REQUEST:
        if (code == ERROR_CODE__ALREADY_IN_ROOM) {
            room_clear(b); /* in a room we do not know about: leave it */
            b->step = S_LEAVE;
        } else {
            b->step = S_CYCLE;
        }
        break;
    case PACKET_TYPE__PREPARE_GAME_REQUEST:
    case PACKET_TYPE__START_GAME_REQUEST:
        if (code == ERROR_CODE__ROOM_IN_GAME) {
            b->in_game = 1;
            b->step = S_INGAME_LEAVE;
        } else if (code == ERROR_CODE__NOT_IN_ROOM) {
            room_clear(b);
            b->step = S_CYCLE;
        } else {
            b->step = S_LEAVE; /* NOT_ALL_READY, SERVICE_UNAVAILABLE, ... */
        }
        break;
    case PACKET_TYPE__LEAVE_ROOM_REQUEST:
        if (code == ERROR_CODE__ROOM_IN_GAME) {
            b->in_game = 1;
            b->step = S_LOGOUT; /* stuck in a room in game: on with a fresh account */
        } else if (code == ERROR_CODE__NOT_IN_ROOM) {
            room_clear(b);
            b->step = S_CYCLE;
        }
        break;
    case PACKET_TYPE__ROOM_CHAT_REQUEST:
        if (code == ERROR_CODE__NOT_IN_ROOM) {
            room_clear(b);
            b->step = S_CYCLE;
        }
        break;
    }
    if (!expected_error(s, rq, code))
        b->s.not_before_ns = now + 100 * MS;
}

/* No response in time: the request may have been done or not, get back on track from a known
 * state. */
static void on_timeout(session_t *s, uint16_t rq)
{
    lbot_t *b = (lbot_t *)s;
    (void)rq;
    if (!b->s.logged_in)
        b->step = b->step == S_LOGOUT ? S_LOGIN : b->step;
    else if (b->room_id)
        b->step = b->in_game ? S_INGAME_LEAVE : S_LEAVE;
    else if (b->step != S_LOGOUT)
        b->step = S_CYCLE;
}

/* The traffic time is over: a logged-in bot logs out (once it has no request in flight), so
 * its waiting room is left now rather than after the lobby's grace period. */
static void final_logout(session_t *s)
{
    if (sess_final_logout(s))
        ((lbot_t *)s)->step = S_LOGOUT;
}

static void ops_act(session_t *s) { lb_act((lbot_t *)s); }

static const session_ops_t LOBBY_OPS = {
    .on_ok = on_ok,
    .expected = expected_error,
    .on_error = on_error,
    .on_timeout = on_timeout,
    .act = ops_act,
    .stop = final_logout,
    .gap_ns = sess_rate_gap,
};

/* ------------------------------------------------------------------ pushes */

static void lobby_on_push(bot_t *bot, uint16_t type, uint32_t seq, const uint8_t *payload,
                          size_t len)
{
    run_t *run = bot->run;
    lbot_t *b = bot->sc;
    if (seq != 0 || !b)
        return;
    switch (type) {
    case PACKET_TYPE__ROOM_UPDATE: {
        RoomUpdate *u = (RoomUpdate *)pb_unpack(&run->arena, &room_update__descriptor, payload, len);
        if (!u || !u->room || !b->room_id || u->room->room_id != b->room_id)
            return; /* not about our room (any more) */
        int was_owner = is_owner(b);
        room_take(b, u->room);
        if (!was_owner && is_owner(b)) /* the owner left: ours now, start it soon */
            b->deadline_ns = mono_ns() + run->room_wait_ms * MS;
        break;
    }
    case PACKET_TYPE__GAME_STARTING: {
        GameStarting *g =
            (GameStarting *)pb_unpack(&run->arena, &game_starting__descriptor, payload, len);
        if (!g || !b->room_id || g->room_id != b->room_id)
            return;
        b->in_game = 1;
        break;
    }
    case PACKET_TYPE__KICKED:
        b->s.logged_in = 0; /* the gateway closes the connection next */
        return;
    default:
        return;
    }
    if (b->step == S_WAIT && !b->s.busy)
        lb_wake(b); /* the owner may start now, or everyone leaves a started room */
}

/* ------------------------------------------------------------------ the run */

static void lobby_on_connected(bot_t *bot)
{
    lbot_t *b = bot->sc;
    sess_connected(&b->s);
    lobby_of(b)->first_login_pending++;
    lb_wake(b);
}

static void lobby_on_gone(bot_t *bot)
{
    lbot_t *b = bot->sc;
    if (b->s.connected_once && !b->s.ever_logged_in) {
        b->s.connected_once = 0;
        lobby_of(b)->first_login_pending--;
    }
    sess_gone(&b->s);
}

_Static_assert(S_REGISTER == 0, "a zeroed lbot_t starts at REGISTER");
static void lobby_start(scen_use_t *use)
{
    (void)sess_scenario_start(use, sizeof(lobby_t), sizeof(lbot_t), &LOBBY_OPS);
}

/* On top of the checks every scenario passes (see passed() in report.c). */
static int lobby_passed(const run_t *run)
{
    const stats_t *st = &run->st;
    return st->bots_logged_in == run->account_bots && pushes_of(run, PACKET_TYPE__KICKED) == 0 &&
           st->ok > 0;
}

static const scenario_hooks_t LOBBY_HOOKS = {
    .base = &SESS_HOOKS,
    .on_connected = lobby_on_connected,
    .on_push = lobby_on_push,
    .on_gone = lobby_on_gone,
};

const scenario_t SCENARIO_LOBBY = {
    .name = "lobby",
    .accounts = 1,
    .setup = sess_setup,
    .start = lobby_start,
    .passed = lobby_passed,
    .hooks = &LOBBY_HOOKS,
};
