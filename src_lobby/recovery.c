/* recovery: what the lobby re-establishes in Redis whenever its connection comes up, because
 * the server it reaches may not hold every write it acknowledged before: a replica promoted by
 * Sentinel lags its old master by the writes still in flight, a Redis restarted empty holds
 * nothing. */
#include <stdio.h>

#include "keys.h"
#include "lobby.h"
#include "log.h"
#include "util.h"

/* Match ids key the records in PostgreSQL (ON CONFLICT DO NOTHING: written once), so a
 * sequence that went back would silently drop the record of a new match that reuses an old
 * id. lobby.lua starts a missing sequence at now (ms) x 1000; a sequence that is present but
 * may be behind (a promoted replica) is raised to the same floor: above every id handed out
 * before, unless that was over 1,000 matches per ms on average. */
static const char SEQ_FLOOR_LUA[] =
    "local v = tonumber(redis.call('GET', KEYS[1]) or '0') "
    "local floor = tonumber(ARGV[1]) * 1000 "
    "if v < floor then redis.call('SET', KEYS[1], string.format('%.0f', floor)) return 1 end "
    "return 0";

static void on_seq_floor(redisAsyncContext *ac, void *reply, void *privdata)
{
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_INTEGER && r->integer == 1)
        log_info("match_seq_raised", "reason=redis_reconnect%s", "");
    else if (r && r->type == REDIS_REPLY_ERROR)
        log_error("match_seq_floor_failed", "error=\"%s\"", r->str);
}

void lobby_redis_up(backend_t *be, void *ud)
{
    (void)ud;
    char key[256], now[24];
    snprintf(key, sizeof key, "%s", key_match_seq(backend_prefix(be)).s);
    snprintf(now, sizeof now, "%llu", (unsigned long long)wall_ms());
    const char *argv[] = {"EVAL", SEQ_FLOOR_LUA, "1", key, now};
    (void)rconn_cmdargv(backend_redis(be), on_seq_floor, NULL, 5, argv, NULL);
}
