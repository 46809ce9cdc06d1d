/* failover_probe: the failover benchmark's client and stopwatch (bench/failover.sh,
 * benchmark 3). It owns two game daemons (it starts them, kills one per repetition and starts
 * a fresh one in its place), keeps two kinds of clients busy through one gateway, and measures,
 * per repetition, the time from the signal to each affected client being told:
 *
 *  - echo clients: ECHO_REQUEST target GAME, one in flight each, the next one 0.5 to 1.5 times
 *    --echo-interval-ms (at random) after the last was sent, and at once after a
 *    SERVICE_UNAVAILABLE or TIMEOUT answer (a real client retries). The gateway spreads
 *    them round robin over both daemons. An echo client is affected when it gets an error in
 *    the window: it had a request in flight to the victim, or sent one before the gateway knew.
 *    Told: the ERROR_RESPONSE (SERVICE_UNAVAILABLE "server went away" when the gateway's link
 *    to the victim closes, or TIMEOUT). Served again: an affected client's first ok
 *    ECHO_RESPONSE after its last error (the survivor answers it).
 *  - players: logged in (REGISTER + LOGIN), in a quick match of 2 running on one of the two
 *    daemons (GAME_STARTING names it, MATCH_START says it runs). A player is affected when its
 *    match runs on the victim at the signal. Told: its MATCH_ABORTED push. Players of the other
 *    daemon must not be told (counted as wrongly_told). An aborted player LEAVE_ROOMs (retried
 *    while ROOM_IN_GAME) and queues again, which places it on the survivor or the fresh daemon.
 *
 * The victim is the daemon running the most players' matches. The signal is sent by this
 * program (kill(2)), so the stopwatch starts right before it; every time is taken on this
 * program's loop when the frame is handled (what a client sees, loop delay included). A
 * STOPped victim is killed -9 at the end of its window and replaced like a killed one.
 *
 * Before each repetition: both daemons registered and serving echoes (an ok answer from each in
 * the last second), every player in a running match, then a random 300-800 ms pause (so the
 * signal is not in step with the gateway's 25 ms tick or the links' pings).
 *
 *   failover_probe --gateway HOST:PORT --gamed PATH --dir DIR [--reps-per-signal 20]
 *                  [--signals KILL,STOP] [--echo-clients 100] [--echo-interval-ms 10]
 *                  [--players 16] [--window-ms KILL:2000,STOP:3000] [--seed N]
 *
 * The game daemons inherit the environment (REDIS_URL, DATABASE_URL, CLUSTER_SECRET, ...; the
 * caller sets LISTEN_ADDR=127.0.0.1:0 and long matches); their logs go to DIR/gamed-N.log and
 * every pid started is appended to DIR/gamed.pids (for the caller's cleanup). Prints one line
 * per repetition, "rep=N signal=... key=value ...", times in ms; exit status 0 when every
 * repetition ran (its figures say whether each client was told), 1 on a setup failure. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "alloc.h"
#include "client.h"
#include "conn.h"
#include "pb.h"
#include "util.h"

#define MS UINT64_C(1000000)
#define PASSWORD "failover-password-0"
#define MAX_SIGNALS 2
#define READY_TIMEOUT_NS (45000 * MS)
#define KEEPALIVE_NS (15000 * MS)
#define START_STUCK_NS (15000 * MS)

/* ------------------------------------------------------------------ settings and state */

static struct {
    char host[64];
    int port;
    const char *gamed, *dir;
    int reps_per_signal;
    int sigs[MAX_SIGNALS];
    int nsigs;
    uint64_t window_ns[MAX_SIGNALS];
    int echo_clients, players;
    uint64_t echo_interval_ns;
    uint64_t seed;
} opt;

typedef struct gd {
    pid_t pid;
    uint32_t id;
    char log[512];
    int n; /* how many daemons were started before: names the log */
    uint64_t last_ok_ns; /* last ok echo answered by it */
} gd_t;

static gd_t games[2];
static int ngames_started;

typedef enum { PH_SETUP, PH_READY, PH_SETTLE, PH_WINDOW, PH_DONE } phase_t;

static uv_loop_t *loop;
static conn_loop_t *cl;
static pb_arena_t arena;
static uv_timer_t ctl_timer, pace_timer;
static uv_signal_t sigint_h, sigterm_h;
static phase_t phase = PH_SETUP;
static int rep;           /* 0-based, of reps_per_signal * nsigs */
static int victim = -1;   /* index in games[] */
static uint32_t victim_id, survivor_id;
static uint64_t t0, settle_until, window_until, ready_since;
static uint64_t rng_state;
static int exit_code;
static char user_prefix[24];

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static const char *sig_name(int s) { return s == SIGKILL ? "KILL" : s == SIGSTOP ? "STOP" : "?"; }

static int in_window(void) { return phase == PH_WINDOW; }

/* ------------------------------------------------------------------ game daemons */

static void record_pid(pid_t pid)
{
    char path[600];
    snprintf(path, sizeof path, "%s/gamed.pids", opt.dir);
    FILE *f = fopen(path, "a");
    if (f) {
        fprintf(f, "%d\n", (int)pid);
        fclose(f);
    }
}

static int spawn_gamed(int slot)
{
    gd_t *g = &games[slot];
    memset(g, 0, sizeof *g);
    g->n = ++ngames_started;
    snprintf(g->log, sizeof g->log, "%s/gamed-%d.log", opt.dir, g->n);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        setsid();
        int fd = open(g->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0) {
            dup2(nul, 0);
            close(nul);
        }
        execl(opt.gamed, "gamed", (char *)NULL);
        _exit(127);
    }
    g->pid = pid;
    record_pid(pid);
    return 0;
}

/* Reads the registry id from the daemon's log once it registered. */
static void poll_id(gd_t *g)
{
    if (g->id || !g->pid)
        return;
    FILE *f = fopen(g->log, "r");
    if (!f)
        return;
    char line[2048];
    static const char KEY[] = "event=registry_registered type=Game id=";
    while (fgets(line, sizeof line, f)) {
        char *p = strstr(line, KEY);
        if (p) {
            g->id = (uint32_t)strtoul(p + sizeof KEY - 1, NULL, 10);
            break;
        }
    }
    fclose(f);
}

static int gd_alive(gd_t *g)
{
    if (!g->pid)
        return 0;
    int st;
    pid_t r = waitpid(g->pid, &st, WNOHANG);
    if (r == g->pid) {
        fprintf(stderr, "failover_probe: gamed pid %d (id %u) exited unexpectedly, log %s\n",
                (int)g->pid, g->id, g->log);
        g->pid = 0;
        return 0;
    }
    return 1;
}

static void kill_all_games(void)
{
    for (int i = 0; i < 2; i++) {
        if (games[i].pid) {
            kill(games[i].pid, SIGKILL);
            waitpid(games[i].pid, NULL, 0);
            games[i].pid = 0;
        }
    }
}

/* ------------------------------------------------------------------ echo clients */

typedef struct echo {
    client_t *c;
    int idx;
    int connected, inflight;
    uint64_t sent_ns, next_ns;
    /* this window */
    int errors;
    uint64_t last_err_ns, served_ns; /* served: first ok after the last error (0: not yet) */
    int victim_ok_after;             /* ok answers from the victim to requests sent after t0 */
} echo_t;

static echo_t *echoes;
static uint64_t err_codes[64];

static void echo_send(echo_t *e);

static void on_echo_resp(client_t *c, int status, uint16_t type, const uint8_t *p, size_t len,
                         void *ud)
{
    echo_t *e = ud;
    uint64_t now = mono_ns();
    e->inflight = 0;
    if (status != 0) {
        fprintf(stderr, "failover_probe: echo client %d: %s\n", e->idx, client_strerror(status));
        e->errors++;
        e->last_err_ns = now;
        e->served_ns = 0;
        e->next_ns = now + 100 * MS;
        return;
    }
    if (type == PACKET_TYPE__ECHO_RESPONSE) {
        EchoResponse *r = (EchoResponse *)pb_unpack(&arena, &echo_response__descriptor, p, len);
        uint32_t sid = r ? r->server_id : 0;
        for (int i = 0; i < 2; i++)
            if (games[i].id && games[i].id == sid)
                games[i].last_ok_ns = now;
        if (in_window() && e->sent_ns >= t0) {
            if (sid == victim_id)
                e->victim_ok_after++;
            if (!e->served_ns)
                e->served_ns = now;
        }
        /* jittered (0.5 to 1.5 intervals): clients that failed together (a STOP tells them
         * all at once) do not stay in step */
        e->next_ns = e->sent_ns + opt.echo_interval_ns / 2 +
                     (opt.echo_interval_ns ? rnd() % opt.echo_interval_ns : 0);
        if (e->next_ns < now)
            e->next_ns = now;
        return;
    }
    if (type == PACKET_TYPE__ERROR_RESPONSE) {
        ErrorResponse *er = (ErrorResponse *)pb_unpack(&arena, &error_response__descriptor, p, len);
        int code = er ? (int)er->code : 63;
        err_codes[code >= 0 && code < 63 ? code : 63]++;
        if (in_window()) {
            e->errors++;
            e->last_err_ns = now;
            e->served_ns = 0;
        }
        /* a failover error: retry at once (a real client would); any other: keep the pace */
        if (code == ERROR_CODE__SERVICE_UNAVAILABLE || code == ERROR_CODE__TIMEOUT)
            e->next_ns = now;
        else
            e->next_ns = now + opt.echo_interval_ns;
        return;
    }
    e->next_ns = now + opt.echo_interval_ns;
}

static void echo_send(echo_t *e)
{
    uint8_t payload[16];
    memset(payload, 'e', sizeof payload);
    EchoRequest rq = ECHO_REQUEST__INIT;
    rq.target = ECHO_TARGET__GAME;
    rq.payload.data = payload;
    rq.payload.len = sizeof payload;
    e->sent_ns = mono_ns();
    if (client_request(e->c, PACKET_TYPE__ECHO_REQUEST, &rq.base, on_echo_resp, e) < 0) {
        fprintf(stderr, "failover_probe: echo client %d could not send\n", e->idx);
        e->next_ns = e->sent_ns + 100 * MS;
        return;
    }
    e->inflight = 1;
}

static void on_echo_event(client_t *c, int ev, int status, void *ud)
{
    echo_t *e = ud;
    if (ev == CLIENT_EV_CONNECTED) {
        e->connected = 1;
        /* spread the clients over the interval: no bursts in step */
        e->next_ns = mono_ns() + (opt.echo_interval_ns ? rnd() % opt.echo_interval_ns : 0);
        return;
    }
    fprintf(stderr, "failover_probe: echo client %d closed (%d): the gateway must never drop it\n",
            e->idx, status);
    e->connected = 0;
    exit_code = 1;
    uv_stop(loop);
}

/* ------------------------------------------------------------------ players */

typedef enum {
    P_CONNECTING,
    P_REGISTER,
    P_LOGIN,
    P_QUEUE,    /* send QUICK_MATCH */
    P_QUEUED,   /* waiting for GAME_STARTING */
    P_STARTING, /* waiting for MATCH_START */
    P_PLAY,
    P_LEAVE,    /* send LEAVE_ROOM, then queue again */
} pstate_t;

typedef struct player {
    client_t *c;
    int idx;
    pstate_t st;
    int busy;
    char user[40];
    uint32_t game_id;
    uint64_t match_id;
    uint64_t next_ns, last_send_ns, starting_ns;
    /* this window */
    int affected;
    uint64_t told_ns;
} player_t;

static player_t *players;
static uint64_t wrongly_told, player_retries, start_stuck;

static void on_player_resp(client_t *c, int status, uint16_t type, const uint8_t *p, size_t len,
                           void *ud);

static void player_send(player_t *pl, uint16_t type)
{
    ProtobufCMessage *msg = NULL;
    RegisterRequest reg = REGISTER_REQUEST__INIT;
    LoginRequest login = LOGIN_REQUEST__INIT;
    QuickMatchRequest qm = QUICK_MATCH_REQUEST__INIT;
    LeaveRoomRequest lv = LEAVE_ROOM_REQUEST__INIT;
    PingRequest ping = PING_REQUEST__INIT;
    switch (type) {
    case PACKET_TYPE__REGISTER_REQUEST:
        reg.username = pl->user;
        reg.password = (char *)PASSWORD;
        msg = &reg.base;
        break;
    case PACKET_TYPE__LOGIN_REQUEST:
        login.username = pl->user;
        login.password = (char *)PASSWORD;
        msg = &login.base;
        break;
    case PACKET_TYPE__QUICK_MATCH_REQUEST:
        msg = &qm.base;
        break;
    case PACKET_TYPE__LEAVE_ROOM_REQUEST:
        msg = &lv.base;
        break;
    default:
        ping.client_time = mono_ns();
        msg = &ping.base;
        break;
    }
    pl->last_send_ns = mono_ns();
    if (client_request(pl->c, type, msg, on_player_resp, pl) < 0) {
        pl->next_ns = pl->last_send_ns + 200 * MS;
        return;
    }
    pl->busy = 1;
}

static void player_retry(player_t *pl, uint64_t delay_ms)
{
    pl->next_ns = mono_ns() + delay_ms * MS;
}

/* An answer to the player's request: on ok, on to state next at once; else the request again
 * after fail_delay_ms (counted as a retry). */
static void player_answered(player_t *pl, int ok, pstate_t next, uint64_t fail_delay_ms)
{
    if (ok) {
        pl->st = next;
        player_retry(pl, 0);
    } else {
        player_retries++;
        player_retry(pl, fail_delay_ms);
    }
}

static void on_player_resp(client_t *c, int status, uint16_t type, const uint8_t *p, size_t len,
                           void *ud)
{
    player_t *pl = ud;
    pl->busy = 0;
    if (status != 0) {
        player_retries++;
        player_retry(pl, 500);
        return;
    }
    int code = 0;
    if (type == PACKET_TYPE__ERROR_RESPONSE) {
        ErrorResponse *er = (ErrorResponse *)pb_unpack(&arena, &error_response__descriptor, p, len);
        code = er ? (int)er->code : -1;
    }
    switch (pl->st) {
    case P_REGISTER:
        player_answered(pl, code == 0 || code == ERROR_CODE__USERNAME_TAKEN, P_LOGIN, 200);
        return;
    case P_LOGIN: {
        LoginResponse *lr =
            code == 0 ? (LoginResponse *)pb_unpack(&arena, &login_response__descriptor, p, len) : NULL;
        player_answered(pl, code == 0, lr && lr->room ? P_LEAVE : P_QUEUE, 200);
        return;
    }
    case P_QUEUE:
        if (code == 0 || code == ERROR_CODE__ALREADY_QUEUED)
            pl->st = P_QUEUED;
        else
            player_answered(pl, code == ERROR_CODE__ALREADY_IN_ROOM, P_LEAVE, 300);
        return;
    case P_LEAVE:
        if (code == ERROR_CODE__ROOM_IN_GAME) {
            player_retry(pl, 100); /* the room is handed back once the lobby hears of the loss */
            return;
        }
        player_answered(pl, type == PACKET_TYPE__LEAVE_ROOM_RESPONSE || code == ERROR_CODE__NOT_IN_ROOM,
                        P_QUEUE, 100);
        return;
    default:
        return; /* PING answers, or a late answer after a push moved the state on */
    }
}

static void on_player_push(client_t *c, uint16_t type, uint32_t seq, const uint8_t *p, size_t len,
                           void *ud)
{
    player_t *pl = ud;
    uint64_t now = mono_ns();
    switch (type) {
    case PACKET_TYPE__GAME_STARTING: {
        GameStarting *gs = (GameStarting *)pb_unpack(&arena, &game_starting__descriptor, p, len);
        if (!gs)
            return;
        if (pl->st == P_PLAY && pl->match_id == gs->match_id) {
            pl->game_id = gs->game_server_id; /* MATCH_START came first */
            return;
        }
        pl->game_id = gs->game_server_id;
        pl->match_id = gs->match_id;
        pl->st = P_STARTING;
        pl->starting_ns = now;
        return;
    }
    case PACKET_TYPE__MATCH_START: {
        MatchStart *ms = (MatchStart *)pb_unpack(&arena, &match_start__descriptor, p, len);
        if (!ms)
            return;
        if (pl->match_id != ms->match_id) {
            pl->game_id = 0; /* GAME_STARTING not seen yet: it names the daemon */
            pl->match_id = ms->match_id;
        }
        pl->st = P_PLAY;
        return;
    }
    case PACKET_TYPE__MATCH_ABORTED:
    case PACKET_TYPE__GAME_OVER:
        if (type == PACKET_TYPE__MATCH_ABORTED && in_window()) {
            if (pl->affected && !pl->told_ns)
                pl->told_ns = now;
            else if (!pl->affected)
                wrongly_told++;
        }
        pl->st = P_LEAVE;
        pl->game_id = 0;
        pl->next_ns = now;
        return;
    case PACKET_TYPE__KICKED:
    case PACKET_TYPE__SERVER_CLOSING:
        fprintf(stderr, "failover_probe: player %s got push type %u\n", pl->user, type);
        return;
    default:
        return;
    }
}

static void on_player_event(client_t *c, int ev, int status, void *ud)
{
    player_t *pl = ud;
    if (ev == CLIENT_EV_CONNECTED) {
        pl->st = P_REGISTER;
        pl->next_ns = mono_ns();
        return;
    }
    fprintf(stderr, "failover_probe: player %s disconnected (%d)\n", pl->user, status);
    exit_code = 1;
    uv_stop(loop);
}

static void player_step(player_t *pl, uint64_t now)
{
    if (pl->busy || pl->st == P_CONNECTING || now < pl->next_ns)
        return;
    switch (pl->st) {
    case P_REGISTER: player_send(pl, PACKET_TYPE__REGISTER_REQUEST); return;
    case P_LOGIN: player_send(pl, PACKET_TYPE__LOGIN_REQUEST); return;
    case P_QUEUE: player_send(pl, PACKET_TYPE__QUICK_MATCH_REQUEST); return;
    case P_LEAVE: player_send(pl, PACKET_TYPE__LEAVE_ROOM_REQUEST); return;
    case P_STARTING:
        if (now - pl->starting_ns > START_STUCK_NS) {
            start_stuck++;
            pl->st = P_LEAVE;
            return;
        }
        break;
    default:
        break;
    }
    if (now - pl->last_send_ns > KEEPALIVE_NS)
        player_send(pl, PACKET_TYPE__PING_REQUEST);
}

/* ------------------------------------------------------------------ the repetitions */

static int ready(uint64_t now, char *why, size_t n)
{
    for (int i = 0; i < 2; i++) {
        gd_t *g = &games[i];
        poll_id(g);
        if (!gd_alive(g)) {
            snprintf(why, n, "game daemon %d not running", i);
            return -1;
        }
        if (!g->id) {
            snprintf(why, n, "game daemon pid %d not registered yet", (int)g->pid);
            return 0;
        }
        if (!g->last_ok_ns || now - g->last_ok_ns > 1000 * MS) {
            snprintf(why, n, "no echo answered by game %u in the last second", g->id);
            return 0;
        }
    }
    for (int i = 0; i < opt.echo_clients; i++) {
        if (!echoes[i].connected) {
            snprintf(why, n, "echo client %d not connected", i);
            return 0;
        }
    }
    int playing = 0;
    for (int i = 0; i < opt.players; i++)
        playing += players[i].st == P_PLAY && players[i].game_id &&
                   (players[i].game_id == games[0].id || players[i].game_id == games[1].id);
    if (playing < opt.players) {
        snprintf(why, n, "%d of %d players in a running match", playing, opt.players);
        return 0;
    }
    return 1;
}

static void start_window(void)
{
    int count[2] = {0, 0};
    for (int i = 0; i < opt.players; i++)
        for (int k = 0; k < 2; k++)
            count[k] += players[i].st == P_PLAY && players[i].game_id == games[k].id;
    victim = count[0] > count[1] ? 0 : count[1] > count[0] ? 1 : rep % 2;
    victim_id = games[victim].id;
    survivor_id = games[1 - victim].id;
    for (int i = 0; i < opt.players; i++) {
        players[i].affected = players[i].st == P_PLAY && players[i].game_id == victim_id;
        players[i].told_ns = 0;
    }
    for (int i = 0; i < opt.echo_clients; i++) {
        echoes[i].errors = 0;
        echoes[i].last_err_ns = echoes[i].served_ns = 0;
        echoes[i].victim_ok_after = 0;
    }
    wrongly_told = 0;
    memset(err_codes, 0, sizeof err_codes);
    int sig = opt.sigs[rep % opt.nsigs];
    phase = PH_WINDOW;
    t0 = mono_ns();
    if (kill(games[victim].pid, sig) != 0) {
        fprintf(stderr, "failover_probe: kill: %s\n", strerror(errno));
        exit_code = 1;
        uv_stop(loop);
    }
    window_until = t0 + opt.window_ns[rep % opt.nsigs];
}

static double ms_of(uint64_t t) { return t ? (double)(t - t0) / 1e6 : -1.0; }

static void end_window(void)
{
    int sig = opt.sigs[rep % opt.nsigs];
    /* players */
    int affected = 0, told = 0;
    uint64_t first = 0, last = 0;
    for (int i = 0; i < opt.players; i++) {
        player_t *pl = &players[i];
        if (!pl->affected)
            continue;
        affected++;
        if (pl->told_ns) {
            told++;
            if (!first || pl->told_ns < first)
                first = pl->told_ns;
            if (pl->told_ns > last)
                last = pl->told_ns;
        }
    }
    /* echo */
    int with_err = 0, errors = 0, unserved = 0, victim_ok = 0;
    uint64_t last_err = 0, served = 0;
    for (int i = 0; i < opt.echo_clients; i++) {
        echo_t *e = &echoes[i];
        victim_ok += e->victim_ok_after;
        if (e->errors) {
            with_err++;
            errors += e->errors;
            if (e->last_err_ns > last_err)
                last_err = e->last_err_ns;
        }
        if (!e->errors)
            continue; /* served again: only the clients that were told something */
        if (!e->served_ns)
            unserved++;
        else if (e->served_ns > served)
            served = e->served_ns;
    }
    char codes[256] = "";
    size_t off = 0;
    for (int i = 0; i < 64; i++)
        if (err_codes[i] && off < sizeof codes - 40)
            off += (size_t)snprintf(codes + off, sizeof codes - off, "%s%s:%" PRIu64, off ? "," : "",
                                    i == 63 ? "OTHER" : error_code_name(i), err_codes[i]);
    printf("rep=%d signal=%s victim=%u survivor=%u players_affected=%d players_told=%d "
           "told_first_ms=%.1f told_last_ms=%.1f wrongly_told=%" PRIu64 " echo_clients=%d "
           "echo_affected=%d echo_errors=%d echo_codes=%s echo_last_error_ms=%.1f "
           "echo_all_served_ms=%.1f echo_unserved=%d victim_ok_after=%d\n",
           rep + 1, sig_name(sig), victim_id, survivor_id, affected, told, ms_of(first),
           ms_of(last), wrongly_told, opt.echo_clients, with_err, errors, *codes ? codes : "-",
           ms_of(last_err), unserved || !with_err ? -1.0 : ms_of(served), unserved, victim_ok);
    fflush(stdout);
    /* replace the victim */
    gd_t *g = &games[victim];
    kill(g->pid, SIGKILL);
    waitpid(g->pid, NULL, 0);
    g->pid = 0;
    victim = -1;
    victim_id = 0;
    if (spawn_gamed(g == &games[0] ? 0 : 1) != 0) {
        fprintf(stderr, "failover_probe: cannot start gamed\n");
        exit_code = 1;
        uv_stop(loop);
        return;
    }
    rep++;
    if (rep >= opt.reps_per_signal * opt.nsigs) {
        phase = PH_DONE;
        uv_stop(loop);
        return;
    }
    phase = PH_READY;
    ready_since = mono_ns();
}

static void on_pace(uv_timer_t *t)
{
    uint64_t now = mono_ns();
    for (int i = 0; i < opt.echo_clients; i++) {
        echo_t *e = &echoes[i];
        if (e->connected && !e->inflight && now >= e->next_ns)
            echo_send(e);
    }
    for (int i = 0; i < opt.players; i++)
        player_step(&players[i], now);
}

static void on_ctl(uv_timer_t *t)
{
    uint64_t now = mono_ns();
    char why[200];
    switch (phase) {
    case PH_SETUP:
    case PH_READY: {
        int r = ready(now, why, sizeof why);
        if (r < 0) {
            fprintf(stderr, "failover_probe: %s\n", why);
            exit_code = 1;
            uv_stop(loop);
            return;
        }
        if (r == 1) {
            phase = PH_SETTLE;
            settle_until = now + (300 + rnd() % 500) * MS;
            return;
        }
        if (now - ready_since > READY_TIMEOUT_NS) {
            fprintf(stderr, "failover_probe: not ready after %llu s: %s\n",
                    (unsigned long long)(READY_TIMEOUT_NS / 1000 / MS), why);
            exit_code = 1;
            uv_stop(loop);
        }
        return;
    }
    case PH_SETTLE:
        if (now < settle_until)
            return;
        if (ready(now, why, sizeof why) != 1) {
            phase = PH_READY; /* something moved (a player re-queued): wait again */
            return;
        }
        start_window();
        return;
    case PH_WINDOW:
        if (now >= window_until)
            end_window();
        return;
    case PH_DONE:
        return;
    }
}

static void on_signal(uv_signal_t *s, int signum)
{
    fprintf(stderr, "failover_probe: signal %d: stopping\n", signum);
    exit_code = 1;
    uv_stop(loop);
}

/* ------------------------------------------------------------------ main */

static void usage(void)
{
    fprintf(stderr,
            "usage: failover_probe --gateway HOST:PORT --gamed PATH --dir DIR [--reps-per-signal N]\n"
            "       [--signals KILL,STOP] [--echo-clients N] [--echo-interval-ms MS] [--players N]\n"
            "       [--window-ms KILL:2000,STOP:3000] [--seed N]\n");
}

static int parse_signals(const char *s)
{
    opt.nsigs = 0;
    char buf[64];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (opt.nsigs == MAX_SIGNALS)
            return -1;
        if (strcmp(tok, "KILL") == 0)
            opt.sigs[opt.nsigs++] = SIGKILL;
        else if (strcmp(tok, "STOP") == 0)
            opt.sigs[opt.nsigs++] = SIGSTOP;
        else
            return -1;
    }
    return opt.nsigs ? 0 : -1;
}

int main(int argc, char **argv)
{
    const char *gateway = NULL, *windows = "KILL:2000,STOP:3000";
    opt.reps_per_signal = 20;
    opt.echo_clients = 100;
    opt.echo_interval_ns = 10 * MS;
    opt.players = 16;
    opt.seed = (uint64_t)getpid();
    (void)parse_signals("KILL,STOP");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            usage();
            return 1;
        }
        i++;
        if (strcmp(a, "--gateway") == 0)
            gateway = v;
        else if (strcmp(a, "--gamed") == 0)
            opt.gamed = v;
        else if (strcmp(a, "--dir") == 0)
            opt.dir = v;
        else if (strcmp(a, "--reps-per-signal") == 0)
            opt.reps_per_signal = atoi(v);
        else if (strcmp(a, "--signals") == 0) {
            if (parse_signals(v) != 0) {
                usage();
                return 1;
            }
        } else if (strcmp(a, "--echo-clients") == 0)
            opt.echo_clients = atoi(v);
        else if (strcmp(a, "--echo-interval-ms") == 0)
            opt.echo_interval_ns = (uint64_t)atoi(v) * MS;
        else if (strcmp(a, "--players") == 0)
            opt.players = atoi(v);
        else if (strcmp(a, "--window-ms") == 0)
            windows = v;
        else if (strcmp(a, "--seed") == 0)
            opt.seed = strtoull(v, NULL, 10);
        else {
            usage();
            return 1;
        }
    }
    if (!gateway || !opt.gamed || !opt.dir || opt.reps_per_signal < 1 || opt.echo_clients < 0 ||
        opt.players < 0 || opt.players % 2 || opt.echo_clients + opt.players == 0 ||
        addr_split(gateway, opt.host, sizeof opt.host, &opt.port) != 0) {
        usage();
        return 1;
    }
    for (int k = 0; k < opt.nsigs; k++) {
        const char *name = sig_name(opt.sigs[k]);
        const char *p = strstr(windows, name);
        opt.window_ns[k] = (p && p[strlen(name)] == ':' ? (uint64_t)atoi(p + strlen(name) + 1) : 3000) * MS;
    }
    rng_state = opt.seed;
    snprintf(user_prefix, sizeof user_prefix, "fo%x_", (unsigned)(opt.seed & 0xfffff));
    signal(SIGPIPE, SIG_IGN);

    loop = uv_default_loop();
    cl = conn_loop_new(loop);
    pb_arena_init(&arena, 1 << 20);
    if (spawn_gamed(0) != 0 || spawn_gamed(1) != 0) {
        fprintf(stderr, "failover_probe: cannot start gamed\n");
        kill_all_games();
        return 1;
    }
    echoes = xcalloc((size_t)opt.echo_clients + 1, sizeof *echoes);
    players = xcalloc((size_t)opt.players + 1, sizeof *players);
    for (int i = 0; i < opt.echo_clients; i++) {
        echo_t *e = &echoes[i];
        e->idx = i;
        e->c = client_new(loop, cl, 0);
        client_set_timeout(e->c, 10000);
        if (client_connect(e->c, opt.host, opt.port, on_echo_event, e) != 0) {
            fprintf(stderr, "failover_probe: cannot connect to %s\n", gateway);
            kill_all_games();
            return 1;
        }
    }
    for (int i = 0; i < opt.players; i++) {
        player_t *pl = &players[i];
        pl->idx = i;
        snprintf(pl->user, sizeof pl->user, "%s%d", user_prefix, i);
        pl->c = client_new(loop, cl, 0);
        client_set_timeout(pl->c, 10000);
        client_set_push_cb(pl->c, on_player_push, pl);
        if (client_connect(pl->c, opt.host, opt.port, on_player_event, pl) != 0) {
            fprintf(stderr, "failover_probe: cannot connect to %s\n", gateway);
            kill_all_games();
            return 1;
        }
    }
    uv_timer_init(loop, &ctl_timer);
    uv_timer_init(loop, &pace_timer);
    uv_timer_start(&ctl_timer, on_ctl, 5, 5);
    uv_timer_start(&pace_timer, on_pace, 1, 1);
    uv_signal_init(loop, &sigint_h);
    uv_signal_init(loop, &sigterm_h);
    uv_signal_start(&sigint_h, on_signal, SIGINT);
    uv_signal_start(&sigterm_h, on_signal, SIGTERM);
    ready_since = mono_ns();
    fprintf(stderr, "failover_probe: %d echo clients (every %" PRIu64 " ms), %d players, %d reps of %s%s%s\n",
            opt.echo_clients, opt.echo_interval_ns / MS, opt.players, opt.reps_per_signal,
            sig_name(opt.sigs[0]), opt.nsigs > 1 ? " and " : "", opt.nsigs > 1 ? sig_name(opt.sigs[1]) : "");
    uv_run(loop, UV_RUN_DEFAULT);

    kill_all_games();
    fprintf(stderr, "failover_probe: done, %d repetitions; player request retries %" PRIu64
                    ", matches stuck before start %" PRIu64 "\n",
            rep, player_retries, start_stuck);
    fflush(stdout);
    /* The process exits here: the kernel closes the clients (no graceful teardown needed). */
    _exit(phase == PH_DONE && !exit_code ? 0 : 1);
}
