/* report: the results of a run as text (stdout) and as JSON (--json), the per-type counters
 * and the pass/fail verdict. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "bot.h"
#include "log.h"

const uint16_t REQ_TYPES[NREQ_TYPES] = {
    PACKET_TYPE__ECHO_REQUEST,          PACKET_TYPE__REGISTER_REQUEST,
    PACKET_TYPE__LOGIN_REQUEST,         PACKET_TYPE__RESUME_REQUEST,
    PACKET_TYPE__LOGOUT_REQUEST,        PACKET_TYPE__CREATE_ROOM_REQUEST,
    PACKET_TYPE__GET_ROOM_LIST_REQUEST, PACKET_TYPE__JOIN_ROOM_REQUEST,
    PACKET_TYPE__PREPARE_GAME_REQUEST,  PACKET_TYPE__START_GAME_REQUEST,
    PACKET_TYPE__ROOM_CHAT_REQUEST,     PACKET_TYPE__LEAVE_ROOM_REQUEST,
    PACKET_TYPE__QUICK_MATCH_REQUEST,   PACKET_TYPE__QUICK_MATCH_CANCEL_REQUEST,
    PACKET_TYPE__PING_REQUEST,          PACKET_TYPE__GAME_SNAPSHOT_REQUEST,
    PACKET_TYPE__PLAYER_POSITION_UPDATE, PACKET_TYPE__PLAYER_ATTACK_MONSTER,
    PACKET_TYPE__PLAYER_USE_ITEM,       PACKET_TYPE__GET_MATCH_HISTORY_REQUEST,
};

/* Push types always shown, in this order; any other type is shown when it came. */
static const uint16_t PUSH_SHOWN[] = {
    PACKET_TYPE__ROOM_UPDATE,
    PACKET_TYPE__ROOM_CHAT_MESSAGE,
    PACKET_TYPE__GAME_STARTING,
    PACKET_TYPE__KICKED,
};
#define NPUSH_SHOWN (sizeof PUSH_SHOWN / sizeof PUSH_SHOWN[0])

int type_index(uint16_t req_type)
{
    for (int i = 0; i < NREQ_TYPES; i++)
        if (REQ_TYPES[i] == req_type)
            return i;
    return -1;
}

type_stats_t *type_stats(run_t *run, uint16_t req_type)
{
    int i = type_index(req_type);
    return i < 0 ? NULL : &run->st.types[i];
}

/* The counters of a request type that has them (the report asks for those only). */
static const type_stats_t *stats_of(const run_t *run, uint16_t req_type)
{
    return &run->st.types[type_index(req_type)];
}

const char *req_type_name(uint16_t req_type)
{
    static char buf[64];
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&packet_type__descriptor, req_type);
    if (!v)
        return "UNKNOWN";
    size_t n = strlen(v->name);
    static const char SUFFIX[] = "_REQUEST";
    size_t sn = sizeof SUFFIX - 1;
    if (n > sn && n - sn < sizeof buf && strcmp(v->name + n - sn, SUFFIX) == 0) {
        memcpy(buf, v->name, n - sn);
        buf[n - sn] = '\0';
        return buf;
    }
    return v->name;
}

uint64_t pushes_of(const run_t *run, uint16_t type) { return run->st.push_by_type[type < PUSH_TYPES ? type : PUSH_TYPES]; }

static const char *packet_name(uint32_t type)
{
    if (type >= PUSH_TYPES)
        return "OTHER";
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&packet_type__descriptor, (int)type);
    return v ? v->name : NULL;
}

/* Calls fn for every push type to show: the PUSH_SHOWN ones, then the others that came. */
static void each_push(const run_t *run, void (*fn)(FILE *f, const char *name, uint32_t type, uint64_t n, int first),
                      FILE *f)
{
    int first = 1;
    for (size_t i = 0; i < NPUSH_SHOWN; i++, first = 0)
        fn(f, packet_name(PUSH_SHOWN[i]), PUSH_SHOWN[i], pushes_of(run, PUSH_SHOWN[i]), first);
    for (uint32_t t = 0; t <= PUSH_TYPES; t++) {
        int shown = 0;
        for (size_t i = 0; i < NPUSH_SHOWN; i++)
            shown |= PUSH_SHOWN[i] == t;
        if (!shown && run->st.push_by_type[t])
            fn(f, packet_name(t), t, run->st.push_by_type[t], 0);
    }
}

static void push_text(FILE *f, const char *name, uint32_t type, uint64_t n, int first)
{
    if (name)
        fprintf(f, "%s%s=%" PRIu64, first ? "" : " ", name, n);
    else
        fprintf(f, "%stype_%u=%" PRIu64, first ? "" : " ", type, n);
}

static void push_json(FILE *f, const char *name, uint32_t type, uint64_t n, int first)
{
    if (name)
        fprintf(f, "%s\"%s\": %" PRIu64, first ? "" : ", ", name, n);
    else
        fprintf(f, "%s\"type_%u\": %" PRIu64, first ? "" : ", ", type, n);
}

double duration_s(const run_t *run)
{
    if (run->t_first_send == 0)
        return 0.0;
    uint64_t end = run->t_stop > run->t_last_response ? run->t_stop : run->t_last_response;
    return end > run->t_first_send ? (double)(end - run->t_first_send) / 1e9 : 0.0;
}

static double per_s(const run_t *run, uint64_t n)
{
    double d = duration_s(run);
    return d > 0 ? (double)n / d : 0.0;
}

static double throughput(const run_t *run) { return per_s(run, run->st.ok); }

/* What every run must show: every bot connected and stayed, and no request failed. Each
 * scenario in the run adds its own conditions (its passed hook). */
static int common_passed(const run_t *run)
{
    const stats_t *st = &run->st;
    return st->connected == run->nbots && st->connect_failed == 0 && st->errors == 0 &&
           st->mismatches == 0 && st->disconnects == 0 && st->timeouts == 0 && st->lost == 0 &&
           st->unanswered == 0 && st->send_failed == 0;
}

int passed(const run_t *run)
{
    if (!common_passed(run))
        return 0;
    for (int i = 0; i < run->nused; i++)
        if (run->used[i].sc->passed && !run->used[i].sc->passed(run))
            return 0;
    return 1;
}

static const char *target_name(int t)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&echo_target__descriptor, t);
    return v ? v->name : "UNKNOWN";
}

static const char *code_name(int i) { return i == ERR_CODES ? "(unparsed)" : error_code_name(i); }

static double ms(uint64_t us) { return (double)us / 1000.0; }

static const double PCTS[] = {50, 90, 99, 99.9};
static const char *const PCT_NAMES[] = {"p50", "p90", "p99", "p99_9"};
#define NPCTS (sizeof PCTS / sizeof PCTS[0])

/* ------------------------------------------------------------------ text */

static void print_type_table(const run_t *run, FILE *f);
static void print_gateways(const run_t *run, FILE *f);
static void print_errors_by_type(const run_t *run, FILE *f, int expected);

/* A latency line: the percentiles, max and mean of h in ms (and its samples). */
void print_latency_line(FILE *f, const char *label, const hist_t *h, int samples)
{
    fprintf(f, "  %-22s", label);
    for (size_t i = 0; i < NPCTS; i++)
        fprintf(f, " %s=%.3f", PCT_NAMES[i], ms(hist_percentile(h, PCTS[i])));
    fprintf(f, " max=%.3f mean=%.3f", ms(hist_max(h)), hist_mean(h) / 1000.0);
    if (samples)
        fprintf(f, " samples=%" PRIu64, hist_count(h));
    fprintf(f, "\n");
}

/* The requests lost on the way, in every report: timeouts to disconnects. */
static void print_losses(const run_t *run, FILE *f)
{
    const stats_t *st = &run->st;
    fprintf(f, "  %-22s %" PRIu64 "\n", "timeouts", st->timeouts);
    fprintf(f, "  %-22s %" PRIu64 "\n", "lost (conn closed)", st->lost);
    fprintf(f, "  %-22s %" PRIu64 "\n", "unanswered at end", st->unanswered);
    fprintf(f, "  %-22s %" PRIu64 "\n", "send failures", st->send_failed);
    fprintf(f, "  %-22s %" PRIu64 "\n", "disconnects", st->disconnects);
}

/* From the ok responses to the throughput: the lines every report but echo's has. */
static void print_outcomes(const run_t *run, FILE *f)
{
    const stats_t *st = &run->st;
    fprintf(f, "  %-22s %" PRIu64 "\n", "responses ok", st->ok);
    fprintf(f, "  %-22s %" PRIu64 "\n", "expected errors", st->expected);
    print_errors_by_type(run, f, 1);
    fprintf(f, "  %-22s %" PRIu64 "\n", "unexpected errors", st->errors);
    print_errors_by_type(run, f, 0);
    fprintf(f, "  %-22s %" PRIu64 "\n", "mismatches", st->mismatches);
    print_losses(run, f);
    fprintf(f, "  %-22s %" PRIu64 " (", "pushes received", st->pushes);
    each_push(run, push_text, f);
    fprintf(f, " late_responses=%" PRIu64 ")\n", st->late_responses);
    fprintf(f, "  %-22s %.3f s\n", "duration", duration_s(run));
    fprintf(f, "  %-22s %.1f req/s (ok responses)\n", "throughput", throughput(run));
}

/* "echo targets seen": the servers that answered ECHO (and how many others, when asked). */
static void print_echo_targets(const run_t *run, FILE *f, int others)
{
    const stats_t *st = &run->st;
    fprintf(f, "  %-22s", "echo targets seen");
    if (st->nservers == 0)
        fprintf(f, " none");
    for (int i = 0; i < st->nservers; i++)
        fprintf(f, " %s#%u=%" PRIu64, target_name(st->servers[i].served_by), st->servers[i].id,
                st->servers[i].responses);
    if (others && st->other_servers)
        fprintf(f, " others=%" PRIu64, st->other_servers);
    fprintf(f, "\n");
}

/* The end of every report: per gateway, the table of request types, the verdict. */
void print_end(const run_t *run, FILE *f)
{
    print_gateways(run, f);
    print_type_table(run, f);
    bot_transport_report(run, f);
    fprintf(f, "\n  %-22s %s\n", "result", passed(run) ? "PASS" : "FAIL");
}

static void print_echo(const run_t *run, FILE *f)
{
    const stats_t *st = &run->st;
    fprintf(f, "\nbot scenario=%s gateway=%s target=%s payload=%u pipeline=%u rate=%" PRIu64
               "/s per bot\n",
            run->scenario->name, run->gateway, target_name(run->target), run->payload_len,
            run->pipeline, run->rate);
    fprintf(f, "  %-22s %u\n", "bots", run->nbots);
    fprintf(f, "  %-22s %" PRIu64 "\n", "connected", st->connected);
    fprintf(f, "  %-22s %" PRIu64 "\n", "connect failures", st->connect_failed);
    fprintf(f, "  %-22s %" PRIu64 "\n", "requests sent", st->sent);
    fprintf(f, "  %-22s %" PRIu64 "\n", "responses ok", st->ok);
    fprintf(f, "  %-22s %" PRIu64 "\n", "mismatches", st->mismatches);
    fprintf(f, "  %-22s %" PRIu64 "\n", "errors", st->errors);
    for (int i = 0; i <= ERR_CODES; i++)
        if (st->errors_by_code[i])
            fprintf(f, "    %-20s %" PRIu64 "\n", code_name(i), st->errors_by_code[i]);
    print_losses(run, f);
    fprintf(f, "  %-22s %" PRIu64 "\n", "pushes received", st->pushes);
    fprintf(f, "  %-22s %.3f s\n", "duration", duration_s(run));
    fprintf(f, "  %-22s %.1f req/s\n", "throughput", throughput(run));
    print_latency_line(f, "latency ms", &st->latency_us, 0);
    print_echo_targets(run, f, 1);
    print_end(run, f);
}

/* "    LOGIN BUSY   12" lines: the errors of one kind by request type and code. */
static void print_errors_by_type(const run_t *run, FILE *f, int expected)
{
    for (int t = 0; t < NREQ_TYPES; t++) {
        const type_stats_t *ts = &run->st.types[t];
        const uint64_t *by = expected ? ts->expected_by_code : ts->unexpected_by_code;
        for (int i = 0; i <= ERR_CODES; i++) {
            if (!by[i])
                continue;
            char k[80];
            snprintf(k, sizeof k, "%s %s", req_type_name(REQ_TYPES[t]), code_name(i));
            fprintf(f, "    %-34s %" PRIu64 "\n", k, by[i]);
        }
    }
}

/* The table of request types: counts, throughput and latency percentiles of ok responses. */
static void print_type_table(const run_t *run, FILE *f)
{
    const stats_t *st = &run->st;
    fprintf(f, "\n  %-22s %9s %9s %9s %9s %8s %9s %9s %9s %9s %9s %9s\n", "request", "sent",
            "ok", "expected", "unexpect", "timeout", "ok/s", "p50 ms", "p90 ms", "p99 ms",
            "p99.9 ms", "max ms");
    for (int t = 0; t < NREQ_TYPES; t++) {
        const type_stats_t *ts = &st->types[t];
        if (!ts->sent)
            continue;
        const hist_t *th = &ts->latency_us;
        fprintf(f,
                "  %-22s %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %8" PRIu64
                " %9.1f",
                req_type_name(REQ_TYPES[t]), ts->sent, ts->ok, ts->expected, ts->unexpected,
                ts->timeouts, per_s(run, ts->ok));
        for (size_t i = 0; i < NPCTS; i++)
            fprintf(f, " %9.3f", ms(hist_percentile(th, PCTS[i])));
        fprintf(f, " %9.3f\n", ms(hist_max(th)));
    }
    fprintf(f, "  (latency of ok responses; ok/s over the whole run)\n");
}

/* The counts the lobby and match reports start with. */
static void print_room_counts(const run_t *run, FILE *f)
{
    const stats_t *st = &run->st;
    fprintf(f, "  %-22s %u\n", "bots", run->nbots);
    fprintf(f, "  %-22s %" PRIu64 "\n", "connected", st->connected);
    fprintf(f, "  %-22s %" PRIu64 "\n", "connect failures", st->connect_failed);
    fprintf(f, "  %-22s %" PRIu64 "\n", "logged in (bots)", st->bots_logged_in);
    fprintf(f, "  %-22s %" PRIu64 "\n", "requests sent", st->sent);
    print_outcomes(run, f);
    print_latency_line(f, "latency ms (all ok)", &st->latency_us, 0);
}

static void print_lobby(const run_t *run, FILE *f)
{
    const stats_t *st = &run->st;
    fprintf(f, "\nbot scenario=%s gateway=%s rate=%" PRIu64 "/s per bot user_prefix=%s "
               "room_wait_ms=%" PRIu64 " create_pct=%u start_pct=%u chat_interval_ms=%" PRIu64
               "\n",
            run->scenario->name, run->gateway, run->rate, run->user_prefix, run->room_wait_ms,
            run->create_pct, run->start_pct, run->chat_interval_ms);
    print_room_counts(run, f);
    fprintf(f, "  %-22s logins=%" PRIu64 " (%.1f/s) registrations=%" PRIu64 " logouts=%" PRIu64
               " fresh_accounts=%" PRIu64 "\n",
            "totals", st->logins, per_s(run, st->logins), st->registrations, st->logouts,
            st->rotations);
    fprintf(f, "  %-22s rooms_created=%" PRIu64 " joins=%" PRIu64 " starts=%" PRIu64
               " game_starting_pushes=%" PRIu64 " leaves=%" PRIu64 " chat_lines=%" PRIu64 "\n",
            "", st->rooms_created, st->joins, st->starts, pushes_of(run, PACKET_TYPE__GAME_STARTING),
            st->leaves, st->chat_lines);
    if (run->t_all_logged_in)
        fprintf(f, "  %-22s all %u bots logged in %.3f s after the start\n", "", run->nbots,
                (double)(run->t_all_logged_in - run->t_start) / 1e9);
    else
        fprintf(f, "  %-22s not every bot logged in\n", "");
    fprintf(f, "  %-22s login_backoffs=%" PRIu64 " logins_into_started_room=%" PRIu64
               " fresh_account_waits=%" PRIu64 "\n",
            "", st->login_backoffs, st->stuck_logins, st->rotation_waits);
    print_end(run, f);
}

static double per_min(const run_t *run, uint64_t n)
{
    double d = duration_s(run);
    return d > 0 ? (double)n * 60.0 / d : 0.0;
}

/* GAME_STATE_UPDATE pushes per second of a bot in a match (the tick rate when every tick
 * changes something). */
static double updates_per_bot_s(const run_t *run)
{
    double s = (double)run->st.bot_match_ns / 1e9;
    return s > 0 ? (double)run->st.updates_in_match / s : 0.0;
}

static void print_match(const run_t *run, FILE *f)
{
    const stats_t *st = &run->st;
    fprintf(f, "\nbot scenario=%s gateway=%s rate=%" PRIu64 "/s per bot match_interval_ms=%" PRIu64
               " user_prefix=%s\n",
            run->scenario->name, run->gateway, run->rate, run->match_interval_ms, run->user_prefix);
    print_room_counts(run, f);
    fprintf(f, "  %-22s %" PRIu64 " (%.2f/min) aborted=%" PRIu64 "\n", "matches completed",
            st->matches_completed, per_min(run, st->matches_completed), st->matches_aborted);
    fprintf(f, "  %-22s win=%" PRIu64 " loss=%" PRIu64 " timeout=%" PRIu64 " aborted=%" PRIu64
               " (per match)\n",
            "outcomes", st->outcomes[MATCH_OUTCOME__WIN], st->outcomes[MATCH_OUTCOME__LOSS],
            st->outcomes[MATCH_OUTCOME__TIMEOUT_REACHED], st->outcomes[MATCH_OUTCOME__ABORTED]);
    fprintf(f, "  %-22s game_overs=%" PRIu64 " bots_with_a_game_over=%" PRIu64 "/%u"
               " match_starts=%" PRIu64 " quick_matches=%" PRIu64 " in_match_at_stop=%" PRIu64
               "\n",
            "per bot", st->game_overs, st->bots_with_game_over, run->nbots, st->match_starts,
            st->quick_matches, st->in_match_at_stop);
    fprintf(f, "  %-22s %.1f/s overall, %.1f/s per bot in a match\n", "GAME_STATE_UPDATE",
            per_s(run, pushes_of(run, PACKET_TYPE__GAME_STATE_UPDATE)), updates_per_bot_s(run));
    fprintf(f, "  %-22s %" PRIu64 " of %" PRIu64 " moves\n", "speed clamps", st->clamps,
            st->moves);
    fprintf(f, "  %-22s hits=%" PRIu64 " kills=%" PRIu64 " potions=%" PRIu64 " deaths=%" PRIu64
               " kills_in_results=%" PRIu64 " score_in_results=%" PRIu64 "\n",
            "play", st->hits, st->kills, st->potions_used, st->deaths, st->player_kills,
            st->player_score);
    fprintf(f, "  %-22s", "queue->MATCH_START ms");
    for (size_t i = 0; i < NPCTS; i++)
        fprintf(f, " %s=%.1f", PCT_NAMES[i], ms(hist_percentile(&st->queue_to_start_us, PCTS[i])));
    fprintf(f, " max=%.1f\n", ms(hist_max(&st->queue_to_start_us)));
    fprintf(f, "  %-22s p50=%.1f max=%.1f (GAME_OVER duration_ms)\n", "match duration s",
            ms(hist_percentile(&st->match_duration_us, 50)) / 1000.0,
            ms(hist_max(&st->match_duration_us)) / 1000.0);
    print_records(run, f);
    fprintf(f, "  %-22s start_probes=%" PRIu64 " started_by_snapshot=%" PRIu64
               " match_start_missing=%" PRIu64 " game_over_missing=%" PRIu64
               " ended_before_start=%" PRIu64 " formed_not_started=%" PRIu64
               " room_back_late=%" PRIu64 " stray_starts=%" PRIu64 " stray_ends=%" PRIu64
               " bad_pushes=%" PRIu64 "\n",
            "anomalies", st->start_probes, st->started_by_snapshot, st->start_missing,
            st->end_missing, st->ended_before_start, st->formed_not_started, st->room_back_late,
            st->stray_starts, st->stray_ends, st->bad_pushes);
    fprintf(f, "  %-22s logins=%" PRIu64 " registrations=%" PRIu64 " logouts=%" PRIu64
               " leaves=%" PRIu64 " login_backoffs=%" PRIu64 "\n",
            "totals", st->logins, st->registrations, st->logouts, st->leaves,
            st->login_backoffs);
    print_end(run, f);
}

/* Per gateway, when there are several. */
static void print_gateways(const run_t *run, FILE *f)
{
    if (run->ngws < 2)
        return;
    for (int i = 0; i < run->ngws; i++) {
        const gateway_t *g = &run->gws[i];
        fprintf(f, "  %-22s %s bots=%" PRIu64 " connected=%" PRIu64 " connect_failures=%" PRIu64
                   " disconnects=%" PRIu64 "\n",
                i == 0 ? "per gateway" : "", g->text, g->bots, g->connected, g->connect_failed,
                g->disconnects);
    }
}

void print_records(const run_t *run, FILE *f)
{
    const stats_t *st = &run->st;
    fprintf(f, "  %-22s ok=%" PRIu64 " mismatch=%" PRIu64 " missing=%" PRIu64
               " unchecked=%" PRIu64 "\n",
            "match records", st->records_ok, st->records_mismatch, st->records_missing,
            st->records_unchecked);
}

/* The connections open at each second of the run (at most 40 points, evenly spread). */
static void print_timeline(const run_t *run, FILE *f)
{
    fprintf(f, "  %-22s", "connected over time");
    if (run->nsamples == 0)
        fprintf(f, " (shorter than a second)");
    uint32_t step = (run->nsamples + 39) / 40;
    for (uint32_t i = 0; i < run->nsamples; i += step)
        fprintf(f, " %.0fs:%" PRIu64, run->samples[i].t_s, run->samples[i].connected);
    if (step > 1)
        fprintf(f, " (every %u s; all of them in the JSON)", step);
    fprintf(f, "\n");
}

/* The lines every report of the login, idle and mix scenarios has. */
void print_common(const run_t *run, FILE *f)
{
    const stats_t *st = &run->st;
    fprintf(f, "  %-22s %u\n", "bots", run->nbots);
    fprintf(f, "  %-22s %" PRIu64 " (of %u started)\n", "connected", st->connected, run->started);
    fprintf(f, "  %-22s %" PRIu64 "\n", "connect failures", st->connect_failed);
    if (run->account_bots)
        fprintf(f, "  %-22s %" PRIu64 " of %u\n", "logged in (bots)", st->bots_logged_in,
                run->account_bots);
    fprintf(f, "  %-22s %" PRIu64 "%s\n", "requests sent", st->sent,
            run->count_reached ? " (--count reached)" : "");
    print_outcomes(run, f);
    print_latency_line(f, "latency ms (all ok)", &st->latency_us, 1);
}

static void print_logins(const run_t *run, FILE *f)
{
    const stats_t *st = &run->st;
    fprintf(f, "  %-22s %" PRIu64 " (%.1f/s) registrations=%" PRIu64 " logouts=%" PRIu64
               " login_backoffs=%" PRIu64 " fresh_accounts=%" PRIu64 "\n",
            "logins", st->logins, per_s(run, st->logins), st->registrations, st->logouts,
            st->login_backoffs, st->rotations);
}

static void print_login(const run_t *run, FILE *f)
{
    fprintf(f, "\nbot scenario=%s gateway=%s rate=%" PRIu64 "/s per bot user_prefix=%s "
               "login_backoff_ms=%" PRIu64 "\n",
            run->scenario->name, run->gateway, run->rate, run->user_prefix, run->login_backoff_ms);
    print_common(run, f);
    print_logins(run, f);
    print_latency_line(f, "LOGIN latency ms", &stats_of(run, PACKET_TYPE__LOGIN_REQUEST)->latency_us,
                       1);
    print_end(run, f);
}

static void print_idle(const run_t *run, FILE *f)
{
    const type_stats_t *ts = stats_of(run, PACKET_TYPE__PING_REQUEST);
    fprintf(f, "\nbot scenario=%s gateway=%s ping_ms=%" PRIu64 "\n", run->scenario->name,
            run->gateway, run->ping_ms);
    print_common(run, f);
    fprintf(f, "  %-22s sent=%" PRIu64 " ok=%" PRIu64 "\n", "pings", ts->sent, ts->ok);
    print_latency_line(f, "PING latency ms", &ts->latency_us, 1);
    print_timeline(run, f);
    print_end(run, f);
}

static void print_mix(const run_t *run, FILE *f)
{
    const stats_t *st = &run->st;
    fprintf(f, "\nbot scenario=mix mix=");
    for (int i = 0; i < run->nused; i++)
        fprintf(f, "%s%s=%u", i ? "," : "", run->used[i].sc->name, run->used[i].weight);
    fprintf(f, " gateway=%s rate=%" PRIu64 "/s per bot\n", run->gateway, run->rate);
    fprintf(f, "  %-22s", "bots per scenario");
    for (int i = 0; i < run->nused; i++)
        fprintf(f, " %s=%u", run->used[i].sc->name, run->used[i].bots);
    fprintf(f, "\n");
    print_common(run, f);
    if (run->account_bots)
        print_logins(run, f);
    if (scenario_used(run, &SCENARIO_LOBBY))
        fprintf(f, "  %-22s rooms_created=%" PRIu64 " joins=%" PRIu64 " starts=%" PRIu64
                   " leaves=%" PRIu64 " chat_lines=%" PRIu64 "\n",
                "lobby", st->rooms_created, st->joins, st->starts, st->leaves, st->chat_lines);
    if (scenario_used(run, &SCENARIO_MATCH))
        fprintf(f, "  %-22s completed=%" PRIu64 " (%.2f/min) aborted=%" PRIu64
                   " game_overs=%" PRIu64 " records_ok=%" PRIu64 " records_mismatch=%" PRIu64
                   "\n",
                "matches", st->matches_completed, per_min(run, st->matches_completed),
                st->matches_aborted, st->game_overs, st->records_ok, st->records_mismatch);
    if (scenario_used(run, &SCENARIO_ECHO))
        print_echo_targets(run, f, 0);
    print_timeline(run, f);
    print_end(run, f);
}

void print_report(const run_t *run, FILE *f)
{
    if (run->scenario == &SCENARIO_MATCH)
        print_match(run, f);
    else if (run->scenario == &SCENARIO_MODULE)
        print_module(run, f);
    else if (run->scenario == &SCENARIO_LOBBY)
        print_lobby(run, f);
    else if (run->scenario == &SCENARIO_LOGIN)
        print_login(run, f);
    else if (run->scenario == &SCENARIO_IDLE)
        print_idle(run, f);
    else if (run->scenario == &SCENARIO_MIX)
        print_mix(run, f);
    else
        print_echo(run, f);
}

/* ------------------------------------------------------------------ JSON */

static void json_codes(FILE *f, const uint64_t *by)
{
    fprintf(f, "{");
    int first = 1;
    for (int i = 0; i <= ERR_CODES; i++) {
        if (!by[i])
            continue;
        fprintf(f, "%s\"%s\": %" PRIu64, first ? "" : ", ",
                i == ERR_CODES ? "UNPARSED" : error_code_name(i), by[i]);
        first = 0;
    }
    fprintf(f, "}");
}

void json_records(const run_t *run, FILE *f)
{
    const stats_t *st = &run->st;
    fprintf(f,
            "    \"records\": {\"ok\": %" PRIu64 ", \"mismatch\": %" PRIu64
            ", \"missing\": %" PRIu64 ", \"unchecked\": %" PRIu64 "},\n",
            st->records_ok, st->records_mismatch, st->records_missing, st->records_unchecked);
}

void json_latency(FILE *f, const hist_t *h)
{
    fprintf(f, "{");
    for (size_t i = 0; i < NPCTS; i++)
        fprintf(f, "\"%s\": %.3f, ", PCT_NAMES[i], ms(hist_percentile(h, PCTS[i])));
    fprintf(f, "\"max\": %.3f, \"mean\": %.3f, \"samples\": %" PRIu64 "}", ms(hist_max(h)),
            hist_mean(h) / 1000.0, hist_count(h));
}

static void json_per_type(const run_t *run, FILE *f)
{
    fprintf(f, "  \"per_type\": {");
    int first = 1;
    for (int t = 0; t < NREQ_TYPES; t++) {
        const type_stats_t *ts = &run->st.types[t];
        if (!ts->sent)
            continue;
        fprintf(f, "%s\n    \"%s\": {\"sent\": %" PRIu64 ", \"ok\": %" PRIu64
                   ", \"expected_errors\": %" PRIu64 ", \"unexpected_errors\": %" PRIu64
                   ", \"timeouts\": %" PRIu64 ", \"mismatches\": %" PRIu64
                   ", \"throughput_rps\": %.1f,\n      \"latency_ms\": ",
                first ? "" : ",", req_type_name(REQ_TYPES[t]), ts->sent, ts->ok, ts->expected,
                ts->unexpected, ts->timeouts, ts->mismatches, per_s(run, ts->ok));
        json_latency(f, &ts->latency_us);
        fprintf(f, ",\n      \"expected_by_code\": ");
        json_codes(f, ts->expected_by_code);
        fprintf(f, ", \"unexpected_by_code\": ");
        json_codes(f, ts->unexpected_by_code);
        fprintf(f, "}");
        first = 0;
    }
    fprintf(f, "%s},\n", first ? "" : "\n  ");
}

static void json_lobby(const run_t *run, FILE *f)
{
    fprintf(f, "  \"room_wait_ms\": %" PRIu64
               ",\n  \"create_pct\": %u,\n  \"start_pct\": %u,\n  \"chat_interval_ms\": %" PRIu64
               ",\n",
            run->room_wait_ms, run->create_pct, run->start_pct, run->chat_interval_ms);
}

/* The account totals of lobby and login: with rooms, lobby's (a superset of the other
 * account scenarios'), else login's. */
static void json_account_totals(const run_t *run, FILE *f, int rooms)
{
    const stats_t *st = &run->st;
    fprintf(f,
            "  \"totals\": {\"bots_logged_in\": %" PRIu64 ", \"logins\": %" PRIu64
            ", \"login_rate\": %.1f, \"registrations\": %" PRIu64 ", \"logouts\": %" PRIu64
            ", \"fresh_accounts\": %" PRIu64,
            st->bots_logged_in, st->logins, per_s(run, st->logins), st->registrations, st->logouts,
            st->rotations);
    if (rooms)
        fprintf(f,
                ",\n    \"rooms_created\": %" PRIu64 ", \"joins\": %" PRIu64
                ", \"starts\": %" PRIu64 ", \"game_starting_pushes\": %" PRIu64
                ", \"leaves\": %" PRIu64 ", \"chat_lines\": %" PRIu64
                ",\n    \"login_backoffs\": %" PRIu64 ", \"logins_into_started_room\": %" PRIu64
                ", \"fresh_account_waits\": %" PRIu64,
                st->rooms_created, st->joins, st->starts, pushes_of(run, PACKET_TYPE__GAME_STARTING),
                st->leaves, st->chat_lines, st->login_backoffs, st->stuck_logins,
                st->rotation_waits);
    else
        fprintf(f, ", \"login_backoffs\": %" PRIu64, st->login_backoffs);
    fprintf(f, ",\n    \"all_logged_in_s\": %.3f},\n",
            run->t_all_logged_in ? (double)(run->t_all_logged_in - run->t_start) / 1e9 : -1.0);
}

static void json_match(const run_t *run, FILE *f)
{
    const stats_t *st = &run->st;
    fprintf(f, "  \"match_interval_ms\": %" PRIu64 ",\n", run->match_interval_ms);
    fprintf(f,
            "  \"matches\": {\"completed\": %" PRIu64 ", \"per_minute\": %.2f, \"aborted\": %" PRIu64
            ",\n    \"outcomes\": {\"win\": %" PRIu64 ", \"loss\": %" PRIu64 ", \"timeout\": %" PRIu64
            ", \"aborted\": %" PRIu64 "},\n",
            st->matches_completed, per_min(run, st->matches_completed), st->matches_aborted,
            st->outcomes[MATCH_OUTCOME__WIN], st->outcomes[MATCH_OUTCOME__LOSS],
            st->outcomes[MATCH_OUTCOME__TIMEOUT_REACHED], st->outcomes[MATCH_OUTCOME__ABORTED]);
    fprintf(f,
            "    \"game_overs\": %" PRIu64 ", \"bots_with_game_over\": %" PRIu64
            ", \"match_starts\": %" PRIu64 ", \"quick_matches\": %" PRIu64
            ", \"in_match_at_stop\": %" PRIu64 ",\n",
            st->game_overs, st->bots_with_game_over, st->match_starts, st->quick_matches,
            st->in_match_at_stop);
    fprintf(f,
            "    \"game_state_updates_per_s\": %.1f, \"game_state_updates_per_bot_s\": %.1f,\n"
            "    \"moves\": %" PRIu64 ", \"speed_clamps\": %" PRIu64 ", \"hits\": %" PRIu64
            ", \"kills\": %" PRIu64 ", \"potions\": %" PRIu64 ", \"deaths\": %" PRIu64 ",\n",
            per_s(run, pushes_of(run, PACKET_TYPE__GAME_STATE_UPDATE)), updates_per_bot_s(run), st->moves,
            st->clamps, st->hits, st->kills, st->potions_used, st->deaths);
    fprintf(f, "    \"queue_to_start_ms\": ");
    json_latency(f, &st->queue_to_start_us);
    fprintf(f, ",\n    \"duration_ms\": ");
    json_latency(f, &st->match_duration_us);
    fprintf(f, ",\n");
    json_records(run, f);
    fprintf(f,
            "    \"anomalies\": {\"start_probes\": %" PRIu64 ", \"started_by_snapshot\": %" PRIu64
            ", \"match_start_missing\": %" PRIu64 ", \"game_over_missing\": %" PRIu64
            ", \"ended_before_start\": %" PRIu64 ", \"formed_not_started\": %" PRIu64
            ", \"room_back_late\": %" PRIu64 ", \"stray_starts\": %" PRIu64
            ", \"stray_ends\": %" PRIu64 ", \"bad_pushes\": %" PRIu64 "}},\n",
            st->start_probes, st->started_by_snapshot, st->start_missing, st->end_missing,
            st->ended_before_start, st->formed_not_started, st->room_back_late,
            st->stray_starts, st->stray_ends, st->bad_pushes);
}

static void json_match_totals(const run_t *run, FILE *f)
{
    const stats_t *st = &run->st;
    fprintf(f,
            "  \"totals\": {\"bots_logged_in\": %" PRIu64 ", \"logins\": %" PRIu64
            ", \"registrations\": %" PRIu64 ", \"logouts\": %" PRIu64 ", \"leaves\": %" PRIu64
            ", \"login_backoffs\": %" PRIu64 "},\n",
            st->bots_logged_in, st->logins, st->registrations, st->logouts, st->leaves,
            st->login_backoffs);
}

static void json_idle(const run_t *run, FILE *f)
{
    const type_stats_t *ts = stats_of(run, PACKET_TYPE__PING_REQUEST);
    fprintf(f, "  \"idle\": {\"ping_ms\": %" PRIu64 ", \"pings_sent\": %" PRIu64
               ", \"pings_ok\": %" PRIu64 ", \"ping_latency_ms\": ",
            run->ping_ms, ts->sent, ts->ok);
    json_latency(f, &ts->latency_us);
    fprintf(f, "},\n");
}

/* One entry per second of the run: connections open, ok responses (and per second), their
 * p99, unexpected errors so far. */
static void json_timeline(const run_t *run, FILE *f)
{
    fprintf(f, "  \"timeline\": [");
    for (uint32_t i = 0; i < run->nsamples; i++) {
        const sample_t *s = &run->samples[i];
        fprintf(f, "%s\n    {\"t_s\": %.3f, \"connected\": %" PRIu64 ", \"ok\": %" PRIu64
                   ", \"rps\": %.1f, \"p99_ms\": %.3f, \"errors\": %" PRIu64 "}",
                i ? "," : "", s->t_s, s->connected, s->ok, s->rps, ms(s->p99_us), s->errors);
    }
    fprintf(f, "%s],\n", run->nsamples ? "\n  " : "");
}

static void json_run(const run_t *run, FILE *f)
{
    fprintf(f, "  \"scenarios\": {");
    for (int i = 0; i < run->nused; i++)
        fprintf(f, "%s\"%s\": {\"weight\": %u, \"bots\": %u}", i ? ", " : "",
                run->used[i].sc->name, run->used[i].weight, run->used[i].bots);
    fprintf(f, "},\n  \"gateways\": [");
    for (int i = 0; i < run->ngws; i++) {
        const gateway_t *g = &run->gws[i];
        fprintf(f, "%s\n    {\"address\": \"%s\", \"bots\": %" PRIu64 ", \"connected\": %" PRIu64
                   ", \"connect_failures\": %" PRIu64 ", \"disconnects\": %" PRIu64 "}",
                i ? "," : "", g->text, g->bots, g->connected, g->connect_failed, g->disconnects);
    }
    fprintf(f, "\n  ],\n  \"ramp_per_s\": %" PRIu64 ",\n  \"duration_limit_s\": %" PRIu64
               ",\n  \"count_limit\": %" PRIu64 ",\n  \"count_reached\": %s,\n  \"seed\": %" PRIu64
               ",\n  \"connect_attempts\": %u,\n",
            run->connect_rate, run->duration_ms / 1000u, run->max_requests,
            run->count_reached ? "true" : "false", run->seed, run->started);
}

/* The JSON's opening: the settings, the counts every run has, the run's shape. */
static void json_counts(const run_t *run, FILE *f)
{
    const stats_t *st = &run->st;
    fprintf(f, "  \"transport\": \"%s\",\n", run->transport);
    fprintf(f, "  \"scenario\": \"%s\",\n  \"gateway\": \"%s\",\n  \"target\": \"%s\",\n",
            run->scenario->name, run->gateway, target_name(run->target));
    fprintf(f, "  \"payload\": %u,\n  \"pipeline\": %u,\n  \"rate_per_bot\": %" PRIu64 ",\n",
            run->payload_len, run->pipeline, run->rate);
    fprintf(f, "  \"bots\": %u,\n  \"connected\": %" PRIu64 ",\n  \"connect_failures\": %" PRIu64
               ",\n",
            run->nbots, st->connected, st->connect_failed);
    fprintf(f, "  \"requests_sent\": %" PRIu64 ",\n  \"responses_ok\": %" PRIu64
               ",\n  \"mismatches\": %" PRIu64 ",\n",
            st->sent, st->ok, st->mismatches);
    fprintf(f, "  \"errors\": %" PRIu64 ",\n  \"errors_by_code\": ", st->errors);
    json_codes(f, st->errors_by_code);
    fprintf(f, ",\n  \"timeouts\": %" PRIu64 ",\n  \"lost\": %" PRIu64
               ",\n  \"unanswered\": %" PRIu64 ",\n  \"send_failures\": %" PRIu64
               ",\n  \"disconnects\": %" PRIu64 ",\n  \"pushes\": %" PRIu64 ",\n",
            st->timeouts, st->lost, st->unanswered, st->send_failed, st->disconnects,
            st->pushes);
    fprintf(f, "  \"duration_s\": %.3f,\n  \"throughput_rps\": %.1f,\n  \"latency_ms\": ",
            duration_s(run), throughput(run));
    json_latency(f, &st->latency_us);
    fprintf(f, ",\n");
    json_run(run, f);
    fprintf(f, "  \"expected_errors\": %" PRIu64 ",\n  \"expected_errors_by_code\": ",
            st->expected);
    json_codes(f, st->expected_by_code);
    fprintf(f, ",\n  \"pushes_by_type\": {");
    each_push(run, push_json, f);
    fprintf(f, "},\n  \"late_responses\": %" PRIu64 ",\n", st->late_responses);
}

/* The members of the scenarios in the run. */
static void json_scenarios(const run_t *run, FILE *f)
{
    if (run->account_bots)
        fprintf(f, "  \"user_prefix\": \"%s\",\n", run->user_prefix);
    if (scenario_used(run, &SCENARIO_LOBBY))
        json_lobby(run, f);
    if (scenario_used(run, &SCENARIO_MATCH))
        json_match(run, f);
    if (scenario_used(run, &SCENARIO_MODULE))
        json_module(run, f);
    if (scenario_used(run, &SCENARIO_LOBBY) || (run->scenario == &SCENARIO_MIX && run->account_bots))
        json_account_totals(run, f, 1);
    else if (scenario_used(run, &SCENARIO_MATCH) || scenario_used(run, &SCENARIO_MODULE))
        json_match_totals(run, f);
    else if (scenario_used(run, &SCENARIO_LOGIN))
        json_account_totals(run, f, 0);
    if (scenario_used(run, &SCENARIO_IDLE))
        json_idle(run, f);
}

static void json_echo_targets(const run_t *run, FILE *f)
{
    const stats_t *st = &run->st;
    fprintf(f, "  \"echo_targets\": [");
    for (int i = 0; i < st->nservers; i++)
        fprintf(f, "%s\n    {\"server_id\": %u, \"served_by\": \"%s\", \"responses\": %" PRIu64 "}",
                i ? "," : "", st->servers[i].id, target_name(st->servers[i].served_by),
                st->servers[i].responses);
    fprintf(f, "%s],\n", st->nservers ? "\n  " : "");
}

int write_json(const run_t *run, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        log_error("json_open_failed", "path=%s err=\"%s\"", path, strerror(errno));
        return -1;
    }
    fprintf(f, "{\n");
    json_counts(run, f);
    json_scenarios(run, f);
    json_timeline(run, f);
    json_per_type(run, f);
    json_echo_targets(run, f);
    fprintf(f, "  \"pass\": %s\n}\n", passed(run) ? "true" : "false");
    int rc = ferror(f) ? -1 : 0;
    if (fclose(f) != 0)
        rc = -1;
    if (rc)
        log_error("json_write_failed", "path=%s", path);
    return rc;
}
