/* test_placement: a match is only running once its game daemon has picked it up (docs/matches.md,
 * "Placement is confirmed"), through the real cluster:
 * - unlinked: a fake `Server:Game` entry with a fresh heartbeat pointing at a port that answers
 *   junk, and a real game daemon that Redis reaches but the gateway cannot (it advertises an
 *   address nothing listens on): 6 quick matches all go to the daemon the gateway is linked
 *   to; the gateway's registry entry lists only that one in `linked_games`; neither of the others is
 *   ever counted in placement:Game;
 * - moved: a daemon stopped (SIGSTOP) that the gateway still counts as linked and the lobby
 *   as healthy (long LINK_DEAD_MS and PLACEMENT_STALE_MS): the matches placed on it are placed
 *   again on the other daemon within PLACEMENT_CONFIRM_MS (+ a sweep), every player gets a
 *   second GAME_STARTING naming the other daemon and MATCH_START from it; the stopped daemon
 *   sits out new placements; once it runs again it starts none of the moved matches;
 * - ended: the same with no other daemon: the players get MATCH_ABORTED saying no game server
 *   took the match up, the room waits again, no record is written; once the daemon runs again
 *   and its sit-out has passed, a start works. */
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "scene.h"

static char RUN[8];

static const char *const CONFIRM_LOBBY_ENV[] = {"PLACEMENT_CONFIRM_MS=1000", "PLACEMENT_STALE_MS=20000", NULL};
/* the gateway keeps a stopped daemon's link for 8 s: the lobby is not warned by it */
static const char *const SLOW_GW_ENV[] = {"RATE_LIMIT=100000", "RATE_BURST=100000", "LINK_DEAD_MS=8000",
                                          "MATCH_LINK_GRACE_MS=20000", NULL};
static const char *const LONG_ENV[] = {"MATCH_WAVES=100", "MATCH_TIME_LIMIT_MS=60000", "WAVE_GAP_MS=200",
                                       "WAVE_BASE_MONSTERS=1", "DRAIN_TIMEOUT_MS=500", NULL};

static void add_gateway_env(cluster_t *cl, const char *const *env)
{
    int i = cl->ngw++;
    cl->gw[i] = h_spawn_gateway(&cl->port[i], env);
    cl->gw_id[i] = lu_server_id(cl->gw[i]);
}

/* The lobby's count of matches placed on a daemon (-1: none ever). */
static long long placed_on(uint32_t game)
{
    char f[16];
    snprintf(f, sizeof f, "%u", game);
    return lu_hget_num("placement:Game", f);
}

/* The gateway's `linked_games` registry field ("" when missing). */
static void gateway_games(uint32_t gw, char *out, size_t n)
{
    redisReply *r = redisCommand(h_redis(), "HGET %sServer:Gateway:%u linked_games", h_prefix(), gw);
    CHECK(r != NULL);
    snprintf(out, n, "%s", r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
}

/* ---- a fake registry entry on a port that answers junk ---- */

static unsigned long long now_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (unsigned long long)ts.tv_sec * 1000ull + (unsigned long long)ts.tv_nsec / 1000000ull;
}

typedef struct junk {
    int fd, port;
    uint32_t id;
    int accepted;
} junk_t;

static void junk_open(junk_t *j, uint32_t id)
{
    j->id = id;
    j->accepted = 0;
    j->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    CHECK(j->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(bind(j->fd, (struct sockaddr *)&a, sizeof a) == 0);
    socklen_t al = sizeof a;
    CHECK(getsockname(j->fd, (struct sockaddr *)&a, &al) == 0);
    j->port = ntohs(a.sin_port);
    CHECK(listen(j->fd, 16) == 0);
}

/* Answers whoever connected with junk, and keeps the entry's heartbeat fresh. */
static void junk_serve(junk_t *j)
{
    int c;
    while ((c = accept(j->fd, NULL, NULL)) >= 0) {
        static const char JUNK[] = "HTTP/1.1 400 Bad Request\r\n\r\nnot a game server\n";
        (void)!write(c, JUNK, sizeof JUNK - 1);
        close(c);
        j->accepted++;
    }
    char port[16];
    snprintf(port, sizeof port, "%d", j->port);
    redisReply *r = redisCommand(h_redis(), "HSET %sServer:Game:%u address 127.0.0.1 port %s status 1 "
                                 "heartbeat %llu games 0 players 0", h_prefix(), j->id, port,
                                 now_wall_ms());
    CHECK(r && r->type == REDIS_REPLY_INTEGER);
    freeReplyObject(r);
}

static void junk_register(junk_t *j)
{
    junk_serve(j);
    redisReply *r = redisCommand(h_redis(), "RPUSH %sServer:Game %u", h_prefix(), j->id);
    CHECK(r && r->type == REDIS_REPLY_INTEGER);
    freeReplyObject(r);
    r = redisCommand(h_redis(), "PUBLISH %sServerOn Server:Game:%u", h_prefix(), j->id);
    CHECK(r != NULL);
    freeReplyObject(r);
}

/* ------------------------------------------------------------------------------------------ */

static void scenario_unlinked(void)
{
    scene_t *s = scene_new();
    lu_cluster_up(&s->cl, "unlinked", CONFIRM_LOBBY_ENV, LONG_ENV, 1, 1);
    int g1 = 0; /* its one game daemon */
    /* a real daemon the gateway cannot reach: it listens on 127.0.0.1, advertises 127.0.0.2 */
    static const char *const UNREACHABLE_ENV[] = {"ADVERTISE_ADDR=127.0.0.2", "MATCH_WAVES=100",
                                                  "MATCH_TIME_LIMIT_MS=60000", NULL};
    int g2 = lu_add_game(&s->cl, UNREACHABLE_ENV);
    junk_t junk;
    junk_open(&junk, 900000 + (uint32_t)(getpid() % 1000));
    junk_register(&junk);
    /* the gateway tried both and failed: it keeps listing only the first */
    uint64_t t0 = h_now_ms();
    while (h_log_count2(s->cl.gw[0], "event=link_connect_failed", "port=") < 2 || junk.accepted == 0) {
        junk_serve(&junk);
        if (h_now_ms() - t0 > 10000)
            DIE("the gateway did not try the unreachable daemon and the junk entry (accepted %d)", junk.accepted);
        h_sleep_ms(50);
    }
    char games[256], want[16];
    gateway_games(s->cl.gw_id[0], games, sizeof games);
    snprintf(want, sizeof want, "%u", s->cl.game_id[g1]);
    if (strcmp(games, want) != 0)
        DIE("gateway %u publishes linked_games=\"%s\", want \"%s\"", s->cl.gw_id[0], games, want);

    enum { N = 12 };
    scene_players(s, RUN, "ul", N, 0);
    for (int i = 0; i < N; i++) {
        QuickMatchRequest q = QUICK_MATCH_REQUEST__INIT;
        QuickMatchResponse *o = OK_CALL(s->ps[i], QUICK_MATCH_REQUEST, &q.base, QUICK_MATCH_RESPONSE,
                                        quick_match_response__descriptor);
        quick_match_response__free_unpacked(o, NULL);
        junk_serve(&junk);
    }
    int zero = 0;
    if (ps_wait(s->ps, N, cond_starting, &zero, 5000) < 0)
        DIE("not every quick-matched player got GAME_STARTING");
    t0 = h_now_ms();
    for (int i = 0; i < N; i++) {
        if (s->ps[i]->starting_game != s->cl.game_id[g1])
            DIE("%s: match placed on %u, not on the linked daemon %u", s->ps[i]->name,
                s->ps[i]->starting_game, s->cl.game_id[g1]);
        while (!s->ps[i]->start || s->ps[i]->match_id != s->ps[i]->starting_match) {
            p_pump(s->ps[i], 20);
            junk_serve(&junk);
            if (h_now_ms() - t0 > 5000)
                DIE("%s: no MATCH_START for match %llu", s->ps[i]->name,
                    (unsigned long long)s->ps[i]->starting_match);
        }
    }
    CHECK_EQ(placed_on(s->cl.game_id[g1]), N / 2);
    CHECK(placed_on(s->cl.game_id[g2]) <= 0);
    CHECK(placed_on(junk.id) <= 0);
    CHECK_EQ(h_log_count2(s->cl.game[g2], "event=match_started", ""), 0);
    printf("placement: a junk registry entry (port answering junk, %d connections) and a daemon Redis reaches "
           "but the gateway cannot: gateway linked_games=\"%s\"; %d quick matches all on daemon %u\n",
           junk.accepted, games, N / 2, s->cl.game_id[g1]);
    close(junk.fd);
    scene_down(s);
}

/* START_GAME by ps[0] of a ready room; returns the match id (the response's daemon in *game). */
static uint64_t start_room(player_t **ps, uint32_t *game)
{
    StartGameRequest rq = START_GAME_REQUEST__INIT;
    StartGameResponse *o = OK_CALL(ps[0], START_GAME_REQUEST, &rq.base, START_GAME_RESPONSE,
                                   start_game_response__descriptor);
    uint64_t match = o->match_id;
    *game = o->game_server_id;
    start_game_response__free_unpacked(o, NULL);
    return match;
}

static void scenario_moved(void)
{
    scene_t *s = scene_new();
    lu_cluster_init(&s->cl, "moved");
    proc_t *lobby = lu_add_lobby(&s->cl, CONFIRM_LOBBY_ENV);
    int g1 = lu_add_game(&s->cl, LONG_ENV);
    int g2 = lu_add_game(&s->cl, LONG_ENV);
    add_gateway_env(&s->cl, SLOW_GW_ENV);
    lu_wait_links(&s->cl);
    enum { ROOMS = 4, N = 2 * ROOMS };
    scene_players(s, RUN, "mv", N, 0);
    for (int k = 0; k < ROOMS; k++)
        (void)ps_room(&s->ps[2 * k], 2);

    h_kill(s->cl.game[g1], SIGSTOP);
    uint64_t t_stop = h_now_ms();
    uint64_t match[ROOMS];
    int on_stopped = 0;
    for (int k = 0; k < ROOMS; k++) {
        uint32_t game = 0;
        match[k] = start_room(&s->ps[2 * k], &game);
        on_stopped += game == s->cl.game_id[g1];
    }
    if (on_stopped == 0)
        DIE("no match was placed on the stopped daemon: the scenario tests nothing");
    /* every match ends up started on the other daemon */
    uint64_t t0 = h_now_ms();
    for (int k = 0; k < ROOMS; k++)
        for (int i = 0; i < 2; i++) {
            player_t *p = s->ps[2 * k + i];
            while (!p->start || p->match_id != match[k]) {
                p_pump(p, 20);
                if (h_now_ms() - t0 > 8000)
                    DIE("%s: no MATCH_START for match %llu within 8 s (GAME_STARTING %d, last on %u)", p->name,
                        (unsigned long long)match[k], p->n_starting, p->starting_game);
            }
            CHECK_EQ(p->starting_game, s->cl.game_id[g2]);
            CHECK_EQ(p->starting_match, match[k]);
            CHECK(p->aborted == NULL);
        }
    int took_ms = (int)(h_now_ms() - t_stop);
    int moved = h_log_count2(lobby, "event=placement_unconfirmed", "action=placed_again");
    CHECK_EQ(moved, on_stopped);
    for (int k = 0; k < ROOMS; k++) {
        char needle[48];
        snprintf(needle, sizeof needle, "match=%llu ", (unsigned long long)match[k]);
        CHECK_EQ(h_log_count2(s->cl.game[g2], "event=match_started", needle), 1);
    }
    /* pushes reach them: the moved matches run */
    ps_play(s->ps, N, 600, NULL, NULL);
    for (int i = 0; i < N; i++)
        CHECK(s->ps[i]->n_updates > 0);

    /* the stopped daemon sits out: a new match goes to the other one at once */
    player_t extra[2];
    player_t *xs[2];
    lu_players_on(extra, xs, 2, RUN, "mx", &s->cl);
    (void)ps_room(xs, 2);
    uint32_t game = 0;
    (void)start_room(xs, &game);
    CHECK_EQ(game, s->cl.game_id[g2]);

    /* running again, it starts none of the moved matches (they left its inbox) */
    h_kill(s->cl.game[g1], SIGCONT);
    h_sleep_ms(1500);
    CHECK_EQ(h_log_count2(s->cl.game[g1], "event=match_started", ""), 0);
    CHECK(placed_on(s->cl.game_id[g1]) <= 0);
    CHECK_EQ(placed_on(s->cl.game_id[g2]), ROOMS + 1);
    printf("placement: %d of %d matches placed on a stopped daemon were placed again on the other within "
           "%d ms of the stop (PLACEMENT_CONFIRM_MS=1000), every player got MATCH_START from it; the stopped "
           "daemon sat out the next placement and, running again, started none of them\n",
           on_stopped, ROOMS, took_ms);
    for (int i = 0; i < 2; i++)
        p_free(xs[i]);
    scene_down(s);
}

static void scenario_ended(void)
{
    scene_t *s = scene_new();
    lu_cluster_init(&s->cl, "unplaced");
    proc_t *lobby = lu_add_lobby(&s->cl, CONFIRM_LOBBY_ENV);
    int g1 = lu_add_game(&s->cl, LONG_ENV);
    add_gateway_env(&s->cl, SLOW_GW_ENV);
    lu_wait_links(&s->cl);
    scene_players(s, RUN, "en", 2, 0);
    uint64_t room = ps_room(s->ps, 2);
    h_kill(s->cl.game[g1], SIGSTOP);
    uint64_t t_stop = h_now_ms();
    uint32_t game = 0;
    uint64_t match = start_room(s->ps, &game);
    CHECK_EQ(game, s->cl.game_id[g1]);
    if (ps_wait(s->ps, 2, cond_aborted, NULL, 6000) < 0)
        DIE("no MATCH_ABORTED within 6 s for a match nobody picked up");
    int told_ms = (int)(h_now_ms() - t_stop);
    char reason[128];
    snprintf(reason, sizeof reason, "%s", s->ps[0]->aborted->reason);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(s->ps[i]->aborted->match_id, match);
        if (!strstr(s->ps[i]->aborted->reason, "in time"))
            DIE("%s: MATCH_ABORTED reason \"%s\"", s->ps[i]->name, s->ps[i]->aborted->reason);
        CHECK(s->ps[i]->start == NULL);
    }
    if (ps_wait(s->ps, 2, cond_has_event, "match_aborted", 3000) < 0)
        DIE("no ROOM_UPDATE match_aborted");
    const lu_room_ev_t *ev = p_last_event(s->ps[0], "match_aborted");
    CHECK_EQ(ev->status, 1);
    CHECK_EQ(h_log_count2(lobby, "event=placement_unconfirmed", "action=ended"), 1);
    /* nothing was played: no record */
    h_sleep_ms(500);
    lu_rec_t rec = lu_pg_record(match);
    CHECK(!rec.found && rec.nplayers == 0);

    /* running again, and its sit-out (5 x PLACEMENT_CONFIRM_MS) over: the room starts */
    h_kill(s->cl.game[g1], SIGCONT);
    int refused = 0;
    (void)sc_start_again(s->ps, 2, 10000, "SIGCONT", NULL, &refused);
    printf("placement: a match nobody picked up (one daemon, stopped): MATCH_ABORTED \"%s\" %d ms after the stop, "
           "room %llu waiting, no record; after SIGCONT it started again (%d starts refused during the sit-out)\n",
           reason, told_ms, (unsigned long long)room, refused);
    scene_down(s);
}

int main(int argc, char **argv)
{
    static const lu_scenario_t sc[] = {{"unlinked", scenario_unlinked}, {"moved", scenario_moved}, {"ended", scenario_ended}};
    return lu_main(argc, argv, "placement", RUN, sizeof RUN, sc, sizeof sc / sizeof sc[0]);
}
