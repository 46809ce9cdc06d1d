/* match_flow: the loop around the play that the match and module scenarios share. */
#include "match_flow.h"

#include <inttypes.h>
#include <uthash.h>

#include "alloc.h"
#include "log.h"
#include "util.h"

/* Matches seen ended, by id: counted once however many of their players report them. */
typedef struct mf_seen {
    uint64_t id;
    UT_hash_handle hh;
} seen_t;

mf_t *mf_of(const mflow_t *f) { return f->s.scen; }
static const mf_conf_t *conf_of(const mflow_t *f) { return mf_of(f)->conf; }

int mf_first_report(mflow_t *f, uint64_t match_id)
{
    mf_t *mf = mf_of(f);
    seen_t *s;
    HASH_FIND(hh, mf->seen, &match_id, sizeof match_id, s);
    if (s)
        return 0;
    s = xcalloc(1, sizeof *s);
    s->id = match_id;
    HASH_ADD(hh, mf->seen, id, sizeof s->id, s);
    return 1;
}

int mf_first_game_over(mflow_t *f, const GameOver *g)
{
    stats_t *st = &f->s.bot->run->st;
    if (!mf_first_report(f, g->match_id))
        return 0;
    st->matches_completed++;
    hist_record(&st->match_duration_us, g->duration_ms ? (uint64_t)g->duration_ms * 1000u : 1);
    return 1;
}

/* ------------------------------------------------------------------ the session's hooks */

static void act_ended(mflow_t *f, uint64_t now);
static int flow_ok(mflow_t *f, uint16_t rq, const uint8_t *payload, size_t len, uint64_t now);
static int flow_error(mflow_t *f, uint16_t rq, int code, uint64_t now);

/* Sends the bot's next request, or sleeps until one is due: the flow's steps here, the
 * scenario's (queue, queued, play, ...) in its act. */
static void flow_act(session_t *s)
{
    mflow_t *f = (mflow_t *)s;
    const mf_conf_t *conf = conf_of(f);
    if (!sess_can_act(s))
        return;
    uint64_t now = mono_ns();
    if (sess_act_account(s, f->step, &conf->acc) || f->step == conf->acc.done)
        return;
    if (f->step == conf->ended)
        act_ended(f, now);
    else if (f->step == conf->acc.leave)
        rooms_send_leave(s);
    else
        conf->act(f, now);
}

static int flow_on_ok(session_t *s, uint16_t rq, const uint8_t *payload, size_t len,
                      uint64_t now)
{
    mflow_t *f = (mflow_t *)s;
    const mf_conf_t *conf = conf_of(f);
    int rc = flow_ok(f, rq, payload, len, now); /* account, queue, room, record */
    if (rc)
        return rc < 0 ? -1 : 0;
    return conf->on_ok ? conf->on_ok(f, rq, payload, len, now) : -1;
}

static int flow_expected(const session_t *s, uint16_t rq, int code)
{
    return conf_of((const mflow_t *)s)->expected(s, rq, code);
}

/* An error: the flow's part, the scenario's, and a pause after an unexpected one. */
static void flow_on_error(session_t *s, uint16_t rq, int code, uint64_t now)
{
    mflow_t *f = (mflow_t *)s;
    const mf_conf_t *conf = conf_of(f);
    if (flow_error(f, rq, code, now))
        return;
    if (conf->on_error)
        conf->on_error(f, rq, code, now);
    if (!conf->expected(s, rq, code))
        s->not_before_ns = now + 100 * MS;
}

static void flow_on_timeout(session_t *s, uint16_t rq)
{
    if (rq == PACKET_TYPE__LOGOUT_REQUEST && !s->final_logout)
        ((mflow_t *)s)->step = conf_of((mflow_t *)s)->acc.login;
}

/* The traffic time is over: the final logout. */
static void flow_stop(session_t *s)
{
    if (sess_final_logout(s))
        ((mflow_t *)s)->step = conf_of((mflow_t *)s)->acc.logout;
}

static uint64_t flow_gap_ns(const session_t *s)
{
    return conf_of((const mflow_t *)s)->gap_ns(s);
}

static void flow_describe(const session_t *s, char *out, size_t n)
{
    const mf_conf_t *conf = conf_of((const mflow_t *)s);
    if (conf->describe)
        conf->describe(s, out, n);
}

static const session_ops_t FLOW_OPS = {
    .on_ok = flow_on_ok,
    .expected = flow_expected,
    .on_error = flow_on_error,
    .on_timeout = flow_on_timeout,
    .act = flow_act,
    .stop = flow_stop,
    .gap_ns = flow_gap_ns,
    .describe = flow_describe,
};

/* ------------------------------------------------------------------ the run */

int mf_setup(scen_use_t *use, const config_t *cfg, const mf_conf_t *conf)
{
    run_t *run = use->run;
    if (sess_setup(use, cfg) != 0)
        return -1;
    mf_t *mf = xcalloc(1, sizeof *mf);
    use->state = mf;
    mf->conf = conf;
    mf->pace_ns = sess_rate_interval(run);
    mf->play_ns = run->match_interval_ms * MS;
    if (mf->pace_ns > mf->play_ns)
        mf->play_ns = mf->pace_ns;
    hist_init(&run->st.match_duration_us);
    return 0;
}

void mf_start(scen_use_t *use, size_t bot_size)
{
    sess_pool_start(use->state, use, bot_size, &FLOW_OPS);
}

mflow_t *mf_at(const scen_use_t *use, uint32_t i)
{
    const mf_t *mf = use->state;
    return (mflow_t *)sess_pool_at(&mf->pool, i);
}

uint32_t mf_count(const scen_use_t *use) { return ((const mf_t *)use->state)->pool.n; }

/* The traffic time is over, before the final logout: what a match in progress counted so
 * far, and a record check that will not come. */
static void at_stop(session_t *s)
{
    mflow_t *f = (mflow_t *)s;
    run_t *run = s->bot->run;
    const mf_conf_t *conf = conf_of(f);
    if (conf->in_match(f)) {
        run->st.in_match_at_stop++;
        if (f->step == conf->play && f->start_ns)
            *conf->play_clock(&run->st) += run->t_stop - f->start_ns;
        if (conf->in_match_at_stop)
            conf->in_match_at_stop(f);
        f->start_ns = 0;
    }
    if (f->check_match)
        run->st.records_unchecked++;
    f->check_match = 0;
}

static void mf_on_stop(scen_use_t *use)
{
    mf_t *mf = use->state;
    sess_pool_stop(&mf->pool, at_stop);
}

static void mf_cleanup(scen_use_t *use)
{
    mf_t *mf = use->state;
    if (!mf)
        return;
    if (mf->conf->free_bot)
        for (uint32_t i = 0; i < mf->pool.n; i++)
            mf->conf->free_bot(mf_at(use, i));
    seen_t *s, *tmp;
    HASH_ITER(hh, mf->seen, s, tmp)
    {
        HASH_DEL(mf->seen, s);
        xfree(s);
    }
    sess_cleanup(use);
}

int mf_passed(const run_t *run)
{
    const stats_t *st = &run->st;
    return st->bots_logged_in == run->account_bots && st->matches_completed > 0 &&
           st->start_missing == 0 && st->end_missing == 0 && st->records_mismatch == 0 &&
           st->bad_pushes == 0 && pushes_of(run, PACKET_TYPE__KICKED) == 0;
}

/* ------------------------------------------------------------------ acting */

static void send_history(mflow_t *f)
{
    GetMatchHistoryRequest rq = GET_MATCH_HISTORY_REQUEST__INIT;
    rq.page = 0;
    rq.page_size = 20;
    (void)sess_send(&f->s, PACKET_TYPE__GET_MATCH_HISTORY_REQUEST, &rq.base);
}

int mf_idle_work(mflow_t *f, uint64_t now)
{
    if (f->check_match && now + SLACK_NS >= f->check_due_ns) {
        send_history(f);
        return f->s.busy;
    }
    if (sess_keepalive_due(&f->s, now)) {
        sess_send_ping(&f->s);
        return f->s.busy;
    }
    return 0;
}

uint64_t mf_idle_due(const mflow_t *f, int with_formed)
{
    uint64_t t = f->s.last_send_ns + KEEPALIVE_NS;
    if (f->check_match && f->check_due_ns < t)
        t = f->check_due_ns;
    if (with_formed && f->formed && f->formed_ns + MF_FORMED_WAIT_NS < t)
        t = f->formed_ns + MF_FORMED_WAIT_NS;
    return t;
}

int mf_leave_unstarted(mflow_t *f, uint64_t now)
{
    run_t *run = f->s.bot->run;
    if (!f->formed || now + SLACK_NS < f->formed_ns + MF_FORMED_WAIT_NS)
        return 0;
    run->st.formed_not_started++;
    f->formed = 0;
    f->step = conf_of(f)->acc.leave;
    rooms_send_leave(&f->s);
    return 1;
}

/* The ended step: reads the record back once, then LEAVE_ROOMs as soon as the room is back
 * (or after MF_ROOM_BACK_NS anyway); else idle work, or sleeps until something is due. */
static void act_ended(mflow_t *f, uint64_t now)
{
    run_t *run = f->s.bot->run;
    if (f->check_match && f->check_tries == 0) {
        /* read the record back once before queueing again (retries come when idle) */
        if (now + SLACK_NS >= f->check_due_ns)
            send_history(f);
        else
            sess_sleep_until(&f->s, f->check_due_ns, now);
        return;
    }
    if (f->room_waiting || now + SLACK_NS >= f->over_ns + MF_ROOM_BACK_NS) {
        if (!f->room_waiting)
            run->st.room_back_late++;
        f->step = conf_of(f)->acc.leave;
        rooms_send_leave(&f->s);
        return;
    }
    if (!mf_idle_work(f, now)) {
        uint64_t t = mf_idle_due(f, 0);
        if (f->over_ns + MF_ROOM_BACK_NS < t)
            t = f->over_ns + MF_ROOM_BACK_NS;
        sess_sleep_until(&f->s, t, now);
    }
}

int mf_send_quick_match(mflow_t *f, const char *mode)
{
    QuickMatchRequest rq = QUICK_MATCH_REQUEST__INIT;
    if (mode)
        rq.mode = (char *)mode;
    return sess_send(&f->s, PACKET_TYPE__QUICK_MATCH_REQUEST, &rq.base);
}

int mf_start_lost(mflow_t *f, uint64_t now)
{
    if (f->start_lost_counted || now < f->starting_ns + MF_START_LOST_NS)
        return 0;
    f->start_lost_counted = 1;
    f->s.bot->run->st.start_missing++;
    return 1;
}

int mf_end_lost(mflow_t *f, uint64_t deadline_ns, uint64_t now)
{
    if (f->end_lost_counted || now <= deadline_ns + MF_END_GRACE_NS)
        return 0;
    f->end_lost_counted = 1;
    f->s.bot->run->st.end_missing++;
    return 1;
}

void mf_placed(mflow_t *f, const GameStarting *g, int step, uint64_t now)
{
    f->room_id = g->room_id;
    f->room_waiting = 0;
    f->match_id = g->match_id;
    f->formed = 0;
    f->step = step;
    f->starting_ns = now;
    f->start_lost_counted = 0;
}

void mf_play_begin(mflow_t *f, uint64_t match_id, uint64_t now)
{
    f->match_id = match_id;
    f->step = conf_of(f)->play;
    f->start_ns = now;
    f->end_lost_counted = 0;
    f->s.bot->run->st.match_starts++;
}

void mf_play_end(mflow_t *f, uint64_t now)
{
    const mf_conf_t *conf = conf_of(f);
    if (f->step == conf->play && f->start_ns)
        *conf->play_clock(&f->s.bot->run->st) += now - f->start_ns;
    f->start_ns = 0;
    f->over_ns = now;
    f->step = conf->ended;
}

/* ------------------------------------------------------------------ responses */

static void check_record(mflow_t *f, const GetMatchHistoryResponse *r, uint64_t now)
{
    run_t *run = f->s.bot->run;
    if (!f->check_match)
        return;
    for (size_t i = 0; i < r->n_matches; i++) {
        const MatchRecord *m = r->matches[i];
        if (!m || m->match_id != f->check_match)
            continue;
        if (conf_of(f)->record_ok(f, m, run->st.records_mismatch < 5))
            run->st.records_ok++;
        else
            run->st.records_mismatch++;
        f->check_match = 0;
        return;
    }
    if (++f->check_tries >= MF_CHECK_TRIES) {
        if (++run->st.records_missing <= 5)
            log_warn("record_missing", "bot=%u user=%s match=%" PRIu64 " tries=%d",
                     f->s.bot->index, f->s.user, f->check_match, f->check_tries);
        f->check_match = 0;
        return;
    }
    f->check_due_ns = now + MF_CHECK_RETRY_NS;
}

/* The ok responses the flow handles: the account's, QUICK_MATCH, LEAVE_ROOM, PING and
 * GET_MATCH_HISTORY (the record check). Returns 1 when handled, 0 for the scenario's other
 * requests (nothing done), -1 when the payload does not decode. */
static int flow_ok(mflow_t *f, uint16_t rq, const uint8_t *payload, size_t len, uint64_t now)
{
    run_t *run = f->s.bot->run;
    const mf_conf_t *conf = conf_of(f);
    rooms_account_t acc;
    int rc = rooms_account_ok(&f->s, rq, payload, len, now, &conf->acc, &acc);
    if (rc < 0)
        return -1;
    if (rc) { /* REGISTER, LOGIN, LOGOUT */
        if (rq == PACKET_TYPE__LOGIN_REQUEST) /* still in a waiting room: leave it */
            f->room_id = acc.step == conf->acc.leave ? acc.room->room_id : 0;
        f->step = acc.step;
        return 1;
    }
    switch (rq) {
    case PACKET_TYPE__QUICK_MATCH_REQUEST: {
        QuickMatchResponse *r = (QuickMatchResponse *)pb_unpack(
            &run->arena, &quick_match_response__descriptor, payload, len);
        if (!r)
            return -1;
        run->st.quick_matches++;
        if (f->step == conf->acc.idle) { /* GAME_STARTING may have come first */
            f->step = conf->queued;
            f->formed = r->queued == 0;
            f->formed_ns = now;
        }
        return 1;
    }
    case PACKET_TYPE__LEAVE_ROOM_REQUEST:
        run->st.leaves++;
        f->room_id = 0;
        f->room_waiting = 0;
        if (f->step == conf->acc.leave)
            f->step = conf->acc.idle;
        return 1;
    case PACKET_TYPE__GET_MATCH_HISTORY_REQUEST: {
        GetMatchHistoryResponse *r = (GetMatchHistoryResponse *)pb_unpack(
            &run->arena, &get_match_history_response__descriptor, payload, len);
        if (!r)
            return -1;
        check_record(f, r, now);
        return 1;
    }
    case PACKET_TYPE__PING_REQUEST:
        return 1;
    }
    return 0;
}

/* The errors the flow handles: the account's (returns 1: nothing else to do), QUICK_MATCH,
 * LEAVE_ROOM and GET_MATCH_HISTORY (returns 0, as for the scenario's other requests). */
static int flow_error(mflow_t *f, uint16_t rq, int code, uint64_t now)
{
    run_t *run = f->s.bot->run;
    const mf_conf_t *conf = conf_of(f);
    int step = f->step;
    if (sess_on_account_error(&f->s, rq, code, now, &step, 0, &conf->acc)) {
        f->step = step;
        return 1;
    }
    switch (rq) {
    case PACKET_TYPE__QUICK_MATCH_REQUEST:
        if (code == ERROR_CODE__ALREADY_IN_ROOM && f->step == conf->acc.idle)
            f->step = conf->acc.leave;
        else if (code == ERROR_CODE__ALREADY_QUEUED && f->step == conf->acc.idle)
            f->step = conf->queued;
        break;
    case PACKET_TYPE__LEAVE_ROOM_REQUEST:
        if (code == ERROR_CODE__ROOM_IN_GAME && f->step == conf->acc.leave) {
            /* the room is not back yet: wait for its update (or try again in a while) */
            f->step = conf->ended;
            f->room_waiting = 0;
            f->over_ns = now - MF_ROOM_BACK_NS + 500 * MS;
        } else if (code == ERROR_CODE__NOT_IN_ROOM && f->step == conf->acc.leave) {
            f->room_id = 0;
            f->step = conf->acc.idle;
        }
        break;
    case PACKET_TYPE__GET_MATCH_HISTORY_REQUEST:
        if (f->check_match && ++f->check_tries >= MF_CHECK_TRIES) {
            run->st.records_unchecked++;
            f->check_match = 0;
        }
        f->check_due_ns = now + MF_CHECK_RETRY_NS;
        break;
    }
    return 0;
}

/* ------------------------------------------------------------------ pushes */

/* A ROOM_UPDATE: takes the room of a quick match just formed; returns 1 (room_waiting set)
 * when our room is waiting again, else 0. */
static int room_update(mflow_t *f, const RoomUpdate *u)
{
    const mf_conf_t *conf = conf_of(f);
    if (!f->room_id && (f->step == conf->acc.idle || f->step == conf->queued))
        f->room_id = u->room->room_id; /* the quick-match room just formed */
    if (u->room->room_id != f->room_id || u->room->status != ROOM_STATUS__WAITING)
        return 0;
    f->room_waiting = 1;
    return 1;
}

const PlayerResult *mf_game_over(mflow_t *f, const GameOver *g, uint64_t now)
{
    run_t *run = f->s.bot->run;
    stats_t *st = &run->st;
    const PlayerResult *mine = NULL;
    if (++f->game_overs == 1)
        st->bots_with_game_over++;
    if (f->check_match)
        st->records_unchecked++; /* the previous one never got its turn */
    f->check_match = 0;
    for (size_t i = 0; i < g->n_results; i++) {
        const PlayerResult *r = g->results[i];
        if (!r || r->user_id != f->s.user_id)
            continue;
        mine = r;
        st->player_score += r->score;
        f->check_match = g->match_id;
        f->check_tries = 0;
        f->check_due_ns = now + MF_CHECK_DELAY_NS;
    }
    if (!mine)
        st->results_without_me++;
    if (g->room_id)
        f->room_id = g->room_id;
    return mine;
}

void *mf_unpack_push(run_t *run, const ProtobufCMessageDescriptor *desc, const uint8_t *payload, size_t len)
{
    void *m = pb_unpack(&run->arena, desc, payload, len);
    if (!m)
        run->st.bad_pushes++;
    return m;
}

/* The pushes every flow scenario gets, decoded and handed to its hooks. Returns 1 when the
 * bot is to act now. */
static int flow_push(mflow_t *f, uint16_t type, const uint8_t *payload, size_t len, uint64_t now)
{
    run_t *run = f->s.bot->run;
    const mf_conf_t *conf = conf_of(f);
    switch (type) {
    case PACKET_TYPE__ROOM_UPDATE: {
        RoomUpdate *u = (RoomUpdate *)pb_unpack(&run->arena, &room_update__descriptor, payload, len);
        if (!u || !u->room)
            return 0;
        if (room_update(f, u)) /* (in play: handed back before our GAME_OVER came) */
            conf->on_room_back(f, u, now);
        return 1;
    }
    case PACKET_TYPE__GAME_STARTING: {
        GameStarting *g =
            (GameStarting *)pb_unpack(&run->arena, &game_starting__descriptor, payload, len);
        return g && conf->on_game_starting(f, g, now);
    }
    case PACKET_TYPE__MATCH_START: {
        MatchStart *m = (MatchStart *)pb_unpack(&run->arena, &match_start__descriptor, payload, len);
        return m && conf->on_match_start(f, m, now);
    }
    case PACKET_TYPE__GAME_OVER: {
        GameOver *g = mf_unpack_push(run, &game_over__descriptor, payload, len);
        if (g)
            conf->on_game_over(f, g, now);
        return g != NULL;
    }
    case PACKET_TYPE__MATCH_ABORTED: {
        MatchAborted *a = mf_unpack_push(run, &match_aborted__descriptor, payload, len);
        if (a)
            conf->on_aborted(f, a, now);
        return a != NULL;
    }
    case PACKET_TYPE__KICKED:
        f->s.logged_in = 0; /* the gateway closes the connection next */
        return 0;
    default:
        return conf->on_push(f, type, 0, payload, len, now);
    }
}

static void mf_on_push(bot_t *bot, uint16_t type, uint32_t seq, const uint8_t *payload,
                       size_t len)
{
    mflow_t *f = bot->sc;
    if (!f)
        return;
    if (seq != 0) {
        (void)conf_of(f)->on_push(f, type, seq, payload, len, 0);
        return;
    }
    if (flow_push(f, type, payload, len, mono_ns()) && !f->s.busy)
        sess_wake(&f->s);
}

const scenario_hooks_t MF_HOOKS = {
    .base = &SESS_HOOKS,
    .on_push = mf_on_push,
    .on_stop = mf_on_stop,
    .cleanup = mf_cleanup,
};
