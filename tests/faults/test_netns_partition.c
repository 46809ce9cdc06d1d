/* test_netns_partition: the link between a gateway and a game daemon on another "host" (its
 * own network namespace, netns_util.h) is cut mid-match and restored.
 *
 * 1. Cut 3 s (< MATCH_LINK_GRACE_MS 5000): during the gap a match packet is refused with
 *    SERVICE_UNAVAILABLE; after it, each player is pushed a fresh GAME_SNAPSHOT_RESPONSE
 *    (seq 0), nobody sees MATCH_ABORTED, the match ends with GAME_OVER at its time limit and
 *    is recorded exactly once, not aborted.
 * 2. Cut 8 s (> the grace; Redis still reaches the daemon, so it never leaves the registry):
 *    MATCH_ABORTED once the grace has passed (not before), and once the link is back the
 *    daemon ends the match too: recorded exactly once, as aborted.
 * 3. A delay (tc netem): "skipped: netem qdisc unavailable" where the kernel lacks it.
 * Needs root for `ip netns`; without it the test says "skipped: why" and exits 77. */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "faults_util.h"
#include "netns_util.h"

#define GRACE_MS 5000
#define TIME_LIMIT_MS 12000

#define DIE(...)                                                                               \
    do {                                                                                       \
        fprintf(stderr, "FAILED line %d: ", __LINE__);                                         \
        fprintf(stderr, __VA_ARGS__);                                                          \
        fprintf(stderr, "\n");                                                                 \
        h_fail();                                                                              \
    } while (0)

static nn_t nn;
static char run_tag[8];
/* cut lengths; the long form (run_long.sh) sets FAULT_CUT_SHORT_MS / FAULT_CUT_LONG_MS */
static int cut_short_ms = 3000, cut_long_ms = 8000;

typedef struct player {
    csync_t *s;
    char name[32];
    uint64_t match;
    int started, over, aborted, snapshots; /* pushes seen */
    uint64_t aborted_at;
} player_t;

static void player_up(player_t *p, int port, const char *who)
{
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s_%s", who, run_tag);
    p->s = csync_connect("127.0.0.1", port, 5000);
    CHECK(p->s != NULL);
    fc_register(p->s, p->name, "partition-pass-1");
    fres_t r = fc_login(p->s, p->name, "partition-pass-1");
    CHECK_EQ(r.type, PACKET_TYPE__LOGIN_RESPONSE);
    fres_free(&r);
}

/* The pushes of a match the players count: each decodes and names the match (match_id at off). */
static const struct {
    uint16_t type;
    const ProtobufCMessageDescriptor *d;
    size_t off;
} MATCH_PUSHES[] = {
    {PACKET_TYPE__MATCH_START, &match_start__descriptor, offsetof(MatchStart, match_id)},
    {PACKET_TYPE__GAME_OVER, &game_over__descriptor, offsetof(GameOver, match_id)},
    {PACKET_TYPE__MATCH_ABORTED, &match_aborted__descriptor, offsetof(MatchAborted, match_id)},
    {PACKET_TYPE__GAME_SNAPSHOT_RESPONSE, &game_snapshot_response__descriptor,
     offsetof(GameSnapshotResponse, match_id)},
};

/* Counts one push: MATCH_START sets the player's match; the others must name it (a pushed
 * GAME_SNAPSHOT_RESPONSE has seq 0). Other pushes are ignored. */
static void take_push(player_t *p, uint16_t type, uint32_t seq, const uint8_t *pl, size_t len)
{
    for (size_t k = 0; k < sizeof MATCH_PUSHES / sizeof MATCH_PUSHES[0]; k++) {
        if (MATCH_PUSHES[k].type != type)
            continue;
        ProtobufCMessage *m = protobuf_c_message_unpack(MATCH_PUSHES[k].d, NULL, len, pl);
        CHECK(m != NULL);
        uint64_t match = *(const uint64_t *)(const void *)((const char *)m + MATCH_PUSHES[k].off);
        if (type == PACKET_TYPE__MATCH_START) {
            p->match = match;
            p->started++;
        } else if (type == PACKET_TYPE__GAME_OVER) {
            CHECK_EQ(match, p->match);
            p->over++;
        } else if (type == PACKET_TYPE__MATCH_ABORTED) {
            CHECK_EQ(match, p->match);
            printf("  %s: MATCH_ABORTED \"%s\"\n", p->name, ((const MatchAborted *)m)->reason);
            p->aborted++;
            p->aborted_at = h_now_ms();
        } else {
            CHECK_EQ(seq, 0);
            CHECK_EQ(match, p->match);
            p->snapshots++;
        }
        protobuf_c_message_free_unpacked(m, NULL);
    }
}

/* Takes every push queued or arriving within ms. */
static void drain(player_t *p, int ms)
{
    uint16_t type;
    uint32_t seq;
    uint8_t *pl;
    size_t len;
    uint64_t end = h_now_ms() + (uint64_t)ms;
    for (;;) {
        int left = (int)(end > h_now_ms() ? end - h_now_ms() : 0);
        if (csync_wait_push_seq(p->s, &type, &seq, &pl, &len, left) != 0)
            return;
        take_push(p, type, seq, pl, len);
        xfree(pl);
    }
}

/* Pumps both players' pushes until cond holds for both or timeout_ms passes; -1 on timeout. */
static int pump_until(player_t *ps, int n, int (*cond)(const player_t *), int timeout_ms)
{
    uint64_t end = h_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        int all = 1;
        for (int i = 0; i < n; i++) {
            drain(&ps[i], 20);
            all &= cond(&ps[i]);
        }
        if (all)
            return 0;
        if (h_now_ms() > end)
            return -1;
    }
}

static int c_started(const player_t *p) { return p->started > 0; }
static int c_ended(const player_t *p) { return p->over > 0 || p->aborted > 0; }

/* One quick match of the two players on the namespaced daemon; returns its id. */
static uint64_t start_match(player_t *ps)
{
    for (int i = 0; i < 2; i++) {
        QuickMatchRequest q = QUICK_MATCH_REQUEST__INIT;
        fres_t r = fc_call(ps[i].s, PACKET_TYPE__QUICK_MATCH_REQUEST, &q.base, 5000);
        CHECK_EQ(r.type, PACKET_TYPE__QUICK_MATCH_RESPONSE);
        fres_free(&r);
    }
    if (pump_until(ps, 2, c_started, 10000) < 0)
        DIE("no MATCH_START for both players within 10 s");
    CHECK_EQ(ps[0].match, ps[1].match);
    return ps[0].match;
}

/* A match packet during the cut: refused with SERVICE_UNAVAILABLE (at once once the link is
 * known dead; a request sent before that fails when it dies). */
static void expect_refused(player_t *p)
{
    GameSnapshotRequest rq = GAME_SNAPSHOT_REQUEST__INIT;
    fres_t r = fc_call(p->s, PACKET_TYPE__GAME_SNAPSHOT_REQUEST, &rq.base, 8000);
    if (r.type != PACKET_TYPE__ERROR_RESPONSE || r.code != ERROR_CODE__SERVICE_UNAVAILABLE)
        DIE("%s: a match packet during the cut got type %u code %d, want SERVICE_UNAVAILABLE",
            p->name, r.type, r.code);
    fres_free(&r);
}

/* The match's rows in PostgreSQL (over psql): how many, and the outcome of one. */
static int pg_records(uint64_t match, char *outcome, size_t n)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd,
             "psql -X -q -tA -h 127.0.0.1 -p %d -U postgres -d cluster -c "
             "\"SELECT count(*) || ' ' || coalesce(max(outcome), '-') FROM matches WHERE id = %llu\"",
             h_pg_port(), (unsigned long long)match);
    FILE *f = popen(cmd, "r");
    CHECK(f != NULL);
    int count = -1;
    char out[32] = "";
    if (fscanf(f, "%d %31s", &count, out) != 2)
        count = -1;
    pclose(f);
    snprintf(outcome, n, "%s", out);
    return count;
}

/* Waits until the match has a record (bounded); returns the count then. */
static int wait_record(uint64_t match, char *outcome, size_t n, int timeout_ms)
{
    uint64_t end = h_now_ms() + (uint64_t)timeout_ms;
    int c;
    while ((c = pg_records(match, outcome, n)) == 0 && h_now_ms() < end)
        h_sleep_ms(200);
    return c;
}

/* Waits until gateway g's link to a game daemon answers ECHO GAME. */
static void wait_game_link(const fcluster_t *c, int timeout_ms)
{
    uint64_t t0 = h_now_ms();
    for (;;) {
        csync_t *s = csync_connect("127.0.0.1", c->port[0], 2000);
        if (s) {
            EchoRequest e = ECHO_REQUEST__INIT;
            e.target = ECHO_TARGET__GAME;
            fres_t r = fc_call(s, PACKET_TYPE__ECHO_REQUEST, &e.base, 2000);
            fres_free(&r);
            csync_close(s);
            if (r.type == PACKET_TYPE__ECHO_RESPONSE)
                return;
        }
        if (h_now_ms() - t0 > (uint64_t)timeout_ms)
            DIE("the gateway never linked to the namespaced game daemon in %d ms", timeout_ms);
        h_sleep_ms(100);
    }
}

static void cluster_up(fcluster_t *c, proc_t **game, const char *tag)
{
    static const char *const lobby_env[] = {"QUICK_MATCH_SIZE=2", NULL};
    fc_up(c, tag, 1, 1, 0, lobby_env, NULL, NULL);
    static const char *const game_env[] = {"MONSTER_DAMAGE=0", "MATCH_TIME_LIMIT_MS=12000", NULL};
    *game = nn_spawn_game(&nn, "gamed_ns", game_env);
    CHECK(h_wait_registered("Game", 1, 20000) >= 0);
    wait_game_link(c, 20000);
}

static void cluster_down(fcluster_t *c, proc_t *game)
{
    fc_down(c);
    h_kill(game, SIGTERM);
    CHECK_EQ(h_wait_exit(game, 20000), 0);
}

/* A cut's scene: the cluster with the namespaced game daemon, two players (names a and b) in a
 * quick match on it that has been played for play_ms, then the link cut at t_cut. */
typedef struct scene {
    fcluster_t c;
    proc_t *game;
    player_t ps[2];
    uint64_t match, t_cut;
} scene_t;

static void scene_cut(scene_t *s, const char *tag, const char *a, const char *b, int play_ms)
{
    cluster_up(&s->c, &s->game, tag);
    player_up(&s->ps[0], s->c.port[0], a);
    player_up(&s->ps[1], s->c.port[0], b);
    s->match = start_match(s->ps);
    (void)pump_until(s->ps, 2, c_ended, play_ms); /* play a while */
    s->t_cut = h_now_ms();
    nn_game_link(&nn, 0);
}

static void scene_down(scene_t *s)
{
    for (int i = 0; i < 2; i++)
        csync_close(s->ps[i].s);
    cluster_down(&s->c, s->game);
}

/* Takes both players' pushes until cut_ms have passed since t_cut, then restores the link. */
static void cut_until(player_t *ps, uint64_t t_cut, int cut_ms)
{
    while (h_now_ms() - t_cut < (uint64_t)cut_ms)
        for (int i = 0; i < 2; i++)
            drain(&ps[i], 50);
    nn_game_link(&nn, 1);
}

static void short_cut(void)
{
    scene_t s;
    scene_cut(&s, "cut3", "pa", "pb", 1500);
    player_t *ps = s.ps;
    expect_refused(&ps[0]);
    cut_until(ps, s.t_cut, cut_short_ms);
    uint64_t t_back = h_now_ms();
    /* the link comes back within the reconnect backoff: a snapshot each */
    while (ps[0].snapshots == 0 || ps[1].snapshots == 0) {
        if (h_now_ms() - t_back > 4000)
            DIE("no pushed snapshot after the link came back (%d, %d)", ps[0].snapshots, ps[1].snapshots);
        for (int i = 0; i < 2; i++)
            drain(&ps[i], 50);
    }
    uint64_t healed_ms = h_now_ms() - t_back;
    if (pump_until(ps, 2, c_ended, TIME_LIMIT_MS + 10000) < 0)
        DIE("the match did not end after the cut");
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(ps[i].aborted, 0);
        CHECK_EQ(ps[i].over, 1);
    }
    char outcome[32];
    int n = wait_record(s.match, outcome, sizeof outcome, 10000);
    printf("row|netns gateway-game link cut %d ms (grace %d ms)|%d|%d|%d|%llu\n", cut_short_ms,
           GRACE_MS, (ps[0].aborted > 0) + (ps[1].aborted > 0), n < 1, n > 1 ? n - 1 : 0,
           (unsigned long long)healed_ms);
    CHECK_EQ(n, 1);
    CHECK(strcmp(outcome, "aborted") != 0);
    CHECK_EQ(h_log_count(s.c.gw[0], "event=game_link_healed"), 1);
    CHECK_EQ(h_log_count(s.c.gw[0], "event=game_lost"), 0);
    printf("ok cut %d ms (grace %d ms): match packet refused SERVICE_UNAVAILABLE during the cut, "
           "snapshot pushed %llu ms after restore, no MATCH_ABORTED, GAME_OVER, 1 record (%s)\n",
           cut_short_ms, GRACE_MS, (unsigned long long)healed_ms, outcome);
    scene_down(&s);
}

static void long_cut(void)
{
    scene_t s;
    scene_cut(&s, "cut8", "pc", "pd", 1000);
    player_t *ps = s.ps;
    if (pump_until(ps, 2, c_ended, GRACE_MS + 4000) < 0)
        DIE("no MATCH_ABORTED within %d ms of the cut (grace %d ms)", GRACE_MS + 4000, GRACE_MS);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(ps[i].aborted, 1);
        CHECK_EQ(ps[i].over, 0);
        uint64_t after = ps[i].aborted_at - s.t_cut;
        /* the link is declared dead after LINK_DEAD_MS (1 s), then the grace runs */
        if (after < GRACE_MS)
            DIE("%s: MATCH_ABORTED %llu ms after the cut, before the grace passed", ps[i].name,
                (unsigned long long)after);
    }
    uint64_t told_ms = ps[0].aborted_at - s.t_cut;
    cut_until(ps, s.t_cut, cut_long_ms);
    uint64_t t_back = h_now_ms();
    wait_game_link(&s.c, 20000);
    uint64_t back_ms = h_now_ms() - t_back;
    char outcome[32];
    int n = wait_record(s.match, outcome, sizeof outcome, 15000);
    CHECK_EQ(n, 1);
    CHECK(strcmp(outcome, "aborted") == 0);
    h_sleep_ms(1500); /* a second record would show up by now */
    n = pg_records(s.match, outcome, sizeof outcome);
    printf("row|netns gateway-game link cut %d ms (grace %d ms)|%d|%d|%d|%llu\n", cut_long_ms, GRACE_MS,
           (ps[0].aborted > 0) + (ps[1].aborted > 0), n < 1, n > 1 ? n - 1 : 0,
           (unsigned long long)back_ms);
    CHECK_EQ(n, 1);
    for (int i = 0; i < 2; i++) {
        drain(&ps[i], 100);
        CHECK_EQ(ps[i].aborted, 1);
    }
    CHECK(h_log_count(s.c.gw[0], "event=game_link_grace_over") >= 1);
    printf("ok cut %d ms (grace %d ms): MATCH_ABORTED %llu ms after the cut, recorded once as aborted, "
           "link back %llu ms after restore\n", cut_long_ms, GRACE_MS, (unsigned long long)told_ms,
           (unsigned long long)back_ms);
    scene_down(&s);
}

int main(void)
{
    h_init("netns_partition");
    if (nn_setup(&nn) != 0) {
        printf("skipped: %s\n", nn.why);
        return NN_SKIP;
    }
    snprintf(run_tag, sizeof run_tag, "%04x", (unsigned)(h_now_ms() & 0xffff));
    if (getenv("FAULT_CUT_SHORT_MS"))
        cut_short_ms = atoi(getenv("FAULT_CUT_SHORT_MS"));
    if (getenv("FAULT_CUT_LONG_MS"))
        cut_long_ms = atoi(getenv("FAULT_CUT_LONG_MS"));
    /* a short cut must fit in the grace with room for the reconnect; a long one must not */
    CHECK(cut_short_ms <= GRACE_MS - 1500 && cut_long_ms > GRACE_MS + 1000);
    h_pg_start();
    if (nn_netem_available(&nn))
        printf("netem available (no delay case written yet)\n");
    else
        printf("delay case: skipped: netem qdisc unavailable\n");
    short_cut();
    long_cut();
    printf("netns_partition: all passed\n");
    return 0;
}
