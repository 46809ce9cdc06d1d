/* test_match_play: a whole match through the real cluster: 4 bot players on 2
 * gateways, 1 lobby, 2 game daemons with a short match. They register, log in, form a room,
 * ready, start, play (walk toward monsters within the speed, attack in range after the
 * cooldown, drink a potion) until GAME_OVER. Checked: what the players were told agrees among
 * them and with their own accepted actions, with the PostgreSQL record and GET_MATCH_HISTORY;
 * the room is back to waiting and starts again; the registry's games/players fields follow;
 * GAME_STATE_UPDATE is one batched packet per tick. */
#include "scene.h"

static char RUN[8];

#define TICK_MS 50
#define LIMIT_MS 20000

static const char *const GAME_ENV[] = {
    "TICK_MS=50",          "MATCH_TIME_LIMIT_MS=20000", "MATCH_WAVES=1", "WAVE_BASE_MONSTERS=1",
    "WAVE_GAP_MS=200",     "DRAIN_TIMEOUT_MS=500",      NULL,
};

static int same_result(const PlayerResult *a, const PlayerResult *b)
{
    return a->user_id == b->user_id && strcmp(a->username, b->username) == 0 && a->kills == b->kills &&
           a->damage_dealt == b->damage_dealt && a->damage_taken == b->damage_taken &&
           a->deaths == b->deaths && a->score == b->score;
}

static const PlayerResult *result_of(const GameOver *g, uint64_t uid)
{
    for (size_t i = 0; i < g->n_results; i++)
        if (g->results[i]->user_id == uid)
            return g->results[i];
    return NULL;
}

static const sc_spec_t FULL = {"full", NULL, GAME_ENV, 2, 2, "full", 4, 2}; /* 2 per gateway */

static void scenario_full_match(void)
{
    scene_t *s = scene_up(&FULL, RUN);
    sc_match_t mt = scene_match(s, s->ps, 4);
    uint32_t other_game = s->cl.game_id[1 - mt.gi];
    printf("full match: room=%llu match=%llu placed on game %u (GAME_STARTING and MATCH_START with "
           "4 players reached all 4 players on 2 gateways)\n",
           (unsigned long long)mt.room, (unsigned long long)mt.id, mt.game);

    /* the registry follows: games 1, players 4 on the daemon running it, 0 on the other */
    int ms_games = lu_wait_game_field(mt.game, "games", 1, 2000);
    int ms_players = lu_wait_game_field(mt.game, "players", 4, 2000);
    if (ms_games < 0 || ms_players < 0)
        DIE("registry of game %u: games=%lld players=%lld during the match (expected 1 and 4)", mt.game,
            lu_game_field(mt.game, "games"), lu_game_field(mt.game, "players"));
    CHECK_EQ(lu_game_field(other_game, "games"), 0);
    {
        /* the modes the daemon serves, with their room sizes, for the lobby's placement */
        redisReply *r =
            redisCommand(h_redis(), "HMGET %sServer:Game:%u modes mode_limits", h_prefix(), mt.game);
        CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
        CHECK(r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING);
        CHECK(strncmp(r->element[0]->str, "arena", 5) == 0);
        CHECK(strstr(r->element[1]->str, "arena:1-4") != NULL);
        printf("registry: modes=%s mode_limits=%s\n", r->element[0]->str, r->element[1]->str);
        freeReplyObject(r);
    }
    {
        char f[16];
        snprintf(f, sizeof f, "%u", mt.game);
        redisReply *r = redisCommand(h_redis(), "HGET %splacement:Game %s", h_prefix(), f);
        CHECK(r && r->type == REDIS_REPLY_STRING && strcmp(r->str, "1") == 0);
        freeReplyObject(r);
    }

    /* play until GAME_OVER */
    uint64_t t0 = h_now_ms();
    for (;;) {
        int done = 1;
        for (int i = 0; i < 4; i++) {
            p_pump(s->ps[i], 1);
            p_bot_step(s->ps[i]);
            if (!s->ps[i]->over && !s->ps[i]->aborted)
                done = 0;
        }
        if (done)
            break;
        if (h_now_ms() - t0 > LIMIT_MS + 8000)
            DIE("no GAME_OVER for everyone %d ms after MATCH_START", (int)(h_now_ms() - t0));
    }
    for (int i = 0; i < 4; i++) {
        if (s->ps[i]->aborted)
            DIE("%s: MATCH_ABORTED (%s) in a plain match", s->ps[i]->name, s->ps[i]->aborted->reason);
        CHECK_EQ(s->ps[i]->n_over, 1);
    }
    /* everyone was told the same thing */
    const GameOver *go = s->ps[0]->over;
    CHECK_EQ(go->match_id, mt.id);
    CHECK_EQ(go->room_id, mt.room);
    CHECK_EQ(go->n_results, 4);
    for (int i = 1; i < 4; i++) {
        const GameOver *o = s->ps[i]->over;
        if (o->match_id != go->match_id || o->outcome != go->outcome || o->duration_ms != go->duration_ms ||
            o->n_results != go->n_results)
            DIE("%s's GAME_OVER (outcome %s, %u ms) differs from %s's (outcome %s, %u ms)", s->ps[i]->name,
                outcome_name(o->outcome), o->duration_ms, s->ps[0]->name, outcome_name(go->outcome),
                go->duration_ms);
        for (size_t k = 0; k < o->n_results; k++) {
            const PlayerResult *a = o->results[k], *b = result_of(go, a->user_id);
            if (!b || !same_result(a, b))
                DIE("%s's GAME_OVER result for user %llu differs from %s's", s->ps[i]->name,
                    (unsigned long long)a->user_id, s->ps[0]->name);
        }
    }
    CHECK(go->outcome == MATCH_OUTCOME__WIN || go->outcome == MATCH_OUTCOME__LOSS ||
          go->outcome == MATCH_OUTCOME__TIMEOUT_REACHED);
    CHECK(go->duration_ms > 0 && go->duration_ms <= LIMIT_MS);
    uint64_t wall = s->ps[0]->over_ms - s->ps[0]->start_ms;
    CHECK(wall <= LIMIT_MS + 3000);

    /* each player's result agrees with what the server accepted from it */
    uint32_t kills = 0;
    int moves = 0, clamped = 0, attacks = 0, refused_range = 0, refused_cd = 0, refused_target = 0;
    for (int i = 0; i < 4; i++) {
        const PlayerResult *r = result_of(go, s->ps[i]->uid);
        if (!r)
            DIE("GAME_OVER has no result for %s", s->ps[i]->name);
        if (strcmp(r->username, s->ps[i]->name) != 0)
            DIE("GAME_OVER names %s \"%s\"", s->ps[i]->name, r->username);
        if (r->kills != (uint32_t)s->ps[i]->kills || r->damage_dealt != (uint32_t)s->ps[i]->attacks_ok * 25u)
            DIE("%s: result kills=%u damage=%u but the server accepted %d attacks (25 each) with %d kills",
                s->ps[i]->name, r->kills, r->damage_dealt, s->ps[i]->attacks_ok, s->ps[i]->kills);
        if (r->deaths > 1)
            DIE("%s: %u deaths (no respawn)", s->ps[i]->name, r->deaths);
        if (go->outcome == MATCH_OUTCOME__WIN && r->deaths == 0 && r->score != r->kills * 100u + 250u)
            DIE("%s: score %u, expected kills*100 + 250 (wave cleared) = %u", s->ps[i]->name, r->score,
                r->kills * 100u + 250u);
        kills += r->kills;
        moves += s->ps[i]->moves;
        clamped += s->ps[i]->clamped;
        attacks += s->ps[i]->attacks_ok;
        refused_range += s->ps[i]->refused[ERROR_CODE__OUT_OF_RANGE];
        refused_cd += s->ps[i]->refused[ERROR_CODE__COOLDOWN];
        refused_target += s->ps[i]->refused[ERROR_CODE__NO_TARGET];
        CHECK(s->ps[i]->potion_used);
        CHECK_EQ(s->ps[i]->refused[ERROR_CODE__PLAYER_DEAD] + s->ps[i]->refused[ERROR_CODE__BAD_REQUEST] +
                     s->ps[i]->refused[ERROR_CODE__NO_ITEM] + s->ps[i]->refused[ERROR_CODE__INTERNAL],
                 0);
    }
    if (go->outcome == MATCH_OUTCOME__WIN)
        CHECK_EQ(kills, 4); /* 1 wave x 1 monster per player */
    /* honest moves (3/4 of the speed) are not clamped, save for a rare tick hiccup */
    if (clamped * 10 > moves)
        DIE("%d of %d honest moves were clamped", clamped, moves);
    printf("full match: GAME_OVER outcome=%s duration_ms=%u (wall %llu ms, limit %d) identical for all 4; "
           "kills=%u (from %d accepted attacks), %d honest moves (%d clamped), honest refusals: "
           "out_of_range=%d cooldown=%d no_target=%d; every result equals the attacks the server "
           "accepted from that player\n",
           outcome_name(go->outcome), go->duration_ms, (unsigned long long)wall, LIMIT_MS, kills, attacks,
           moves, clamped, refused_range, refused_cd, refused_target);
    if (go->outcome != MATCH_OUTCOME__WIN)
        printf("NOTE: the bots fought but the outcome was %s, not WIN\n", outcome_name(go->outcome));

    /* scenario 2: one batched update per tick */
    for (int i = 0; i < 4; i++) {
        player_t *p = s->ps[i];
        int bound = (int)(go->duration_ms / TICK_MS) + 2;
        if (p->n_updates > bound || p->tick_not_increasing)
            DIE("%s: %d GAME_STATE_UPDATE for %u ms (bound %d), %d with a tick not above the previous",
                p->name, p->n_updates, go->duration_ms, bound, p->tick_not_increasing);
        if (p->max_entities < 2 || p->updates_multi == 0)
            DIE("%s: no update carried more than one entity change (max %d)", p->name, p->max_entities);
        CHECK_EQ(p->foreign_uids, 0);
        CHECK(p->n_updates > 0);
        printf("batching: %s got %d GAME_STATE_UPDATE for %u ms at %d ms ticks (<= %d allowed), ticks "
               "%u..%u strictly increasing, %d updates carried several entity changes (max %d in one)\n",
               p->name, p->n_updates, go->duration_ms, TICK_MS, bound, p->first_tick, p->last_tick,
               p->updates_multi, p->max_entities);
    }

    /* the registry follows the end within the heartbeat period */
    uint64_t over_at = s->ps[0]->over_ms;
    int g0 = lu_wait_game_field(mt.game, "games", 0, 2000);
    int p0 = lu_wait_game_field(mt.game, "players", 0, 2000);
    if (g0 < 0 || p0 < 0)
        DIE("registry of game %u after GAME_OVER: games=%lld players=%lld", mt.game,
            lu_game_field(mt.game, "games"), lu_game_field(mt.game, "players"));
    printf("registry: game %u had games=1 players=4 during the match, games=0 players=0 %llu ms after "
           "GAME_OVER\n",
           mt.game, (unsigned long long)(h_now_ms() - over_at));

    /* the record in PostgreSQL: exactly what the players were told */
    lu_rec_t rec;
    int rec_ms = lu_pg_wait_record(mt.id, &rec, 5000);
    if (rec_ms < 0)
        DIE("match %llu not recorded in PostgreSQL within 5 s", (unsigned long long)mt.id);
    lu_check_record_vs_over(&rec, go, mt.game, __LINE__);
    CHECK(rec.duration_ms >= (long long)go->duration_ms - 1000 && rec.duration_ms <= (long long)wall + 2000);
    printf("record: matches row (outcome=%s game_server_id=%u room=%llu, %lld ms) and 4 match_players rows "
           "equal the GAME_OVER results\n",
           rec.outcome, rec.game, (unsigned long long)rec.room, rec.duration_ms);

    /* GET_MATCH_HISTORY through the other gateway */
    {
        GetMatchHistoryRequest rq = GET_MATCH_HISTORY_REQUEST__INIT;
        rq.page_size = 5;
        GetMatchHistoryResponse *h = OK_CALL(s->ps[2], GET_MATCH_HISTORY_REQUEST, &rq.base,
                                             GET_MATCH_HISTORY_RESPONSE, get_match_history_response__descriptor);
        CHECK_EQ(h->n_matches, 1);
        const MatchRecord *m = h->matches[0];
        const PlayerResult *mine = result_of(go, s->ps[2]->uid);
        CHECK_EQ(m->match_id, mt.id);
        CHECK_EQ(m->game_server_id, mt.game);
        CHECK_EQ(m->outcome, go->outcome);
        CHECK(m->me && same_result(m->me, mine));
        CHECK(m->ended_at_ms >= m->started_at_ms && m->ended_at_ms - m->started_at_ms <= wall + 2000);
        get_match_history_response__free_unpacked(h, NULL);
        printf("history: GET_MATCH_HISTORY of %s returns match %llu with its outcome, server and result\n",
               s->ps[2]->name, (unsigned long long)mt.id);
    }

    /* back in the room: waiting, nobody ready; then the owner starts again */
    if (ps_wait(s->ps, 4, cond_has_event, "match_ended", 3000) < 0)
        DIE("not every player got ROOM_UPDATE match_ended");
    for (int i = 0; i < 4; i++) {
        const lu_room_ev_t *e = p_last_event(s->ps[i], "match_ended");
        if (e->status != ROOM_STATUS__WAITING || e->nready != 0 || e->nmembers != 4 || e->match != 0)
            DIE("%s: ROOM_UPDATE match_ended: status=%d ready=%d members=%d match=%llu", s->ps[i]->name,
                e->status, e->nready, e->nmembers, (unsigned long long)e->match);
    }
    {
        char f[16];
        snprintf(f, sizeof f, "%u", mt.game);
        redisReply *r = redisCommand(h_redis(), "HGET %splacement:Game %s", h_prefix(), f);
        CHECK(r && (r->type == REDIS_REPLY_NIL || (r->type == REDIS_REPLY_STRING && strcmp(r->str, "0") == 0)));
        freeReplyObject(r);
    }
    /* game packets after the end: the session is no longer bound */
    {
        GameSnapshotRequest rq = GAME_SNAPSHOT_REQUEST__INIT;
        ERR_CALL(s->ps[1], GAME_SNAPSHOT_REQUEST, &rq.base, NOT_IN_GAME);
    }
    for (int i = 0; i < 4; i++)
        p_ready(s->ps[i]);
    uint32_t game2 = 0;
    uint64_t match2 = ps_start(s->ps, 4, &game2);
    CHECK(match2 != mt.id);
    CHECK_EQ(lu_wait_game_field(game2, "games", 1, 2000) >= 0, 1);
    printf("again: every player got ROOM_UPDATE match_ended (WAITING, 0 ready, 4 members), placement "
           "count back to 0, then ready+start placed match %llu on game %u and all 4 got MATCH_START\n",
           (unsigned long long)match2, game2);

    scene_down(s);
}

int main(int argc, char **argv)
{
    static const lu_scenario_t sc[] = {{"full", scenario_full_match}};
    return lu_main(argc, argv, "match_play", RUN, sizeof RUN, sc, 1);
}
