/* rooms: room, chat and quick-match handlers; every change is one call into lobby.lua, then
 * ROOM_UPDATE pushed to every member on whatever gateway each is connected to. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "lobby.h"
#include "log.h"
#include "util.h"

#define ROOM_NAME_MAX 32
#define CHAT_TEXT_MAX 200

/* ---- reply decoding ---- */

static int reply_kind(const redisReply *r, const char *kind)
{
    return r && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
           r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, kind) == 0;
}

void room_view_push_msg(lobby_t *lb, const room_view_t *v, uint16_t type, const ProtobufCMessage *msg)
{
    for (size_t k = 0; k < v->state.n_members; k++)
        if (v->members[k].online && v->gw[k] && v->sid[k])
            (void)backend_push(lb->be, v->gw[k], v->sid[k], type, msg);
}

void room_view_push(lobby_t *lb, const room_view_t *v, const char *event, uint64_t actor)
{
    RoomUpdate u = ROOM_UPDATE__INIT;
    u.room = (RoomState *)&v->state;
    u.event = (char *)event;
    u.actor_id = actor;
    room_view_push_msg(lb, v, PACKET_TYPE__ROOM_UPDATE, &u.base);
}

void room_view_push_starting(lobby_t *lb, const room_view_t *v)
{
    GameStarting g = GAME_STARTING__INIT;
    g.room_id = v->state.room_id;
    g.match_id = v->state.match_id;
    g.game_server_id = v->state.game_server_id;
    g.mode = v->state.mode;
    room_view_push_msg(lb, v, PACKET_TYPE__GAME_STARTING, &g.base);
    log_info("match_placed", "room=%llu match=%llu game=%u players=%zu mode=%s",
             (unsigned long long)v->state.room_id, (unsigned long long)v->state.match_id,
             v->state.game_server_id, v->state.n_members, v->state.mode);
}

/* ---- request plumbing ---- */

typedef struct rq {
    lobby_t *lb;
    backend_req_t req;
    int flag;
} rq_t;

static rq_t *rq_new(void *ud, const backend_req_t *req)
{
    rq_t *q = xmalloc(sizeof *q);
    q->lb = ud;
    q->req = *req;
    q->flag = 0;
    return q;
}

/* Answers a failed script call: SERVICE_UNAVAILABLE when Redis did not answer; a script's
 * error with its code and its message (or the code's name). */
static void fail_reply(rq_t *q, const redisReply *r)
{
    if (!r)
        backend_error(q->lb->be, &q->req, ERROR_CODE__SERVICE_UNAVAILABLE, "lobby storage unavailable");
    else if (r->type == REDIS_REPLY_ERROR) {
        ErrorCode ec = lobby_script_error(r);
        const char *msg = lobby_script_message(r);
        backend_error(q->lb->be, &q->req, ec,
                      ec == ERROR_CODE__INTERNAL ? "internal error" : msg ? msg : error_code_name(ec));
    } else
        backend_error(q->lb->be, &q->req, ERROR_CODE__INTERNAL, "unexpected reply");
}

static void run(rq_t *q, lobby_script_cb cb, const char *op, int argc, const char *const *argv)
{
    if (lobby_script(q->lb, cb, q, op, argc, argv) != 0) {
        backend_error(q->lb->be, &q->req, ERROR_CODE__SERVICE_UNAVAILABLE, "lobby storage unavailable");
        xfree(q);
    }
}

static void u64s(char *buf, size_t n, uint64_t v) { snprintf(buf, n, "%llu", (unsigned long long)v); }

/* run with the requesting user's id as the script's first argument, before the argc (at most
 * 7) of argv. */
static void run_user(rq_t *q, lobby_script_cb cb, const char *op, int argc, const char *const *argv)
{
    char uid[24];
    const char *all[8];
    assert(argc >= 0 && argc < 8);
    u64s(uid, sizeof uid, q->req.user);
    all[0] = uid;
    for (int i = 0; i < argc; i++)
        all[i + 1] = argv[i];
    run(q, cb, op, argc + 1, all);
}

/* Copies a request's game mode into out (LOBBY_MODE_MAX + 1 bytes): "" is the arena. Returns 0,
 * or -1 (answered UNKNOWN_MODE) for a name no module file could have: longer than
 * LOBBY_MODE_MAX or with characters outside [A-Za-z0-9_-]. */
static int mode_arg(backend_t *be, const backend_req_t *req, const char *in, char *out)
{
    size_t n = strlen(in);
    int ok = n <= LOBBY_MODE_MAX;
    for (size_t i = 0; ok && i < n; i++) {
        char c = in[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '_' || c == '-';
    }
    if (!ok) {
        backend_error(be, req, ERROR_CODE__UNKNOWN_MODE, "no game daemon serves that mode");
        return -1;
    }
    snprintf(out, LOBBY_MODE_MAX + 1, "%s", n ? in : LOBBY_MODE_ARENA);
    return 0;
}

/* Room state replies answered with a RoomState-carrying response and a push. */
static void on_room_reply(lobby_t *lb, redisReply *r, void *ud, uint16_t resp_type,
                          const char *event)
{
    rq_t *q = ud;
    room_view_t v;
    if (!reply_kind(r, "room") || room_view_parse(&v, r, 1) < 0) {
        fail_reply(q, r);
        xfree(q);
        return;
    }
    switch (resp_type) {
    case PACKET_TYPE__CREATE_ROOM_RESPONSE: {
        CreateRoomResponse out = CREATE_ROOM_RESPONSE__INIT;
        out.room = &v.state;
        backend_reply(lb->be, &q->req, resp_type, &out.base);
        break;
    }
    case PACKET_TYPE__JOIN_ROOM_RESPONSE: {
        JoinRoomResponse out = JOIN_ROOM_RESPONSE__INIT;
        out.room = &v.state;
        backend_reply(lb->be, &q->req, resp_type, &out.base);
        break;
    }
    case PACKET_TYPE__PREPARE_GAME_RESPONSE: {
        PrepareGameResponse out = PREPARE_GAME_RESPONSE__INIT;
        out.room = &v.state;
        backend_reply(lb->be, &q->req, resp_type, &out.base);
        break;
    }
    case PACKET_TYPE__START_GAME_RESPONSE: {
        StartGameResponse out = START_GAME_RESPONSE__INIT;
        out.match_id = v.state.match_id;
        out.game_server_id = v.state.game_server_id;
        backend_reply(lb->be, &q->req, resp_type, &out.base);
        break;
    }
    }
    room_view_push(lb, &v, event, q->req.user);
    if (resp_type == PACKET_TYPE__START_GAME_RESPONSE)
        room_view_push_starting(lb, &v);
    room_view_free(&v);
    xfree(q);
}

/* ---- handlers ---- */

static void on_created(lobby_t *lb, redisReply *r, void *ud)
{
    on_room_reply(lb, r, ud, PACKET_TYPE__CREATE_ROOM_RESPONSE, "created");
}

void lobby_create_room(backend_t *be, const backend_req_t *req, const ProtobufCMessage *msg, void *ud)
{
    const CreateRoomRequest *in = (const CreateRoomRequest *)msg;
    size_t nl = strlen(in->name);
    if (nl == 0 || nl > ROOM_NAME_MAX) {
        backend_error(be, req, ERROR_CODE__BAD_REQUEST, "room name must be 1-32 bytes");
        return;
    }
    for (size_t i = 0; i < nl; i++)
        if ((unsigned char)in->name[i] < 0x20 || in->name[i] == 0x7f) {
            backend_error(be, req, ERROR_CODE__BAD_REQUEST, "room name has control characters");
            return;
        }
    /* The mode's own limits are checked in lobby.lua, against the live daemons' mode_limits. */
    if (in->max_players > ROOM_MAX_PLAYERS) {
        backend_error(be, req, ERROR_CODE__BAD_REQUEST, "max_players must be at most 64");
        return;
    }
    char mode[LOBBY_MODE_MAX + 1];
    if (mode_arg(be, req, in->mode, mode) != 0)
        return;
    lobby_t *lb = ud;
    char max[8], now[24], stale[24];
    snprintf(max, sizeof max, "%u", in->max_players);
    u64s(now, sizeof now, wall_ms());
    u64s(stale, sizeof stale, (uint64_t)lb->placement_stale_ms);
    const char *argv[] = {in->name, max, now, mode, stale};
    run_user(rq_new(ud, req), on_created, "create", 5, argv);
}

static void on_joined(lobby_t *lb, redisReply *r, void *ud)
{
    on_room_reply(lb, r, ud, PACKET_TYPE__JOIN_ROOM_RESPONSE, "joined");
}

void lobby_join_room(backend_t *be, const backend_req_t *req, const ProtobufCMessage *msg, void *ud)
{
    const JoinRoomRequest *in = (const JoinRoomRequest *)msg;
    if (in->room_id == 0 || in->room_id > (1ull << 53)) {
        backend_error(be, req, ERROR_CODE__ROOM_NOT_FOUND, "no such room");
        return;
    }
    char room[24];
    u64s(room, sizeof room, in->room_id);
    const char *argv[] = {room};
    run_user(rq_new(ud, req), on_joined, "join", 1, argv);
}

static void on_left(lobby_t *lb, redisReply *r, void *ud)
{
    rq_t *q = ud;
    room_view_t v;
    /* "deleted": the room went with its last member; "room": the members left are told */
    int deleted = reply_kind(r, "deleted");
    int room = !deleted && reply_kind(r, "room") && room_view_parse(&v, r, 1) >= 0;
    if (!deleted && !room) {
        fail_reply(q, r);
        xfree(q);
        return;
    }
    LeaveRoomResponse out = LEAVE_ROOM_RESPONSE__INIT;
    backend_reply(lb->be, &q->req, PACKET_TYPE__LEAVE_ROOM_RESPONSE, &out.base);
    if (room) {
        room_view_push(lb, &v, "left", q->req.user);
        room_view_free(&v);
    }
    xfree(q);
}

void lobby_leave_room(backend_t *be, const backend_req_t *req, const ProtobufCMessage *msg, void *ud)
{
    run_user(rq_new(ud, req), on_left, "leave", 0, NULL);
}

static void on_ready(lobby_t *lb, redisReply *r, void *ud)
{
    on_room_reply(lb, r, ud, PACKET_TYPE__PREPARE_GAME_RESPONSE, "ready");
}

void lobby_prepare(backend_t *be, const backend_req_t *req, const ProtobufCMessage *msg, void *ud)
{
    const PrepareGameRequest *in = (const PrepareGameRequest *)msg;
    const char *argv[] = {in->ready ? "1" : "0"};
    run_user(rq_new(ud, req), on_ready, "ready", 1, argv);
}

static void on_started(lobby_t *lb, redisReply *r, void *ud)
{
    on_room_reply(lb, r, ud, PACKET_TYPE__START_GAME_RESPONSE, "started");
}

void lobby_start_game(backend_t *be, const backend_req_t *req, const ProtobufCMessage *msg, void *ud)
{
    lobby_t *lb = ud;
    char now[24], stale[24];
    u64s(now, sizeof now, wall_ms());
    u64s(stale, sizeof stale, (uint64_t)lb->placement_stale_ms);
    const char *argv[] = {now, stale};
    run_user(rq_new(ud, req), on_started, "start", 2, argv);
}

static void on_list(lobby_t *lb, redisReply *r, void *ud)
{
    rq_t *q = ud;
    if (!reply_kind(r, "list") || r->elements < 3) {
        fail_reply(q, r);
        xfree(q);
        return;
    }
    size_t n = (size_t)reply_el_u64(r, 2);
    if (3 + n * 6 > r->elements)
        n = (r->elements - 3) / 6;
    RoomSummary *rooms = xcalloc(n ? n : 1, sizeof *rooms);
    RoomSummary **ptrs = xcalloc(n ? n : 1, sizeof *ptrs);
    for (size_t k = 0; k < n; k++) {
        size_t i = 3 + k * 6;
        room_summary__init(&rooms[k]);
        rooms[k].room_id = reply_el_u64(r, i);
        rooms[k].name = reply_el_str(r, i + 1);
        rooms[k].players = (uint32_t)reply_el_u64(r, i + 2);
        rooms[k].max_players = (uint32_t)reply_el_u64(r, i + 3);
        rooms[k].owner_name = reply_el_str(r, i + 4);
        rooms[k].mode = reply_el_str(r, i + 5);
        ptrs[k] = &rooms[k];
    }
    GetRoomListResponse out = GET_ROOM_LIST_RESPONSE__INIT;
    out.n_rooms = n;
    out.rooms = ptrs;
    out.total = (uint32_t)reply_el_u64(r, 1);
    out.page = (uint32_t)q->flag;
    backend_reply(lb->be, &q->req, PACKET_TYPE__GET_ROOM_LIST_RESPONSE, &out.base);
    xfree(rooms);
    xfree(ptrs);
    xfree(q);
}

void lobby_room_list(backend_t *be, const backend_req_t *req, const ProtobufCMessage *msg, void *ud)
{
    const GetRoomListRequest *in = (const GetRoomListRequest *)msg;
    uint32_t size = in->page_size ? in->page_size : 20;
    if (size > 50 || in->page > 100000) {
        backend_error(be, req, ERROR_CODE__BAD_REQUEST, "page_size must be 1-50, page at most 100000");
        return;
    }
    rq_t *q = rq_new(ud, req);
    q->flag = (int)in->page;
    char page[16], sz[16];
    snprintf(page, sizeof page, "%u", in->page);
    snprintf(sz, sizeof sz, "%u", size);
    const char *argv[] = {page, sz};
    run(q, on_list, "list", 2, argv);
}

typedef struct chat_rq {
    rq_t q;
    char text[CHAT_TEXT_MAX + 1];
} chat_rq_t;

static void on_chat(lobby_t *lb, redisReply *r, void *ud)
{
    chat_rq_t *c = ud;
    room_view_t v;
    if (!reply_kind(r, "room") || room_view_parse(&v, r, 1) < 0) {
        fail_reply(&c->q, r);
        xfree(c);
        return;
    }
    RoomChatResponse out = ROOM_CHAT_RESPONSE__INIT;
    backend_reply(lb->be, &c->q.req, PACKET_TYPE__ROOM_CHAT_RESPONSE, &out.base);
    RoomChatMessage m = ROOM_CHAT_MESSAGE__INIT;
    m.room_id = v.state.room_id;
    m.user_id = c->q.req.user;
    m.text = c->text;
    m.sent_at_ms = wall_ms();
    m.username = (char *)"";
    for (size_t k = 0; k < v.state.n_members; k++)
        if (v.members[k].user_id == c->q.req.user)
            m.username = v.members[k].username;
    room_view_push_msg(lb, &v, PACKET_TYPE__ROOM_CHAT_MESSAGE, &m.base);
    room_view_free(&v);
    xfree(c);
}

void lobby_room_chat(backend_t *be, const backend_req_t *req, const ProtobufCMessage *msg, void *ud)
{
    lobby_t *lb = ud;
    const RoomChatRequest *in = (const RoomChatRequest *)msg;
    size_t n = strlen(in->text);
    if (n == 0 || n > CHAT_TEXT_MAX) {
        backend_error(be, req, ERROR_CODE__BAD_REQUEST, "chat text must be 1-200 bytes");
        return;
    }
    chat_rq_t *c = xmalloc(sizeof *c);
    c->q.lb = lb;
    c->q.req = *req;
    memcpy(c->text, in->text, n + 1);
    char limit[16];
    snprintf(limit, sizeof limit, "%lld", (long long)lb->chat_rate);
    const char *argv[] = {limit};
    run_user(&c->q, on_chat, "chat", 1, argv); /* q first in c: run frees c on failure */
}

static void on_quick(lobby_t *lb, redisReply *r, void *ud)
{
    rq_t *q = ud;
    room_view_t v;
    QuickMatchResponse out = QUICK_MATCH_RESPONSE__INIT;
    if (reply_kind(r, "queued")) {
        out.queued = (uint32_t)reply_el_u64(r, 1);
        backend_reply(lb->be, &q->req, PACKET_TYPE__QUICK_MATCH_RESPONSE, &out.base);
    } else if (reply_kind(r, "room") && room_view_parse(&v, r, 1) >= 0) {
        backend_reply(lb->be, &q->req, PACKET_TYPE__QUICK_MATCH_RESPONSE, &out.base);
        room_view_push(lb, &v, "quick_match", q->req.user);
        if (v.state.status == ROOM_STATUS__IN_GAME)
            room_view_push_starting(lb, &v);
        room_view_free(&v);
    } else {
        fail_reply(q, r);
    }
    xfree(q);
}

void lobby_quick_match(backend_t *be, const backend_req_t *req, const ProtobufCMessage *msg, void *ud)
{
    lobby_t *lb = ud;
    const QuickMatchRequest *in = (const QuickMatchRequest *)msg;
    char mode[LOBBY_MODE_MAX + 1];
    if (mode_arg(be, req, in->mode, mode) != 0)
        return;
    char n[16], now[24], stale[24];
    snprintf(n, sizeof n, "%lld", (long long)lb->quick_match_size);
    u64s(now, sizeof now, wall_ms());
    u64s(stale, sizeof stale, (uint64_t)lb->placement_stale_ms);
    const char *argv[] = {n, now, stale, mode};
    run_user(rq_new(ud, req), on_quick, "quick", 4, argv);
}

static void on_cancel(lobby_t *lb, redisReply *r, void *ud)
{
    rq_t *q = ud;
    if (reply_kind(r, "ok")) {
        QuickMatchCancelResponse out = QUICK_MATCH_CANCEL_RESPONSE__INIT;
        backend_reply(lb->be, &q->req, PACKET_TYPE__QUICK_MATCH_CANCEL_RESPONSE, &out.base);
    } else {
        fail_reply(q, r);
    }
    xfree(q);
}

void lobby_quick_cancel(backend_t *be, const backend_req_t *req, const ProtobufCMessage *msg, void *ud)
{
    run_user(rq_new(ud, req), on_cancel, "cancel", 0, NULL);
}

/* ---- grace period ---- */

static void on_state_for_push(lobby_t *lb, redisReply *r, void *ud)
{
    room_view_t v;
    if (reply_kind(r, "room") && room_view_parse(&v, r, 1) >= 0) {
        room_view_push(lb, &v, "left", (uint64_t)(uintptr_t)ud);
        room_view_free(&v);
    }
}

static void on_expired(lobby_t *lb, redisReply *r, void *ud)
{
    if (!reply_kind(r, "expired"))
        return;
    /* pairs: room id, the user who left it (the update's actor) */
    for (size_t i = 2; i + 1 < r->elements; i += 2) {
        char room[24];
        u64s(room, sizeof room, reply_el_u64(r, i));
        const char *argv[] = {room};
        (void)lobby_script(lb, on_state_for_push, (void *)(uintptr_t)reply_el_u64(r, i + 1), "state", 1, argv);
    }
}

void lobby_expire_tick(lobby_t *lb)
{
    char now[24], retry[24];
    uint64_t t = wall_ms();
    u64s(now, sizeof now, t);
    u64s(retry, sizeof retry, t + 1000);
    const char *argv[] = {now, retry};
    (void)lobby_script(lb, on_expired, NULL, "expire", 2, argv);
}
