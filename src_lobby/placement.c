/* placement: a match is only running once its game daemon has picked it up. The lobby places
 * a match on a daemon that every player's gateway is linked to (lobby.lua place), the daemon
 * confirms the pickup (src_game/match.c MATCH_INFO_LUA), and here, twice a second, a match
 * not confirmed within PLACEMENT_CONFIRM_MS is placed again on another daemon (the players
 * get GAME_STARTING again) or, after PLACEMENT_RETRIES, ended (MATCH_ABORTED, the room
 * waits again). docs/matches.md, "Placement is confirmed". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "lobby.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

typedef struct placed {
    uint64_t match;
    int ended;
} placed_t;

static void on_room(lobby_t *lb, redisReply *r, void *ud)
{
    placed_t *p = ud;
    room_view_t v;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements > 1 && r->element[0]->type == REDIS_REPLY_STRING &&
        strcmp(r->element[0]->str, "room") == 0 && room_view_parse(&v, r, 1) >= 0) {
        if (p->ended) {
            MatchAborted a = MATCH_ABORTED__INIT;
            a.match_id = p->match;
            a.reason = (char *)"no game server took the match up in time";
            room_view_push_msg(lb, &v, PACKET_TYPE__MATCH_ABORTED, &a.base);
            room_view_push(lb, &v, "match_aborted", 0);
        } else if (v.state.status == ROOM_STATUS__IN_GAME && v.state.match_id == p->match) {
            room_view_push_starting(lb, &v);
        }
        room_view_free(&v);
    }
    xfree(p);
}

static const char *str_at(const redisReply *r, size_t i)
{
    return r->element[i]->type == REDIS_REPLY_STRING ? r->element[i]->str : "";
}

static void on_confirm(lobby_t *lb, redisReply *r, void *ud)
{
    (void)ud;
    lb->placement_pending = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1)
        return;
    metrics_t *mt = backend_metrics(lb->be);
    /* groups of five: room, match, outcome, from game, to game */
    for (size_t i = 1; i + 4 < r->elements; i += 5) {
        int ended = strcmp(str_at(r, i + 2), "ended") == 0;
        placed_t *p = xmalloc(sizeof *p);
        p->match = strtoull(str_at(r, i + 1), NULL, 10);
        p->ended = ended;
        if (ended) {
            metric_inc(metrics_counter(mt, "cluster_lobby_placements_ended_total",
                                       "matches ended because no game daemon picked them up in time", NULL));
            log_warn("placement_unconfirmed", "match=%llu room=%s game=%s action=ended",
                     (unsigned long long)p->match, str_at(r, i), str_at(r, i + 3));
        } else {
            metric_inc(metrics_counter(mt, "cluster_lobby_placements_moved_total",
                                       "matches placed again because their daemon did not pick them up in time",
                                       NULL));
            log_warn("placement_unconfirmed", "match=%llu room=%s game=%s action=placed_again to=%s",
                     (unsigned long long)p->match, str_at(r, i), str_at(r, i + 3), str_at(r, i + 4));
        }
        const char *argv[] = {str_at(r, i)};
        if (lobby_script(lb, on_room, p, "state", 1, argv) != 0)
            xfree(p);
    }
}

void lobby_placement_tick(lobby_t *lb)
{
    if (lb->placement_pending)
        return;
    char now[24], confirm[24], stale[24], retries[24], hold[24];
    snprintf(now, sizeof now, "%llu", (unsigned long long)wall_ms());
    snprintf(confirm, sizeof confirm, "%lld", (long long)lb->placement_confirm_ms);
    snprintf(stale, sizeof stale, "%lld", (long long)lb->placement_stale_ms);
    snprintf(retries, sizeof retries, "%lld", (long long)lb->placement_retries);
    /* The daemon that let a match wait sits out new placements for a while. */
    snprintf(hold, sizeof hold, "%lld", (long long)lb->placement_confirm_ms * 5);
    const char *argv[] = {now, confirm, stale, retries, hold};
    if (lobby_script(lb, on_confirm, NULL, "placement_confirm", 5, argv) == 0)
        lb->placement_pending = 1;
}
