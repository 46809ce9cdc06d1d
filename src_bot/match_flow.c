/* match_flow: the loop around the play that the match and module scenarios share. */
#include "match_flow.h"

#include <inttypes.h>
#include <uthash.h>

#include "alloc.h"
#include "log.h"
#include "util.h"

static const mf_conf_t *conf;
static sess_pool_t pool;

/* Matches seen ended, by id: counted once however many of their players report them. */
typedef struct seen {
    uint64_t id;
    UT_hash_handle hh;
} seen_t;
static seen_t *seen;

int mf_first_report(uint64_t match_id)
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

/* ------------------------------------------------------------------ the run */

int mf_setup(run_t *run, const config_t *cfg, const mf_conf_t *c, uint64_t *pace_ns,
             uint64_t *play_ns)
{
    if (sess_setup(run, cfg) != 0)
        return -1;
    conf = c;
    *pace_ns = sess_rate_interval(run);
    *play_ns = run->match_interval_ms * MS;
    if (*pace_ns > *play_ns)
        *play_ns = *pace_ns;
    hist_init(&run->st.match_duration_us);
    return 0;
}

void mf_start(run_t *run, const scenario_t *sc, size_t bot_size, const session_ops_t *ops)
{
    sess_pool_start(&pool, run, sc, bot_size, ops);
}

uint32_t mf_count(void) { return pool.n; }
mflow_t *mf_at(uint32_t i) { return (mflow_t *)sess_pool_at(&pool, i); }

static void at_stop(session_t *s)
{
    run_t *run = s->bot->run;
    mflow_t *f = (mflow_t *)s;
    conf->at_stop(f, run->t_stop);
    if (f->check_match)
        run->st.records_unchecked++;
    f->check_match = 0;
}

void mf_on_stop(run_t *run)
{
    (void)run; /* at_stop reads the stop time off each bot's run */
    sess_pool_stop(&pool, at_stop);
}

void mf_on_finish(run_t *run)
{
    (void)run;
    sess_pool_close(&pool);
}

void mf_cleanup(run_t *run)
{
    (void)run;
    if (conf && conf->free_bot)
        for (uint32_t i = 0; i < pool.n; i++)
            conf->free_bot(mf_at(i));
    sess_pool_free(&pool);
    seen_t *s, *tmp;
    HASH_ITER(hh, seen, s, tmp)
    {
        HASH_DEL(seen, s);
        xfree(s);
    }
}

void mf_on_timeout(session_t *s, uint16_t rq)
{
    if (rq == PACKET_TYPE__LOGOUT_REQUEST && !s->final_logout)
        ((mflow_t *)s)->step = conf->acc.login;
}

/* The traffic time is over: the final logout. */
void mf_stop(session_t *s)
{
    if (sess_final_logout(s))
        ((mflow_t *)s)->step = conf->acc.logout;
}

/* ------------------------------------------------------------------ acting */

void mf_send_history(mflow_t *f)
{
    GetMatchHistoryRequest rq = GET_MATCH_HISTORY_REQUEST__INIT;
    rq.page = 0;
    rq.page_size = 20;
    (void)sess_send(&f->s, PACKET_TYPE__GET_MATCH_HISTORY_REQUEST, &rq.base);
}

int mf_idle_work(mflow_t *f, uint64_t now)
{
    if (f->check_match && now + SLACK_NS >= f->check_due_ns) {
        mf_send_history(f);
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
    f->step = conf->acc.leave;
    rooms_send_leave(&f->s);
    return 1;
}

void mf_act_ended(mflow_t *f, uint64_t now)
{
    run_t *run = f->s.bot->run;
    if (f->check_match && f->check_tries == 0) {
        /* read the record back once before queueing again (retries come when idle) */
        if (now + SLACK_NS >= f->check_due_ns)
            mf_send_history(f);
        else
            sess_sleep_until(&f->s, f->check_due_ns, now);
        return;
    }
    if (f->room_waiting || now + SLACK_NS >= f->over_ns + MF_ROOM_BACK_NS) {
        if (!f->room_waiting)
            run->st.room_back_late++;
        f->step = conf->acc.leave;
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
        if (conf->record_ok(f, m, run->st.records_mismatch < 5))
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

int mf_on_ok(mflow_t *f, uint16_t rq, const uint8_t *payload, size_t len, uint64_t now)
{
    run_t *run = f->s.bot->run;
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

int mf_on_error(mflow_t *f, uint16_t rq, int code, uint64_t now)
{
    run_t *run = f->s.bot->run;
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

int mf_room_update(mflow_t *f, const RoomUpdate *u)
{
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
