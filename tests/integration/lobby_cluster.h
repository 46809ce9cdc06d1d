/* lobby_cluster: what the lobby scenarios (test_lobby_*.c) share: a cluster of gateways,
 * lobbies and game daemons on loopback, blocking requests through csync, push expectations,
 * players with accounts, an asynchronous client pool for storms, and the scenario runner. */
#ifndef TESTS_LOBBY_CLUSTER_H
#define TESTS_LOBBY_CLUSTER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "client.h"
#include "client_sync.h"
#include "cluster.pb-c.h"
#include "harness.h"
#include "player.h"
#include "res.h"

/* high limits: the tests send requests in tight loops */
extern const char *const GW_ENV[];

/* per-run tag in every username: one PostgreSQL serves all scenarios */
extern char RUN[8];

/* ------------------------------------------------------------------------------------------ */
/* cluster */

typedef struct cluster {
    proc_t *gw[2];
    int port[2];
    uint32_t gw_id[2];
    int ngw;
    proc_t *lobby[2];
    uint32_t lobby_id[2];
    int nlobby;
    proc_t *game[2];
    uint32_t game_id[2];
    int ngame;
    char lobby_env_buf[16][256];
    const char *lobby_env[20];
    const char *game_env[3];
} cluster_t;

/* h_stop (15 s) when the process is still running. */
void stop_proc(proc_t *p);

/* Lobby environment: extra first (it wins), then DATABASE_URL and, unless real_hash, the
 * fast argon2id limits. */
void cluster_lobby_env(cluster_t *cl, const char *const *extra, int real_hash);

proc_t *cluster_add_lobby(cluster_t *cl);

proc_t *cluster_add_game(cluster_t *cl);

/* Sends ECHO LOBBY until every live lobby id has answered through this gateway. */
void wait_gateway_sees_lobbies(cluster_t *cl, int g);

void cluster_add_gateway(cluster_t *cl);

void cluster_up(cluster_t *cl, const char *tag, int ngw, int nlobby, int ngame,
                       const char *const *lobby_extra, int real_hash);

/* SIGTERM everything still running; every daemon must exit 0 (under ASan: no leak). */
void cluster_down(cluster_t *cl);

/* The end of a scenario: closes the players p[0..n) still connected, then cluster_down. */
void scenario_down(cluster_t *cl, player_t *p, int n);

int is_game_id(const cluster_t *cl, uint32_t id);

/* ------------------------------------------------------------------------------------------ */
/* blocking requests */

/* Expects a response of type want and decodes it as d. */
void *ok_res(res_t r, uint16_t req_type, uint16_t want, const ProtobufCMessageDescriptor *d,
                    int line);

#define OK_CALL(c, REQ, msg, RESP, desc)                                                       \
    ok_res(call((c), PACKET_TYPE__##REQ, (msg)), PACKET_TYPE__##REQ, PACKET_TYPE__##RESP,       \
           &(desc), __LINE__)

/* Expects ERROR_RESPONSE(code) with request_type and a non-empty message; returns it. */
res_t err_res(res_t r, uint16_t req_type, int code, int line);

#define ERR_CALL(c, REQ, msg, CODE)                                                            \
    err_res(call((c), PACKET_TYPE__##REQ, (msg)), PACKET_TYPE__##REQ, ERROR_CODE__##CODE, __LINE__)

#define ERR_RAW(c, REQ, data, n, CODE)                                                         \
    err_res(call_raw((c), PACKET_TYPE__##REQ, (data), (n)), PACKET_TYPE__##REQ,                 \
            ERROR_CODE__##CODE, __LINE__)


/* A request type and its message, for tables of requests checked alike. */
typedef struct typed_msg {
    uint16_t type;
    const ProtobufCMessage *msg;
} typed_msg_t;

/* The requests of a room member: LEAVE_ROOM, PREPARE_GAME (ready), START_GAME and ROOM_CHAT
 * (text); all[] lists them in that order (it points into the struct: do not copy it). */
typedef struct member_reqs {
    LeaveRoomRequest lv;
    PrepareGameRequest pr;
    StartGameRequest sg;
    RoomChatRequest ch;
    typed_msg_t all[4];
} member_reqs_t;

void member_reqs_init(member_reqs_t *m, const char *text);

/* Sends each of msgs[0..n) on c: every one must be refused with ERROR_RESPONSE(code). */
void expect_refused_(csync_t *c, const typed_msg_t *msgs, int n, int code, int line);

#define EXPECT_REFUSED(c, msgs, n, CODE) expect_refused_((c), (msgs), (n), ERROR_CODE__##CODE, __LINE__)

/* ------------------------------------------------------------------------------------------ */
/* pushes */

/* Pushes of a running match (types 200-299) come from the game daemon once a match is placed:
 * running matches is the game daemon's part, so the lobby's checks skip them. */
int is_match_push(uint16_t t);

extern int match_pushes_skipped;

/* csync_wait_push that skips match pushes. */
int wait_lobby_push(csync_t *c, uint16_t *t, uint8_t **p, size_t *n, int timeout_ms);

void describe_push(uint16_t t, const uint8_t *p, size_t n, char *out, size_t cap);

void *take_push_(csync_t *c, const char *who, uint16_t want, const ProtobufCMessageDescriptor *d,
                        int timeout_ms, int line);

#define TAKE_PUSH(c, who, TYPE, desc, ms) take_push_((c), (who), PACKET_TYPE__##TYPE, &(desc), (ms), __LINE__)

/* No push arrives within ms. */
void expect_no_push_(csync_t *c, const char *who, int ms, int line);

#define EXPECT_NO_PUSH(c, who, ms) expect_no_push_((c), (who), (ms), __LINE__)

/* Discards every queued push (after pumping ms); returns how many. */
int drain_pushes(csync_t *c, int ms);

/* ------------------------------------------------------------------------------------------ */
/* room expectations */

typedef struct exp_room {
    uint64_t id;
    const char *name;
    uint64_t owner;
    uint32_t max;
    int status; /* RoomStatus */
    int n;
    uint64_t uid[4];
    int ready[4];
    int online[4];
    uint64_t match;   /* checked when non-zero */
    uint32_t game;    /* checked when non-zero */
} exp_room_t;

void check_room_(const RoomState *r, const exp_room_t *e, const char *what, int line);

#define CHECK_ROOM(r, e, what) check_room_((r), (e), (what), __LINE__)

/* The next push must be ROOM_UPDATE(event, actor) carrying room e. */
void expect_update_(csync_t *c, const char *who, const char *event, uint64_t actor,
                           const exp_room_t *e, int line);

#define EXPECT_UPDATE(c, who, event, actor, e) expect_update_((c), (who), (event), (actor), (e), __LINE__)

void exp_add(exp_room_t *e, uint64_t uid);

void exp_set(exp_room_t *e, uint64_t uid, int ready, int online);

void exp_remove(exp_room_t *e, uint64_t uid);

/* ------------------------------------------------------------------------------------------ */
/* players (blocking) */

/* player_t (player.h): these scenarios use its account fields (c, port, name, pass, uid, token). */

void p_init(player_t *p, const char *scen, int i, int port);

void p_connect(player_t *p);

void p_close(player_t *p);

/* Storage for an account request: account_msg fills the one type names (REGISTER_REQUEST or
 * LOGIN_REQUEST) with user and pass and returns it. */
typedef struct account_req {
    RegisterRequest rg;
    LoginRequest li;
} account_req_t;

const ProtobufCMessage *account_msg(account_req_t *a, uint16_t type, const char *user, const char *pass);

/* REGISTER, retrying while the lobby answers BUSY (bounded hashing queue). */
uint64_t p_register(player_t *p);

/* LOGIN (retrying on BUSY); checks the response's fields; returns it (caller frees). */
LoginResponse *p_login_full(player_t *p);

void p_login(player_t *p);

void p_signup(player_t *p);

RoomState *p_create(player_t *p, const char *name, uint32_t max);

RoomState *p_join(player_t *p, uint64_t room);

RoomState *p_ready(player_t *p, int on);

void room_free(RoomState *r);

GetRoomListResponse *p_list(player_t *p, uint32_t page, uint32_t size);

/* Whether room id is in GET_ROOM_LIST page 0 (size 50); fills *out (strings strdup'ed, see
 * summary_free) when found and *total with the list's total. */
int p_list_find(player_t *p, uint64_t id, RoomSummary *out, uint32_t *total);

void summary_free(RoomSummary *s);

/* ------------------------------------------------------------------------------------------ */
/* many clients on one loop */

typedef struct apush {
    struct apush *next;
    uint16_t type;
    size_t len;
    uint8_t *p;
} apush_t;

struct ap;

typedef struct ac {
    struct ap *ap;
    client_t *c;
    int idx;
    int connected, closed;
    int busy;        /* a request is pending */
    int status;      /* 0 or CLIENT_E* */
    uint16_t rtype;
    int err;
    uint8_t *p;
    size_t len;
    uint64_t sent_ms, rtt_ms;
    void (*on_done)(struct ac *a);
    apush_t *ph, *pt;
    int npush;
    /* account */
    char user[32];
    char pass[48];
    uint64_t uid;
    int stage;
    int retries;
    uint64_t retry_at;
} ac_t;

typedef struct ap {
    uv_loop_t loop;
    conn_loop_t *cl;
    uv_timer_t timer;
    int fired;
    ac_t *c;
    int n;
} ap_t;

void ac_event(client_t *c, int ev, int status, void *ud);

void ac_push(client_t *c, uint16_t type, uint32_t seq, const uint8_t *p, size_t n, void *ud);

void ac_resp(client_t *c, int status, uint16_t type, const uint8_t *p, size_t n, void *ud);

void ap_on_timer(uv_timer_t *t);

typedef int (*ap_cond)(ap_t *ap, void *arg);

int ap_run(ap_t *ap, ap_cond cond, void *arg, int timeout_ms);

int cond_connected(ap_t *ap, void *arg);

int cond_idle(ap_t *ap, void *arg);

int cond_never(ap_t *ap, void *arg);

void ap_pump(ap_t *ap, int ms);

ap_t *ap_new(int n);

/* n clients connected (all at once) to the cluster's gateways in turn: client i to gateway
 * i % ngw. Fails the test unless all connect within 10 s. */
ap_t *ap_up(const cluster_t *cl, int n);

void ap_send(ac_t *a, uint16_t type, const ProtobufCMessage *m);

void ap_wait_idle(ap_t *ap, int timeout_ms);

void *ac_decode(ac_t *a, uint16_t want, const ProtobufCMessageDescriptor *d, int line);

#define AC_DECODE(a, TYPE, desc) ac_decode((a), PACKET_TYPE__##TYPE, &(desc), __LINE__)

void apush_free(apush_t *x);

/* Takes client a's oldest push, match pushes skipped (NULL if none). */
apush_t *ac_take(ac_t *a);

void ap_free(ap_t *ap);

/* REGISTER then LOGIN clients [from, to) with at most `window` requests in flight, retrying
 * BUSY. Sets user, pass, uid. Returns the number of BUSY answers met. */
int ap_signup(ap_t *ap, int from, int to, const char *scen, int window);

/* ------------------------------------------------------------------------------------------ */
/* Redis helpers */

long long redis_int(const char *fmt, const char *arg);


/* ------------------------------------------------------------------------------------------ */
/* the scenario runner */

typedef struct lobby_scenario {
    const char *name; /* the CTest name's suffix: integration_lobby_<name> */
    void (*run)(void);
} lobby_scenario_t;

/* Runs the scenario named by argv[1] (all of them without an argument) with its own
 * PostgreSQL; prints PASS and returns 0, or exits non-zero on the first failed check. */
int lobby_main(int argc, char **argv, const char *file, const lobby_scenario_t *s, int n);

#endif
