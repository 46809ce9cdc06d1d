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
#include <uthash.h>

#include "alloc.h"
#include "log.h"
#include "module_games.h"
#include "rooms.h"
#include "util.h"

#define START_LOST_NS (15000 * MS)  /* no MATCH_START this long after GAME_STARTING: a failure */
#define END_GRACE_NS (10000 * MS)   /* no GAME_OVER this long past 2x the time limit: failure */
#define ROOM_BACK_NS (3000 * MS)    /* after GAME_OVER: LEAVE_ROOM anyway after this long */
#define FORMED_WAIT_NS (5000 * MS)  /* a quick-match room formed but never started: leave */
#define CHECK_DELAY_NS (200 * MS)   /* first GET_MATCH_HISTORY this long after GAME_OVER */
#define CHECK_RETRY_NS (1000 * MS)
#define CHECK_TRIES 6
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
    session_t s; /* first: a session_t * is an xbot_t * */
    xstep_t step;
    uint64_t room_id, match_id;
    int room_waiting, formed, placed, start_lost_counted, end_lost_counted;
    uint64_t formed_ns, starting_ns, start_ns, over_ns, next_step_ns, move_sent_ns;
    uint32_t time_limit_ms;
    mg_t g;
    /* the record check */
    uint64_t check_match, check_due_ns;
    int check_tries;
    uint32_t check_score;
    char check_outcome[8], check_summary[SUMMARY_MAX];
    uint32_t game_overs;
} xbot_t;

static sess_pool_t pool;
static uint64_t pace_ns, play_ns;
static const mg_game_t *game; /* NULL: a mode the bot plays passively */

typedef struct seen {
    uint64_t id;
    UT_hash_handle hh;
} seen_t;
static seen_t *seen;

static const sess_steps_t ACCOUNT_STEPS = {X_LOGIN, X_REGISTER, X_LOGOUT, X_DONE, X_LEAVE, X_QUEUE};

static int first_report(uint64_t match_id)
{
    seen_t *s;
    HASH_FIND(hh, seen, &match_id, sizeof match_id, s);
    if (s)
        return 0;
    s = xcalloc(1, sizeof *s);
    s->id = match_id;
    HASH_ADD(hh, seen, id, sizeof s->id, s);
    return 1;
}

static void sleep_until(xbot_t *b, uint64_t t, uint64_t now) { sess_sleep_until(&b->s, t, now); }

/* ------------------------------------------------------------------ requests */

static void send_simple(xbot_t *b, uint16_t type)
{
    switch (type) {
    case PACKET_TYPE__QUICK_MATCH_REQUEST: {
        QuickMatchRequest rq = QUICK_MATCH_REQUEST__INIT;
        rq.mode = run.mode;
        (void)sess_send(&b->s, type, &rq.base);
        break;
    }
    case PACKET_TYPE__LEAVE_ROOM_REQUEST:
        rooms_send_leave(&b->s);
        break;
    case PACKET_TYPE__PING_REQUEST:
        sess_send_ping(&b->s);
        break;
    case PACKET_TYPE__GET_MATCH_HISTORY_REQUEST: {
        GetMatchHistoryRequest rq = GET_MATCH_HISTORY_REQUEST__INIT;
        rq.page_size = 20;
        (void)sess_send(&b->s, type, &rq.base);
        break;
    }
    }
}

/* One MATCH_DATA_SEND, one-way: a refusal comes back as an ERROR_RESPONSE push. */
static void send_data(xbot_t *b, const mg_action_t *a, uint64_t now)
{
    module_stats_t *md = &run.st.md;
    MatchDataSend m = MATCH_DATA_SEND__INIT;
    m.op_code = a->op;
    m.data.data = (uint8_t *)a->data;
    m.data.len = a->len;
    if (!run_may_send())
        return;
    if (client_send(b->s.bot->c, PACKET_TYPE__MATCH_DATA_SEND, &m.base) < 0) {
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

static int idle_work(xbot_t *b, uint64_t now)
{
    if (b->check_match && now + SLACK_NS >= b->check_due_ns) {
        send_simple(b, PACKET_TYPE__GET_MATCH_HISTORY_REQUEST);
        return b->s.busy;
    }
    if (sess_keepalive_due(&b->s, now)) {
        send_simple(b, PACKET_TYPE__PING_REQUEST);
        return b->s.busy;
    }
    return 0;
}

static uint64_t idle_due(const xbot_t *b)
{
    uint64_t t = b->s.last_send_ns + KEEPALIVE_NS;
    if (b->check_match && b->check_due_ns < t)
        t = b->check_due_ns;
    return t;
}

static void act_play(xbot_t *b, uint64_t now)
{
    uint64_t limit_ns = (uint64_t)(b->time_limit_ms ? b->time_limit_ms : 180000) * 2u * MS;
    if (!b->end_lost_counted && now > b->start_ns + limit_ns + END_GRACE_NS) {
        b->end_lost_counted = 1;
        run.st.end_missing++;
        log_warn("game_over_missing", "bot=%u user=%s match=%" PRIu64 " mode=%s",
                 b->s.bot->index, b->s.user, b->match_id, run.mode);
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
    if (!idle_work(b, now))
        sleep_until(b, now + play_ns, now);
}

static void xb_act(xbot_t *b)
{
    if (!sess_can_act(&b->s))
        return;
    uint64_t now = mono_ns();
    switch (b->step) {
    case X_REGISTER:
    case X_LOGIN:
    case X_LOGOUT:
        (void)sess_act_account(&b->s, (int)b->step, &ACCOUNT_STEPS);
        break;
    case X_QUEUE:
        send_simple(b, PACKET_TYPE__QUICK_MATCH_REQUEST);
        break;
    case X_QUEUED: {
        if (b->placed && !b->start_lost_counted && now >= b->starting_ns + START_LOST_NS) {
            b->start_lost_counted = 1;
            run.st.start_missing++;
            log_warn("match_start_missing", "bot=%u user=%s match=%" PRIu64, b->s.bot->index,
                     b->s.user, b->match_id);
        }
        if (!b->placed && b->formed && now + SLACK_NS >= b->formed_ns + FORMED_WAIT_NS) {
            run.st.formed_not_started++;
            b->formed = 0;
            b->step = X_LEAVE;
            send_simple(b, PACKET_TYPE__LEAVE_ROOM_REQUEST);
            break;
        }
        if (!idle_work(b, now)) {
            uint64_t t = idle_due(b);
            if (b->formed && !b->placed && b->formed_ns + FORMED_WAIT_NS < t)
                t = b->formed_ns + FORMED_WAIT_NS;
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
        if (b->check_match && b->check_tries == 0) {
            if (now + SLACK_NS >= b->check_due_ns)
                send_simple(b, PACKET_TYPE__GET_MATCH_HISTORY_REQUEST);
            else
                sleep_until(b, b->check_due_ns, now);
            break;
        }
        if (b->room_waiting || now + SLACK_NS >= b->over_ns + ROOM_BACK_NS) {
            if (!b->room_waiting)
                run.st.room_back_late++;
            b->step = X_LEAVE;
            send_simple(b, PACKET_TYPE__LEAVE_ROOM_REQUEST);
            break;
        }
        if (!idle_work(b, now)) {
            uint64_t t = idle_due(b);
            if (b->over_ns + ROOM_BACK_NS < t)
                t = b->over_ns + ROOM_BACK_NS;
            sleep_until(b, t, now);
        }
        break;
    case X_LEAVE:
        send_simple(b, PACKET_TYPE__LEAVE_ROOM_REQUEST);
        break;
    case X_DONE:
        break;
    }
}

/* ------------------------------------------------------------------ responses */

static void check_record(xbot_t *b, const GetMatchHistoryResponse *r, uint64_t now)
{
    if (!b->check_match)
        return;
    for (size_t i = 0; i < r->n_matches; i++) {
        const MatchRecord *m = r->matches[i];
        if (!m || m->match_id != b->check_match)
            continue;
        const PlayerResult *me = m->me;
        int ok = me && m->outcome == MATCH_OUTCOME__FINISHED && strcmp(m->mode, run.mode) == 0 &&
                 strcmp(m->summary, b->check_summary) == 0 && me->score == b->check_score &&
                 strcmp(me->outcome, b->check_outcome) == 0;
        if (ok) {
            run.st.records_ok++;
        } else if (++run.st.records_mismatch <= 5) {
            log_warn("record_mismatch",
                     "bot=%u user=%s match=%" PRIu64 " outcome=%d mode=%s/%s score=%u/%u "
                     "player_outcome=%s/%s summary=\"%s\"/\"%s\" (record/game_over)",
                     b->s.bot->index, b->s.user, b->check_match, (int)m->outcome, m->mode,
                     run.mode, me ? me->score : 0, b->check_score, me ? me->outcome : "",
                     b->check_outcome, m->summary, b->check_summary);
        }
        b->check_match = 0;
        return;
    }
    if (++b->check_tries >= CHECK_TRIES) {
        if (++run.st.records_missing <= 5)
            log_warn("record_missing", "bot=%u user=%s match=%" PRIu64, b->s.bot->index,
                     b->s.user, b->check_match);
        b->check_match = 0;
        return;
    }
    b->check_due_ns = now + CHECK_RETRY_NS;
}

static int on_ok(session_t *s, uint16_t rq, const uint8_t *payload, size_t len, uint64_t now)
{
    xbot_t *b = (xbot_t *)s;
    rooms_account_t acc;
    int rc = rooms_account_ok(s, rq, payload, len, now, &ACCOUNT_STEPS, &acc);
    if (rc < 0)
        return -1;
    if (rc) {
        if (rq == PACKET_TYPE__LOGIN_REQUEST)
            b->room_id = acc.step == X_LEAVE ? acc.room->room_id : 0;
        b->step = (xstep_t)acc.step;
        return 0;
    }
    switch (rq) {
    case PACKET_TYPE__QUICK_MATCH_REQUEST: {
        QuickMatchResponse *r = (QuickMatchResponse *)pb_unpack(
            &run.arena, &quick_match_response__descriptor, payload, len);
        if (!r)
            return -1;
        run.st.quick_matches++;
        if (b->step == X_QUEUE) {
            b->step = X_QUEUED;
            b->formed = r->queued == 0;
            b->formed_ns = now;
        }
        return 0;
    }
    case PACKET_TYPE__LEAVE_ROOM_REQUEST:
        run.st.leaves++;
        b->room_id = 0;
        b->room_waiting = 0;
        if (b->step == X_LEAVE)
            b->step = X_QUEUE;
        return 0;
    case PACKET_TYPE__GET_MATCH_HISTORY_REQUEST: {
        GetMatchHistoryResponse *r = (GetMatchHistoryResponse *)pb_unpack(
            &run.arena, &get_match_history_response__descriptor, payload, len);
        if (!r)
            return -1;
        check_record(b, r, now);
        return 0;
    }
    case PACKET_TYPE__PING_REQUEST:
        return 0;
    }
    return -1;
}

static int expected_error(const session_t *s, uint16_t rq, int code)
{
    (void)s;
    return rooms_expected(rq, code);
}

static void on_error(session_t *s, uint16_t rq, int code, uint64_t now)
{
    xbot_t *b = (xbot_t *)s;
    int step = (int)b->step;
    if (sess_on_account_error(s, rq, code, now, &step, 0, &ACCOUNT_STEPS)) {
        b->step = (xstep_t)step;
        return;
    }
    switch (rq) {
    case PACKET_TYPE__QUICK_MATCH_REQUEST:
        if (code == ERROR_CODE__ALREADY_IN_ROOM && b->step == X_QUEUE)
            b->step = X_LEAVE;
        else if (code == ERROR_CODE__ALREADY_QUEUED && b->step == X_QUEUE)
            b->step = X_QUEUED;
        break;
    case PACKET_TYPE__LEAVE_ROOM_REQUEST:
        if (code == ERROR_CODE__ROOM_IN_GAME && b->step == X_LEAVE) {
            b->step = X_ENDED;
            b->room_waiting = 0;
            b->over_ns = now - ROOM_BACK_NS + 500 * MS;
        } else if (code == ERROR_CODE__NOT_IN_ROOM && b->step == X_LEAVE) {
            b->room_id = 0;
            b->step = X_QUEUE;
        }
        break;
    case PACKET_TYPE__GET_MATCH_HISTORY_REQUEST:
        if (b->check_match && ++b->check_tries >= CHECK_TRIES) {
            run.st.records_unchecked++;
            b->check_match = 0;
        }
        b->check_due_ns = now + CHECK_RETRY_NS;
        break;
    }
    if (!expected_error(s, rq, code))
        b->s.not_before_ns = now + 100 * MS;
}

static void ops_on_timeout(session_t *s, uint16_t rq)
{
    xbot_t *b = (xbot_t *)s;
    if (rq == PACKET_TYPE__LOGOUT_REQUEST && !b->s.final_logout)
        b->step = X_LOGIN;
}
static void ops_act(session_t *s) { xb_act((xbot_t *)s); }
static void ops_stop(session_t *s)
{
    if (sess_final_logout(s))
        ((xbot_t *)s)->step = X_LOGOUT;
}
static uint64_t ops_gap_ns(const session_t *s)
{
    return ((const xbot_t *)s)->step == X_PLAY ? 0 : pace_ns; /* play paces itself */
}
static void ops_describe(const session_t *s, char *out, size_t n)
{
    const xbot_t *b = (const xbot_t *)s;
    snprintf(out, n, " step=%d match=%" PRIu64 " mode=%s", (int)b->step, b->match_id, run.mode);
}

static const session_ops_t MODULE_OPS = {
    .on_ok = on_ok,
    .expected = expected_error,
    .on_error = on_error,
    .on_timeout = ops_on_timeout,
    .act = ops_act,
    .stop = ops_stop,
    .gap_ns = ops_gap_ns,
    .describe = ops_describe,
};

/* ------------------------------------------------------------------ pushes */

static void play_end(xbot_t *b, uint64_t now)
{
    if (b->step == X_PLAY && b->start_ns)
        run.st.md.play_ns += now - b->start_ns;
    b->start_ns = 0;
    b->over_ns = now;
    b->step = X_ENDED;
    b->placed = 0;
    b->move_sent_ns = 0;
}

static void on_match_data(xbot_t *b, const MatchData *d, uint64_t now)
{
    module_stats_t *md = &run.st.md;
    md->data_in++;
    md->data_in_bytes += d->data.len;
    if (b->step != X_PLAY)
        return;
    mg_news_t news;
    if (mg_on_data(game, &b->g, d->op_code, d->data.data, d->data.len, now, &news) != 0) {
        if (++run.st.bad_pushes <= 5)
            log_warn("bad_match_data", "bot=%u mode=%s op=%u len=%zu", b->s.bot->index,
                     run.mode, d->op_code, d->data.len);
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
            log_warn("module_refused", "bot=%u mode=%s op=%u code=%d", b->s.bot->index, run.mode,
                     news.refused_op, news.refused_code);
        }
    }
}

static void on_game_over(xbot_t *b, const GameOver *g, uint64_t now)
{
    stats_t *st = &run.st;
    st->game_overs++;
    if (b->step != X_PLAY || (b->match_id && g->match_id != b->match_id)) {
        st->stray_ends++;
        if (b->step != X_PLAY)
            return;
    }
    if (strcmp(g->mode, run.mode) != 0)
        st->md.mode_mismatch++;
    if (first_report(g->match_id)) {
        st->matches_completed++;
        if (g->outcome == MATCH_OUTCOME__FINISHED)
            st->md.finished++;
        hist_record(&st->match_duration_us, g->duration_ms ? (uint64_t)g->duration_ms * 1000u : 1);
        if (!g->summary[0])
            st->md.summary_missing++;
    }
    if (++b->game_overs == 1)
        st->bots_with_game_over++;
    if (b->check_match)
        st->records_unchecked++;
    b->check_match = 0;
    for (size_t i = 0; i < g->n_results; i++) {
        const PlayerResult *r = g->results[i];
        if (!r || r->user_id != b->s.user_id)
            continue;
        if (strcmp(r->outcome, "win") == 0)
            st->md.wins++;
        else if (strcmp(r->outcome, "loss") == 0)
            st->md.losses++;
        else if (strcmp(r->outcome, "draw") == 0)
            st->md.draws++;
        else
            st->md.bad_outcomes++;
        st->player_score += r->score;
        b->check_match = g->match_id;
        b->check_score = r->score;
        snprintf(b->check_outcome, sizeof b->check_outcome, "%s", r->outcome);
        snprintf(b->check_summary, sizeof b->check_summary, "%s", g->summary);
        b->check_tries = 0;
        b->check_due_ns = now + CHECK_DELAY_NS;
    }
    if (!b->check_match)
        st->results_without_me++;
    if (g->room_id)
        b->room_id = g->room_id;
    play_end(b, now);
}

static void on_aborted(xbot_t *b, const MatchAborted *a, uint64_t now)
{
    run.st.match_aborts++;
    if (b->step != X_PLAY && !b->placed) {
        run.st.stray_ends++;
        return;
    }
    log_warn("match_aborted", "bot=%u user=%s match=%" PRIu64 " mode=%s reason=\"%s\"",
             b->s.bot->index, b->s.user, a->match_id, run.mode, a->reason ? a->reason : "");
    if (first_report(a->match_id ? a->match_id : b->match_id))
        run.st.matches_aborted++;
    play_end(b, now);
}

static void on_game_starting(xbot_t *b, const GameStarting *g, uint64_t now)
{
    if ((b->step != X_QUEUE && b->step != X_QUEUED) || !g->match_id) {
        if (!(b->step == X_PLAY && g->match_id == b->match_id))
            run.st.stray_starts++;
        return;
    }
    if (strcmp(g->mode, run.mode) != 0) {
        run.st.md.mode_mismatch++;
        log_warn("mode_mismatch", "bot=%u match=%" PRIu64 " game_starting_mode=%s ours=%s",
                 b->s.bot->index, g->match_id, g->mode, run.mode);
    }
    b->room_id = g->room_id;
    b->match_id = g->match_id;
    b->room_waiting = 0;
    b->step = X_QUEUED;
    b->placed = 1;
    b->starting_ns = now;
    b->start_lost_counted = 0;
}

static void on_match_start(xbot_t *b, const MatchStart *m, uint64_t now)
{
    if (b->step == X_PLAY && m->match_id == b->match_id)
        return;
    if (b->step != X_QUEUED && b->step != X_QUEUE) {
        run.st.stray_starts++;
        return;
    }
    if (m->mode[0] && strcmp(m->mode, run.mode) != 0)
        run.st.md.mode_mismatch++;
    mg_reset(&b->g, b->s.user_id);
    b->match_id = m->match_id;
    if (m->room_id)
        b->room_id = m->room_id;
    b->time_limit_ms = m->time_limit_ms;
    b->room_waiting = 0;
    b->step = X_PLAY;
    b->start_ns = now;
    b->next_step_ns = now;
    b->end_lost_counted = 0;
    b->move_sent_ns = 0;
    run.st.match_starts++;
}

/* A frame with a seq that is not pending: the refusal of a MATCH_DATA_SEND. */
static void on_send_refused(xbot_t *b, const uint8_t *payload, size_t len)
{
    module_stats_t *md = &run.st.md;
    const char *msg = NULL;
    int code = error_code_of(payload, len, &msg);
    md->send_errors[code <= ERR_CODES ? code : ERR_CODES]++;
    /* NOT_IN_GAME: a send that crossed the end of the match */
    if (code == ERROR_CODE__NOT_IN_GAME && b->step != X_PLAY)
        return;
    if (++md->send_errors_unexpected <= 5)
        log_warn("match_data_refused", "bot=%u user=%s code=%s message=\"%s\" step=%d",
                 b->s.bot->index, b->s.user, error_code_name(code), msg ? msg : "",
                 (int)b->step);
}

#define UNPACK(T, desc) ((T *)pb_unpack(&run.arena, &desc, payload, len))

static void module_on_push(bot_t *bot, uint16_t type, uint32_t seq, const uint8_t *payload,
                           size_t len)
{
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
        MatchData *d = UNPACK(MatchData, match_data__descriptor);
        if (!d) {
            run.st.bad_pushes++;
            return;
        }
        on_match_data(b, d, now);
        break; /* wake: the bot may have something to do now */
    }
    case PACKET_TYPE__ROOM_UPDATE: {
        RoomUpdate *u = UNPACK(RoomUpdate, room_update__descriptor);
        if (!u || !u->room)
            return;
        if (!b->room_id && (b->step == X_QUEUE || b->step == X_QUEUED))
            b->room_id = u->room->room_id;
        if (u->room->room_id == b->room_id && u->room->status == ROOM_STATUS__WAITING) {
            if (b->step == X_QUEUED && b->placed) {
                run.st.ended_before_start++;
                play_end(b, now);
            }
            b->room_waiting = 1;
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
        GameOver *g = UNPACK(GameOver, game_over__descriptor);
        if (!g) {
            run.st.bad_pushes++;
            return;
        }
        on_game_over(b, g, now);
        break;
    }
    case PACKET_TYPE__MATCH_ABORTED: {
        MatchAborted *a = UNPACK(MatchAborted, match_aborted__descriptor);
        if (!a) {
            run.st.bad_pushes++;
            return;
        }
        on_aborted(b, a, now);
        break;
    }
    case PACKET_TYPE__KICKED:
        b->s.logged_in = 0;
        return;
    default:
        return;
    }
    if (!b->s.busy)
        sess_wake(&b->s);
}

/* ------------------------------------------------------------------ the run */

static uint64_t stop_ns;

static void at_stop(session_t *s)
{
    xbot_t *b = (xbot_t *)s;
    if (b->step == X_PLAY || b->placed) {
        run.st.in_match_at_stop++;
        if (b->step == X_PLAY && b->start_ns)
            run.st.md.play_ns += stop_ns - b->start_ns;
        b->start_ns = 0;
    }
    if (b->check_match)
        run.st.records_unchecked++;
    b->check_match = 0;
}

static void module_on_stop(void)
{
    stop_ns = mono_ns();
    sess_pool_stop(&pool, at_stop);
}

static void module_on_finish(void) { sess_pool_close(&pool); }

static void module_cleanup(void)
{
    for (uint32_t i = 0; i < pool.n; i++)
        mg_free(&((xbot_t *)sess_pool_at(&pool, i))->g);
    sess_pool_free(&pool);
    seen_t *s, *tmp;
    HASH_ITER(hh, seen, s, tmp)
    {
        HASH_DEL(seen, s);
        xfree(s);
    }
}

static int module_setup(const config_t *cfg)
{
    if (sess_setup(cfg) != 0)
        return -1;
    game = mg_game_find(run.mode);
    if (!game)
        log_warn("mode_played_passively", "mode=%s reason=\"the bot knows no ops of this mode: it "
                 "sends nothing and waits for GAME_OVER\"", run.mode);
    pace_ns = sess_rate_interval();
    play_ns = run.match_interval_ms * MS;
    if (pace_ns > play_ns)
        play_ns = pace_ns;
    hist_init(&run.st.match_duration_us);
    hist_init(&run.st.md.rtt_us);
    return 0;
}

_Static_assert(X_REGISTER == 0, "a zeroed xbot_t starts at REGISTER");
static void module_start(void)
{
    sess_pool_start(&pool, &SCENARIO_MODULE, sizeof(xbot_t), &MODULE_OPS);
}

static int module_passed(void)
{
    const stats_t *st = &run.st;
    const module_stats_t *md = &st->md;
    return st->bots_logged_in == run.account_bots && st->matches_completed > 0 &&
           md->finished == st->matches_completed && st->start_missing == 0 &&
           st->end_missing == 0 && st->records_mismatch == 0 && st->bad_pushes == 0 &&
           md->mode_mismatch == 0 && md->bad_outcomes == 0 && md->summary_missing == 0 &&
           md->refused_unexpected == 0 && md->send_errors_unexpected == 0 &&
           md->data_send_failed == 0 && pushes_of(PACKET_TYPE__KICKED) == 0;
}

const scenario_t SCENARIO_MODULE = {
    .name = "module",
    .accounts = 1,
    .setup = module_setup,
    .start = module_start,
    .on_connected = sess_on_connected,
    .on_push = module_on_push,
    .on_gone = sess_on_gone,
    .on_stop = module_on_stop,
    .on_finish = module_on_finish,
    .cleanup = module_cleanup,
    .passed = module_passed,
};
