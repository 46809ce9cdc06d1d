/* test_lobby_logins: logins (docs/lobby.md): every lobby request refused before login; a login
 * storm against the bounded hashing queue; the per-user login limit raced from two gateways.
 * Each scenario is its own CTest test (integration_lobby_<name>). */
#include <ctype.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "alloc.h"
#include "conn.h"
#include "lobby_cluster.h"

/* ========================================================================================== */
/* Scenario 6: every lobby request type but REGISTER/LOGIN/RESUME is refused before login. */

static void s_not_authenticated(void)
{
    cluster_t cl;
    cluster_up(&cl, "noauth", 1, 0, 0, NULL, 0);
    LogoutRequest lo = LOGOUT_REQUEST__INIT;
    CreateRoomRequest cr = CREATE_ROOM_REQUEST__INIT;
    cr.name = "x";
    cr.max_players = 2;
    GetRoomListRequest gl = GET_ROOM_LIST_REQUEST__INIT;
    JoinRoomRequest jr = JOIN_ROOM_REQUEST__INIT;
    jr.room_id = 1;
    member_reqs_t mr;
    member_reqs_init(&mr, "hi");
    QuickMatchRequest qm = QUICK_MATCH_REQUEST__INIT;
    QuickMatchCancelRequest qc = QUICK_MATCH_CANCEL_REQUEST__INIT;
    const typed_msg_t needs[] = {
        {PACKET_TYPE__LOGOUT_REQUEST, &lo.base},        {PACKET_TYPE__CREATE_ROOM_REQUEST, &cr.base},
        {PACKET_TYPE__GET_ROOM_LIST_REQUEST, &gl.base}, {PACKET_TYPE__JOIN_ROOM_REQUEST, &jr.base},
        mr.all[0], mr.all[1],
        mr.all[2], mr.all[3],
        {PACKET_TYPE__QUICK_MATCH_REQUEST, &qm.base},   {PACKET_TYPE__QUICK_MATCH_CANCEL_REQUEST, &qc.base},
    };
    const int NT = (int)(sizeof needs / sizeof needs[0]);
    player_t p;
    p_init(&p, "noauth", 0, cl.port[0]);
    p_connect(&p);
    /* no lobby at all: the account requests would be forwarded (SERVICE_UNAVAILABLE), the
     * others are refused by the gateway itself */
    RegisterRequest rg = REGISTER_REQUEST__INIT;
    rg.username = p.name;
    rg.password = p.pass;
    ERR_CALL(p.c, REGISTER_REQUEST, &rg.base, SERVICE_UNAVAILABLE);
    LoginRequest li = LOGIN_REQUEST__INIT;
    li.username = p.name;
    li.password = p.pass;
    ERR_CALL(p.c, LOGIN_REQUEST, &li.base, SERVICE_UNAVAILABLE);
    int refused = 0;
    for (int i = 0; i < NT; i++) {
        res_t r = err_res(call(p.c, needs[i].type, needs[i].msg), needs[i].type,
                          ERROR_CODE__NOT_AUTHENTICATED, __LINE__);
        CHECK(strcmp(r.msg, "log in first") == 0);
        refused++;
    }
    /* with a lobby: the same, from a fresh connection */
    cluster_add_lobby(&cl);
    wait_gateway_sees_lobbies(&cl, 0);
    p_connect(&p);
    for (int i = 0; i < NT; i++) {
        err_res(call(p.c, needs[i].type, needs[i].msg), needs[i].type, ERROR_CODE__NOT_AUTHENTICATED, __LINE__);
        refused++;
    }
    /* RESUME reaches the lobby (INVALID_TOKEN, not NOT_AUTHENTICATED) */
    ResumeRequest rr = RESUME_REQUEST__INIT;
    rr.token = "0000000000000000000000000000000000000000000000000000000000000000";
    ERR_CALL(p.c, RESUME_REQUEST, &rr.base, INVALID_TOKEN);
    /* after login the same packets reach the lobby: GET_ROOM_LIST works, LEAVE gets the lobby's NOT_IN_ROOM */
    p.uid = p_register(&p);
    p_login(&p);
    GetRoomListResponse *l = OK_CALL(p.c, GET_ROOM_LIST_REQUEST, &gl.base, GET_ROOM_LIST_RESPONSE,
                                     get_room_list_response__descriptor);
    get_room_list_response__free_unpacked(l, NULL);
    ERR_CALL(p.c, LEAVE_ROOM_REQUEST, &mr.lv.base, NOT_IN_ROOM);
    printf("ok not authenticated: %d request types x 2 (no lobby running, then with a lobby) from "
           "fresh connections all got NOT_AUTHENTICATED \"log in first\" with their request_type "
           "(%d refusals), while REGISTER/LOGIN were forwarded (SERVICE_UNAVAILABLE with no lobby) "
           "and RESUME reached the lobby (INVALID_TOKEN); after LOGIN the same types reach the lobby\n",
           NT, refused);
    p_close(&p);
    cluster_down(&cl);
}

/* ========================================================================================== */
/* Scenario 7: login storm with HASH_INFLIGHT=2 and the interactive argon2id limits. */

typedef struct storm {
    ap_t *ap;
    int n;
    int first_busy;
    uint64_t first_busy_max_ms;
    int busy_total;
    int ok;
    int bad;
    int echo_n;
    uint64_t echo_max_ms;
    int echo_err;
    int running;
    ac_t *echo;
    uv_timer_t tick;
} storm_t;

static storm_t storm;

static void storm_login(ac_t *a)
{
    LoginRequest rq = LOGIN_REQUEST__INIT;
    rq.username = a->user;
    rq.password = a->pass;
    ap_send(a, PACKET_TYPE__LOGIN_REQUEST, &rq.base);
}

static void storm_on_login(ac_t *a)
{
    if (a->status == 0 && a->rtype == PACKET_TYPE__ERROR_RESPONSE && a->err == ERROR_CODE__BUSY) {
        if (a->retries == 0) {
            storm.first_busy++;
            if (a->rtt_ms > storm.first_busy_max_ms)
                storm.first_busy_max_ms = a->rtt_ms;
        }
        storm.busy_total++;
        a->retries++;
        a->retry_at = h_now_ms() + 30;
        return;
    }
    if (a->status == 0 && a->rtype == PACKET_TYPE__LOGIN_RESPONSE) {
        storm.ok++;
        a->stage = 2;
        return;
    }
    fprintf(stderr, "storm login %d: status %d type %s err %s\n", a->idx, a->status,
            type_name(a->rtype), err_name(a->err));
    storm.bad++;
    a->stage = 2;
}

static void storm_send_echo(void)
{
    EchoRequest er = ECHO_REQUEST__INIT;
    er.target = ECHO_TARGET__LOBBY;
    er.payload.data = (uint8_t *)"storm";
    er.payload.len = 5;
    ap_send(storm.echo, PACKET_TYPE__ECHO_REQUEST, &er.base);
}

static void storm_on_echo(ac_t *a)
{
    if (a->status != 0 || a->rtype != PACKET_TYPE__ECHO_RESPONSE)
        storm.echo_err++;
    if (storm.running) {
        storm.echo_n++;
        if (a->rtt_ms > storm.echo_max_ms)
            storm.echo_max_ms = a->rtt_ms;
    }
}

static void storm_tick(uv_timer_t *t)
{
    uint64_t now = h_now_ms();
    for (int i = 0; i < storm.n; i++) {
        ac_t *a = &storm.ap->c[i];
        if (a->stage == 1 && !a->busy && a->retry_at && now >= a->retry_at) {
            a->retry_at = 0;
            storm_login(a);
        }
    }
    if (!storm.echo->busy)
        storm_send_echo();
    /* an ECHO that has waited long already counts as slow */
    now = h_now_ms();
    if (storm.echo->busy && storm.running && now > storm.echo->sent_ms &&
        now - storm.echo->sent_ms > storm.echo_max_ms)
        storm.echo_max_ms = now - storm.echo->sent_ms;
}

static int cond_storm_done(ap_t *ap, void *arg) { return storm.ok + storm.bad == storm.n; }

static void s_login_storm(void)
{
    static const char *const env[] = {"HASH_INFLIGHT=2", NULL};
    uint64_t t_start = h_now_ms();
    cluster_t cl;
    cluster_up(&cl, "storm", 1, 1, 0, env, 1);
    const int N = 40;
    ap_t *ap = ap_up(&cl, N + 1);
    /* 40 accounts, hashed with the interactive limits, two at a time */
    uint64_t t_reg = h_now_ms();
    for (int i = 0; i < N; i++) {
        snprintf(ap->c[i].user, sizeof ap->c[i].user, "u%s_storm%d", RUN, i);
        snprintf(ap->c[i].pass, sizeof ap->c[i].pass, "pw-storm-%d-secret", i);
    }
    int done = 0;
    while (done < N) {
        int sent = 0;
        for (int i = 0; i < N && sent < 2; i++)
            if (ap->c[i].stage == 0) {
                RegisterRequest rq = REGISTER_REQUEST__INIT;
                rq.username = ap->c[i].user;
                rq.password = ap->c[i].pass;
                ap_send(&ap->c[i], PACKET_TYPE__REGISTER_REQUEST, &rq.base);
                ap->c[i].stage = -1;
                sent++;
            }
        ap_wait_idle(ap, 20000);
        for (int i = 0; i < N; i++)
            if (ap->c[i].stage == -1) {
                ac_t *a = &ap->c[i];
                if (a->rtype == PACKET_TYPE__ERROR_RESPONSE && a->err == ERROR_CODE__BUSY) {
                    a->stage = 0;
                    continue;
                }
                RegisterResponse *o = AC_DECODE(a, REGISTER_RESPONSE, register_response__descriptor);
                a->uid = o->user_id;
                register_response__free_unpacked(o, NULL);
                a->stage = 1;
                done++;
            }
        CHECK(h_now_ms() - t_reg < 60000);
    }
    int reg_ms = (int)(h_now_ms() - t_reg);

    memset(&storm, 0, sizeof storm);
    storm.ap = ap;
    storm.n = N;
    storm.echo = &ap->c[N];
    storm.echo->on_done = storm_on_echo;
    /* warm up the ECHO path */
    storm_send_echo();
    ap_wait_idle(ap, T_REQ);
    CHECK_EQ(storm.echo_err, 0);

    for (int i = 0; i < N; i++)
        ap->c[i].on_done = storm_on_login;
    uv_timer_init(&ap->loop, &storm.tick);
    storm.running = 1;
    uint64_t t0 = h_now_ms();
    for (int i = 0; i < N; i++)
        storm_login(&ap->c[i]); /* all 40 leave in one loop turn */
    storm_send_echo();
    uv_timer_start(&storm.tick, storm_tick, 2, 2);
    int rc = ap_run(ap, cond_storm_done, NULL, 60000);
    storm.running = 0;
    int storm_ms = (int)(h_now_ms() - t0);
    uv_timer_stop(&storm.tick);
    uv_close((uv_handle_t *)&storm.tick, NULL);
    ap_wait_idle(ap, T_REQ);
    CHECK_EQ(rc, 0);
    if (storm.bad || storm.echo_err || storm.first_busy == 0 || storm.echo_max_ms > 100)
        fprintf(stderr, "storm: ok %d bad %d first-round BUSY %d echo n %d max %llu ms err %d\n",
                storm.ok, storm.bad, storm.first_busy, storm.echo_n,
                (unsigned long long)storm.echo_max_ms, storm.echo_err);
    CHECK_EQ(storm.bad, 0);
    CHECK_EQ(storm.ok, N);
    CHECK(storm.first_busy > 0);
    CHECK(storm.first_busy_max_ms < 500);
    CHECK_EQ(storm.echo_err, 0);
    CHECK(storm.echo_n >= 20);
    CHECK(storm.echo_max_ms <= 100);
    CHECK(h_alive(cl.lobby[0]));
    ap_free(ap);
    printf("ok login storm (HASH_INFLIGHT=2, interactive argon2id): 40 accounts registered in %d ms; "
           "40 LOGINs at once: %d got BUSY at once (slowest BUSY %llu ms), BUSY ones retried every "
           "30 ms (%d BUSY in all) until all 40 logged in, in %d ms; %d ECHO LOBBY round trips during "
           "the storm, worst %llu ms (bound 100), 0 errors; %.1f s\n",
           reg_ms, storm.first_busy, (unsigned long long)storm.first_busy_max_ms, storm.busy_total,
           storm_ms, storm.echo_n, (unsigned long long)storm.echo_max_ms,
           (double)(h_now_ms() - t_start) / 1000.0);
    cluster_down(&cl);
}

/* Concurrent wrong-password guesses for one name: the failure window is reserved before any
 * hashing, so no more than LOGIN_FAIL_LIMIT (5) guesses reach the password check. */
static void s_login_limit_race(void)
{
    /* 8 hashes may run at once here, so BUSY can't hide the limit */
    static const char *const env[] = {"HASH_INFLIGHT=8", NULL};
    cluster_t cl;
    cluster_up(&cl, "limitrace", 1, 1, 0, env, 0);
    player_t p;
    p_init(&p, "limitrace", 0, cl.port[0]);
    p_connect(&p);
    p_register(&p);
    const int N = 8;
    ap_t *ap = ap_up(&cl, N);
    for (int i = 0; i < N; i++) {
        LoginRequest li = LOGIN_REQUEST__INIT;
        li.username = p.name;
        li.password = (char *)"wrong-password-guess";
        ap_send(&ap->c[i], PACKET_TYPE__LOGIN_REQUEST, &li.base); /* all 8 in one loop turn */
    }
    ap_wait_idle(ap, 20000);
    int invalid = 0, throttled = 0, other = 0;
    for (int i = 0; i < N; i++) {
        if (ap->c[i].rtype == PACKET_TYPE__ERROR_RESPONSE && ap->c[i].err == ERROR_CODE__INVALID_CREDENTIALS)
            invalid++;
        else if (ap->c[i].rtype == PACKET_TYPE__ERROR_RESPONSE && ap->c[i].err == ERROR_CODE__TOO_MANY_ATTEMPTS)
            throttled++;
        else
            other++;
    }
    printf("ok login limit race: 8 concurrent wrong guesses -> %d INVALID_CREDENTIALS, %d "
           "TOO_MANY_ATTEMPTS, %d other (limit 5)\n", invalid, throttled, other);
    CHECK_EQ(other, 0);
    CHECK_EQ(invalid, 5);
    CHECK_EQ(throttled, 3);
    ap_free(ap);
    p_close(&p);
    cluster_down(&cl);
}

/* ========================================================================================== */

static const lobby_scenario_t SCENARIOS[] = {
    {"noauth", s_not_authenticated},
    {"storm", s_login_storm},
    {"limitrace", s_login_limit_race},
};

int main(int argc, char **argv)
{
    return lobby_main(argc, argv, "test_lobby_logins", SCENARIOS, (int)(sizeof SCENARIOS / sizeof SCENARIOS[0]));
}
