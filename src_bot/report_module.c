/* report_module: the module scenario's report (text and JSON): matches and their outcomes,
 * MATCH_DATA in and out with rates, the MOVE round trip, refusals, the record check. */
#include <inttypes.h>

#include "bot.h"

static double per_s_of(uint64_t n, double s) { return s > 0 ? (double)n / s : 0.0; }

/* Bot-seconds spent in matches (rates per playing bot). */
static double play_s(const run_t *run) { return (double)run->st.md.play_ns / 1e9; }

static uint64_t send_errors(const run_t *run)
{
    uint64_t n = 0;
    for (int i = 0; i <= ERR_CODES; i++)
        n += run->st.md.send_errors[i];
    return n;
}

void print_module(const run_t *run, FILE *f)
{
    const stats_t *st = &run->st;
    const module_stats_t *md = &st->md;
    double d = duration_s(run), p = play_s(run);
    fprintf(f, "\nbot scenario=module mode=%s gateway=%s match_interval_ms=%" PRIu64
               " user_prefix=%s\n",
            run->mode, run->gateway, run->match_interval_ms, run->user_prefix);
    print_common(run, f);
    fprintf(f, "  %-22s completed=%" PRIu64 " finished=%" PRIu64 " aborted=%" PRIu64
               " game_overs=%" PRIu64 " bots_with_a_game_over=%" PRIu64 "/%u"
               " in_match_at_stop=%" PRIu64 "\n",
            "matches", st->matches_completed, md->finished, st->matches_aborted, st->game_overs,
            st->bots_with_game_over, run->nbots, st->in_match_at_stop);
    fprintf(f, "  %-22s win=%" PRIu64 " loss=%" PRIu64 " draw=%" PRIu64 " other=%" PRIu64
               " score_in_results=%" PRIu64 "\n",
            "player outcomes", md->wins, md->losses, md->draws, md->bad_outcomes,
            st->player_score);
    fprintf(f, "  %-22s %" PRIu64 " (%" PRIu64 " B): %.1f/s overall, %.1f/s per playing bot;"
               " failed=%" PRIu64 "\n",
            "MATCH_DATA_SEND out", md->data_sent, md->data_sent_bytes, per_s_of(md->data_sent, d),
            per_s_of(md->data_sent, p), md->data_send_failed);
    fprintf(f, "  %-22s %" PRIu64 " (%" PRIu64 " B): %.1f/s overall, %.1f/s per playing bot\n",
            "MATCH_DATA in", md->data_in, md->data_in_bytes, per_s_of(md->data_in, d),
            per_s_of(md->data_in, p));
    print_latency_line(f, "MOVE round trip ms", &md->rtt_us, 1);
    fprintf(f, "  %-22s moves=%" PRIu64 " clamped=%" PRIu64 " kills=%" PRIu64 " deaths=%" PRIu64
               " became_it=%" PRIu64 "\n",
            "play", md->moves, md->clamps, md->kills, md->deaths, md->tagged);
    fprintf(f, "  %-22s %" PRIu64 " (tag: became it from another player's touch)\n",
            "tagged by a player", md->tags_suffered);
    fprintf(f, "  %-22s module_refused expected=%" PRIu64 " unexpected=%" PRIu64
               " send_errors=%" PRIu64 " (unexpected %" PRIu64 ")\n",
            "refusals", md->refused_expected, md->refused_unexpected, send_errors(run),
            md->send_errors_unexpected);
    print_records(run, f);
    fprintf(f, "  %-22s mode_mismatch=%" PRIu64 " summary_missing=%" PRIu64
               " match_start_missing=%" PRIu64 " game_over_missing=%" PRIu64
               " ended_before_start=%" PRIu64 " bad_pushes=%" PRIu64 " stray_starts=%" PRIu64
               " stray_ends=%" PRIu64 "\n",
            "anomalies", md->mode_mismatch, md->summary_missing, st->start_missing,
            st->end_missing, st->ended_before_start, st->bad_pushes, st->stray_starts,
            st->stray_ends);
    print_end(run, f);
}

void json_module(const run_t *run, FILE *f)
{
    const stats_t *st = &run->st;
    const module_stats_t *md = &st->md;
    double d = duration_s(run), p = play_s(run);
    fprintf(f, "  \"module\": {\"mode\": \"%s\", \"match_interval_ms\": %" PRIu64 ",\n", run->mode,
            run->match_interval_ms);
    fprintf(f,
            "    \"matches\": {\"completed\": %" PRIu64 ", \"finished\": %" PRIu64
            ", \"aborted\": %" PRIu64 ", \"game_overs\": %" PRIu64
            ", \"bots_with_game_over\": %" PRIu64 ", \"in_match_at_stop\": %" PRIu64 "},\n",
            st->matches_completed, md->finished, st->matches_aborted, st->game_overs,
            st->bots_with_game_over, st->in_match_at_stop);
    fprintf(f,
            "    \"outcomes\": {\"win\": %" PRIu64 ", \"loss\": %" PRIu64 ", \"draw\": %" PRIu64
            ", \"other\": %" PRIu64 "},\n",
            md->wins, md->losses, md->draws, md->bad_outcomes);
    fprintf(f,
            "    \"match_data_out\": {\"count\": %" PRIu64 ", \"bytes\": %" PRIu64
            ", \"per_s\": %.1f, \"per_playing_bot_s\": %.1f, \"failed\": %" PRIu64 "},\n",
            md->data_sent, md->data_sent_bytes, per_s_of(md->data_sent, d),
            per_s_of(md->data_sent, p), md->data_send_failed);
    fprintf(f,
            "    \"match_data_in\": {\"count\": %" PRIu64 ", \"bytes\": %" PRIu64
            ", \"per_s\": %.1f, \"per_playing_bot_s\": %.1f},\n",
            md->data_in, md->data_in_bytes, per_s_of(md->data_in, d), per_s_of(md->data_in, p));
    fprintf(f,
            "    \"play\": {\"moves\": %" PRIu64 ", \"clamped\": %" PRIu64 ", \"kills\": %" PRIu64
            ", \"deaths\": %" PRIu64 ", \"became_it\": %" PRIu64 ", \"tags_suffered\": %" PRIu64 "},\n",
            md->moves, md->clamps, md->kills, md->deaths, md->tagged, md->tags_suffered);
    fprintf(f, "    \"move_round_trip_ms\": ");
    json_latency(f, &md->rtt_us);
    fprintf(f,
            ",\n    \"refusals\": {\"module_expected\": %" PRIu64
            ", \"module_unexpected\": %" PRIu64 ", \"send_errors\": %" PRIu64
            ", \"send_errors_unexpected\": %" PRIu64 "},\n",
            md->refused_expected, md->refused_unexpected, send_errors(run),
            md->send_errors_unexpected);
    json_records(run, f);
    fprintf(f,
            "    \"anomalies\": {\"mode_mismatch\": %" PRIu64 ", \"summary_missing\": %" PRIu64
            ", \"match_start_missing\": %" PRIu64 ", \"game_over_missing\": %" PRIu64
            ", \"bad_pushes\": %" PRIu64 "}},\n",
            md->mode_mismatch, md->summary_missing, st->start_missing, st->end_missing,
            st->bad_pushes);
}
