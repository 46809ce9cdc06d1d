/* throttle: login throttling per source address and username, and per source address. */
#include "keys.h"
#include "throttle.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "log.h"
#include "srcaddr.h"
#include "util.h"

/* KEYS: pair, source. check: ARGV now, free_pair, free_src, base_ms, max_ms, ttl_ms. Returns
 * {1, 0} (allowed and counted for the pair) or {0, wait ms}: after n counted failures, free of
 * them without wait, the next attempt waits base_ms x 2^(n - free) after the last, at most
 * max_ms. */
static const char THROTTLE_LUA[] =
    "local op, now = ARGV[1], tonumber(ARGV[2]) "
    "if op == 'check' then "
    "  local base, maxd, ttl = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7] "
    "  local function wait(key, free) "
    "    local h = redis.call('HMGET', key, 'n', 'last') "
    "    local n, last = tonumber(h[1] or '0'), tonumber(h[2] or '0') "
    "    if n < free then return 0 end "
    "    local e = n - free if e > 40 then e = 40 end "
    "    local d = base * 2 ^ e if d > maxd then d = maxd end "
    "    local w = last + d - now if w < 0 then w = 0 end return w end "
    "  local w = math.max(wait(KEYS[1], tonumber(ARGV[3])), wait(KEYS[2], tonumber(ARGV[4]))) "
    "  if w > 0 then return {0, math.ceil(w)} end "
    "  redis.call('HINCRBY', KEYS[1], 'n', 1) "
    "  redis.call('HSET', KEYS[1], 'last', ARGV[2]) "
    "  redis.call('PEXPIRE', KEYS[1], ttl) "
    "  return {1, 0} "
    "elseif op == 'success' then redis.call('DEL', KEYS[1]) "
    "elseif op == 'failure' then "
    "  redis.call('HINCRBY', KEYS[2], 'n', 1) "
    "  redis.call('HSET', KEYS[2], 'last', ARGV[2]) "
    "  redis.call('PEXPIRE', KEYS[2], ARGV[3]) "
    "elseif op == 'unchecked' then "
    "  if tonumber(redis.call('HGET', KEYS[1], 'n') or '0') > 0 then "
    "    redis.call('HINCRBY', KEYS[1], 'n', -1) end "
    "end return {1, 0}";

static void keys_of(lobby_t *lb, const uint8_t src[16], const char *username, char *pair,
                    size_t np, char *source, size_t ns)
{
    char sk[SRCADDR_KEY_MAX], lower[64];
    srcaddr_key(src, sk, sizeof sk);
    size_t i = 0;
    for (; username[i] && i + 1 < sizeof lower; i++)
        lower[i] = (username[i] >= 'A' && username[i] <= 'Z') ? (char)(username[i] + 32) : username[i];
    lower[i] = '\0';
    snprintf(pair, np, "%s", key_throttle_pair(backend_prefix(lb->be), sk, lower).s);
    snprintf(source, ns, "%s", key_throttle_source(backend_prefix(lb->be), sk).s);
}

typedef struct throttle_rq {
    lobby_t *lb;
    throttle_cb cb;
    void *ud;
} throttle_rq_t;

static void on_check(redisAsyncContext *ac, void *reply, void *privdata)
{
    throttle_rq_t *t = privdata;
    redisReply *r = reply;
    int status = -1;
    uint32_t retry = 0;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_INTEGER && r->element[1]->type == REDIS_REPLY_INTEGER) {
        status = r->element[0]->integer == 1;
        long long w = r->element[1]->integer;
        retry = w < 0 ? 0 : w > UINT32_MAX ? UINT32_MAX : (uint32_t)w;
    } else if (r && r->type == REDIS_REPLY_ERROR) {
        log_error("login_throttle_failed", "error=\"%s\"", r->str);
    }
    t->cb(t->lb, status, retry, t->ud);
    xfree(t);
}

int throttle_check(lobby_t *lb, const uint8_t src[16], const char *username, throttle_cb cb,
                   void *ud)
{
    char pair[RKEY_MAX], source[RKEY_MAX], now[24], fp[24], fs[24], base[24], maxd[24], ttl[24];
    keys_of(lb, src, username, pair, sizeof pair, source, sizeof source);
    snprintf(now, sizeof now, "%llu", (unsigned long long)wall_ms());
    snprintf(fp, sizeof fp, "%lld", (long long)lb->login_fail_limit);
    snprintf(fs, sizeof fs, "%lld", (long long)lb->login_source_fail_limit);
    snprintf(base, sizeof base, "%lld", (long long)lb->login_backoff_ms);
    snprintf(maxd, sizeof maxd, "%lld", (long long)lb->login_backoff_max_ms);
    snprintf(ttl, sizeof ttl, "%lld", (long long)lb->login_fail_window_s * 1000);
    const char *argv[] = {"EVAL", THROTTLE_LUA, "2", pair, source, "check", now, fp, fs, base, maxd, ttl};
    throttle_rq_t *t = xcalloc(1, sizeof *t);
    t->lb = lb;
    t->cb = cb;
    t->ud = ud;
    if (rconn_cmdargv(backend_redis(lb->be), on_check, t, 12, argv, NULL) != 0) {
        xfree(t);
        return -1;
    }
    return 0;
}

void throttle_done(lobby_t *lb, const uint8_t src[16], const char *username,
                   throttle_outcome_t outcome)
{
    char pair[RKEY_MAX], source[RKEY_MAX], now[24], ttl[24];
    keys_of(lb, src, username, pair, sizeof pair, source, sizeof source);
    snprintf(now, sizeof now, "%llu", (unsigned long long)wall_ms());
    snprintf(ttl, sizeof ttl, "%lld", (long long)lb->login_fail_window_s * 1000);
    const char *op = outcome == THROTTLE_SUCCESS   ? "success"
                     : outcome == THROTTLE_FAILURE ? "failure"
                                                   : "unchecked";
    const char *argv[] = {"EVAL", THROTTLE_LUA, "2", pair, source, op, now, ttl};
    (void)rconn_cmdargv(backend_redis(lb->be), NULL, NULL, 8, argv, NULL);
}
