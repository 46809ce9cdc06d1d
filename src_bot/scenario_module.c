/* scenario module: bots play a game module (--mode, default arena_lua) over MATCH_DATA. Every
 * bot registers and logs in, then loops: QUICK_MATCH(mode); the lobby forms a room of that
 * mode and places it (GAME_STARTING, whose mode must be ours) on a game daemon serving it;
 * MATCH_START; the bot plays (module_games.c: one MATCH_DATA_SEND per --match-interval-ms at
 * most, one-way) until GAME_OVER or MATCH_ABORTED; it waits for its room to be back, reads
 * its GET_MATCH_HISTORY (the record must say what GAME_OVER said: mode, summary, FINISHED,
 * its score and outcome), LEAVE_ROOMs and queues again, until --duration; then LOGOUT.
 *
 * Counted: MATCH_DATA out and in (count, bytes, per second), each MOVE's round trip (sent ->
 * the module's broadcast of the accepted position: the latency a player feels), the module's
 * REFUSED ops (expected: a monster gone since the last update, a cooldown seen late, a move
 * after death; anything else is a bot or module bug), ERROR_RESPONSEs to MATCH_DATA_SEND
 * (NOT_IN_GAME right after the end is expected), MATCH_DATA that does not fit its op's layout
 * (bad pushes), and the outcomes of GAME_OVER per player. */
#include <inttypes.h>
#include <string.h>

#include "log.h"
#include "match_flow.h"
#include "module_games.h"
#include "util.h"

#define START_LOST_NS (15000 * MS)  /* no MATCH_START this long after GAME_STARTING: a failure */
#define END_GRACE_NS (10000 * MS)   /* no GAME_OVER this long past 2x the time limit: failure */
#define RTT_LOST_NS (2000 * MS)     /* a MOVE without its echo this long: measure the next */
#define SUMMARY_MAX 256

typedef enum {
    X_REGISTER = 0,
    X_LOGIN,
    X_QUEUE,  /* logged in, in no room: QUICK_MATCH */
    X_QUEUED, /* queued, or placed (GAME_STARTING): waiting for MATCH_START */
    X_PLAY,   /* in a match until GAME_OVER / MATCH_ABORTED */
    X_ENDED,  /* waiting for the room to be back (and the record check) */
    X_LEAVE,
    X_LOGOUT,
    X_DONE,
} xstep_t;

typedef struct xbot {
    mflow_t f; /* first: a session_t * is an xbot_t *; f.step is an xstep_t */
    int placed, start_lost_counted, end_lost_counted;
    uint64_t starting_ns, start_ns, next_step_ns, move_sent_ns;
    uint32_t time_limit_ms;
    mg_t g;
    /* what the record must say */
    uint32_t check_score;
    char check_outcome[8], check_summary[SUMMARY_MAX];
} xbot_t;

static uint64_t pace_ns, play_ns;
static const mg_game_t *game; /* NULL: a mode the bot plays passively */

#define ACCOUNT_STEPS_INIT {X_LOGIN, X_REGISTER, X_LOGOUT, X_DONE, X_LEAVE, X_QUEUE}
static const sess_steps_t ACCOUNT_STEPS = ACCOUNT_STEPS_INIT;

static void sleep_until(xbot_t *b, uint64_t t, uint64_t now) { sess_sleep_until(&b->f.s, t, now); }

/* ------------------------------------------------------------------ requests */

static void send_simple(xbot_t *b, uint16_t type)
{
    run_t *run = b->f.s.bot->run;
    switch (type) {
    case PACKET_TYPE__QUICK_MATCH_REQUEST: {
        QuickMatchRequest rq = QUICK_MATCH_REQUEST__INIT;
        rq.mode = run->mode;
        (void)sess_send(&b->f.s, type, &rq.base);
        break;
    }
    case PACKET_TYPE__LEAVE_ROOM_REQUEST:
        rooms_send_leave(&b->f.s);
        break;
    }
}

/* One MATCH_DATA_SEND, one-way: a refusal comes back as an ERROR_RESPONSE push. */
static void send_data(xbot_t *b, const mg_action_t *a, uint64_t now)
{
    run_t *run = b->f.s.bot->run;
    module_stats_t *md = &run->st.md;
    MatchDataSend m = MATCH_DATA_SEND__INIT;
    m.op_code = a->op;
    m.data.data = (uint8_t *)a->data;
    m.data.len = a->len;
    if (!run_may_send(run))
        return;
    if (client_send(b->f.s.bot->c, PACKET_TYPE__MATCH_DATA_SEND, &m.base) < 0) {
        md->data_send_failed++;
        return;
    }
    md->data_sent++;
    md->data_sent_bytes += a->len;
    if (a->is_move) {
        md->moves++;
        if (!b->move_sent_ns || now > b->move_sent_ns + RTT_LOST_NS)
            b->move_sent_ns = now;
    }
}

static void act_play(xbot_t *b, uint64_t now)
{
    run_t *run = b->f.s.bot->run;
    uint64_t limit_ns = (uint64_t)(b->time_limit_ms ? b->time_limit_ms : 180000) * 2u * MS;
    if (!b->end_lost_counted && now > b->start_ns + limit_ns + END_GRACE_NS) {
        b->end_lost_counted = 1;
        run->st.end_missing++;
        log_warn("game_over_missing", "bot=%u user=%s match=%" PRIu64 " mode=%s",
                 b->f.s.bot->index, b->f.s.user, b->f.match_id, run->mode);
    }
    if (now + SLACK_NS < b->next_step_ns) {
        sleep_until(b, b->next_step_ns, now);
        return;
    }
    mg_action_t a;
    if (mg_next(game, &b->g, now, play_ns, &a)) {
        send_data(b, &a, now);
        b->next_step_ns = now + play_ns;
        sleep_until(b, b->next_step_ns, now);
        return;
    }
    /* nothing worth sending: keep-alive or the record check, else look again in a while */
    if (!mf_idle_work(&b->f, now))
        sleep_until(b, now + play_ns, now);
}

static void xb_act(xbot_t *b)
{
    run_t *run = b->f.s.bot->run;
    if (!sess_can_act(&b->f.s))
        return;
    uint64_t now = mono_ns();
    switch ((xstep_t)b->f.step) {
    case X_REGISTER:
    case X_LOGIN:
    case X_LOGOUT:
        (void)sess_act_account(&b->f.s, (int)b->f.step, &ACCOUNT_STEPS);
        break;
    case X_QUEUE:
        send_simple(b, PACKET_TYPE__QUICK_MATCH_REQUEST);
        break;
    case X_QUEUED: {
        if (b->placed && !b->start_lost_counted && now >= b->starting_ns + START_LOST_NS) {
            b->start_lost_counted = 1;
            run->st.start_missing++;
            log_warn("match_start_missing", "bot=%u user=%s match=%" PRIu64, b->f.s.bot->index,
                     b->f.s.user, b->f.match_id);
        }
        if (!b->placed && mf_leave_unstarted(&b->f, now))
            break;
        if (!mf_idle_work(&b->f, now)) {
            uint64_t t = mf_idle_due(&b->f, !b->placed);
            if (b->placed && !b->start_lost_counted && b->starting_ns + START_LOST_NS < t)
                t = b->starting_ns + START_LOST_NS;
            sleep_until(b, t, now);
        }
        break;
    }
    case X_PLAY:
        act_play(b, now);
        break;
    case X_ENDED:
        mf_act_ended(&b->f, now);
        break;
    case X_LEAVE:
        send_simple(b, PACKET_TYPE__LEAVE_ROOM_REQUEST);
        break;
    case X_DONE:
        break;
    }
}

/* ------------------------------------------------------------------ responses */

/* The record says what GAME_OVER said: mode, summary, FINISHED, our score and outcome. */
static int record_ok(const mflow_t *f, const MatchRecord *m, int may_log)
{
    run_t *run = f->s.bot->run;
    const xbot_t *b = (const xbot_t *)f;
    const PlayerResult *me = m->me;
    int ok = me && m->outcome == MATCH_OUTCOME__FINISHED && strcmp(m->mode, run->mode) == 0 &&
             strcmp(m->summary, b->check_summary) == 0 && me->score == b->check_score &&
             strcmp(me->outcome, b->check_outcome) == 0;
    if (!ok && may_log)
        log_warn("record_mismatch",
                 "bot=%u user=%s match=%" PRIu64 " outcome=%d mode=%s/%s score=%u/%u "
                 "player_outcome=%s/%s summary=\"%s\"/\"%s\" (record/game_over)",
                 f->s.bot->index, f->s.user, f->check_match, (int)m->outcome, m->mode, run->mode,
                 me ? me->score : 0, b->check_score, me ? me->outcome : "", b->check_outcome,
                 m->summary, b->check_summary);
    return ok;
}

static int on_ok(session_t *s, uint16_t rq, const uint8_t *payload, size_t len, uint64_t now)
{
    return mf_on_ok((mflow_t *)s, rq, payload, len, now) == 1 ? 0 : -1;
}

static int expected_error(const session_t *s, uint16_t rq, int code)
{
    (void)s;
    return rooms_expected(rq, code);
}

static void on_error(session_t *s, uint16_t rq, int code, uint64_t now)
{
    if (mf_on_error((mflow_t *)s, rq, code, now))
        return;
    if (!expected_error(s, rq, code))
        s->not_before_ns = now + 100 * MS;
}

static void ops_act(session_t *s) { xb_act((xbot_t *)s); }
static uint64_t ops_gap_ns(const session_t *s)
{
    return ((const mflow_t *)s)->step == X_PLAY ? 0 : pace_ns; /* play paces itself */
}
static void ops_describe(const session_t *s, char *out, size_t n)
{
    run_t *run = s->bot->run;
    const xbot_t *b = (const xbot_t *)s;
    snprintf(out, n, " step=%d match=%" PRIu64 " mode=%s", (int)b->f.step, b->f.match_id, run->mode);
}

static const session_ops_t MODULE_OPS = {
    .on_ok = on_ok,
    .expected = expected_error,
    .on_error = on_error,
    .on_timeout = mf_on_timeout,
    .act = ops_act,
    .stop = mf_stop,
    .gap_ns = ops_gap_ns,
    .describe = ops_describe,
};

/* ------------------------------------------------------------------ pushes */

static void play_end(xbot_t *b, uint64_t now)
{
    run_t *run = b->f.s.bot->run;
    if (b->f.step == X_PLAY && b->start_ns)
        run->st.md.play_ns += now - b->start_ns;
    b->start_ns = 0;
    b->f.over_ns = now;
    b->f.step = X_ENDED;
    b->placed = 0;
    b->move_sent_ns = 0;
}

static void on_match_data(xbot_t *b, const MatchData *d, uint64_t now)
{
    run_t *run = b->f.s.bot->run;
    module_stats_t *md = &run->st.md;
    md->data_in++;
    md->data_in_bytes += d->data.len;
    if (b->f.step != X_PLAY)
        return;
    mg_news_t news;
    if (mg_on_data(game, &b->g, d->op_code, d->data.data, d->data.len, now, &news) != 0) {
        if (++run->st.bad_pushes <= 5)
            log_warn("bad_match_data", "bot=%u mode=%s op=%u len=%zu", b->f.s.bot->index,
                     run->mode, d->op_code, d->data.len);
        return;
    }
    if (news.moved && b->move_sent_ns) {
        uint64_t us = (now - b->move_sent_ns) / 1000u;
        hist_record(&md->rtt_us, us ? us : 1);
        b->move_sent_ns = 0;
    }
    md->clamps += (uint64_t)news.clamped;
    md->kills += (uint64_t)news.killed;
    md->deaths += (uint64_t)news.died;
    md->tagged += (uint64_t)news.tagged;
    md->tags_suffered += (uint64_t)news.tagged_by_player;
    if (news.refused) {
        if (mg_refusal_expected(news.refused_code)) {
            md->refused_expected++;
        } else if (++md->refused_unexpected <= 5) {
            log_warn("module_refused", "bot=%u mode=%s op=%u code=%d", b->f.s.bot->index, run->mode,
                     news.refused_op, news.refused_code);
        }
    }
}

static void on_game_over(xbot_t *b, const GameOver *g, uint64_t now)
{
    run_t *run = b->f.s.bot->run;
    stats_t *st = &run->st;
    st->game_overs++;
    if (b->f.step != X_PLAY || (b->f.match_id && g->match_id != b->f.match_id)) {
        st->stray_ends++;
        if (b->f.step != X_PLAY)
            return;
    }
    if (strcmp(g->mode, run->mode) != 0)
        st->md.mode_mismatch++;
    if (mf_first_report(g->match_id)) {
        st->matches_completed++;
        if (g->outcome == MATCH_OUTCOME__FINISHED)
            st->md.finished++;
        hist_record(&st->match_duration_us, g->duration_ms ? (uint64_t)g->duration_ms * 1000u : 1);
        if (!g->summary[0])
            st->md.summary_missing++;
    }
    const PlayerResult *r = mf_game_over(&b->f, g, now);
    if (r) {
        if (strcmp(r->outcome, "win") == 0)
            st->md.wins++;
        else if (strcmp(r->outcome, "loss") == 0)
            st->md.losses++;
        else if (strcmp(r->outcome, "draw") == 0)
            st->md.draws++;
        else
            st->md.bad_outcomes++;
        b->check_score = r->score;
        snprintf(b->check_outcome, sizeof b->check_outcome, "%s", r->outcome);
        snprintf(b->check_summary, sizeof b->check_summary, "%s", g->summary);
    }
    play_end(b, now);
}

static void on_aborted(xbot_t *b, const MatchAborted *a, uint64_t now)
{
    run_t *run = b->f.s.bot->run;
    run->st.match_aborts++;
    if (b->f.step != X_PLAY && !b->placed) {
        run->st.stray_ends++;
        return;
    }
    log_warn("match_aborted", "bot=%u user=%s match=%" PRIu64 " mode=%s reason=\"%s\"",
             b->f.s.bot->index, b->f.s.user, a->match_id, run->mode, a->reason ? a->reason : "");
    if (mf_first_report(a->match_id ? a->match_id : b->f.match_id))
        run->st.matches_aborted++;
    play_end(b, now);
}

static void on_game_starting(xbot_t *b, const GameStarting *g, uint64_t now)
{
    run_t *run = b->f.s.bot->run;
    if ((b->f.step != X_QUEUE && b->f.step != X_QUEUED) || !g->match_id) {
        if (!(b->f.step == X_PLAY && g->match_id == b->f.match_id))
            run->st.stray_starts++;
        return;
    }
    if (strcmp(g->mode, run->mode) != 0) {
        run->st.md.mode_mismatch++;
        log_warn("mode_mismatch", "bot=%u match=%" PRIu64 " game_starting_mode=%s ours=%s",
                 b->f.s.bot->index, g->match_id, g->mode, run->mode);
    }
    b->f.room_id = g->room_id;
    b->f.match_id = g->match_id;
    b->f.room_waiting = 0;
    b->f.step = X_QUEUED;
    b->placed = 1;
    b->starting_ns = now;
    b->start_lost_counted = 0;
}

static void on_match_start(xbot_t *b, const MatchStart *m, uint64_t now)
{
    run_t *run = b->f.s.bot->run;
    if (b->f.step == X_PLAY && m->match_id == b->f.match_id)
        return;
    if (b->f.step != X_QUEUED && b->f.step != X_QUEUE) {
        run->st.stray_starts++;
        return;
    }
    if (m->mode[0] && strcmp(m->mode, run->mode) != 0)
        run->st.md.mode_mismatch++;
    mg_reset(&b->g, b->f.s.user_id);
    b->f.match_id = m->match_id;
    if (m->room_id)
        b->f.room_id = m->room_id;
    b->time_limit_ms = m->time_limit_ms;
    b->f.room_waiting = 0;
    b->f.step = X_PLAY;
    b->start_ns = now;
    b->next_step_ns = now;
    b->end_lost_counted = 0;
    b->move_sent_ns = 0;
    run->st.match_starts++;
}

/* A frame with a seq that is not pending: the refusal of a MATCH_DATA_SEND. */
static void on_send_refused(xbot_t *b, const uint8_t *payload, size_t len)
{
    run_t *run = b->f.s.bot->run;
    module_stats_t *md = &run->st.md;
    const char *msg = NULL;
    int code = error_code_of(run, payload, len, &msg);
    md->send_errors[code <= ERR_CODES ? code : ERR_CODES]++;
    /* NOT_IN_GAME: a send that crossed the end of the match; MATCH_OVER: one sent after the
     * match ended and before its GAME_OVER came (it waits for the record to be durable) */
    if ((code == ERROR_CODE__NOT_IN_GAME && b->f.step != X_PLAY) || code == ERROR_CODE__MATCH_OVER)
        return;
    if (++md->send_errors_unexpected <= 5)
        log_warn("match_data_refused", "bot=%u user=%s code=%s message=\"%s\" step=%d",
                 b->f.s.bot->index, b->f.s.user, error_code_name(code), msg ? msg : "",
                 (int)b->f.step);
}

#define UNPACK(T, desc) ((T *)pb_unpack(&run->arena, &desc, payload, len))

static void module_on_push(bot_t *bot, uint16_t type, uint32_t seq, const uint8_t *payload,
                           size_t len)
{
    run_t *run = bot->run;
    xbot_t *b = bot->sc;
    if (!b)
        return;
    if (seq != 0) {
        if (type == PACKET_TYPE__ERROR_RESPONSE)
            on_send_refused(b, payload, len);
        return;
    }
    uint64_t now = mono_ns();
    switch (type) {
    case PACKET_TYPE__MATCH_DATA: {
        MatchData *d = mf_unpack_push(run, &match_data__descriptor, payload, len);
        if (!d)
            return;
        on_match_data(b, d, now);
        break; /* wake: the bot may have something to do now */
    }
    case PACKET_TYPE__ROOM_UPDATE: {
        RoomUpdate *u = UNPACK(RoomUpdate, room_update__descriptor);
        if (!u || !u->room)
            return;
        if (mf_room_update(&b->f, u) && b->f.step == X_QUEUED && b->placed) {
            run->st.ended_before_start++;
            play_end(b, now);
        }
        break;
    }
    case PACKET_TYPE__GAME_STARTING: {
        GameStarting *g = UNPACK(GameStarting, game_starting__descriptor);
        if (g)
            on_game_starting(b, g, now);
        break;
    }
    case PACKET_TYPE__MATCH_START: {
        MatchStart *m = UNPACK(MatchStart, match_start__descriptor);
        if (m)
            on_match_start(b, m, now);
        break;
    }
    case PACKET_TYPE__GAME_OVER: {
        GameOver *g = mf_unpack_push(run, &game_over__descriptor, payload, len);
        if (!g)
            return;
        on_game_over(b, g, now);
        break;
    }
    case PACKET_TYPE__MATCH_ABORTED: {
        MatchAborted *a = mf_unpack_push(run, &match_aborted__descriptor, payload, len);
        if (!a)
            return;
        on_aborted(b, a, now);
        break;
    }
    case PACKET_TYPE__KICKED:
        b->f.s.logged_in = 0;
        return;
    default:
        return;
    }
    if (!b->f.s.busy)
        sess_wake(&b->f.s);
}

/* ------------------------------------------------------------------ the run */

static void at_stop(mflow_t *f, uint64_t stop_ns)
{
    run_t *run = f->s.bot->run;
    xbot_t *b = (xbot_t *)f;
    if (f->step == X_PLAY || b->placed) {
        run->st.in_match_at_stop++;
        if (f->step == X_PLAY && b->start_ns)
            run->st.md.play_ns += stop_ns - b->start_ns;
        b->start_ns = 0;
    }
}

static void free_bot(mflow_t *f) { mg_free(&((xbot_t *)f)->g); }

static const mf_conf_t FLOW = {
    .acc = ACCOUNT_STEPS_INIT,
    .queued = X_QUEUED,
    .ended = X_ENDED,
    .record_ok = record_ok,
    .at_stop = at_stop,
    .free_bot = free_bot,
};

static int module_setup(run_t *run, const config_t *cfg)
{
    if (mf_setup(run, cfg, &FLOW, &pace_ns, &play_ns) != 0)
        return -1;
    game = mg_game_find(run->mode);
    if (!game)
        log_warn("mode_played_passively", "mode=%s reason=\"the bot knows no ops of this mode: it "
                 "sends nothing and waits for GAME_OVER\"", run->mode);
    hist_init(&run->st.md.rtt_us);
    return 0;
}

_Static_assert(X_REGISTER == 0, "a zeroed xbot_t starts at REGISTER");
static void module_start(run_t *run)
{
    mf_start(run, &SCENARIO_MODULE, sizeof(xbot_t), &MODULE_OPS);
}
static int module_passed(const run_t *run)
{
    const stats_t *st = &run->st;
    const module_stats_t *md = &st->md;
    return st->bots_logged_in == run->account_bots && st->matches_completed > 0 &&
           md->finished == st->matches_completed && st->start_missing == 0 &&
           st->end_missing == 0 && st->records_mismatch == 0 && st->bad_pushes == 0 &&
           md->mode_mismatch == 0 && md->bad_outcomes == 0 && md->summary_missing == 0 &&
           md->refused_unexpected == 0 && md->send_errors_unexpected == 0 &&
           md->data_send_failed == 0 && pushes_of(run, PACKET_TYPE__KICKED) == 0;
}

const scenario_t SCENARIO_MODULE = {
    .name = "module",
    .accounts = 1,
    .setup = module_setup,
    .start = module_start,
    .on_connected = sess_on_connected,
    .on_push = module_on_push,
    .on_gone = sess_on_gone,
    .on_stop = mf_on_stop,
    .on_finish = mf_on_finish,
    .cleanup = mf_cleanup,
    .passed = module_passed,
};
