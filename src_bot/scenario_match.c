/* scenario match: every bot registers and logs in, then loops: QUICK_MATCH; the lobby forms a
 * room of QUICK_MATCH_SIZE players and places it (GAME_STARTING push), the game daemon starts
 * it (MATCH_START push); the bot plays the match to its end (GAME_OVER or MATCH_ABORTED),
 * waits for its room to be back (ROOM_UPDATE, waiting), LEAVE_ROOMs and queues again, until
 * --duration. At the end every bot LOGOUTs.
 *
 * Playing: the bot keeps the live monsters (MONSTER_SPAWN, MONSTER_MOVE, MONSTER_DIED of every
 * GAME_STATE_UPDATE, or a GAME_SNAPSHOT) and its own authoritative position (MATCH_START, then
 * each PLAYER_POSITION_RESPONSE). At most one request in flight, at least --match-interval-ms
 * apart; at each step, in this order: a potion (PLAYER_USE_ITEM) when hp is low and potions
 * remain; PLAYER_ATTACK_MONSTER on the nearest monster when it is in range and the cooldown
 * has passed; else a PLAYER_POSITION_UPDATE toward it.
 *
 * An honest bot, timed by the server's clock: the server measures a move from where the player
 * stood at the end of the last tick in which it moved, over the sim time since then (see
 * sim_move in src_game/sim.h). Both ends are known exactly: a move (or attack) processed
 * between ticks k and k+1 is answered before update k+1 goes out, and update k+1 carries its
 * event, so the first GAME_STATE_UPDATE after the response names k + 1. The server's time
 * when the next move arrives is at least the latest tick seen. So a step never exceeds
 * speed x (latest tick seen - tick of the last move) - no use of the 1.5 tolerance - and a
 * PLAYER_POSITION_RESPONSE with clamped=true means the server and the bot disagree (counted
 * as speed clamps, ~0 expected). The attack cooldown is timed the same way (or, when no update
 * came for a while, by the wall clock with a margin of 3 ticks).
 *
 * Expected outcomes (counted by code, not failures): USERNAME_TAKEN and BUSY on REGISTER/
 * LOGIN (BUSY retried after a backoff); COOLDOWN, OUT_OF_RANGE, NO_TARGET on attacks (a monster
 * moved or died between two updates: should be rare); NOT_IN_GAME on the GAME_SNAPSHOT probe
 * a bot sends when MATCH_START is slow to follow GAME_STARTING, or after the match ended;
 * PLAYER_DEAD once the bot knows it died; MATCH_OVER; ROOM_IN_GAME on a LEAVE_ROOM sent before
 * the room was handed back; ALREADY_IN_ROOM on QUICK_MATCH (an account left in a room by an
 * earlier run: it leaves first).
 *
 * After each GAME_OVER the bot also reads its GET_MATCH_HISTORY (while it waits for the room or
 * the queue) and compares the record with what GAME_OVER said. */
#include <inttypes.h>
#include <string.h>

#include "log.h"
#include "match_flow.h"
#include "module_games.h"
#include "util.h"

/* The arena's rules until MATCH_START says otherwise (its `rules`; src_game/sim.h defaults). */
#define PLAYER_SPEED 8.0          /* units per second, used at 1x (the server allows 1.5x) */
#define MOVE_WINDOW_MS 500u       /* the most elapsed time one move may claim */
#define ATTACK_RANGE 3.0
#define ATTACK_REACH_OF_RANGE 0.87 /* attack when the monster was last seen this close (x range) */
#define APPROACH 2.0              /* walk up to this far from the monster */
#define MIN_STEP 0.05             /* smaller moves are not worth a request */
#define ATTACK_COOLDOWN_MS 500u
#define POTION_HP 60              /* drink at or below this hp (a potion heals 40 of 100) */

#define START_PROBE_NS (1500 * MS)   /* GAME_STARTING and no MATCH_START yet: snapshot probes */
#define PROBE_EVERY_NS (1000 * MS)

typedef enum {
    M_REGISTER = 0,
    M_LOGIN,
    M_QUEUE,    /* logged in, in no room: QUICK_MATCH */
    M_QUEUED,   /* queued (or the room formed): waiting for GAME_STARTING */
    M_STARTING, /* GAME_STARTING came: waiting for MATCH_START (probing after a while) */
    M_PLAY,     /* in a match, alive or dead, until GAME_OVER / MATCH_ABORTED */
    M_ENDED,    /* the match is over: waiting for the room to be handed back */
    M_LEAVE,    /* LEAVE_ROOM, then queue again */
    M_LOGOUT,   /* log out (then a fresh account, unless stopping) */
    M_DONE,
} mstep_t;

typedef struct mbot {
    mflow_t f; /* first: a session_t * is an mbot_t *; f.step is an mstep_t */
    uint32_t rq_arg; /* the monster of an attack in flight */
    /* match lifecycle */
    uint64_t queue_sent_ns, next_probe_ns;
    /* the match */
    uint32_t tick_ms, time_limit_ms;
    float arena_w, arena_h;
    double speed, attack_range;           /* the match's rules (MATCH_START), or the defaults */
    uint32_t move_window_ms, cooldown_ms;
    int synced; /* state taken from a snapshot (sent once at the start) */
    float x, y;
    int32_t hp;
    int alive;
    uint32_t potions;
    uint32_t server_tick;          /* latest tick seen */
    uint32_t ref_tick;             /* tick of our last accepted move (0: the spawn) */
    int ref_pending;               /* a move was answered: the next update names its tick */
    uint32_t atk_tick;             /* tick of our last accepted attack */
    int atk_pending, atk_known, attacked;
    uint64_t atk_wall_ns;          /* when that attack's answer (or a COOLDOWN) came */
    uint64_t last_update_ns;
    mg_spots_t mons; /* the live monsters, by id, where last seen */
    uint64_t updates;
    /* what the record must say */
    MatchOutcome check_outcome;
    uint32_t check_kills, check_dealt, check_taken, check_deaths, check_score;
} mbot_t;


/* ------------------------------------------------------------------ helpers */

static int mb_send(mbot_t *b, uint16_t type, const ProtobufCMessage *msg)
{
    return sess_send(&b->f.s, type, msg);
}
static void sleep_until(mbot_t *b, uint64_t t, uint64_t now) { sess_sleep_until(&b->f.s, t, now); }

static int in_match(const mbot_t *b) { return b->f.step == M_STARTING || b->f.step == M_PLAY; }

/* ---- monsters */

/* A monster seen (spawned, or in a snapshot): at p, or where it was (new: 0,0) without. */
static void mon_seen(mbot_t *b, uint32_t id, const Vec2 *p)
{
    if (p)
        mg_spots_set(&b->mons, id, p->x, p->y);
    else if (!mg_spots_find(&b->mons, id))
        mg_spots_set(&b->mons, id, 0.0f, 0.0f);
}

/* ---- match state */

static void match_reset(mbot_t *b)
{
    b->tick_ms = 50;
    b->time_limit_ms = 0;
    b->speed = PLAYER_SPEED;
    b->attack_range = ATTACK_RANGE;
    b->move_window_ms = MOVE_WINDOW_MS;
    b->cooldown_ms = ATTACK_COOLDOWN_MS;
    b->arena_w = b->arena_h = 100.0f;
    b->synced = 0;
    b->x = b->y = 0;
    b->hp = 100;
    b->alive = 1;
    b->potions = 0;
    b->server_tick = b->ref_tick = b->atk_tick = 0;
    b->ref_pending = b->atk_pending = b->atk_known = b->attacked = 0;
    b->atk_wall_ns = 0;
    b->last_update_ns = 0;
    b->mons.n = 0;
    b->updates = 0;
}

static void died(mbot_t *b)
{
    run_t *run = b->f.s.bot->run;
    if (!b->alive)
        return;
    b->alive = 0;
    run->st.deaths++;
}

static void take_player(mbot_t *b, const PlayerState *p, int with_pos)
{
    if (!p || p->user_id != b->f.s.user_id)
        return;
    if (with_pos && p->pos) {
        b->x = p->pos->x;
        b->y = p->pos->y;
    }
    b->hp = p->hp;
    b->potions = p->potions;
    if (!p->alive)
        died(b);
}

/* MATCH_START (or a snapshot of the match): the play from now. */
static void play_begin(mbot_t *b, uint64_t match_id, uint64_t now)
{
    run_t *run = b->f.s.bot->run;
    mf_play_begin(&b->f, match_id, now);
    if (b->queue_sent_ns) {
        uint64_t us = (now - b->queue_sent_ns) / 1000u;
        hist_record(&run->st.queue_to_start_us, us ? us : 1);
    }
    b->queue_sent_ns = 0;
}

static void play_end(mbot_t *b, uint64_t now)
{
    mf_play_end(&b->f, now);
    b->mons.n = 0;
}

/* Is an attack allowed by now? Timed by the server's ticks; the wall clock (with a margin)
 * when no update has come since. */
static int cooldown_over(const mbot_t *b, uint64_t now)
{
    if (!b->attacked)
        return 1;
    if (b->atk_known &&
        (uint64_t)b->server_tick * b->tick_ms >=
            (uint64_t)b->atk_tick * b->tick_ms + b->cooldown_ms)
        return 1;
    return now >= b->atk_wall_ns + (b->cooldown_ms + 3u * b->tick_ms) * MS;
}

/* The longest step the server accepts for sure from a move sent now. */
static double allowed_step(const mbot_t *b)
{
    if (b->ref_pending || b->server_tick <= b->ref_tick)
        return 0.0;
    uint64_t ms = (uint64_t)(b->server_tick - b->ref_tick) * b->tick_ms;
    if (ms > b->move_window_ms)
        ms = b->move_window_ms;
    return b->speed * (double)ms / 1000.0;
}

/* ------------------------------------------------------------------ requests */

static void send_snapshot_request(mbot_t *b)
{
    GameSnapshotRequest rq = GAME_SNAPSHOT_REQUEST__INIT;
    (void)mb_send(b, PACKET_TYPE__GAME_SNAPSHOT_REQUEST, &rq.base);
}

/* A match past its time limit and the grace with no GAME_OVER: counted and logged once. */
static void check_end_missing(mbot_t *b, uint64_t now)
{
    if (b->time_limit_ms &&
        mf_end_lost(&b->f, b->f.start_ns + (uint64_t)b->time_limit_ms * MS, now))
        log_warn("game_over_missing", "bot=%u user=%s match=%" PRIu64 " time_limit_ms=%u",
                 b->f.s.bot->index, b->f.s.user, b->f.match_id, b->time_limit_ms);
}

/* A step toward monster m, d away, no longer than the server's clock allows. Returns 1 when
 * the bot moved or sleeps until it may, 0 when there is no step worth taking. */
static int step_toward(mbot_t *b, const mg_spot_t *m, double d, uint64_t now)
{
    uint64_t play_ns = mf_of(&b->f)->play_ns;
    /* the pacing timer may fire just before the update of the latest tick: wait for it
     * (it wakes us) rather than take a shorter step, up to one tick late */
    uint64_t have_ms =
        b->server_tick > b->ref_tick ? (uint64_t)(b->server_tick - b->ref_tick) * b->tick_ms : 0;
    uint64_t late = b->f.s.last_send_ns + play_ns + (uint64_t)b->tick_ms * MS;
    if ((b->ref_pending || have_ms * MS + (uint64_t)b->tick_ms * MS / 2 < play_ns) &&
        now < late) {
        sleep_until(b, late, now);
        return 1;
    }
    double step = allowed_step(b);
    double want = d - APPROACH;
    if (step > want)
        step = want;
    if (step < MIN_STEP)
        return 0;
    double k = step / d;
    PlayerPositionUpdate rq = PLAYER_POSITION_UPDATE__INIT;
    Vec2 v = VEC2__INIT;
    v.x = (float)((double)b->x + ((double)m->x - b->x) * k);
    v.y = (float)((double)b->y + ((double)m->y - b->y) * k);
    rq.pos = &v;
    (void)mb_send(b, PACKET_TYPE__PLAYER_POSITION_UPDATE, &rq.base);
    return 1;
}

/* One step of play: potion, attack, or move; or sleep until the next step. */
static void act_play(mbot_t *b, uint64_t now)
{
    check_end_missing(b, now);
    if (!b->alive) { /* dead: wait for GAME_OVER */
        if (!mf_idle_work(&b->f, now))
            sleep_until(b, b->f.s.last_send_ns + KEEPALIVE_NS, now);
        return;
    }
    if (!b->synced) {
        send_snapshot_request(b);
        return;
    }
    if (b->hp <= POTION_HP && b->potions > 0) {
        PlayerUseItem rq = PLAYER_USE_ITEM__INIT;
        rq.item = 1;
        (void)mb_send(b, PACKET_TYPE__PLAYER_USE_ITEM, &rq.base);
        return;
    }
    double d;
    const mg_spot_t *m = mg_spots_nearest(&b->mons, b->x, b->y, 1, &d);
    log_debug("play", "bot=%u pos=%.2f,%.2f hp=%d mons=%u nearest=%u at=%.2f,%.2f d=%.2f "
              "tick=%u ref=%u%s atk=%u%s step=%.2f",
              b->f.s.bot->index, (double)b->x, (double)b->y, b->hp, b->mons.n, m ? (unsigned)m->id : 0u,
              m ? (double)m->x : 0.0, m ? (double)m->y : 0.0, d, b->server_tick, b->ref_tick,
              b->ref_pending ? "p" : "", b->atk_tick, b->atk_pending ? "p" : "",
              allowed_step(b));
    if (m && d <= b->attack_range * ATTACK_REACH_OF_RANGE && cooldown_over(b, now)) {
        PlayerAttackMonster rq = PLAYER_ATTACK_MONSTER__INIT;
        rq.monster_id = (uint32_t)m->id;
        if (mb_send(b, PACKET_TYPE__PLAYER_ATTACK_MONSTER, &rq.base) == 0)
            b->rq_arg = (uint32_t)m->id;
        return;
    }
    if (m && d > APPROACH + MIN_STEP && step_toward(b, m, d, now))
        return;
    /* nothing to do yet: look again after one interval (updates wake us sooner) */
    sleep_until(b, now + mf_of(&b->f)->play_ns, now);
}

/* GAME_STARTING came and MATCH_START has not: probe with GAME_SNAPSHOT now and then. */
static void act_starting(mbot_t *b, uint64_t now)
{
    run_t *run = b->f.s.bot->run;
    if (mf_start_lost(&b->f, now))
        log_warn("match_start_missing", "bot=%u user=%s match=%" PRIu64 " waited_ms=%" PRIu64,
                 b->f.s.bot->index, b->f.s.user, b->f.match_id, (now - b->f.starting_ns) / MS);
    if (now + SLACK_NS >= b->next_probe_ns) {
        b->next_probe_ns = now + PROBE_EVERY_NS;
        run->st.start_probes++;
        send_snapshot_request(b);
        return;
    }
    sleep_until(b, b->next_probe_ns, now);
}

/* The scenario's steps (the flow takes the account, ended, leave and done). */
static void match_act(mflow_t *f, uint64_t now)
{
    mbot_t *b = (mbot_t *)f;
    switch ((mstep_t)f->step) {
    case M_QUEUE:
        if (mf_send_quick_match(f, NULL) == 0 && !b->queue_sent_ns)
            b->queue_sent_ns = f->s.sent_ns;
        break;
    case M_QUEUED:
        if (mf_leave_unstarted(f, now))
            break;
        if (!mf_idle_work(f, now))
            sleep_until(b, mf_idle_due(f, 1), now);
        break;
    case M_STARTING:
        act_starting(b, now);
        break;
    case M_PLAY:
        act_play(b, now);
        break;
    default:
        break;
    }
}

/* The least time between two requests: --match-interval-ms in a match, 1/--rate out of one. */
static uint64_t gap_ns(const session_t *s)
{
    const mflow_t *f = (const mflow_t *)s;
    return f->step == M_PLAY ? mf_of(f)->play_ns : mf_of(f)->pace_ns;
}

/* ------------------------------------------------------------------ responses */

/* The record says what GAME_OVER said: the outcome, our kills, damage, deaths and score. */
static int record_ok(const mflow_t *f, const MatchRecord *m, int may_log)
{
    const mbot_t *b = (const mbot_t *)f;
    const PlayerResult *me = m->me;
    int ok = me && m->outcome == b->check_outcome && me->kills == b->check_kills &&
             me->damage_dealt == b->check_dealt && me->damage_taken == b->check_taken &&
             me->deaths == b->check_deaths && me->score == b->check_score;
    if (!ok && may_log)
        log_warn("record_mismatch",
                 "bot=%u user=%s match=%" PRIu64 " outcome=%d/%d kills=%u/%u "
                 "dealt=%u/%u taken=%u/%u deaths=%u/%u score=%u/%u (record/game_over)",
                 f->s.bot->index, f->s.user, f->check_match, (int)m->outcome,
                 (int)b->check_outcome, me ? me->kills : 0, b->check_kills,
                 me ? me->damage_dealt : 0, b->check_dealt, me ? me->damage_taken : 0,
                 b->check_taken, me ? me->deaths : 0, b->check_deaths, me ? me->score : 0,
                 b->check_score);
    return ok;
}

static void take_snapshot(mbot_t *b, const GameSnapshotResponse *r)
{
    if (r->tick > b->server_tick)
        b->server_tick = r->tick;
    if (r->tick_ms)
        b->tick_ms = r->tick_ms;
    if (r->time_limit_ms)
        b->time_limit_ms = r->time_limit_ms;
    for (size_t i = 0; i < r->n_players; i++)
        take_player(b, r->players[i], 1);
    b->mons.n = 0;
    for (size_t i = 0; i < r->n_monsters; i++)
        if (r->monsters[i])
            mon_seen(b, r->monsters[i]->id, r->monsters[i]->pos);
    b->synced = 1;
}

#define UNPACK(T, desc) ((T *)pb_unpack(&b->f.s.bot->run->arena, &desc, payload, len))

static int snapshot_ok(mbot_t *b, const uint8_t *payload, size_t len, uint64_t now)
{
    GameSnapshotResponse *r = UNPACK(GameSnapshotResponse, game_snapshot_response__descriptor);
    if (!r)
        return -1;
    if (b->f.step == M_STARTING) {
        /* the match runs but MATCH_START has not come (yet): play from the snapshot */
        b->f.s.bot->run->st.started_by_snapshot++;
        match_reset(b);
        play_begin(b, r->match_id, now);
    }
    if (b->f.step == M_PLAY && r->match_id == b->f.match_id)
        take_snapshot(b, r);
    return 0;
}

static int moved_ok(mbot_t *b, const uint8_t *payload, size_t len)
{
    stats_t *st = &b->f.s.bot->run->st;
    PlayerPositionResponse *r =
        UNPACK(PlayerPositionResponse, player_position_response__descriptor);
    if (!r || !r->pos)
        return -1;
    st->moves++;
    if (r->clamped && ++st->clamps <= 5)
        log_warn("speed_clamped",
                 "bot=%u user=%s match=%" PRIu64 " from=%.3f,%.3f to=%.3f,%.3f "
                 "server_tick=%u ref_tick=%u",
                 b->f.s.bot->index, b->f.s.user, b->f.match_id, (double)b->x, (double)b->y,
                 (double)r->pos->x, (double)r->pos->y, b->server_tick, b->ref_tick);
    if (b->f.step == M_PLAY) {
        b->x = r->pos->x;
        b->y = r->pos->y;
        b->ref_pending = 1;
    }
    return 0;
}

static int attacked_ok(mbot_t *b, const uint8_t *payload, size_t len, uint64_t now)
{
    stats_t *st = &b->f.s.bot->run->st;
    PlayerAttackResponse *r = UNPACK(PlayerAttackResponse, player_attack_response__descriptor);
    if (!r)
        return -1;
    st->hits++;
    if (b->f.step != M_PLAY)
        return 0;
    b->attacked = 1;
    b->atk_pending = 1;
    b->atk_known = 0;
    b->atk_wall_ns = now;
    if (r->killed) {
        st->kills++;
        mg_spots_del(&b->mons, r->monster_id);
    }
    return 0;
}

static int item_used_ok(mbot_t *b, const uint8_t *payload, size_t len)
{
    PlayerUseItemResponse *r =
        UNPACK(PlayerUseItemResponse, player_use_item_response__descriptor);
    if (!r)
        return -1;
    b->f.s.bot->run->st.potions_used++;
    if (b->f.step == M_PLAY) {
        b->hp = r->hp;
        b->potions = r->remaining;
    }
    return 0;
}

/* A response to one of the game requests. Returns -1 when the payload does not decode. */
static int match_on_ok(mflow_t *f, uint16_t rq, const uint8_t *payload, size_t len, uint64_t now)
{
    mbot_t *b = (mbot_t *)f;
    switch (rq) {
    case PACKET_TYPE__GAME_SNAPSHOT_REQUEST:
        return snapshot_ok(b, payload, len, now);
    case PACKET_TYPE__PLAYER_POSITION_UPDATE:
        return moved_ok(b, payload, len);
    case PACKET_TYPE__PLAYER_ATTACK_MONSTER:
        return attacked_ok(b, payload, len, now);
    case PACKET_TYPE__PLAYER_USE_ITEM:
        return item_used_ok(b, payload, len);
    }
    return -1;
}

static int is_game_rq(uint16_t rq)
{
    return rq == PACKET_TYPE__GAME_SNAPSHOT_REQUEST || rq == PACKET_TYPE__PLAYER_POSITION_UPDATE ||
           rq == PACKET_TYPE__PLAYER_ATTACK_MONSTER || rq == PACKET_TYPE__PLAYER_USE_ITEM;
}

/* Is (request, code) an outcome a healthy cluster gives an honest bot in this state? */
static int expected_error(const session_t *s, uint16_t rq, int code)
{
    const mbot_t *b = (const mbot_t *)s;
    if (!is_game_rq(rq)) /* REGISTER, LOGIN, QUICK_MATCH, LEAVE_ROOM; 0 for the others */
        return rooms_expected(rq, code);
    if (code == ERROR_CODE__MATCH_OVER)
        return 1;
    /* the gateway lost its link to the match's daemon and keeps the match for
     * MATCH_LINK_GRACE_MS: game packets are refused meanwhile, retried (docs/protocol.md) */
    if (code == ERROR_CODE__SERVICE_UNAVAILABLE)
        return 1;
    if (code == ERROR_CODE__NOT_IN_GAME) /* before MATCH_START, or after the end */
        return b->f.step != M_PLAY;
    if (code == ERROR_CODE__PLAYER_DEAD) /* the update saying so comes before the refusal */
        return !b->alive || b->f.step != M_PLAY;
    if (rq == PACKET_TYPE__PLAYER_ATTACK_MONSTER)
        return code == ERROR_CODE__COOLDOWN || code == ERROR_CODE__OUT_OF_RANGE ||
               code == ERROR_CODE__NO_TARGET;
    return 0;
}

/* An error of a game request (the flow pauses the bot after an unexpected one). */
static void match_on_error(mflow_t *f, uint16_t rq, int code, uint64_t now)
{
    mbot_t *b = (mbot_t *)f;
    switch (rq) {
    case PACKET_TYPE__PLAYER_ATTACK_MONSTER:
        if (code == ERROR_CODE__NO_TARGET)
            mg_spots_del(&b->mons, b->rq_arg);
        else if (code == ERROR_CODE__COOLDOWN) {
            b->atk_wall_ns = now; /* wait a whole cooldown by the wall clock */
            b->atk_known = 0;
        }
        break;
    case PACKET_TYPE__PLAYER_USE_ITEM:
        if (code == ERROR_CODE__NO_ITEM)
            b->potions = 0;
        break;
    }
    if (code == ERROR_CODE__PLAYER_DEAD && b->f.step == M_PLAY)
        died(b);
}

static void describe(const session_t *s, char *out, size_t n)
{
    const mbot_t *b = (const mbot_t *)s;
    snprintf(out, n, " step=%d alive=%d match=%" PRIu64, (int)b->f.step, b->alive, b->f.match_id);
}

/* ------------------------------------------------------------------ pushes */

static void on_update(mbot_t *b, const GameStateUpdate *u, uint64_t now)
{
    b->updates++;
    b->last_update_ns = now;
    if (u->tick > b->server_tick)
        b->server_tick = u->tick;
    /* the first update after a move's (an attack's) answer carries its event: it was
     * processed at the previous tick's time */
    if (b->ref_pending) {
        b->ref_tick = u->tick ? u->tick - 1 : 0;
        b->ref_pending = 0;
    }
    if (b->atk_pending) {
        b->atk_tick = u->tick ? u->tick - 1 : 0;
        b->atk_pending = 0;
        b->atk_known = 1;
    }
    for (size_t i = 0; i < u->n_spawns; i++)
        if (u->spawns[i])
            mon_seen(b, u->spawns[i]->id, u->spawns[i]->pos);
    for (size_t i = 0; i < u->n_moves; i++) {
        const MonsterMove *mv = u->moves[i];
        mg_spot_t *m = mv ? mg_spots_find(&b->mons, mv->id) : NULL;
        if (m && mv->pos) {
            m->x = mv->pos->x;
            m->y = mv->pos->y;
        }
    }
    for (size_t i = 0; i < u->n_monster_deaths; i++)
        if (u->monster_deaths[i])
            mg_spots_del(&b->mons, u->monster_deaths[i]->id);
    for (size_t i = 0; i < u->n_damaged; i++) {
        const PlayerDamaged *d = u->damaged[i];
        if (d && d->user_id == b->f.s.user_id) {
            b->hp = d->hp;
            if (d->died || d->hp <= 0)
                died(b);
        }
    }
    for (size_t i = 0; i < u->n_players; i++)
        take_player(b, u->players[i], 0);
}

static void on_game_over(mflow_t *f, const GameOver *g, uint64_t now)
{
    mbot_t *b = (mbot_t *)f;
    stats_t *st = &f->s.bot->run->st;
    st->game_overs++;
    if (f->step != M_PLAY || (f->match_id && g->match_id != f->match_id)) {
        st->stray_ends++;
        log_warn("stray_game_over", "bot=%u user=%s match=%" PRIu64 " ours=%" PRIu64 " step=%d",
                 f->s.bot->index, f->s.user, g->match_id, f->match_id, (int)f->step);
        if (!in_match(b))
            return;
    }
    int outcome = (int)g->outcome;
    if (outcome < 0 || outcome > 4)
        outcome = 0;
    if (mf_first_game_over(f, g))
        st->outcomes[outcome]++;
    st->updates_in_match += b->updates;
    const PlayerResult *r = mf_game_over(f, g, now); /* what the record must say */
    if (r) {
        b->check_outcome = g->outcome;
        b->check_kills = r->kills;
        b->check_dealt = r->damage_dealt;
        b->check_taken = r->damage_taken;
        b->check_deaths = r->deaths;
        b->check_score = r->score;
        st->player_kills += r->kills;
    }
    play_end(b, now);
}

static void on_aborted(mflow_t *f, const MatchAborted *a, uint64_t now)
{
    mbot_t *b = (mbot_t *)f;
    stats_t *st = &f->s.bot->run->st;
    st->match_aborts++;
    if (!in_match(b) || (f->match_id && a->match_id && a->match_id != f->match_id)) {
        st->stray_ends++;
        log_warn("stray_match_aborted", "bot=%u user=%s match=%" PRIu64 " ours=%" PRIu64
                 " step=%d", f->s.bot->index, f->s.user, a->match_id, f->match_id, (int)f->step);
        if (!in_match(b))
            return;
    }
    log_warn("match_aborted", "bot=%u user=%s match=%" PRIu64 " reason=\"%s\"", f->s.bot->index,
             f->s.user, a->match_id, a->reason ? a->reason : "");
    if (mf_first_report(f, a->match_id ? a->match_id : f->match_id)) {
        st->matches_aborted++;
        st->outcomes[MATCH_OUTCOME__ABORTED]++;
    }
    st->updates_in_match += b->updates;
    play_end(b, now);
}

/* Our room is waiting again: while starting, the match ended before it started. */
static void on_room_back(mflow_t *f, const RoomUpdate *u, uint64_t now)
{
    if (f->step != M_STARTING)
        return;
    /* placed, then handed back without ever starting (the game daemon refused or dropped
     * it): no MATCH_START will come */
    f->s.bot->run->st.ended_before_start++;
    log_warn("match_ended_before_start", "bot=%u user=%s match=%" PRIu64 " event=%s",
             f->s.bot->index, f->s.user, f->match_id, u->event ? u->event : "");
    play_end((mbot_t *)f, now);
}

static int on_game_starting(mflow_t *f, const GameStarting *g, uint64_t now)
{
    mbot_t *b = (mbot_t *)f;
    if ((f->step != M_QUEUE && f->step != M_QUEUED) || !g->match_id) {
        if (!(in_match(b) && g->match_id == f->match_id)) {
            f->s.bot->run->st.stray_starts++;
            log_warn("stray_game_starting", "bot=%u user=%s match=%" PRIu64 " step=%d",
                     f->s.bot->index, f->s.user, g->match_id, (int)f->step);
        }
        return 0;
    }
    mf_placed(f, g, M_STARTING, now);
    b->next_probe_ns = now + START_PROBE_NS;
    return 1;
}

/* MATCH_START's rules and arena (a rule left 0 keeps the default). */
static void take_rules(mbot_t *b, const MatchStart *s)
{
    if (s->tick_ms)
        b->tick_ms = s->tick_ms;
    b->time_limit_ms = s->time_limit_ms;
    if (s->arena_w > 0 && s->arena_h > 0) {
        b->arena_w = s->arena_w;
        b->arena_h = s->arena_h;
    }
    if (!s->rules)
        return;
    if (s->rules->player_speed > 0)
        b->speed = s->rules->player_speed;
    if (s->rules->attack_range > 0)
        b->attack_range = s->rules->attack_range;
    if (s->rules->move_window_ms)
        b->move_window_ms = s->rules->move_window_ms;
    b->cooldown_ms = s->rules->attack_cooldown_ms;
}

static int on_match_start(mflow_t *f, const MatchStart *s, uint64_t now)
{
    mbot_t *b = (mbot_t *)f;
    if (f->step == M_PLAY && s->match_id == f->match_id)
        return 0; /* started from a snapshot probe already */
    if (f->step != M_STARTING && f->step != M_QUEUE && f->step != M_QUEUED) {
        f->s.bot->run->st.stray_starts++;
        log_warn("stray_match_start", "bot=%u user=%s match=%" PRIu64 " step=%d",
                 f->s.bot->index, f->s.user, s->match_id, (int)f->step);
        return 0;
    }
    if (f->step == M_STARTING && s->match_id != f->match_id)
        log_warn("match_id_differs", "bot=%u game_starting=%" PRIu64 " match_start=%" PRIu64,
                 f->s.bot->index, f->match_id, s->match_id);
    if (s->room_id)
        f->room_id = s->room_id;
    match_reset(b);
    take_rules(b, s);
    int found = 0;
    for (size_t i = 0; i < s->n_players; i++)
        if (s->players[i] && s->players[i]->user_id == f->s.user_id) {
            take_player(b, s->players[i], 1);
            found = 1;
        }
    if (!found)
        log_warn("match_start_without_me", "bot=%u user=%s match=%" PRIu64, f->s.bot->index,
                 f->s.user, s->match_id);
    f->room_waiting = 0;
    play_begin(b, s->match_id, now);
    return 1;
}

/* The arena's own pushes: GAME_STATE_UPDATE, and GAME_SNAPSHOT_RESPONSE, which the gateway
 * pushes after its link to our game daemon healed (docs/protocol.md). */
static int match_push(mflow_t *f, uint16_t type, uint32_t seq, const uint8_t *payload,
                      size_t len, uint64_t now)
{
    mbot_t *b = (mbot_t *)f;
    run_t *run = f->s.bot->run;
    if (seq != 0 || f->step != M_PLAY)
        return 0;
    if (type == PACKET_TYPE__GAME_STATE_UPDATE) {
        GameStateUpdate *u = mf_unpack_push(run, &game_state_update__descriptor, payload, len);
        if (!u)
            return 0;
        on_update(b, u, now);
        return 1;
    }
    if (type == PACKET_TYPE__GAME_SNAPSHOT_RESPONSE) {
        GameSnapshotResponse *r =
            mf_unpack_push(run, &game_snapshot_response__descriptor, payload, len);
        if (!r)
            return 0;
        if (r->match_id == f->match_id)
            take_snapshot(b, r);
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ the run */

static int in_match_of(const mflow_t *f) { return in_match((const mbot_t *)f); }
static uint64_t *bot_match_clock(stats_t *st) { return &st->bot_match_ns; }

/* The traffic time is over in a match: the updates it got so far. */
static void at_stop(mflow_t *f)
{
    f->s.bot->run->st.updates_in_match += ((mbot_t *)f)->updates;
}

static void free_bot(mflow_t *f) { mg_spots_free(&((mbot_t *)f)->mons); }

static const mf_conf_t FLOW = {
    .acc = {M_LOGIN, M_REGISTER, M_LOGOUT, M_DONE, M_LEAVE, M_QUEUE},
    .queued = M_QUEUED,
    .play = M_PLAY,
    .ended = M_ENDED,
    .expected = expected_error,
    .gap_ns = gap_ns,
    .describe = describe,
    .act = match_act,
    .on_ok = match_on_ok,
    .on_error = match_on_error,
    .on_room_back = on_room_back,
    .on_game_starting = on_game_starting,
    .on_match_start = on_match_start,
    .on_game_over = on_game_over,
    .on_aborted = on_aborted,
    .on_push = match_push,
    .record_ok = record_ok,
    .in_match = in_match_of,
    .play_clock = bot_match_clock,
    .in_match_at_stop = at_stop,
    .free_bot = free_bot,
};

static int match_setup(scen_use_t *use, const config_t *cfg)
{
    if (mf_setup(use, cfg, &FLOW) != 0)
        return -1;
    hist_init(&use->run->st.queue_to_start_us);
    return 0;
}

_Static_assert(M_REGISTER == 0, "a zeroed mbot_t starts at REGISTER");
static void match_start(scen_use_t *use)
{
    mf_start(use, sizeof(mbot_t));
    for (uint32_t i = 0; i < mf_count(use); i++)
        match_reset((mbot_t *)mf_at(use, i));
}

const scenario_t SCENARIO_MATCH = {
    .name = "match",
    .accounts = 1,
    .setup = match_setup,
    .start = match_start,
    .passed = mf_passed, /* the flow's checks are all the match scenario adds */
    .hooks = &MF_HOOKS,
};
