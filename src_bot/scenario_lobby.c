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

#include "alloc.h"
#include "bot.h"
#include "log.h"
#include "util.h"

#define PASSWORD "bot-password-0"
#define USERNAME_MAX 24
#define GEN_DIGITS 4 /* room kept in names for _<n>, n < 10^GEN_DIGITS */
#define BACKOFF_MAX_SHIFT 5
#define MS UINT64_C(1000000)
#define SLACK_NS MS /* timers fire on whole ms: a deadline this close counts as reached */

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
    bot_t *bot;
    uv_timer_t timer;
    step_t step;
    int busy;          /* a request is in flight */
    uint16_t rq_type;  /* of the request in flight */
    uint64_t sent_ns, last_send_ns;
    uint64_t not_before_ns; /* backoff */
    uint64_t rng;
    /* account */
    uint32_t gen;
    char user[USERNAME_MAX + 8];
    uint64_t user_id;
    int connected_once, logged_in, ever_logged_in, backoff, final_logout, gate_wait;
    /* room */
    uint64_t room_id, owner_id, join_id;
    uint32_t max_players, members, ready;
    int in_game, will_start, owner_online;
    uint64_t deadline_ns, next_chat_ns;
    uint32_t rooms_made, chats;
} lbot_t;

static lbot_t *lbots;
static uint64_t interval_ns; /* least time between two requests of a bot */
/* Connected bots that have not logged in yet. Password hashing is the scarce resource: while
 * any bot waits for its first login, fresh accounts (which cost two hashes each) wait. */
static uint32_t first_login_pending;
#define GATE_POLL_MS 50
#define KEEPALIVE_NS (20000 * MS) /* a bot silent this long PINGs (gateway IDLE_TIMEOUT_MS: 60 s) */

static void lb_act(lbot_t *b);
static void lb_wake(lbot_t *b);

/* ------------------------------------------------------------------ helpers */

static uint64_t rnd(lbot_t *b)
{
    b->rng += UINT64_C(0x9E3779B97F4A7C15);
    return mix64(b->rng);
}

static uint32_t rnd_below(lbot_t *b, uint32_t n) { return n ? (uint32_t)(rnd(b) % n) : 0; }

/* Sets the account name for the bot's current generation. Returns -1 when it does not fit. */
static int make_user(lbot_t *b)
{
    int n;
    if (b->gen == 0)
        n = snprintf(b->user, sizeof b->user, "%s%u", run.user_prefix, b->bot->index);
    else
        n = snprintf(b->user, sizeof b->user, "%s%u_%u", run.user_prefix, b->bot->index, b->gen);
    return n > 0 && n <= USERNAME_MAX ? 0 : -1;
}

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

static int is_owner(const lbot_t *b) { return b->room_id && b->owner_id == b->user_id; }

/* Entering a room: when to give up waiting, and whether to start it as its owner. */
static void room_entered(lbot_t *b, uint64_t now, int owner)
{
    b->deadline_ns = now + run.room_wait_ms * MS * (owner ? 1u : 3u);
    b->will_start = rnd_below(b, 100) < run.start_pct;
    if (run.chat_interval_ms)
        b->next_chat_ns = now + rnd(b) % (run.chat_interval_ms * MS);
}

/* Is (request type, code) one of the outcomes a healthy cluster gives under this load? */
static int expected_error(uint16_t rq, int code)
{
    switch (rq) {
    case PACKET_TYPE__REGISTER_REQUEST:
        return code == ERROR_CODE__USERNAME_TAKEN || code == ERROR_CODE__BUSY;
    case PACKET_TYPE__LOGIN_REQUEST:
        return code == ERROR_CODE__BUSY;
    case PACKET_TYPE__CREATE_ROOM_REQUEST:
        return code == ERROR_CODE__ALREADY_IN_ROOM;
    case PACKET_TYPE__JOIN_ROOM_REQUEST:
        return code == ERROR_CODE__ROOM_FULL || code == ERROR_CODE__ROOM_NOT_FOUND ||
               code == ERROR_CODE__ROOM_IN_GAME || code == ERROR_CODE__ALREADY_IN_ROOM;
    case PACKET_TYPE__PREPARE_GAME_REQUEST:
        return code == ERROR_CODE__ROOM_IN_GAME;
    case PACKET_TYPE__START_GAME_REQUEST:
        return code == ERROR_CODE__NOT_ALL_READY || code == ERROR_CODE__SERVICE_UNAVAILABLE ||
               code == ERROR_CODE__ROOM_IN_GAME;
    case PACKET_TYPE__LEAVE_ROOM_REQUEST:
        return code == ERROR_CODE__ROOM_IN_GAME;
    default:
        return 0;
    }
}

/* BUSY on REGISTER/LOGIN: wait login_backoff_ms * 2^k (k = BUSYs in a row, at most 5), with
 * jitter of +-50%, before the next try. */
static void backoff(lbot_t *b, uint64_t now)
{
    int k = b->backoff < BACKOFF_MAX_SHIFT ? b->backoff : BACKOFF_MAX_SHIFT;
    b->backoff++;
    uint64_t base = run.login_backoff_ms * MS << k;
    b->not_before_ns = now + base / 2 + rnd(b) % (base + 1);
    run.st.login_backoffs++;
}

/* Moves on to a fresh account (after a start, or when the current one cannot log in). */
static void next_account(lbot_t *b)
{
    b->gen++;
    if (make_user(b) != 0) {
        if (++run.st.accounts_exhausted <= 5)
            log_warn("accounts_exhausted", "bot=%u gen=%u", b->bot->index, b->gen);
        b->step = S_DONE;
        return;
    }
    run.st.rotations++;
    b->step = S_REGISTER;
}

/* ------------------------------------------------------------------ requests */

static void on_response(client_t *c, int status, uint16_t type, const uint8_t *payload,
                        size_t len, void *ud);

static int lb_send(lbot_t *b, uint16_t type, const ProtobufCMessage *msg)
{
    bot_t *bot = b->bot;
    if (!bot->c || !client_is_connected(bot->c))
        return -1;
    uint64_t now = mono_ns();
    int64_t seq = client_request(bot->c, type, msg, on_response, b);
    if (seq < 0) {
        run.st.send_failed++;
        return -1;
    }
    b->busy = 1;
    b->rq_type = type;
    b->sent_ns = b->last_send_ns = now;
    if (run.t_first_send == 0)
        run.t_first_send = now;
    run.st.sent++;
    type_stats(type)->sent++;
    run.inflight++;
    return 0;
}

static void send_register_or_login(lbot_t *b, uint16_t type)
{
    if (type == PACKET_TYPE__REGISTER_REQUEST) {
        RegisterRequest rq = REGISTER_REQUEST__INIT;
        rq.username = b->user;
        rq.password = (char *)PASSWORD;
        (void)lb_send(b, type, &rq.base);
    } else {
        LoginRequest rq = LOGIN_REQUEST__INIT;
        rq.username = b->user;
        rq.password = (char *)PASSWORD;
        (void)lb_send(b, type, &rq.base);
    }
}

static void send_create(lbot_t *b)
{
    char name[33];
    snprintf(name, sizeof name, "room %u.%u", b->bot->index, ++b->rooms_made);
    CreateRoomRequest rq = CREATE_ROOM_REQUEST__INIT;
    rq.name = name;
    rq.max_players = 2 + rnd_below(b, 3);
    (void)lb_send(b, PACKET_TYPE__CREATE_ROOM_REQUEST, &rq.base);
}

static void send_chat(lbot_t *b)
{
    char text[96];
    snprintf(text, sizeof text, "hello from %s, line %u", b->user, ++b->chats);
    RoomChatRequest rq = ROOM_CHAT_REQUEST__INIT;
    rq.text = text;
    (void)lb_send(b, PACKET_TYPE__ROOM_CHAT_REQUEST, &rq.base);
}

static void on_timer(uv_timer_t *t);

/* Waiting in a room, ready. Sends what is due, or sleeps until something is. */
static void act_wait(lbot_t *b, uint64_t now)
{
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
    if (run.chat_interval_ms && now + SLACK_NS >= b->next_chat_ns) {
        b->next_chat_ns = now + run.chat_interval_ms * MS;
        send_chat(b);
        return;
    }
    uint64_t t = b->deadline_ns;
    if (run.chat_interval_ms && b->next_chat_ns < t)
        t = b->next_chat_ns;
    uv_timer_start(&b->timer, on_timer, t > now ? (t - now + MS - 1) / MS : 0, 0);
}

/* Sends the bot's next request (or sleeps when it waits in a room). */
static void lb_act(lbot_t *b)
{
    if (b->busy || run.stopping || !b->bot->c || !client_is_connected(b->bot->c))
        return;
    uint64_t now = mono_ns();
    switch (b->step) {
    case S_REGISTER:
    case S_LOGIN:
        if (b->ever_logged_in && first_login_pending) {
            if (!b->gate_wait) {
                b->gate_wait = 1;
                run.st.rotation_waits++;
            }
            if (now - b->last_send_ns >= KEEPALIVE_NS) {
                PingRequest rq = PING_REQUEST__INIT;
                rq.client_time = now;
                (void)lb_send(b, PACKET_TYPE__PING_REQUEST, &rq.base);
                break;
            }
            uv_timer_start(&b->timer, on_timer, GATE_POLL_MS, 0);
            break;
        }
        b->gate_wait = 0;
        send_register_or_login(b, b->step == S_REGISTER ? PACKET_TYPE__REGISTER_REQUEST
                                                        : PACKET_TYPE__LOGIN_REQUEST);
        break;
    case S_CYCLE:
        b->step = rnd_below(b, 100) < run.create_pct ? S_CREATE : S_LIST;
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
    case S_INGAME_LEAVE: {
        LeaveRoomRequest rq = LEAVE_ROOM_REQUEST__INIT;
        (void)lb_send(b, PACKET_TYPE__LEAVE_ROOM_REQUEST, &rq.base);
        break;
    }
    case S_LOGOUT: {
        LogoutRequest rq = LOGOUT_REQUEST__INIT;
        (void)lb_send(b, PACKET_TYPE__LOGOUT_REQUEST, &rq.base);
        break;
    }
    case S_DONE:
        break;
    }
}

static void on_timer(uv_timer_t *t) { lb_wake(t->data); }

/* Something changed (a response, a push): act as soon as pacing and backoff allow. */
static void lb_wake(lbot_t *b)
{
    if (b->busy || run.stopping)
        return;
    uint64_t now = mono_ns();
    uint64_t t = b->last_send_ns ? b->last_send_ns + interval_ns : 0;
    if (b->not_before_ns > t)
        t = b->not_before_ns;
    if (t <= now + SLACK_NS / 2) {
        uv_timer_stop(&b->timer);
        lb_act(b);
        return;
    }
    uv_timer_start(&b->timer, on_timer, (t - now + MS - 1) / MS, 0);
}

/* ------------------------------------------------------------------ responses */

/* A response of the expected type: advance. Returns -1 when the payload does not decode. */
static int on_ok(lbot_t *b, uint16_t rq, const uint8_t *payload, size_t len, uint64_t now)
{
    stats_t *st = &run.st;
    switch (rq) {
    case PACKET_TYPE__REGISTER_REQUEST:
        st->registrations++;
        b->backoff = 0;
        b->step = S_LOGIN;
        return 0;
    case PACKET_TYPE__LOGIN_REQUEST: {
        LoginResponse *r =
            (LoginResponse *)pb_unpack(&run.arena, &login_response__descriptor, payload, len);
        if (!r)
            return -1;
        st->logins++;
        b->backoff = 0;
        b->logged_in = 1;
        b->user_id = r->user_id;
        if (!b->ever_logged_in) {
            b->ever_logged_in = 1;
            st->bots_logged_in++;
            first_login_pending--;
            if (st->bots_logged_in == run.nbots)
                run.t_all_logged_in = now;
        }
        room_clear(b);
        if (r->room) {
            /* the account is still in a room (an earlier run): leave a waiting one; one in
             * game keeps it, so go on with a fresh account */
            room_take(b, r->room);
            if (b->in_game) {
                st->stuck_logins++;
                b->step = S_LOGOUT;
            } else {
                b->step = S_LEAVE;
            }
        } else {
            b->step = S_CYCLE;
        }
        return 0;
    }
    case PACKET_TYPE__LOGOUT_REQUEST:
        st->logouts++;
        b->logged_in = 0;
        room_clear(b);
        if (b->final_logout || run.stopping)
            b->step = S_DONE;
        else
            next_account(b);
        return 0;
    case PACKET_TYPE__CREATE_ROOM_REQUEST: {
        CreateRoomResponse *r = (CreateRoomResponse *)pb_unpack(
            &run.arena, &create_room_response__descriptor, payload, len);
        if (!r || !r->room)
            return -1;
        st->rooms_created++;
        room_clear(b);
        room_take(b, r->room);
        room_entered(b, now, 1);
        b->step = S_READY;
        return 0;
    }
    case PACKET_TYPE__GET_ROOM_LIST_REQUEST: {
        GetRoomListResponse *r = (GetRoomListResponse *)pb_unpack(
            &run.arena, &get_room_list_response__descriptor, payload, len);
        if (!r)
            return -1;
        /* a random room with a free seat; none: create one */
        uint32_t free_rooms = 0;
        for (size_t i = 0; i < r->n_rooms; i++)
            if (r->rooms[i]->players < r->rooms[i]->max_players)
                free_rooms++;
        b->step = S_CREATE;
        if (free_rooms) {
            uint32_t pick = rnd_below(b, free_rooms);
            for (size_t i = 0; i < r->n_rooms; i++) {
                if (r->rooms[i]->players >= r->rooms[i]->max_players)
                    continue;
                if (pick-- == 0) {
                    b->join_id = r->rooms[i]->room_id;
                    b->step = S_JOIN;
                    break;
                }
            }
        }
        return 0;
    }
    case PACKET_TYPE__JOIN_ROOM_REQUEST: {
        JoinRoomResponse *r =
            (JoinRoomResponse *)pb_unpack(&run.arena, &join_room_response__descriptor, payload, len);
        if (!r || !r->room)
            return -1;
        st->joins++;
        room_clear(b);
        room_take(b, r->room);
        room_entered(b, now, is_owner(b));
        b->step = S_READY;
        return 0;
    }
    case PACKET_TYPE__PREPARE_GAME_REQUEST: {
        PrepareGameResponse *r = (PrepareGameResponse *)pb_unpack(
            &run.arena, &prepare_game_response__descriptor, payload, len);
        if (!r || !r->room)
            return -1;
        room_take(b, r->room);
        b->step = S_WAIT;
        return 0;
    }
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
    return -1;
}

/* An ERROR_RESPONSE: expected outcomes move the bot on; unexpected ones too, after a pause,
 * to a step that gets it back on track. */
static void on_error(lbot_t *b, uint16_t rq, int code, uint64_t now)
{
    if (code == ERROR_CODE__NOT_AUTHENTICATED) { /* the session is not logged in after all */
        b->logged_in = 0;
        room_clear(b);
        b->step = S_LOGIN;
        b->not_before_ns = now + run.login_backoff_ms * MS;
        return;
    }
    switch (rq) {
    case PACKET_TYPE__REGISTER_REQUEST:
    case PACKET_TYPE__LOGIN_REQUEST:
        if (code == ERROR_CODE__USERNAME_TAKEN) {
            b->backoff = 0;
            b->step = S_LOGIN;
        } else if (code == ERROR_CODE__INVALID_CREDENTIALS ||
                   code == ERROR_CODE__TOO_MANY_ATTEMPTS) {
            next_account(b); /* not ours (another password): use another name */
            backoff(b, now);
        } else if (code == ERROR_CODE__ALREADY_AUTHENTICATED) {
            b->logged_in = 1;
            b->step = S_LOGOUT;
        } else {
            backoff(b, now); /* BUSY, or the accounts storage failing: try again later */
        }
        return;
    case PACKET_TYPE__LOGOUT_REQUEST:
        b->logged_in = 0;
        room_clear(b);
        if (b->final_logout || run.stopping)
            b->step = S_DONE;
        else
            next_account(b);
        return;
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
    if (!expected_error(rq, code))
        b->not_before_ns = now + 100 * MS;
}

static int error_code_of(const uint8_t *payload, size_t len, const char **message)
{
    ErrorResponse *er =
        (ErrorResponse *)pb_unpack(&run.arena, &error_response__descriptor, payload, len);
    *message = er && er->message ? er->message : "";
    int code = er ? (int)er->code : ERR_CODES;
    return code < 0 || code > ERR_CODES ? ERR_CODES : code;
}

static void final_logout(lbot_t *b);

static void on_response(client_t *c, int status, uint16_t type, const uint8_t *payload,
                        size_t len, void *ud)
{
    lbot_t *b = ud;
    uint16_t rq = b->rq_type;
    type_stats_t *ts = type_stats(rq);
    stats_t *st = &run.st;
    uint64_t now = mono_ns();
    run.inflight--;
    b->busy = 0;
    if (status == CLIENT_ECLOSED) {
        if (run.finished)
            st->unanswered++; /* still pending when the drain time ran out */
        else
            st->lost++;
        return; /* the bot's connection is gone */
    }
    if (status == CLIENT_ETIMEDOUT) {
        st->timeouts++;
        ts->timeouts++;
        if (st->timeouts <= 5)
            log_warn("timeout", "bot=%u user=%s request=%s", b->bot->index, b->user,
                     req_type_name(rq));
        /* the request may have been done or not: get back on track from a known state */
        if (!b->logged_in)
            b->step = b->step == S_LOGOUT ? S_LOGIN : b->step;
        else if (b->room_id)
            b->step = b->in_game ? S_INGAME_LEAVE : S_LEAVE;
        else if (b->step != S_LOGOUT)
            b->step = S_CYCLE;
    } else if (type == PACKET_TYPE__ERROR_RESPONSE) {
        run.t_last_response = now;
        const char *msg;
        int code = error_code_of(payload, len, &msg);
        if (expected_error(rq, code)) {
            st->expected++;
            st->expected_by_code[code]++;
            ts->expected++;
            ts->expected_by_code[code]++;
        } else {
            st->errors++;
            st->errors_by_code[code]++;
            ts->unexpected++;
            ts->unexpected_by_code[code]++;
            if (st->errors <= 10)
                log_warn("unexpected_error", "bot=%u user=%s request=%s code=%s message=\"%s\"",
                         b->bot->index, b->user, req_type_name(rq), error_code_name(code), msg);
        }
        on_error(b, rq, code, now);
    } else if (type == rq + 1 && on_ok(b, rq, payload, len, now) == 0) {
        run.t_last_response = now;
        uint64_t us = (now - b->sent_ns) / 1000u;
        st->ok++;
        ts->ok++;
        hist_record(&st->latency_us, us ? us : 1);
        hist_record(&ts->latency_us, us ? us : 1);
    } else {
        run.t_last_response = now;
        st->mismatches++;
        ts->mismatches++;
        if (st->mismatches <= 5)
            log_warn("bad_response", "bot=%u request=%s response_type=%u len=%zu", b->bot->index,
                     req_type_name(rq), type, len);
        b->not_before_ns = now + 100 * MS;
    }
    if (run.stopping)
        final_logout(b);
    else
        lb_wake(b);
}

/* ------------------------------------------------------------------ pushes */

static void lobby_on_push(bot_t *bot, uint16_t type, uint32_t seq, const uint8_t *payload,
                          size_t len)
{
    lbot_t *b = bot->sc;
    if (seq != 0 || !b)
        return;
    switch (type) {
    case PACKET_TYPE__ROOM_UPDATE: {
        RoomUpdate *u = (RoomUpdate *)pb_unpack(&run.arena, &room_update__descriptor, payload, len);
        if (!u || !u->room || !b->room_id || u->room->room_id != b->room_id)
            return; /* not about our room (any more) */
        int was_owner = is_owner(b);
        room_take(b, u->room);
        if (!was_owner && is_owner(b)) /* the owner left: ours now, start it soon */
            b->deadline_ns = mono_ns() + run.room_wait_ms * MS;
        break;
    }
    case PACKET_TYPE__GAME_STARTING: {
        GameStarting *g =
            (GameStarting *)pb_unpack(&run.arena, &game_starting__descriptor, payload, len);
        if (!g || !b->room_id || g->room_id != b->room_id)
            return;
        b->in_game = 1;
        break;
    }
    case PACKET_TYPE__KICKED:
        b->logged_in = 0; /* the gateway closes the connection next */
        return;
    default:
        return;
    }
    if (b->step == S_WAIT && !b->busy)
        lb_wake(b); /* the owner may start now, or everyone leaves a started room */
}

/* ------------------------------------------------------------------ the run */

static void lobby_on_connected(bot_t *bot)
{
    lbot_t *b = bot->sc;
    b->connected_once = 1;
    first_login_pending++;
    lb_wake(b);
}

static void lobby_on_gone(bot_t *bot)
{
    lbot_t *b = bot->sc;
    b->busy = 0;
    if (b->connected_once && !b->ever_logged_in) {
        b->connected_once = 0;
        first_login_pending--;
    }
    if (!run.finished)
        uv_timer_stop(&b->timer);
}

/* The traffic time is over: a logged-in bot logs out (once it has no request in flight), so
 * its waiting room is left now rather than after the lobby's grace period. */
static void final_logout(lbot_t *b)
{
    if (run.finished || b->busy || b->final_logout || !b->logged_in || !b->bot->c ||
        !client_is_connected(b->bot->c))
        return;
    b->final_logout = 1;
    b->step = S_LOGOUT;
    LogoutRequest rq = LOGOUT_REQUEST__INIT;
    (void)lb_send(b, PACKET_TYPE__LOGOUT_REQUEST, &rq.base);
}

static void lobby_on_stop(void)
{
    for (uint32_t i = 0; i < run.nbots; i++) {
        lbot_t *b = &lbots[i];
        uv_timer_stop(&b->timer);
        final_logout(b);
    }
}

static void lobby_on_finish(void)
{
    for (uint32_t i = 0; i < run.nbots; i++)
        if (!uv_is_closing((uv_handle_t *)&lbots[i].timer))
            uv_close((uv_handle_t *)&lbots[i].timer, NULL);
}

static void lobby_cleanup(void)
{
    xfree(lbots);
    lbots = NULL;
}

static int lobby_setup(const config_t *cfg)
{
    const char *p = run.user_prefix;
    for (const char *q = p; *q; q++) {
        char ch = *q;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_')) {
            fprintf(stderr, "bot: --user-prefix may only hold A-Z a-z 0-9 _, got '%s'\n", p);
            return -1;
        }
    }
    char last[16];
    int digits = snprintf(last, sizeof last, "%u", run.nbots - 1);
    size_t need = strlen(p) + (size_t)digits + 1 + GEN_DIGITS;
    if (need > USERNAME_MAX || strlen(p) + (size_t)digits < 3) {
        fprintf(stderr,
                "bot: --user-prefix '%s' with %u bots makes names of %zu characters; account "
                "names are 3-%d (%d kept for the _<n> of fresh accounts)\n",
                p, run.nbots, need, USERNAME_MAX, 1 + GEN_DIGITS);
        return -1;
    }
    interval_ns = run.rate ? (uint64_t)(1e9 / (double)run.rate) : 0;
    return 0;
}

static void lobby_start(void)
{
    lbots = xcalloc(run.nbots, sizeof *lbots);
    for (uint32_t i = 0; i < run.nbots; i++) {
        lbot_t *b = &lbots[i];
        b->bot = &run.bots[i];
        run.bots[i].sc = b;
        b->rng = mix64(run.seed * UINT64_C(0x2545F4914F6CDD1D) + i);
        b->step = S_REGISTER;
        (void)make_user(b);
        uv_timer_init(run.loop, &b->timer);
        b->timer.data = b;
    }
}

static int lobby_passed(void)
{
    const stats_t *st = &run.st;
    return st->connected == run.nbots && st->connect_failed == 0 &&
           st->bots_logged_in == run.nbots && st->errors == 0 && st->mismatches == 0 &&
           st->disconnects == 0 && st->timeouts == 0 && st->lost == 0 && st->unanswered == 0 &&
           st->send_failed == 0 && pushes_of(PACKET_TYPE__KICKED) == 0 && st->ok > 0;
}

const scenario_t SCENARIO_LOBBY = {
    .name = "lobby",
    .setup = lobby_setup,
    .start = lobby_start,
    .on_connected = lobby_on_connected,
    .on_push = lobby_on_push,
    .on_gone = lobby_on_gone,
    .on_stop = lobby_on_stop,
    .on_finish = lobby_on_finish,
    .cleanup = lobby_cleanup,
    .passed = lobby_passed,
};
