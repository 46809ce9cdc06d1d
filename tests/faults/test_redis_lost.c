/* test_redis_lost: Redis restarted empty under 40 playing bots.
 *
 * Two gateways, a lobby, two game daemons; 40 bots play quick matches and 10 tracked players
 * of our own are logged in (4 in matches, 2 in a waiting room, 4 idle). Redis is killed and
 * started again empty. Checks: every tracked player is told to log in again (KICKED with
 * SESSION_LOST) and its connection closed, none is left half-connected; each logs in again
 * and plays (LOGIN, QUICK_MATCH, MATCH_START, GAME_OVER, its record with its name); a room or
 * queue request from a user the lobby has no location for is refused with SESSION_LOST and
 * places nothing; every match started after the restart has only players who logged in after
 * it, and no record anywhere names "unknown"; a user whose session Redis forgot logs in through
 * the other gateway: the old session is kicked (one live session per user). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "faults_util.h"

#define NT 10

static char tag[8];

typedef struct tracked {
    char name[32];
    csync_t *c;
    uint64_t uid;
} tracked_t;

static tracked_t T[NT];

static uint64_t wall_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Logs t in through gateway gw; BUSY, SERVICE_UNAVAILABLE and TIMEOUT (a lobby still
 * reconnecting to Redis, hashing saturated by the bots) are retried for up to 10 s. */
static void login(const fcluster_t *c, tracked_t *t, int gw)
{
    t->c = fc_connect(c, gw);
    fres_t r;
    for (uint64_t t0 = h_now_ms();;) {
        r = fc_login(t->c, t->name, "tracked-password");
        int retry = r.code == ERROR_CODE__BUSY || r.code == ERROR_CODE__SERVICE_UNAVAILABLE ||
                    r.code == ERROR_CODE__TIMEOUT;
        if (!retry || h_now_ms() - t0 > 10000)
            break;
        fres_free(&r);
        h_sleep_ms(100);
    }
    if (r.type != PACKET_TYPE__LOGIN_RESPONSE)
        fprintf(stderr, "login %s: type %u code %d\n", t->name, r.type, r.code);
    CHECK_EQ(r.type, PACKET_TYPE__LOGIN_RESPONSE);
    LoginResponse *lr = login_response__unpack(NULL, r.len, r.payload);
    CHECK(lr != NULL);
    t->uid = lr->user_id;
    login_response__free_unpacked(lr, NULL);
    fres_free(&r);
}

/* Waits for a push of type want, skipping others; its payload (caller frees) or NULL. */
static uint8_t *wait_push(csync_t *s, uint16_t want, size_t *len, int timeout_ms)
{
    uint64_t t0 = h_now_ms();
    while ((int)(h_now_ms() - t0) < timeout_ms) {
        uint16_t t;
        uint8_t *p;
        if (csync_wait_push(s, &t, &p, len, timeout_ms - (int)(h_now_ms() - t0)) != 0)
            return NULL;
        if (t == want)
            return p;
        xfree(p);
    }
    return NULL;
}

static fres_t quick(csync_t *s)
{
    QuickMatchRequest q = QUICK_MATCH_REQUEST__INIT;
    return fc_call(s, PACKET_TYPE__QUICK_MATCH_REQUEST, &q.base, 5000);
}

/* Both players of a pair quick-match; returns the match id from MATCH_START (0: none). */
static uint64_t pair_match(tracked_t *a, tracked_t *b)
{
    fres_t r = quick(a->c);
    CHECK_EQ(r.type, PACKET_TYPE__QUICK_MATCH_RESPONSE);
    fres_free(&r);
    r = quick(b->c);
    CHECK_EQ(r.type, PACKET_TYPE__QUICK_MATCH_RESPONSE);
    fres_free(&r);
    size_t n;
    uint8_t *p = wait_push(a->c, PACKET_TYPE__MATCH_START, &n, 8000);
    if (!p)
        return 0;
    MatchStart *ms = match_start__unpack(NULL, n, p);
    uint64_t id = ms ? ms->match_id : 0;
    if (ms)
        match_start__free_unpacked(ms, NULL);
    xfree(p);
    return id;
}

/* Lines of one psql query, each as an unsigned number; returns how many. */
static int psql_ids(const char *sql, unsigned long long *out, int cap)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "psql \"%s\" -XtAc \"%s\" 2>&1", h_pg_conninfo(), sql);
    FILE *f = popen(cmd, "r");
    CHECK(f != NULL);
    char line[256];
    int n = 0;
    while (fgets(line, sizeof line, f))
        if (n < cap && line[0] >= '0' && line[0] <= '9')
            out[n++] = strtoull(line, NULL, 10);
    CHECK_EQ(pclose(f), 0);
    return n;
}

static void restart_checks(const fcluster_t *c, uint64_t restart_wall)
{
    /* every tracked player is told, then closed */
    int told = 0;
    for (int i = 0; i < NT; i++) {
        size_t n;
        uint8_t *p = wait_push(T[i].c, PACKET_TYPE__KICKED, &n, 15000);
        if (!p) {
            fprintf(stderr, "%s was not told to log in again\n", T[i].name);
            continue;
        }
        Kicked *k = kicked__unpack(NULL, n, p);
        CHECK(k != NULL);
        CHECK_EQ(k->code, ERROR_CODE__SESSION_LOST);
        kicked__free_unpacked(k, NULL);
        xfree(p);
        CHECK_EQ(csync_wait_closed(T[i].c, 5000), 0);
        csync_close(T[i].c);
        T[i].c = NULL;
        told++;
    }
    CHECK_EQ(told, NT);

    /* they log in again and play; the record names them */
    for (int i = 0; i < NT; i++)
        login(c, &T[i], i % 2);
    uint64_t m = 0;
    for (uint64_t t0 = h_now_ms(); !m && h_now_ms() - t0 < 20000;)
        m = pair_match(&T[0], &T[1]); /* registry and links may still be settling */
    CHECK(m != 0);
    size_t n;
    uint8_t *p = wait_push(T[0].c, PACKET_TYPE__GAME_OVER, &n, 20000);
    CHECK(p != NULL);
    xfree(p);
    h_sleep_ms(500);
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM match_players WHERE match_id = %llu AND username IN ('%s', '%s')",
             (unsigned long long)m, T[0].name, T[1].name);
    unsigned long long cnt = 0;
    CHECK_EQ(psql_ids(sql, &cnt, 1), 1);
    CHECK_EQ(cnt, 2);

    /* a user the lobby has no location for (its data lost after the login): refused, nothing placed */
    redisContext *rc = h_redis();
    redisReply *rr = redisCommand(rc, "HDEL %suser:%llu gw", h_prefix(), (unsigned long long)T[2].uid);
    CHECK(rr && rr->type == REDIS_REPLY_INTEGER && rr->integer == 1);
    freeReplyObject(rr);
    fres_t r = quick(T[2].c);
    CHECK_EQ(r.code, ERROR_CODE__SESSION_LOST);
    fres_free(&r);
    r = quick(T[3].c);
    CHECK_EQ(r.type, PACKET_TYPE__QUICK_MATCH_RESPONSE);
    fres_free(&r);
    /* T[3] waits in the queue: had T[2] been queued, the two would have been placed */
    CHECK(wait_push(T[2].c, PACKET_TYPE__GAME_STARTING, &n, 1500) == NULL);
    CreateRoomRequest cr = CREATE_ROOM_REQUEST__INIT;
    cr.name = (char *)"lost";
    cr.max_players = 2;
    r = fc_call(T[2].c, PACKET_TYPE__CREATE_ROOM_REQUEST, &cr.base, 5000);
    CHECK_EQ(r.code, ERROR_CODE__SESSION_LOST);
    fres_free(&r);
    (void)restart_wall;
}

/* Sessions the gateways told SESSION_LOST (their sessions_lost log lines). */
static int count_sessions_lost(const fcluster_t *c)
{
    int lost_sessions = 0;
    for (int g = 0; g < 2; g++) {
        FILE *f = fopen(c->gw[g]->log, "r");
        CHECK(f != NULL);
        char line[1024];
        while (fgets(line, sizeof line, f)) {
            const char *s = strstr(line, "event=sessions_lost sessions=");
            if (s)
                lost_sessions += atoi(s + strlen("event=sessions_lost sessions="));
        }
        fclose(f);
    }
    CHECK(lost_sessions >= NT);
    return lost_sessions;
}

/* No record names "unknown"; every match started after the restart has only players who
 * logged in after it (their name is in the new Redis). Returns the player slots looked at. */
static int check_placed_after(uint64_t restart_wall)
{
    unsigned long long v[1];
    CHECK_EQ(psql_ids("SELECT count(*) FROM match_players WHERE username = 'unknown' OR username = ''", v, 1), 1);
    CHECK_EQ(v[0], 0);
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT mp.user_id FROM match_players mp JOIN matches m ON m.id = mp.match_id "
             "WHERE m.started_at >= to_timestamp(%llu / 1000.0)", (unsigned long long)restart_wall);
    static unsigned long long uids[8192];
    int nu = psql_ids(sql, uids, 8192);
    CHECK(nu >= 2);
    redisContext *rc = h_redis();
    int unreachable = 0;
    for (int i = 0; i < nu; i++) {
        redisReply *rr = redisCommand(rc, "HEXISTS %suser:%llu name", h_prefix(), uids[i]);
        unreachable += !(rr && rr->type == REDIS_REPLY_INTEGER && rr->integer == 1);
        if (rr)
            freeReplyObject(rr);
    }
    CHECK_EQ(unreachable, 0);
    return nu;
}

/* One live session per user whatever Redis remembers: Redis forgets T[6]'s session (its user
 * hash deleted), T[6] logs in again through the other gateway: the old one is kicked. */
static void check_one_session(const fcluster_t *c)
{
    redisContext *rc = h_redis();
    redisReply *dr = redisCommand(rc, "DEL %suser:%llu", h_prefix(), (unsigned long long)T[6].uid);
    CHECK(dr && dr->type == REDIS_REPLY_INTEGER && dr->integer == 1);
    freeReplyObject(dr);
    tracked_t again = T[6];
    login(c, &again, 1); /* T[6] logged in on gateway 0 (6 % 2) */
    size_t kn;
    uint8_t *kp = wait_push(T[6].c, PACKET_TYPE__KICKED, &kn, 5000);
    CHECK(kp != NULL);
    Kicked *k = kicked__unpack(NULL, kn, kp);
    CHECK(k && k->code == ERROR_CODE__ALREADY_AUTHENTICATED);
    kicked__free_unpacked(k, NULL);
    xfree(kp);
    CHECK_EQ(csync_wait_closed(T[6].c, 5000), 0);
    EchoRequest er = ECHO_REQUEST__INIT;
    er.target = ECHO_TARGET__LOBBY;
    fres_t e = fc_call(again.c, PACKET_TYPE__ECHO_REQUEST, &er.base, 5000);
    CHECK_EQ(e.type, PACKET_TYPE__ECHO_RESPONSE); /* the new session is served */
    fres_free(&e);
    csync_close(again.c);
}

int main(void)
{
    h_init("redis_lost");
    snprintf(tag, sizeof tag, "%x", (unsigned)getpid() & 0xfffffu);
    h_pg_start();
    fcluster_t c;
    fc_up_bots(&c, "lost", 1, NULL);

    csync_t *reg = fc_connect(&c, 0);
    for (int i = 0; i < NT; i++) {
        snprintf(T[i].name, sizeof T[i].name, "tr%s_%d", tag, i);
        fc_register(reg, T[i].name, "tracked-password");
    }
    csync_close(reg);
    for (int i = 0; i < NT; i++)
        login(&c, &T[i], i % 2);
    /* 4 in matches, 2 in a waiting room, 4 idle */
    CHECK(pair_match(&T[0], &T[1]) != 0);
    CHECK(pair_match(&T[2], &T[3]) != 0);
    CreateRoomRequest cr = CREATE_ROOM_REQUEST__INIT;
    cr.name = (char *)"waiting";
    cr.max_players = 4;
    fres_t r = fc_call(T[4].c, PACKET_TYPE__CREATE_ROOM_REQUEST, &cr.base, 5000);
    CHECK_EQ(r.type, PACKET_TYPE__CREATE_ROOM_RESPONSE);
    CreateRoomResponse *crr = create_room_response__unpack(NULL, r.len, r.payload);
    CHECK(crr && crr->room);
    JoinRoomRequest jr = JOIN_ROOM_REQUEST__INIT;
    jr.room_id = crr->room->room_id;
    create_room_response__free_unpacked(crr, NULL);
    fres_free(&r);
    r = fc_call(T[5].c, PACKET_TYPE__JOIN_ROOM_REQUEST, &jr.base, 5000);
    CHECK_EQ(r.type, PACKET_TYPE__JOIN_ROOM_RESPONSE);
    fres_free(&r);

    char gws[64], json[300], prefix[32];
    snprintf(gws, sizeof gws, "127.0.0.1:%d,127.0.0.1:%d", c.port[0], c.port[1]);
    snprintf(json, sizeof json, "%s/bot.json", h_dir());
    snprintf(prefix, sizeof prefix, "lb%s_", tag);
    const char *bargs[] = {"--scenario", "match", "--bots", "40", "--duration", "25", "--gateway", gws,
                           "--quiet", "--json", json, "--user-prefix", prefix, NULL};
    proc_t *bot = h_spawn_argv(BOT_PATH, "bot", bargs);
    h_sleep_ms(8000); /* the bots log in and play */

    uint64_t restart_wall = wall_now_ms();
    h_redis_stop();
    h_redis_start(); /* empty: no persistence */
    uint64_t t_restart = h_now_ms();
    restart_checks(&c, restart_wall);
    uint64_t told_ms = h_now_ms() - t_restart;

    CHECK(h_wait_exit(bot, 90000) >= 0);
    h_sleep_ms(7000); /* matches still running end (6 s limit) and are recorded */
    int lost_sessions = count_sessions_lost(&c);
    int nu = check_placed_after(restart_wall);
    check_one_session(&c);
    for (int i = 0; i < NT; i++)
        csync_close(T[i].c);
    CHECK(h_alive(c.lobby[0]) && h_alive(c.gw[0]) && h_alive(c.gw[1]) && h_alive(c.game[0]) && h_alive(c.game[1]));
    fc_down(&c);
    printf("ok redis restarted empty under 40 playing bots: %d logged-in sessions told SESSION_LOST "
           "(all %d tracked players: 4 in matches, 2 in a room, 4 idle), each closed; they logged in "
           "again and played (record under their names) within %llu ms of the restart; a request "
           "without a known location refused SESSION_LOST, nothing placed; %d player slots in "
           "matches started after the restart, 0 for unreachable players; 0 records named unknown; "
           "a login through the other gateway after Redis forgot the session kicked the old one\n",
           lost_sessions, NT, (unsigned long long)told_ms, nu);
    printf("test_redis_lost: ok\n");
    return 0;
}
