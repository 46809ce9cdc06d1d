/* test_match_cheat: the game daemon is the authority. Through the real cluster, each
 * cheat is refused with its code and leaves the state intact (snapshots before and after):
 * speed hack (clamped to speed * elapsed * tolerance), leaving the arena, attack from across the
 * map (OUT_OF_RANGE), attack during the cooldown (COOLDOWN), potions past the count (NO_ITEM,
 * never negative), unknown item, NaN/infinite coordinates (BAD_REQUEST), game packets from a
 * player in no match (NOT_IN_GAME) or before login (NOT_AUTHENTICATED), a monster id of another
 * match (NO_TARGET, that match untouched, none of its entities ever shown), and acting while
 * dead (PLAYER_DEAD). */
#include "scene.h"

static char RUN[8];

/* monsters never hurt and never die here: only the cheats change anything */
static const char *const SAFE_ENV[] = {"MATCH_WAVES=100", "MATCH_TIME_LIMIT_MS=60000", "WAVE_GAP_MS=200",
                                       "WAVE_BASE_MONSTERS=2", "MONSTER_DAMAGE=0", "MONSTER_HP=1000",
                                       "DRAIN_TIMEOUT_MS=300", NULL};
/* one hit kills a player */
static const char *const DEADLY_ENV[] = {"MATCH_WAVES=100", "MATCH_TIME_LIMIT_MS=60000", "WAVE_GAP_MS=200",
                                         "WAVE_BASE_MONSTERS=1", "MONSTER_DAMAGE=1000", "MONSTER_HP=1000",
                                         "DRAIN_TIMEOUT_MS=300", NULL};

#define TOL 1.5f
#define SLACK 0.05f

static float dist(float ax, float ay, float bx, float by)
{
    return sqrtf((ax - bx) * (ax - bx) + (ay - by) * (ay - by));
}

/* The player's state in two snapshots is the same (hp, alive, potions, kills, score, position). */
static void same_player_(const GameSnapshotResponse *a, const GameSnapshotResponse *b, uint64_t uid,
                         int check_pos, const char *what, int line)
{
    const PlayerState *x = snap_player(a, uid), *y = snap_player(b, uid);
    if (!x || !y)
        lu_die(line, "%s: player %llu missing from a snapshot", what, (unsigned long long)uid);
    if (x->hp != y->hp || x->alive != y->alive || x->potions != y->potions || x->kills != y->kills ||
        x->score != y->score || (check_pos && (x->pos->x != y->pos->x || x->pos->y != y->pos->y)))
        lu_die(line,
               "%s changed the player: hp %d->%d alive %d->%d potions %u->%u kills %u->%u score %u->%u pos "
               "(%.3f,%.3f)->(%.3f,%.3f)",
               what, x->hp, y->hp, x->alive, y->alive, x->potions, y->potions, x->kills, y->kills, x->score,
               y->score, x->pos->x, x->pos->y, y->pos->x, y->pos->y);
}
#define SAME_PLAYER(a, b, uid, pos, what) same_player_((a), (b), (uid), (pos), (what), __LINE__)

/* Every monster of a has the same hp in b (monsters move on their own; hp only by attacks). */
static void same_monsters_(const GameSnapshotResponse *a, const GameSnapshotResponse *b, const char *what, int line)
{
    for (size_t i = 0; i < a->n_monsters; i++) {
        const MonsterState *y = snap_monster(b, a->monsters[i]->id);
        if (!y || y->hp != a->monsters[i]->hp)
            lu_die(line, "%s changed monster %u: hp %d -> %d", what, a->monsters[i]->id, a->monsters[i]->hp,
                   y ? y->hp : -1);
    }
}
#define SAME_MONSTERS(a, b, what) same_monsters_((a), (b), (what), __LINE__)

static void expect_err_(res_t r, const char *who, uint16_t req_type, int code, int line)
{
    err_res(r, who, req_type, code, line);
}
#define EXPECT_ERR(r, p, REQ, CODE) expect_err_((r), (p)->name, PACKET_TYPE__##REQ, ERROR_CODE__##CODE, __LINE__)

static void wait_monsters(player_t **ps, int n, int want, int timeout_ms)
{
    uint64_t t0 = h_now_ms();
    for (;;) {
        int ok = 1;
        for (int i = 0; i < n; i++) {
            p_pump(ps[i], 2);
            if (ps[i]->nmons < want)
                ok = 0;
        }
        if (ok)
            return;
        if (h_now_ms() - t0 > (uint64_t)timeout_ms)
            DIE("monsters did not spawn: %s sees %d, want %d", ps[0]->name, ps[0]->nmons, want);
    }
}

static void pump_all(player_t **ps, int n, int ms)
{
    uint64_t t0 = h_now_ms();
    while (h_now_ms() - t0 < (uint64_t)ms)
        for (int i = 0; i < n; i++)
            p_pump(ps[i], 1);
}

static const sc_spec_t CHEAT = {"cheat", NULL, SAFE_ENV, 1, 1, "ch", 4, 0}; /* all on its one gateway */

static void scenario_cheats(void)
{
    scene_t *s = scene_up(&CHEAT, RUN);
    int g1 = 0; /* its one game daemon */
    player_t *a = s->ps[0], *b1 = s->ps[1], *b2 = s->ps[2], *x = s->ps[3];
    player_t *mb[2] = {b1, b2};

    /* not logged in / not in a match */
    {
        csync_t *anon = csync_connect("127.0.0.1", s->cl.port[0], 3000);
        CHECK(anon != NULL);
        player_t tmp;
        memset(&tmp, 0, sizeof tmp);
        snprintf(tmp.name, sizeof tmp.name, "anonymous");
        tmp.c = anon;
        GameSnapshotRequest rq = GAME_SNAPSHOT_REQUEST__INIT;
        ERR_CALL(&tmp, GAME_SNAPSHOT_REQUEST, &rq.base, NOT_AUTHENTICATED);
        PlayerAttackMonster at = PLAYER_ATTACK_MONSTER__INIT;
        at.monster_id = 1;
        ERR_CALL(&tmp, PLAYER_ATTACK_MONSTER, &at.base, NOT_AUTHENTICATED);
        csync_close(anon);
        ERR_CALL(x, GAME_SNAPSHOT_REQUEST, &rq.base, NOT_IN_GAME);
        ERR_CALL(x, PLAYER_ATTACK_MONSTER, &at.base, NOT_IN_GAME);
        PlayerUseItem it = PLAYER_USE_ITEM__INIT;
        it.item = 1;
        ERR_CALL(x, PLAYER_USE_ITEM, &it.base, NOT_IN_GAME);
        PlayerPositionUpdate mv = PLAYER_POSITION_UPDATE__INIT;
        Vec2 v = VEC2__INIT;
        v.x = 1;
        v.y = 1;
        mv.pos = &v;
        ERR_CALL(x, PLAYER_POSITION_UPDATE, &mv.base, NOT_IN_GAME);
        printf("cheat: game packets before login -> NOT_AUTHENTICATED; from a player in no match (4 types) -> "
               "NOT_IN_GAME\n");
    }

    /* match A: one player (monsters 1-2); match B: two players (monsters 1-4) */
    (void)ps_room(&a, 1);
    (void)ps_room(mb, 2);
    uint32_t game = 0;
    uint64_t match_a = ps_start(&a, 1, &game);
    uint64_t match_b = ps_start(mb, 2, &game);
    CHECK(match_a != match_b);
    player_t *all[3] = {a, b1, b2};
    wait_monsters(&a, 1, 2, 5000);
    wait_monsters(mb, 2, 4, 5000);

    /* speed hack */
    pump_all(all, 3, 200);
    GameSnapshotResponse *before = p_snapshot(a);
    float x0 = a->x, y0 = a->y;
    uint64_t since = a->pos_ms;
    int clamped = 0;
    float nx, ny;
    res_t r = p_move_raw(a, x0 + 40, y0, &clamped, &nx, &ny);
    if (r.rc != 0 || r.type != PACKET_TYPE__PLAYER_POSITION_RESPONSE)
        DIE("speed hack: no PLAYER_POSITION_RESPONSE");
    res_free(&r);
    float el = (float)(h_now_ms() - since + 60) / 1000.0f;
    if (el > 0.5f)
        el = 0.5f; /* move_window_ms: standing still banks no teleport */
    float moved = dist(x0, y0, nx, ny), bound = LU_SPEED * el * TOL + SLACK + 0.001f;
    if (!clamped || moved > bound || fabsf(ny - y0) > 0.01f || nx <= x0)
        DIE("speed hack of 40 units: clamped=%d moved %.3f (bound %.3f) to (%.3f,%.3f) from (%.3f,%.3f)", clamped,
            moved, bound, nx, ny, x0, y0);
    /* at once again: the same tick or the next, so almost nothing more */
    float x1 = nx, y1 = ny;
    since = a->pos_ms;
    r = p_move_raw(a, x1 + 40, y1 + 40, &clamped, &nx, &ny);
    res_free(&r);
    float el2 = (float)(h_now_ms() - since + 60) / 1000.0f;
    float moved2 = dist(x1, y1, nx, ny);
    if (!clamped || moved2 > LU_SPEED * el2 * TOL + SLACK + moved)
        DIE("second speed hack: clamped=%d moved %.3f", clamped, moved2);
    GameSnapshotResponse *after = p_snapshot(a);
    const PlayerState *me = snap_player(after, a->uid);
    CHECK(me->pos->x == nx && me->pos->y == ny);
    SAME_PLAYER(before, after, a->uid, 0, "speed hack");
    printf("cheat: speed hack (+40 units) -> clamped=true, moved %.3f <= %.3f (speed 8 x %.0f ms x 1.5 + slack); "
           "again at once -> clamped, moved %.3f; snapshot agrees, nothing else changed\n",
           moved, bound, el * 1000, moved2);
    game_snapshot_response__free_unpacked(before, NULL);
    game_snapshot_response__free_unpacked(after, NULL);

    /* out of the arena */
    h_sleep_ms(150);
    r = p_move_raw(a, -500, 1e6f, &clamped, &nx, &ny);
    CHECK(r.rc == 0 && r.type == PACKET_TYPE__PLAYER_POSITION_RESPONSE);
    res_free(&r);
    CHECK(clamped && nx >= 0 && nx <= 100 && ny >= 0 && ny <= 100);
    printf("cheat: move to (-500, 1e6) -> clamped=true, stays in the arena at (%.2f, %.2f)\n", nx, ny);

    /* NaN and infinity */
    before = p_snapshot(a);
    PlayerPositionUpdate mv = PLAYER_POSITION_UPDATE__INIT;
    Vec2 v = VEC2__INIT;
    mv.pos = &v;
    v.x = NAN;
    v.y = 10;
    ERR_CALL(a, PLAYER_POSITION_UPDATE, &mv.base, BAD_REQUEST);
    v.x = 10;
    v.y = INFINITY;
    ERR_CALL(a, PLAYER_POSITION_UPDATE, &mv.base, BAD_REQUEST);
    v.x = -INFINITY;
    v.y = NAN;
    ERR_CALL(a, PLAYER_POSITION_UPDATE, &mv.base, BAD_REQUEST);
    PlayerPositionUpdate nopos = PLAYER_POSITION_UPDATE__INIT;
    ERR_CALL(a, PLAYER_POSITION_UPDATE, &nopos.base, BAD_REQUEST);
    after = p_snapshot(a);
    SAME_PLAYER(before, after, a->uid, 1, "NaN/infinite moves");
    printf("cheat: moves with NaN, +inf, -inf/NaN, no position -> BAD_REQUEST each; position and state "
           "unchanged\n");
    game_snapshot_response__free_unpacked(before, NULL);
    game_snapshot_response__free_unpacked(after, NULL);

    /* attack from across the map */
    float d;
    lu_mon_t *far = p_nearest(a, &d);
    CHECK(far != NULL);
    for (int i = 0; i < a->nmons; i++) /* the farthest one */
        if (dist(a->x, a->y, a->mons[i].x, a->mons[i].y) > dist(a->x, a->y, far->x, far->y))
            far = &a->mons[i];
    d = dist(a->x, a->y, far->x, far->y);
    if (d < 10)
        DIE("no monster far enough for the range test (farthest %.2f)", d);
    before = p_snapshot(a);
    r = p_attack_raw(a, far->id, NULL);
    EXPECT_ERR(r, a, PLAYER_ATTACK_MONSTER, OUT_OF_RANGE);
    after = p_snapshot(a);
    SAME_MONSTERS(before, after, "an out-of-range attack");
    SAME_PLAYER(before, after, a->uid, 1, "an out-of-range attack");
    printf("cheat: attack on monster %u at %.1f units (range 3) -> OUT_OF_RANGE; monster hp and player "
           "unchanged\n",
           far->id, d);
    game_snapshot_response__free_unpacked(before, NULL);
    game_snapshot_response__free_unpacked(after, NULL);

    /* another match's monster: ids 3 and 4 exist only in match B */
    before = p_snapshot(a);
    GameSnapshotResponse *b_before = p_snapshot(b1);
    CHECK(snap_monster(before, 3) == NULL && snap_monster(before, 4) == NULL);
    const MonsterState *m4 = snap_monster(b_before, 4);
    CHECK(m4 != NULL);
    r = p_attack_raw(a, 4, NULL);
    EXPECT_ERR(r, a, PLAYER_ATTACK_MONSTER, NO_TARGET);
    r = p_attack_raw(a, 3, NULL);
    EXPECT_ERR(r, a, PLAYER_ATTACK_MONSTER, NO_TARGET);
    r = p_attack_raw(a, 0xFFFFFFFFu, NULL);
    EXPECT_ERR(r, a, PLAYER_ATTACK_MONSTER, NO_TARGET);
    after = p_snapshot(a);
    GameSnapshotResponse *b_after = p_snapshot(b1);
    SAME_MONSTERS(b_before, b_after, "attacks on match B's monsters from match A");
    SAME_MONSTERS(before, after, "attacks on match B's monsters from match A");
    SAME_PLAYER(before, after, a->uid, 1, "attacks on another match's monsters");
    CHECK_EQ(b_after->match_id, match_b);
    CHECK_EQ(after->match_id, match_a);
    CHECK(snap_player(b_after, a->uid) == NULL && snap_player(after, b1->uid) == NULL);
    printf("cheat: match %llu's player attacking monsters 3, 4 (alive only in match %llu) and 4294967295 -> "
           "NO_TARGET; match %llu's monsters unchanged; neither snapshot names the other match's players\n",
           (unsigned long long)match_a, (unsigned long long)match_b, (unsigned long long)match_b);
    game_snapshot_response__free_unpacked(before, NULL);
    game_snapshot_response__free_unpacked(after, NULL);
    game_snapshot_response__free_unpacked(b_before, NULL);
    game_snapshot_response__free_unpacked(b_after, NULL);

    /* cooldown: walk (honestly) to a monster, hit it, hit again at once */
    uint64_t t0 = h_now_ms();
    lu_mon_t *tg = NULL;
    for (;;) {
        pump_all(all, 3, 1);
        tg = p_nearest(a, &d);
        if (tg && d <= LU_RANGE - 0.8f)
            break;
        if (tg)
            p_step_toward(a, tg->x, tg->y, 1.6f, 0, 100, 100);
        if (h_now_ms() - t0 > 20000)
            DIE("never got within range of a monster (nearest %.2f)", d);
    }
    uint32_t tid = tg->id;
    before = p_snapshot(a);
    PlayerAttackResponse *ok = NULL;
    r = p_attack_raw(a, tid, &ok);
    if (!ok) {
        char what[300];
        res_describe(&r, what, sizeof what);
        DIE("attack in range (%.2f): %s", d, what);
    }
    res_free(&r);
    CHECK(ok->damage == 25 && ok->monster_hp == 975 && !ok->killed && ok->monster_id == tid);
    player_attack_response__free_unpacked(ok, NULL);
    uint64_t t_hit = h_now_ms();
    r = p_attack_raw(a, tid, NULL);
    EXPECT_ERR(r, a, PLAYER_ATTACK_MONSTER, COOLDOWN);
    r = p_attack_raw(a, tid, NULL);
    EXPECT_ERR(r, a, PLAYER_ATTACK_MONSTER, COOLDOWN);
    int cd_ms = (int)(h_now_ms() - t_hit);
    after = p_snapshot(a);
    const MonsterState *hm = snap_monster(after, tid);
    if (!hm || hm->hp != 975)
        DIE("after one hit and two refused ones monster %u has hp %d (expected 975)", tid, hm ? hm->hp : -1);
    CHECK_EQ(snap_player(after, a->uid)->score, snap_player(before, a->uid)->score);
    game_snapshot_response__free_unpacked(before, NULL);
    game_snapshot_response__free_unpacked(after, NULL);
    /* after the cooldown: accepted again (the refusals did not restart it) */
    int wait_ms = LU_COOLDOWN_MS + 150 - (int)(h_now_ms() - t_hit);
    if (wait_ms > 0)
        h_sleep_ms(wait_ms);
    pump_all(all, 3, 1);
    lu_mon_t *still = p_mon(a, tid);
    if (still && dist(a->x, a->y, still->x, still->y) <= LU_RANGE - 0.5f) {
        r = p_attack_raw(a, tid, &ok);
        if (!ok) {
            char what[300];
            res_describe(&r, what, sizeof what);
            DIE("attack after the cooldown: %s", what);
        }
        CHECK_EQ(ok->monster_hp, 950);
        player_attack_response__free_unpacked(ok, NULL);
        res_free(&r);
        printf("cheat: hit monster %u (hp 975), two more hits within %d ms -> COOLDOWN, hp still 975; a hit "
               "after 500 ms -> accepted (hp 950)\n",
               tid, cd_ms);
    } else {
        printf("cheat: hit monster %u (hp 975), two more hits within %d ms -> COOLDOWN, hp still 975 (the monster "
               "wandered off before the re-hit)\n",
               tid, cd_ms);
    }

    /* potions: 3, then NO_ITEM; an unknown item */
    before = p_snapshot(a);
    uint32_t have = snap_player(before, a->uid)->potions;
    CHECK_EQ(have, 3);
    for (uint32_t k = 1; k <= 3; k++) {
        PlayerUseItemResponse *io = NULL;
        r = p_item_raw(a, 1, &io);
        if (!io)
            DIE("potion %u refused", k);
        CHECK_EQ(io->remaining, 3 - k);
        CHECK(io->hp == 100); /* no damage here: a potion at full hp heals 0 */
        player_use_item_response__free_unpacked(io, NULL);
        res_free(&r);
    }
    GameSnapshotResponse *mid = p_snapshot(a);
    for (int k = 0; k < 3; k++) {
        r = p_item_raw(a, 1, NULL);
        EXPECT_ERR(r, a, PLAYER_USE_ITEM, NO_ITEM);
    }
    r = p_item_raw(a, 7, NULL);
    EXPECT_ERR(r, a, PLAYER_USE_ITEM, NO_ITEM);
    r = p_item_raw(a, 0, NULL);
    EXPECT_ERR(r, a, PLAYER_USE_ITEM, NO_ITEM);
    after = p_snapshot(a);
    CHECK_EQ(snap_player(after, a->uid)->potions, 0);
    SAME_PLAYER(mid, after, a->uid, 1, "potions with none left");
    printf("cheat: 3 potions accepted (remaining 2, 1, 0), then 3 more -> NO_ITEM, items 7 and 0 -> NO_ITEM; "
           "count stays 0 (never negative)\n");
    game_snapshot_response__free_unpacked(before, NULL);
    game_snapshot_response__free_unpacked(mid, NULL);
    game_snapshot_response__free_unpacked(after, NULL);

    /* match B never saw anything of match A */
    pump_all(all, 3, 100);
    CHECK_EQ(b1->foreign_uids + b2->foreign_uids + a->foreign_uids, 0);
    printf("cheat: over %d and %d updates, no GAME_STATE_UPDATE of either match named a player of the other\n",
           a->n_updates, b1->n_updates);

    /* ---- acting while dead: a deadly daemon replaces the safe one ---- */
    lu_stop(s->cl.game[g1], 15000); /* aborts both matches after DRAIN_TIMEOUT_MS */
    if (ps_wait(all, 3, cond_aborted, NULL, 3000) < 0)
        DIE("no MATCH_ABORTED when the safe daemon stopped");
    if (ps_wait(mb, 2, cond_has_event, "match_aborted", 3000) < 0)
        DIE("room B not back to waiting");
    lu_add_game(&s->cl, DEADLY_ENV);
    lu_wait_links(&s->cl);
    p_ready(b1);
    p_ready(b2);
    uint64_t match_d = ps_start(mb, 2, &game);
    /* MATCH_START carries this daemon's rules: its MONSTER_DAMAGE, the default player rules */
    for (int i = 0; i < 2; i++) {
        const MatchRules *ru = mb[i]->start->rules;
        CHECK(ru != NULL);
        CHECK_EQ(ru->monster_damage, 1000);
        CHECK_EQ(ru->monster_cooldown_ms, 1000);
        CHECK(ru->player_speed == LU_SPEED && ru->speed_tolerance == TOL && ru->move_slack == SLACK);
        CHECK(ru->attack_range == LU_RANGE && ru->attack_cooldown_ms == LU_COOLDOWN_MS && ru->potions == 3);
    }
    /* b1 walks toward the monsters; b2 runs away from them */
    t0 = h_now_ms();
    player_t *dead = NULL, *live = NULL;
    while (!dead) {
        for (int i = 0; i < 2; i++)
            p_pump(mb[i], 1);
        if (b1->over || b2->over)
            DIE("the match ended (%s) before one player died and the other lived", outcome_name((b1->over ? b1 : b2)->over->outcome));
        if (b1->died_seen && !b2->died_seen) {
            dead = b1;
            live = b2;
            break;
        }
        if (b2->died_seen && !b1->died_seen) {
            dead = b2;
            live = b1;
            break;
        }
        if (b1->died_seen && b2->died_seen)
            DIE("both players died in the same tick");
        lu_mon_t *m = p_nearest(b1, &d);
        if (m)
            p_step_toward(b1, m->x, m->y, 0.5f, 0, 100, 100);
        m = p_nearest(b2, &d);
        if (m)
            p_step_toward(b2, m->x, m->y, 0, 1, 100, 100);
        if (h_now_ms() - t0 > 30000)
            DIE("nobody died in 30 s");
    }
    before = p_snapshot(live);
    const PlayerState *ds = snap_player(before, dead->uid);
    CHECK(ds && !ds->alive && ds->hp <= 0);
    PlayerPositionUpdate dm = PLAYER_POSITION_UPDATE__INIT;
    Vec2 dv = VEC2__INIT;
    dv.x = dead->x + 0.1f;
    dv.y = dead->y;
    dm.pos = &dv;
    res_t rd = p_call(dead, PACKET_TYPE__PLAYER_POSITION_UPDATE, &dm.base);
    EXPECT_ERR(rd, dead, PLAYER_POSITION_UPDATE, PLAYER_DEAD);
    r = p_attack_raw(dead, 1, NULL);
    EXPECT_ERR(r, dead, PLAYER_ATTACK_MONSTER, PLAYER_DEAD);
    r = p_item_raw(dead, 1, NULL);
    EXPECT_ERR(r, dead, PLAYER_USE_ITEM, PLAYER_DEAD);
    after = p_snapshot(dead); /* a dead player may still look */
    SAME_PLAYER(before, after, dead->uid, 1, "a dead player's actions");
    CHECK_EQ(snap_player(after, dead->uid)->potions, 3);
    printf("cheat: match %llu: %s died (hp %d, alive=false); its move, attack and potion -> PLAYER_DEAD each; "
           "its state unchanged (potions still 3); %s alive\n",
           (unsigned long long)match_d, dead->name, ds->hp, live->name);
    game_snapshot_response__free_unpacked(before, NULL);
    game_snapshot_response__free_unpacked(after, NULL);

    uint64_t a_uid = a->uid;
    proc_t *game1 = s->cl.game[g1];
    scene_down(s);

    /* The daemon reported player a's violations when its match ended (aborted by the stop):
     * two speed hacks and one move out of the arena (also too fast), and refused actions
     * (OUT_OF_RANGE, COOLDOWN, NO_ITEM, NO_TARGET, ...). */
    char needle[64], line[4096];
    snprintf(needle, sizeof needle, "user=%llu ", (unsigned long long)a_uid);
    FILE *f = fopen(game1->log, "r");
    CHECK(f != NULL);
    unsigned speed = 0, bounds = 0, refused = 0;
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        const char *q = strstr(line, needle);
        if (strstr(line, "event=player_violations") && q) {
            CHECK(sscanf(q + strlen(needle), "speed=%u bounds=%u refused=%u", &speed, &bounds, &refused) == 3);
            found++;
        }
    }
    fclose(f);
    if (found != 1 || speed < 3 || bounds < 1 || refused < 3)
        DIE("player_violations of %s: %d lines, speed=%u bounds=%u refused=%u (want 1 line, >= 3, >= 1, >= 3)",
            needle, found, speed, bounds, refused);
    printf("cheat: the daemon reported the cheater at match end: player_violations speed=%u bounds=%u "
           "refused=%u\n", speed, bounds, refused);
}

int main(int argc, char **argv)
{
    static const lu_scenario_t sc[] = {{"cheats", scenario_cheats}};
    return lu_main(argc, argv, "match_cheat", RUN, sizeof RUN, sc, 1);
}
