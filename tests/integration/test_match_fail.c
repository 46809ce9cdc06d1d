/* test_match_fail: failures under running matches, through the real cluster:
 * - a game daemon killed -9 mid-match: MATCH_ABORTED to every player within 3 s, NOT_IN_GAME
 *   after, the room waiting again and startable on the other daemon, the dead daemon out of
 *   the placement counts, no half-written record;
 * - SIGTERM with a long drain: status 3, new matches placed elsewhere, the running match plays
 *   to its end and is recorded, then the daemon deregisters and exits 0;
 * - SIGTERM with a short drain: MATCH_ABORTED, recorded 'aborted' with its players, room
 *   waiting, exit 0; a start meanwhile with no other daemon: SERVICE_UNAVAILABLE;
 * - PostgreSQL down when a match ends: recorded once it is back, exactly once;
 * - match ids: with match:seq gone from Redis they restart above every earlier id, and a
 *   record whose id is taken is reported (log and metric), never silently dropped;
 * - kill -STOP / -CONT of a game daemon with 3 matches: the players are told MATCH_ABORTED
 *   while it is stopped, the lobby ends the matches; once it runs again it finds them ended
 *   (its once-a-second check), stops each, records it 'aborted' and takes new matches. */
#include "scene.h"

static char RUN[8];

static int game_listed(uint32_t game)
{
    redisReply *r = redisCommand(h_redis(), "LRANGE %sServer:Game 0 -1", h_prefix());
    CHECK(r && r->type == REDIS_REPLY_ARRAY);
    int found = 0;
    for (size_t i = 0; i < r->elements; i++)
        if (strtoul(r->element[i]->str, NULL, 10) == game)
            found = 1;
    freeReplyObject(r);
    return found;
}

static int key_exists(const char *fmt, uint32_t id)
{
    char k[128];
    snprintf(k, sizeof k, fmt, id);
    return (int)sc_redis_int("EXISTS %s%s", h_prefix(), k);
}

/* No half-written match: no row at all, or the matches row with all n player rows (and then
 * 'aborted' unless want_outcome says otherwise). Returns 1 if a record exists. */
static int check_whole_or_none(uint64_t match, int n, const char *want_outcome, int line)
{
    lu_rec_t rec = lu_pg_record(match);
    if (!rec.found && rec.nplayers == 0)
        return 0;
    if (!rec.found || rec.nplayers != n)
        lu_die(line, "half-written record of match %llu: matches row %s, %d player rows (expected %d)",
               (unsigned long long)match, rec.found ? "present" : "missing", rec.nplayers, n);
    if (want_outcome && strcmp(rec.outcome, want_outcome) != 0)
        lu_die(line, "match %llu recorded as %s, expected %s", (unsigned long long)match, rec.outcome,
               want_outcome);
    return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* the scenarios' game daemon settings and scenes */

static const char *const LONG_ENV[] = {"MATCH_WAVES=100", "MATCH_TIME_LIMIT_MS=60000", "WAVE_GAP_MS=200",
                                       "WAVE_BASE_MONSTERS=1", "DRAIN_TIMEOUT_MS=500", NULL};

static const char *const DRAIN_ENV[] = {"MATCH_WAVES=100", "MATCH_TIME_LIMIT_MS=6000", "WAVE_GAP_MS=200",
                                        "WAVE_BASE_MONSTERS=1", "MONSTER_DAMAGE=0",
                                        "DRAIN_TIMEOUT_MS=60000", NULL};

static const char *const DRAIN_SHORT_ENV[] = {"MATCH_WAVES=100", "MATCH_TIME_LIMIT_MS=60000",
                                              "WAVE_GAP_MS=200", "WAVE_BASE_MONSTERS=1", "MONSTER_DAMAGE=0",
                                              "DRAIN_TIMEOUT_MS=1000", NULL};

static const char *const PGDOWN_ENV[] = {"MATCH_WAVES=100", "MATCH_TIME_LIMIT_MS=5000", "WAVE_GAP_MS=200",
                                         "WAVE_BASE_MONSTERS=1", "MONSTER_DAMAGE=0",
                                         "DRAIN_TIMEOUT_MS=500", NULL};

static const char *const IDS_ENV[] = {"MATCH_WAVES=100", "MATCH_TIME_LIMIT_MS=1500", "WAVE_GAP_MS=200",
                                      "WAVE_BASE_MONSTERS=1", "MONSTER_DAMAGE=0", "DRAIN_TIMEOUT_MS=500",
                                      NULL};

static const sc_spec_t KILL = {"kill", NULL, LONG_ENV, 2, 2, "kill", 4, 0};
static const sc_spec_t DRAIN = {"drain", NULL, DRAIN_ENV, 2, 2, "drain", 4, 0};
static const sc_spec_t DRAIN_SHORT = {"drainto", NULL, DRAIN_SHORT_ENV, 1, 2, "dto", 3, 0};
static const sc_spec_t PGDOWN = {"pgdown", NULL, PGDOWN_ENV, 1, 1, "pgd", 2, 0};
static const sc_spec_t STOPCONT = {"stopcont", NULL, LONG_ENV, 1, 1, "sc", 6, 0};

/* ------------------------------------------------------------------------------------------ */

static void scenario_kill9(void)
{
    scene_t *s = scene_up(&KILL, RUN);
    sc_match_t m = scene_match(s, s->ps, 4);
    uint32_t other = s->cl.game_id[1 - m.gi];
    CHECK(lu_wait_game_field(m.game, "games", 1, 2000) >= 0);
    ps_play(s->ps, 4, 1500, NULL, NULL);
    for (int i = 0; i < 4; i++)
        CHECK(s->ps[i]->n_updates > 0 && !s->ps[i]->over && !s->ps[i]->aborted);

    uint64_t t_kill = h_now_ms();
    h_kill(s->cl.game[m.gi], SIGKILL);
    CHECK_EQ(h_wait_exit(s->cl.game[m.gi], 3000), -1); /* killed by the signal */
    if (ps_wait(s->ps, 4, cond_aborted, NULL, 5000) < 0)
        DIE("not every player got MATCH_ABORTED within 5 s of kill -9");
    int worst = 0;
    for (int i = 0; i < 4; i++) {
        int ms = (int)(s->ps[i]->aborted_ms - t_kill);
        if (ms > worst)
            worst = ms;
        if (ms > 3000)
            DIE("%s: MATCH_ABORTED %d ms after kill -9 (limit 3000)", s->ps[i]->name, ms);
        CHECK_EQ(s->ps[i]->aborted->match_id, m.id);
        CHECK_EQ(s->ps[i]->n_aborted, 1);
        CHECK(s->ps[i]->over == NULL);
    }
    /* game packets are refused at the gateway now */
    for (int i = 0; i < 4; i++) {
        GameSnapshotRequest rq = GAME_SNAPSHOT_REQUEST__INIT;
        ERR_CALL(s->ps[i], GAME_SNAPSHOT_REQUEST, &rq.base, NOT_IN_GAME);
        PlayerPositionUpdate mv = PLAYER_POSITION_UPDATE__INIT;
        Vec2 v = VEC2__INIT;
        v.x = 50;
        v.y = 50;
        mv.pos = &v;
        ERR_CALL(s->ps[i], PLAYER_POSITION_UPDATE, &mv.base, NOT_IN_GAME);
    }
    if (ps_wait(s->ps, 4, cond_has_event, "match_aborted", 3000) < 0)
        DIE("not every player got ROOM_UPDATE match_aborted");
    int room_ms = 0;
    for (int i = 0; i < 4; i++) {
        const lu_room_ev_t *e = p_last_event(s->ps[i], "match_aborted");
        if (e->status != ROOM_STATUS__WAITING || e->match != 0 || e->nmembers != 4 || e->nready != 0)
            DIE("%s: ROOM_UPDATE match_aborted: status=%d match=%llu members=%d ready=%d", s->ps[i]->name,
                e->status, (unsigned long long)e->match, e->nmembers, e->nready);
        if ((int)(e->at_ms - t_kill) > room_ms)
            room_ms = (int)(e->at_ms - t_kill);
    }
    if (sc_redis_int("HEXISTS %splacement:Game %u", h_prefix(), m.game))
        DIE("placement:Game still has an entry for the dead game daemon %u", m.game);
    CHECK_EQ(key_exists("game:%u:matches", m.game), 0);
    CHECK_EQ(key_exists("game:%u:inbox", m.game), 0);
    printf("kill -9: every player got MATCH_ABORTED(match %llu) within %d ms (limit 3000), game packets then "
           "NOT_IN_GAME, ROOM_UPDATE match_aborted (WAITING, nobody ready) within %d ms; placement:Game has "
           "no entry for the dead daemon %u\n",
           (unsigned long long)m.id, worst, room_ms, m.game);

    /* start again at once: it must go to the live daemon */
    for (int i = 0; i < 4; i++)
        p_ready(s->ps[i]);
    uint64_t t_restart = h_now_ms();
    char what[300];
    uint32_t placed = 0;
    uint64_t match2 = p_try_start(s->ps[0], &placed, what, sizeof what);
    if (!match2)
        DIE("START_GAME after the kill: %s", what);
    if (placed != other)
        DIE("START_GAME %d ms after kill -9 placed match %llu on game %u (the dead one is %u, the live one "
            "%u)",
            (int)(t_restart - t_kill), (unsigned long long)match2, placed, m.game, other);
    if (ps_wait(s->ps, 4, cond_started, &match2, 5000) < 0)
        DIE("no MATCH_START for the restarted match %llu on game %u", (unsigned long long)match2, other);
    printf("kill -9: ready+start %d ms after the kill placed match %llu on the live daemon %u; all 4 got "
           "MATCH_START\n",
           (int)(t_restart - t_kill), (unsigned long long)match2, other);

    int rec = check_whole_or_none(m.id, 4, "aborted", __LINE__);
    printf("kill -9: PostgreSQL has %s for the killed match %llu (no half-written match)\n",
           rec ? "a complete 'aborted' record" : "no record", (unsigned long long)m.id);
    scene_down(s);
}

/* ------------------------------------------------------------------------------------------ */

static void scenario_drain_long(void)
{
    scene_t *s = scene_up(&DRAIN, RUN);
    player_t *a[2] = {s->ps[0], s->ps[1]}, *b[2] = {s->ps[2], s->ps[3]};
    sc_match_t ma = scene_match(s, a, 2);
    (void)ps_room(b, 2);
    ps_play(a, 2, 800, NULL, NULL);

    uint64_t t_term = h_now_ms();
    h_kill(s->cl.game[ma.gi], SIGTERM);
    int st_ms = lu_wait_game_field(ma.game, "status", 3, 2000);
    if (st_ms < 0)
        DIE("game %u: registry status %lld after SIGTERM (expected 3)", ma.game,
            lu_game_field(ma.game, "status"));
    uint32_t game_b = 0;
    uint64_t match_b = ps_start(b, 2, &game_b);
    if (game_b == ma.game)
        DIE("a match was placed on the draining daemon %u", ma.game);
    /* the draining daemon still serves its match */
    GameSnapshotResponse *snap = p_snapshot(a[0]);
    CHECK_EQ(snap->match_id, ma.id);
    game_snapshot_response__free_unpacked(snap, NULL);
    printf("drain: SIGTERM -> registry status 3 after %d ms; the next START_GAME went to game %u, not the "
           "draining %u; the draining daemon still answers its players\n",
           st_ms, game_b, ma.game);

    /* the running match plays to its end */
    for (;;) {
        player_t *all[4] = {a[0], a[1], b[0], b[1]};
        ps_play(all, 4, 100, NULL, NULL);
        if (a[0]->over && a[1]->over)
            break;
        if (a[0]->aborted || a[1]->aborted)
            DIE("the draining daemon aborted its match (%s) before DRAIN_TIMEOUT_MS",
                (a[0]->aborted ? a[0] : a[1])->aborted->reason);
        if (h_now_ms() - t_term > 15000)
            DIE("no GAME_OVER on the draining daemon");
    }
    const GameOver *go = a[0]->over;
    CHECK_EQ(go->match_id, ma.id);
    CHECK_EQ(go->outcome, MATCH_OUTCOME__TIMEOUT_REACHED);
    CHECK_EQ(a[1]->over->outcome, go->outcome);
    int st = h_wait_exit(s->cl.game[ma.gi], 10000);
    uint64_t t_exit = h_now_ms();
    if (st != 0)
        DIE("draining game daemon exited with %d", st);
    CHECK_EQ(key_exists("Server:Game:%u", ma.game), 0);
    CHECK_EQ(game_listed(ma.game), 0);
    lu_rec_t rec;
    CHECK(lu_pg_wait_record(ma.id, &rec, 3000) >= 0);
    lu_check_record_vs_over(&rec, go, ma.game, __LINE__);
    CHECK(h_log_count2(s->cl.game[ma.gi], "match_recorded", "attempts=1") >= 1);
    if (ps_wait(a, 2, cond_has_event, "match_ended", 3000) < 0) {
        p_dump_events(a[0]);
        p_dump_events(a[1]);
        DIE("room %llu: no ROOM_UPDATE match_ended after the drained match", (unsigned long long)ma.room);
    }
    CHECK_EQ(p_last_event(a[0], "match_ended")->status, ROOM_STATUS__WAITING);
    /* the other match was not touched */
    for (int i = 0; i < 2; i++)
        CHECK(b[i]->aborted == NULL && b[i]->match_id == match_b);
    printf("drain: the running match %llu played to its end (GAME_OVER %s at %u ms) and was recorded (%s, 2 "
           "players); the daemon then deregistered (hash and list entry gone) and exited 0, %llu ms after "
           "SIGTERM; the match on game %u went on\n",
           (unsigned long long)ma.id, outcome_name(go->outcome), go->duration_ms, rec.outcome,
           (unsigned long long)(t_exit - t_term), game_b);
    scene_down(s);
}

/* ------------------------------------------------------------------------------------------ */

static void scenario_drain_timeout(void)
{
    scene_t *s = scene_up(&DRAIN_SHORT, RUN);
    int gi = 0; /* its one game daemon */
    player_t *a[2] = {s->ps[0], s->ps[1]};
    sc_match_t m = scene_match(s, a, 2);
    (void)ps_room(&s->ps[2], 1);
    CHECK_EQ(m.game, s->cl.game_id[gi]);
    ps_play(a, 2, 800, NULL, NULL);

    uint64_t t_term = h_now_ms();
    h_kill(s->cl.game[gi], SIGTERM);
    CHECK(lu_wait_game_field(m.game, "status", 3, 2000) >= 0);
    {
        StartGameRequest rq = START_GAME_REQUEST__INIT;
        ERR_CALL(s->ps[2], START_GAME_REQUEST, &rq.base, SERVICE_UNAVAILABLE);
    }
    if (ps_wait(a, 2, cond_aborted, NULL, 8000) < 0)
        DIE("no MATCH_ABORTED after the drain timeout");
    int ab_ms = (int)(a[0]->aborted_ms - t_term);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(a[i]->aborted->match_id, m.id);
        CHECK(a[i]->over == NULL);
        CHECK((int)(a[i]->aborted_ms - t_term) >= 900);
    }
    if (ps_wait(a, 2, cond_has_event, "match_aborted", 3000) < 0)
        DIE("room %llu: no ROOM_UPDATE match_aborted after the drain timeout", (unsigned long long)m.room);
    CHECK_EQ(p_last_event(a[0], "match_aborted")->status, ROOM_STATUS__WAITING);
    int st = h_wait_exit(s->cl.game[gi], 10000);
    if (st != 0)
        DIE("game daemon exited with %d after the drain timeout", st);
    uint64_t t_exit = h_now_ms();
    lu_rec_t rec;
    CHECK(lu_pg_wait_record(m.id, &rec, 3000) >= 0);
    CHECK(check_whole_or_none(m.id, 2, "aborted", __LINE__));
    printf("drain timeout: SIGTERM -> status 3, START_GAME elsewhere SERVICE_UNAVAILABLE (no other daemon), "
           "MATCH_ABORTED %d ms after SIGTERM (DRAIN_TIMEOUT_MS=1000), recorded 'aborted' with %d player rows, "
           "room WAITING (match_aborted), exit 0 after %llu ms\n",
           ab_ms, rec.nplayers, (unsigned long long)(t_exit - t_term));
    scene_down(s);
}

/* ------------------------------------------------------------------------------------------ */

static void scenario_pg_down(void)
{
    scene_t *s = scene_up(&PGDOWN, RUN);
    sc_match_t m = scene_match(s, s->ps, 2); /* on its one game daemon */
    ps_play(s->ps, 2, 3500, NULL, NULL);
    CHECK(!s->ps[0]->over);
    h_pg_stop();
    uint64_t t_down = h_now_ms();
    ps_play(s->ps, 2, 8000, cond_over, NULL);
    if (!s->ps[0]->over || !s->ps[1]->over)
        DIE("no GAME_OVER");
    const GameOver *go = s->ps[0]->over;
    CHECK_EQ(go->match_id, m.id);
    char needle[64];
    snprintf(needle, sizeof needle, "match=%llu", (unsigned long long)m.id);
    uint64_t t0 = h_now_ms();
    while (h_log_count2(s->cl.game[m.gi], "match_record_retry", needle) == 0) {
        if (h_now_ms() - t0 > 6000)
            DIE("the game daemon never logged a failed record attempt while PostgreSQL was down");
        h_sleep_ms(50);
    }
    if (ps_wait(s->ps, 2, cond_has_event, "match_ended", 3000) < 0)
        DIE("room not back to waiting while PostgreSQL is down");
    h_sleep_ms(2500);
    int retries = h_log_count2(s->cl.game[m.gi], "match_record_retry", needle);
    h_pg_start();
    uint64_t t_up = h_now_ms();
    lu_rec_t rec;
    int ms = lu_pg_wait_record(m.id, &rec, 15000);
    if (ms < 0)
        DIE("match %llu not recorded within 15 s of PostgreSQL coming back", (unsigned long long)m.id);
    lu_check_record_vs_over(&rec, go, m.game, __LINE__);
    h_sleep_ms(2500);
    PGconn *db = lu_pg();
    char id[24];
    snprintf(id, sizeof id, "%llu", (unsigned long long)m.id);
    long long nm = lu_pg_num(db, "SELECT count(*) FROM matches WHERE id = $1", id);
    long long np = lu_pg_num(db, "SELECT count(*) FROM match_players WHERE match_id = $1", id);
    PQfinish(db);
    CHECK_EQ(nm, 1);
    CHECK_EQ(np, 2);
    CHECK_EQ(h_log_count2(s->cl.game[m.gi], "match_recorded", needle), 1);
    printf("pg down: PostgreSQL stopped %llu ms before GAME_OVER (%s), down %llu ms; %d failed attempts logged "
           "meanwhile; recorded %d ms after it returned, exactly once (1 matches row, 2 player rows, one "
           "match_recorded), values equal GAME_OVER\n",
           (unsigned long long)(s->ps[0]->over_ms - t_down), outcome_name(go->outcome),
           (unsigned long long)(t_up - t_down), retries, ms);
    scene_down(s);
}

static uint64_t wall_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void scenario_ids(void)
{
    scene_t *s = scene_new();
    lu_cluster_init(&s->cl, "ids");
    /* As after a Redis that lost its data: no match:seq. */
    redisReply *r = redisCommand(h_redis(), "DEL %smatch:seq", h_prefix());
    CHECK(r != NULL);
    freeReplyObject(r);
    /* The lobby raises match:seq to now x 1000 when it connects to Redis (and a missing one
     * restarts there at the first placement): the first id is above t0 x 1000. */
    uint64_t t0 = wall_now_ms();
    lu_add_lobby(&s->cl, NULL);
    int gi = lu_add_game(&s->cl, IDS_ENV);
    lu_add_gateway(&s->cl);
    lu_wait_links(&s->cl);
    scene_players(s, RUN, "ids", 2, 0);
    sc_match_t first = scene_match(s, s->ps, 2);
    uint64_t t1 = wall_now_ms();
    if (first.id <= t0 * 1000u || first.id > t1 * 1000u + 1u)
        DIE("first match id %llu after match:seq was lost: expected (a time since the lobby started) x 1000 + 1, in (%llu, %llu]",
            (unsigned long long)first.id, (unsigned long long)(t0 * 1000u),
            (unsigned long long)(t1 * 1000u + 1u));
    ps_play(s->ps, 2, 6000, cond_over, NULL);
    if (!s->ps[0]->over || !s->ps[1]->over)
        DIE("no GAME_OVER for match %llu", (unsigned long long)first.id);
    lu_rec_t rec1;
    if (lu_pg_wait_record(first.id, &rec1, 10000) < 0)
        DIE("match %llu not recorded", (unsigned long long)first.id);
    if (ps_wait(s->ps, 2, cond_has_event, "match_ended", 3000) < 0)
        DIE("room not back to waiting after match %llu", (unsigned long long)first.id);

    /* The same id handed out again (match:seq set back by hand): the record of the second match
     * can't be stored under it. The game daemon must say so, and the first record stays. */
    r = redisCommand(h_redis(), "SET %smatch:seq %llu", h_prefix(), (unsigned long long)(first.id - 1));
    CHECK(r != NULL);
    freeReplyObject(r);
    for (int i = 0; i < 2; i++)
        p_ready(s->ps[i]);
    uint32_t game = 0;
    uint64_t m2 = ps_start(s->ps, 2, &game);
    CHECK_EQ(m2, first.id);
    ps_play(s->ps, 2, 6000, cond_over, NULL);
    if (!s->ps[0]->over || !s->ps[1]->over)
        DIE("no GAME_OVER for the second match %llu", (unsigned long long)m2);
    char needle[64];
    snprintf(needle, sizeof needle, "match=%llu", (unsigned long long)first.id);
    uint64_t w0 = h_now_ms();
    while (h_log_count2(s->cl.game[gi], "match_record_conflict", needle) == 0) {
        if (h_now_ms() - w0 > 10000)
            DIE("the game daemon never reported the record of match %llu as a conflict",
                (unsigned long long)first.id);
        h_sleep_ms(50);
    }
    CHECK_EQ(h_log_count2(s->cl.game[gi], "match_recorded", needle), 1); /* the first one only */
    CHECK_EQ(h_log_count2(s->cl.game[gi], "match_record_conflict", needle), 1);
    PGconn *db = lu_pg();
    char id[24];
    snprintf(id, sizeof id, "%llu", (unsigned long long)first.id);
    CHECK_EQ(lu_pg_num(db, "SELECT count(*) FROM matches WHERE id = $1", id), 1);
    CHECK_EQ(lu_pg_num(db, "SELECT count(*) FROM match_players WHERE match_id = $1", id), 2);
    PQfinish(db);
    lu_rec_t again = lu_pg_record(first.id);
    CHECK(again.found);
    CHECK_EQ(again.duration_ms, rec1.duration_ms);
    CHECK(strcmp(again.outcome, rec1.outcome) == 0);
    printf("ids: with match:seq gone the first match got id %llu (= now_ms x 1000 + 1, above any earlier id); "
           "the same id handed out again: the second record was reported as match_record_conflict, the first "
           "record kept (1 matches row, 2 player rows)\n",
           (unsigned long long)first.id);
    scene_down(s);
}

static void scenario_stop_cont(void)
{
    scene_t *s = scene_up(&STOPCONT, RUN);
    int gi = 0; /* its one game daemon */
    sc_match_t m[3];
    for (int k = 0; k < 3; k++)
        m[k] = scene_match(s, &s->ps[2 * k], 2);
    uint32_t game = m[2].game;
    CHECK(lu_wait_game_field(game, "games", 3, 3000) >= 0);
    ps_play(s->ps, 6, 1000, NULL, NULL);

    uint64_t t_stop = h_now_ms();
    h_kill(s->cl.game[gi], SIGSTOP);
    /* a stalled daemon keeps its matches for MATCH_LINK_GRACE_MS (5 s) after its link is dead,
     * or until its registry hash expires (5 s without a heartbeat), whichever comes first */
    if (ps_wait(s->ps, 6, cond_aborted, NULL, 9000) < 0)
        DIE("not every player got MATCH_ABORTED within 9 s of kill -STOP");
    int told_ms = (int)(h_now_ms() - t_stop);
    h_kill(s->cl.game[gi], SIGCONT);
    uint64_t t_cont = h_now_ms();
    /* it finds its 3 matches ended by the lobby, and stops each exactly once */
    while (h_log_count2(s->cl.game[gi], "event=match_aborted", "the lobby ended the match") < 3) {
        if (h_now_ms() - t_cont > 6000)
            DIE("after SIGCONT the game daemon stopped %d of its 3 matches the lobby had ended",
                h_log_count2(s->cl.game[gi], "event=match_aborted", "the lobby ended the match"));
        h_sleep_ms(50);
    }
    int stopped_ms = (int)(h_now_ms() - t_cont);
    for (int k = 0; k < 3; k++) {
        char needle[64];
        snprintf(needle, sizeof needle, "match=%llu ", (unsigned long long)m[k].id);
        CHECK_EQ(h_log_count2(s->cl.game[gi], "event=match_aborted", needle), 1);
        lu_rec_t rec;
        if (lu_pg_wait_record(m[k].id, &rec, 10000) < 0)
            DIE("match %llu not recorded after the daemon stopped it", (unsigned long long)m[k].id);
        CHECK(strcmp(rec.outcome, "aborted") == 0);
        CHECK_EQ(rec.nplayers, 2);
    }
    CHECK(lu_wait_game_field(game, "games", 0, 3000) >= 0);
    /* and it takes a new match once it heartbeats again */
    uint32_t placed = 0;
    (void)sc_start_again(s->ps, 2, 8000, "SIGCONT", &placed, NULL);
    CHECK_EQ(placed, game);
    printf("stop/cont: 6 players of 3 matches told MATCH_ABORTED %d ms after kill -STOP; after SIGCONT the "
           "daemon stopped the 3 matches the lobby had ended in %d ms (once each, recorded 'aborted'), then "
           "placed a new match\n",
           told_ms, stopped_ms);
    scene_down(s);
}

int main(int argc, char **argv)
{
    static const lu_scenario_t sc[] = {
        {"kill", scenario_kill9}, {"drain", scenario_drain_long}, {"drainto", scenario_drain_timeout},
        {"pgdown", scenario_pg_down}, {"ids", scenario_ids}, {"stopcont", scenario_stop_cont},
    };
    return lu_main(argc, argv, "match_fail", RUN, sizeof RUN, sc, sizeof sc / sizeof sc[0]);
}
