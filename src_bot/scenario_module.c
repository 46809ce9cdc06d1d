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
    const mg_game_t *game; /* the player of --mode; NULL: played passively */
    int placed;
    uint64_t next_step_ns, move_sent_ns;
    uint32_t time_limit_ms;
    mg_t g;
    /* what the record must say */
    uint32_t check_score;
    char check_outcome[8], check_summary[SUMMARY_MAX];
} xbot_t;

static const char *mode_of(const mflow_t *f) { return f->s.bot->run->mode; }

static void sleep_until(xbot_t *b, uint64_t t, uint64_t now) { sess_sleep_until(&b->f.s, t, now); }

/* ------------------------------------------------------------------ requests */

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
    uint64_t play_ns = mf_of(&b->f)->play_ns;
    uint64_t limit_ns = (uint64_t)(b->time_limit_ms ? b->time_limit_ms : 180000) * 2u * MS;
    if (mf_end_lost(&b->f, b->f.start_ns + limit_ns, now))
        log_warn("game_over_missing", "bot=%u user=%s match=%" PRIu64 " mode=%s",
                 b->f.s.bot->index, b->f.s.user, b->f.match_id, mode_of(&b->f));
    if (now + SLACK_NS < b->next_step_ns) {
        sleep_until(b, b->next_step_ns, now);
        return;
    }
    mg_action_t a;
    if (mg_next(b->game, &b->g, now, play_ns, &a)) {
        send_data(b, &a, now);
        b->next_step_ns = now + play_ns;
        sleep_until(b, b->next_step_ns, now);
        return;
    }
    /* nothing worth sending: keep-alive or the record check, else look again in a while */
    if (!mf_idle_work(&b->f, now))
        sleep_until(b, now + play_ns, now);
}

/* Queued, or placed and waiting for MATCH_START. */
static void act_queued(xbot_t *b, uint64_t now)
{
    mflow_t *f = &b->f;
    if (b->placed && mf_start_lost(f, now))
        log_warn("match_start_missing", "bot=%u user=%s match=%" PRIu64, f->s.bot->index,
                 f->s.user, f->match_id);
    if (!b->placed && mf_leave_unstarted(f, now))
        return;
    if (!mf_idle_work(f, now)) {
        uint64_t t = mf_idle_due(f, !b->placed);
        if (b->placed && !f->start_lost_counted && f->starting_ns + MF_START_LOST_NS < t)
            t = f->starting_ns + MF_START_LOST_NS;
        sleep_until(b, t, now);
    }
}

/* The scenario's steps (the flow takes the account, ended, leave and done). */
static void module_act(mflow_t *f, uint64_t now)
{
    xbot_t *b = (xbot_t *)f;
    switch ((xstep_t)f->step) {
    case X_QUEUE:
        (void)mf_send_quick_match(f, mode_of(f));
        break;
    case X_QUEUED:
        act_queued(b, now);
        break;
    case X_PLAY:
        act_play(b, now);
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------------ responses */

/* The record says what GAME_OVER said: mode, summary, FINISHED, our score and outcome. */
static int record_ok(const mflow_t *f, const MatchRecord *m, int may_log)
{
    const xbot_t *b = (const xbot_t *)f;
    const PlayerResult *me = m->me;
    const char *mode = mode_of(f);
    int ok = me && m->outcome == MATCH_OUTCOME__FINISHED && strcmp(m->mode, mode) == 0 &&
             strcmp(m->summary, b->check_summary) == 0 && me->score == b->check_score &&
             strcmp(me->outcome, b->check_outcome) == 0;
    if (!ok && may_log)
        log_warn("record_mismatch",
                 "bot=%u user=%s match=%" PRIu64 " outcome=%d mode=%s/%s score=%u/%u "
                 "player_outcome=%s/%s summary=\"%s\"/\"%s\" (record/game_over)",
                 f->s.bot->index, f->s.user, f->check_match, (int)m->outcome, m->mode, mode,
                 me ? me->score : 0, b->check_score, me ? me->outcome : "", b->check_outcome,
                 m->summary, b->check_summary);
    return ok;
}

static int expected_error(const session_t *s, uint16_t rq, int code)
{
    (void)s;
    return rooms_expected(rq, code);
}

static uint64_t gap_ns(const session_t *s)
{
    const mflow_t *f = (const mflow_t *)s;
    return f->step == X_PLAY ? 0 : mf_of(f)->pace_ns; /* play paces itself */
}

static void describe(const session_t *s, char *out, size_t n)
{
    const mflow_t *f = (const mflow_t *)s;
    snprintf(out, n, " step=%d match=%" PRIu64 " mode=%s", (int)f->step, f->match_id,
             mode_of(f));
}

/* ------------------------------------------------------------------ pushes */

static void play_end(xbot_t *b, uint64_t now)
{
    mf_play_end(&b->f, now);
    b->placed = 0;
    b->move_sent_ns = 0;
}

/* What MATCH_DATA told the bot about itself, counted. */
static void count_news(xbot_t *b, const mg_news_t *news, uint64_t now)
{
    module_stats_t *md = &b->f.s.bot->run->st.md;
    if (news->moved && b->move_sent_ns) {
        uint64_t us = (now - b->move_sent_ns) / 1000u;
        hist_record(&md->rtt_us, us ? us : 1);
        b->move_sent_ns = 0;
    }
    md->clamps += (uint64_t)news->clamped;
    md->kills += (uint64_t)news->killed;
    md->deaths += (uint64_t)news->died;
    md->tagged += (uint64_t)news->tagged;
    md->tags_suffered += (uint64_t)news->tagged_by_player;
    if (!news->refused)
        return;
    if (mg_refusal_expected(news->refused_code))
        md->refused_expected++;
    else if (++md->refused_unexpected <= 5)
        log_warn("module_refused", "bot=%u mode=%s op=%u code=%d", b->f.s.bot->index,
                 mode_of(&b->f), news->refused_op, news->refused_code);
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
    if (mg_on_data(b->game, &b->g, d->op_code, d->data.data, d->data.len, now, &news) != 0) {
        if (++run->st.bad_pushes <= 5)
            log_warn("bad_match_data", "bot=%u mode=%s op=%u len=%zu", b->f.s.bot->index,
                     run->mode, d->op_code, d->data.len);
        return;
    }
    count_news(b, &news, now);
}

/* A player's outcome in GAME_OVER, counted by kind. */
static void count_outcome(module_stats_t *md, const char *outcome)
{
    if (strcmp(outcome, "win") == 0)
        md->wins++;
    else if (strcmp(outcome, "loss") == 0)
        md->losses++;
    else if (strcmp(outcome, "draw") == 0)
        md->draws++;
    else
        md->bad_outcomes++;
}

static void on_game_over(mflow_t *f, const GameOver *g, uint64_t now)
{
    xbot_t *b = (xbot_t *)f;
    stats_t *st = &f->s.bot->run->st;
    st->game_overs++;
    if (f->step != X_PLAY || (f->match_id && g->match_id != f->match_id)) {
        st->stray_ends++;
        if (f->step != X_PLAY)
            return;
    }
    if (strcmp(g->mode, mode_of(f)) != 0)
        st->md.mode_mismatch++;
    if (mf_first_game_over(f, g)) {
        if (g->outcome == MATCH_OUTCOME__FINISHED)
            st->md.finished++;
        if (!g->summary[0])
            st->md.summary_missing++;
    }
    const PlayerResult *r = mf_game_over(f, g, now);
    if (r) {
        count_outcome(&st->md, r->outcome);
        b->check_score = r->score;
        snprintf(b->check_outcome, sizeof b->check_outcome, "%s", r->outcome);
        snprintf(b->check_summary, sizeof b->check_summary, "%s", g->summary);
    }
    play_end(b, now);
}

static void on_aborted(mflow_t *f, const MatchAborted *a, uint64_t now)
{
    xbot_t *b = (xbot_t *)f;
    stats_t *st = &f->s.bot->run->st;
    st->match_aborts++;
    if (f->step != X_PLAY && !b->placed) {
        st->stray_ends++;
        return;
    }
    log_warn("match_aborted", "bot=%u user=%s match=%" PRIu64 " mode=%s reason=\"%s\"",
             f->s.bot->index, f->s.user, a->match_id, mode_of(f), a->reason ? a->reason : "");
    if (mf_first_report(f, a->match_id ? a->match_id : f->match_id))
        st->matches_aborted++;
    play_end(b, now);
}

/* Our room is waiting again: placed and never started, the match ended before it started. */
static void on_room_back(mflow_t *f, const RoomUpdate *u, uint64_t now)
{
    (void)u;
    if (f->step == X_QUEUED && ((xbot_t *)f)->placed) {
        f->s.bot->run->st.ended_before_start++;
        play_end((xbot_t *)f, now);
    }
}

static int on_game_starting(mflow_t *f, const GameStarting *g, uint64_t now)
{
    stats_t *st = &f->s.bot->run->st;
    if ((f->step != X_QUEUE && f->step != X_QUEUED) || !g->match_id) {
        if (!(f->step == X_PLAY && g->match_id == f->match_id))
            st->stray_starts++;
        return 1;
    }
    if (strcmp(g->mode, mode_of(f)) != 0) {
        st->md.mode_mismatch++;
        log_warn("mode_mismatch", "bot=%u match=%" PRIu64 " game_starting_mode=%s ours=%s",
                 f->s.bot->index, g->match_id, g->mode, mode_of(f));
    }
    mf_placed(f, g, X_QUEUED, now);
    ((xbot_t *)f)->placed = 1;
    return 1;
}

static int on_match_start(mflow_t *f, const MatchStart *m, uint64_t now)
{
    xbot_t *b = (xbot_t *)f;
    stats_t *st = &f->s.bot->run->st;
    if (f->step == X_PLAY && m->match_id == f->match_id)
        return 1;
    if (f->step != X_QUEUED && f->step != X_QUEUE) {
        st->stray_starts++;
        return 1;
    }
    if (m->mode[0] && strcmp(m->mode, mode_of(f)) != 0)
        st->md.mode_mismatch++;
    mg_reset(&b->g, f->s.user_id);
    if (m->room_id)
        f->room_id = m->room_id;
    b->time_limit_ms = m->time_limit_ms;
    f->room_waiting = 0;
    mf_play_begin(f, m->match_id, now);
    b->next_step_ns = now;
    b->move_sent_ns = 0;
    return 1;
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

/* The module's own frames: MATCH_DATA pushes, and the refusals of MATCH_DATA_SEND (a frame
 * with the seq of the one-way send). */
static int module_push(mflow_t *f, uint16_t type, uint32_t seq, const uint8_t *payload,
                       size_t len, uint64_t now)
{
    xbot_t *b = (xbot_t *)f;
    if (seq != 0) {
        if (type == PACKET_TYPE__ERROR_RESPONSE)
            on_send_refused(b, payload, len);
        return 0;
    }
    if (type != PACKET_TYPE__MATCH_DATA)
        return 0;
    MatchData *d = mf_unpack_push(f->s.bot->run, &match_data__descriptor, payload, len);
    if (!d)
        return 0;
    on_match_data(b, d, now);
    return 1; /* the bot may have something to do now */
}

/* ------------------------------------------------------------------ the run */

static int in_match(const mflow_t *f) { return f->step == X_PLAY || ((const xbot_t *)f)->placed; }
static uint64_t *play_clock(stats_t *st) { return &st->md.play_ns; }
static void free_bot(mflow_t *f) { mg_free(&((xbot_t *)f)->g); }

static const mf_conf_t FLOW = {
    .acc = {X_LOGIN, X_REGISTER, X_LOGOUT, X_DONE, X_LEAVE, X_QUEUE},
    .queued = X_QUEUED,
    .play = X_PLAY,
    .ended = X_ENDED,
    .expected = expected_error,
    .gap_ns = gap_ns,
    .describe = describe,
    .act = module_act,
    .on_room_back = on_room_back,
    .on_game_starting = on_game_starting,
    .on_match_start = on_match_start,
    .on_game_over = on_game_over,
    .on_aborted = on_aborted,
    .on_push = module_push,
    .record_ok = record_ok,
    .in_match = in_match,
    .play_clock = play_clock,
    .free_bot = free_bot,
};

static int module_setup(scen_use_t *use, const config_t *cfg)
{
    run_t *run = use->run;
    if (mf_setup(use, cfg, &FLOW) != 0)
        return -1;
    if (!mg_game_find(run->mode))
        log_warn("mode_played_passively", "mode=%s reason=\"the bot knows no ops of this mode: it "
                 "sends nothing and waits for GAME_OVER\"", run->mode);
    hist_init(&run->st.md.rtt_us);
    return 0;
}

_Static_assert(X_REGISTER == 0, "a zeroed xbot_t starts at REGISTER");
static void module_start(scen_use_t *use)
{
    mf_start(use, sizeof(xbot_t));
    for (uint32_t i = 0; i < mf_count(use); i++)
        ((xbot_t *)mf_at(use, i))->game = mg_game_find(use->run->mode);
}

static int module_passed(const run_t *run)
{
    const stats_t *st = &run->st;
    const module_stats_t *md = &st->md;
    return mf_passed(run) && md->finished == st->matches_completed && md->mode_mismatch == 0 &&
           md->bad_outcomes == 0 && md->summary_missing == 0 && md->refused_unexpected == 0 &&
           md->send_errors_unexpected == 0 && md->data_send_failed == 0;
}

const scenario_t SCENARIO_MODULE = {
    .name = "module",
    .accounts = 1,
    .setup = module_setup,
    .start = module_start,
    .passed = module_passed,
    .hooks = &MF_HOOKS,
};
