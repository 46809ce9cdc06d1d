/* test_match_resume: a player's connection drops mid-match and it RESUMEs on the other gateway
 * within the grace period: RESUME_RESPONSE shows the room IN_GAME with the match and
 * its daemon; GAME_SNAPSHOT_REQUEST returns the whole running state; game packets work again
 * and the pushes follow the new connection; meanwhile the character stayed in the match, idle.
 * The match then plays to GAME_OVER, which reaches the resumed player. */
#include "scene.h"

static char RUN[8];

#define LIMIT_MS 10000

static const char *const GAME_ENV[] = {"MATCH_WAVES=100", "MATCH_TIME_LIMIT_MS=10000", "WAVE_GAP_MS=200",
                                       "WAVE_BASE_MONSTERS=2", "MONSTER_DAMAGE=0", "DRAIN_TIMEOUT_MS=500",
                                       NULL};

static int count_updates_for(player_t *p, int ms)
{
    int before = p->n_updates;
    uint64_t t0 = h_now_ms();
    while (h_now_ms() - t0 < (uint64_t)ms)
        p_pump(p, 5);
    return p->n_updates - before;
}

/* RESUME on the other gateway; returns the response (caller frees). */
static ResumeResponse *p_resume(player_t *p, int port)
{
    p->port = port;
    p_connect(p);
    ResumeRequest rq = RESUME_REQUEST__INIT;
    rq.token = p->token;
    return OK_CALL(p, RESUME_REQUEST, &rq.base, RESUME_RESPONSE, resume_response__descriptor);
}

static const sc_spec_t RESUME = {"resume", NULL, GAME_ENV, 1, 2, "res", 4, 2}; /* 2 per gateway */

static void scenario_resume(void)
{
    scene_t *s = scene_up(&RESUME, RUN);
    sc_match_t mt = scene_match(s, s->ps, 4);
    ps_play(s->ps, 4, 1000, NULL, NULL);

    /* p1 (gateway 0) drops; p3 (gateway 1) drops too and will resume without game packets */
    player_t *r = s->ps[1], *q = s->ps[3];
    csync_close(r->c);
    r->c = NULL;
    csync_close(q->c);
    q->c = NULL;
    uint64_t t_drop = h_now_ms();
    player_t *rest[2] = {s->ps[0], s->ps[2]};
    ps_play(rest, 2, 300, NULL, NULL);
    GameSnapshotResponse *s1 = p_snapshot(s->ps[0]);
    const PlayerState *idle1 = snap_player(s1, r->uid);
    if (!idle1)
        DIE("the dropped player's character left the match");
    ps_play(rest, 2, 1000, NULL, NULL);
    GameSnapshotResponse *s2 = p_snapshot(s->ps[0]);
    const PlayerState *idle2 = snap_player(s2, r->uid);
    if (!idle2)
        DIE("the dropped player's character left the match after 1.3 s");
    CHECK_EQ(s2->n_players, 4);
    if (idle2->pos->x != idle1->pos->x || idle2->pos->y != idle1->pos->y || idle2->potions != idle1->potions)
        DIE("the dropped player's character moved or used items while offline");
    CHECK(s2->tick > s1->tick);
    CHECK_EQ(idle2->alive, idle2->hp > 0);
    printf("resume: %s dropped mid-match; 0.3 s and 1.3 s later its character is still in the match, idle at "
           "(%.2f, %.2f), hp=%d alive=%d (ticks %u -> %u)\n",
           r->name, idle2->pos->x, idle2->pos->y, idle2->hp, idle2->alive, s1->tick, s2->tick);
    uint32_t tick_before = s2->tick;
    game_snapshot_response__free_unpacked(s1, NULL);

    /* RESUME on the other gateway */
    ResumeResponse *rr = p_resume(r, s->cl.port[1]);
    uint64_t t_resume = h_now_ms();
    CHECK_EQ(rr->user_id, r->uid);
    if (!rr->room || rr->room->status != ROOM_STATUS__IN_GAME || rr->room->match_id != mt.id ||
        rr->room->game_server_id != mt.game || rr->room->room_id != mt.room)
        DIE("RESUME_RESPONSE room: %s status=%d match=%llu game=%u (expected IN_GAME, match %llu on %u)",
            rr->room ? "present" : "missing", rr->room ? (int)rr->room->status : -1,
            rr->room ? (unsigned long long)rr->room->match_id : 0ull, rr->room ? rr->room->game_server_id : 0,
            (unsigned long long)mt.id, mt.game);
    resume_response__free_unpacked(rr, NULL);
    int before_req = count_updates_for(r, 500);
    /* the daemon learns the new session from the lobby (game:<gid>:moved, read every 100 ms),
     * not from the player's next game packet */
    if (before_req < 1)
        DIE("no GAME_STATE_UPDATE reached the resumed connection in the 500 ms before its first game request");

    GameSnapshotResponse *s3 = p_snapshot(r);
    CHECK_EQ(s3->match_id, mt.id);
    CHECK_EQ(s3->n_players, 4);
    CHECK(s3->tick > tick_before);
    CHECK(s3->tick_ms > 0 && s3->time_limit_ms == LIMIT_MS && s3->elapsed_ms == s3->tick * s3->tick_ms);
    CHECK(s3->wave >= 1 && s3->n_monsters >= 1);
    for (size_t i = 0; i < s3->n_monsters; i++) {
        const MonsterState *m = s3->monsters[i];
        CHECK(m->id > 0 && m->hp > 0 && m->pos && m->pos->x >= 0 && m->pos->x <= 100 && m->pos->y >= 0 &&
              m->pos->y <= 100);
    }
    for (int i = 0; i < 4; i++)
        CHECK(snap_player(s3, s->ps[i]->uid) != NULL);
    const PlayerState *me = snap_player(s3, r->uid);
    CHECK(me->pos->x == idle2->pos->x && me->pos->y == idle2->pos->y);
    /* the client view starts over from the snapshot */
    r->x = me->pos->x;
    r->y = me->pos->y;
    r->hp = me->hp;
    r->alive = me->alive;
    r->potions = me->potions;
    r->pos_ms = h_now_ms();
    r->nmons = 0;
    for (size_t i = 0; i < s3->n_monsters && i < LU_MAX_MONS; i++) {
        r->mons[r->nmons].id = s3->monsters[i]->id;
        r->mons[r->nmons].x = s3->monsters[i]->pos->x;
        r->mons[r->nmons].y = s3->monsters[i]->pos->y;
        r->mons[r->nmons].hp = s3->monsters[i]->hp;
        r->nmons++;
    }
    h_sleep_ms(200);
    GameSnapshotResponse *s4 = p_snapshot(r);
    CHECK(s4->tick > s3->tick);
    printf("resume: RESUME on the other gateway %llu ms after the drop: room IN_GAME (match %llu on game %u); "
           "snapshot: 4 players, %zu monsters, wave %u, tick %u -> %u 200 ms later\n",
           (unsigned long long)(t_resume - t_drop), (unsigned long long)mt.id, mt.game, s3->n_monsters,
           s3->wave, s3->tick, s4->tick);
    uint32_t pot = me->potions;
    game_snapshot_response__free_unpacked(s2, NULL);
    game_snapshot_response__free_unpacked(s3, NULL);
    game_snapshot_response__free_unpacked(s4, NULL);

    /* game packets work again; the pushes follow the new connection */
    h_sleep_ms(100);
    int clamped = 1;
    res_t mv = p_move_raw(r, r->x + 0.3f, r->y, &clamped, NULL, NULL);
    if (mv.rc != 0 || mv.type != PACKET_TYPE__PLAYER_POSITION_RESPONSE || clamped) {
        char what[300];
        res_describe(&mv, what, sizeof what);
        DIE("move after RESUME: %s clamped=%d", what, clamped);
    }
    res_free(&mv);
    PlayerUseItemResponse *io = NULL;
    res_t it = p_item_raw(r, 1, &io);
    if (!io || io->remaining != pot - 1)
        DIE("potion after RESUME: %s", io ? "wrong count" : "refused");
    player_use_item_response__free_unpacked(io, NULL);
    res_free(&it);
    r->potion_used = 1;
    int after_req = count_updates_for(r, 500);
    if (after_req < 3)
        DIE("only %d GAME_STATE_UPDATE reached the resumed connection in 500 ms after its first request",
            after_req);
    printf("resume: move (not clamped) and potion (%u left) accepted after RESUME; GAME_STATE_UPDATE on the new "
           "connection: %d in the 500 ms before its first game request (the lobby told the daemon), %d in the 500 "
           "ms after\n",
           pot - 1, before_req, after_req);

    /* p3 resumes (gateway 0) and sends no game packet at all */
    ResumeResponse *rq3 = p_resume(q, s->cl.port[0]);
    CHECK(rq3->room && rq3->room->status == ROOM_STATUS__IN_GAME);
    resume_response__free_unpacked(rq3, NULL);
    int q_updates0 = q->n_updates;

    /* play to the end */
    player_t *players[3] = {s->ps[0], s->ps[1], s->ps[2]};
    uint64_t t0 = h_now_ms();
    while (!(s->ps[0]->over && s->ps[1]->over && s->ps[2]->over)) {
        ps_play(players, 3, 50, NULL, NULL);
        p_pump(q, 1);
        if (h_now_ms() - t0 > LIMIT_MS + 5000)
            DIE("no GAME_OVER");
    }
    p_pump(q, 300);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(s->ps[i]->over->match_id, mt.id);
        CHECK_EQ(s->ps[i]->over->outcome, s->ps[0]->over->outcome);
    }
    if (ps_wait(s->ps, 4, cond_has_event, "match_ended", 3000) < 0)
        DIE("not every player (resumed ones included) got ROOM_UPDATE match_ended");
    printf("resume: GAME_OVER (%s) reached the resumed player on its new connection; all 4 got ROOM_UPDATE "
           "match_ended\n",
           outcome_name(s->ps[0]->over->outcome));

    /* the player who resumed without a game packet: informational (docs/matches.md: the daemon
     * pushes to the new session from its first request on) */
    GameSnapshotRequest sr = GAME_SNAPSHOT_REQUEST__INIT;
    res_t after = p_call(q, PACKET_TYPE__GAME_SNAPSHOT_REQUEST, &sr.base);
    CHECK(after.rc == 0 && after.type == PACKET_TYPE__ERROR_RESPONSE && after.err == ERROR_CODE__NOT_IN_GAME);
    res_free(&after);
    printf("resume (no game packet after RESUME): %s got %s, %d GAME_STATE_UPDATE; after the match its "
           "snapshot request gets NOT_IN_GAME (\"%s\": %s)\n",
           q->name, q->over ? "GAME_OVER" : "no GAME_OVER", q->n_updates - q_updates0, after.msg,
           strstr(after.msg, "on this server") ? "answered by the game daemon: the session is still bound"
                                               : "answered by the gateway: unbound");
    /* the lobby told the daemon the session moved (game:<gid>:moved): pushes follow at once */
    if (!q->over || q->n_updates - q_updates0 == 0)
        DIE("%s resumed into the match and sent no game packet: %s, %d GAME_STATE_UPDATE (the daemon "
            "should push to its new session)", q->name, q->over ? "GAME_OVER" : "no GAME_OVER",
            q->n_updates - q_updates0);

    scene_down(s);
}

int main(int argc, char **argv)
{
    static const lu_scenario_t sc[] = {{"resume", scenario_resume}};
    return lu_main(argc, argv, "match_resume", RUN, sizeof RUN, sc, 1);
}
