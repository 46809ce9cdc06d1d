/* epoch: a random id in Redis that changes only when Redis loses its data. */
#include "epoch.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "keys.h"
#include "log.h"

/* KEYS[1] the epoch key, ARGV[1] a fresh id: returns the id in Redis, creating it if missing. */
static const char EPOCH_LUA[] =
    "local v = redis.call('GET', KEYS[1]) "
    "if not v then redis.call('SET', KEYS[1], ARGV[1]) return ARGV[1] end return v";

struct epoch {
    rconn_t *rc;
    char key[256];
    char known[33]; /* empty until the first check */
    epoch_lost_cb cb;
    void *ud;
    uint64_t losses;
};

epoch_t *epoch_new(rconn_t *rc, const char *prefix, epoch_lost_cb cb, void *ud)
{
    epoch_t *e = xcalloc(1, sizeof *e);
    e->rc = rc;
    snprintf(e->key, sizeof e->key, "%s", key_epoch(prefix).s);
    e->cb = cb;
    e->ud = ud;
    return e;
}

static void on_epoch(redisAsyncContext *ac, void *reply, void *privdata)
{
    epoch_t *e = privdata;
    redisReply *r = reply;
    if (!r)
        return; /* the connection went down: checked again when it is back */
    if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len >= sizeof e->known) {
        log_error("epoch_check_failed", "error=\"%s\"", r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
        return;
    }
    if (e->known[0] && strcmp(e->known, r->str) != 0) {
        e->losses++;
        log_warn("redis_data_lost", "old_epoch=%s new_epoch=%s", e->known, r->str);
        snprintf(e->known, sizeof e->known, "%s", r->str);
        if (e->cb)
            e->cb(e->ud);
        return;
    }
    if (!e->known[0])
        log_info("redis_epoch", "epoch=%s", r->str);
    snprintf(e->known, sizeof e->known, "%s", r->str);
}

void epoch_redis_up(epoch_t *e)
{
    uint8_t rnd[16];
    char fresh[33];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(fresh, sizeof fresh, rnd, sizeof rnd);
    const char *argv[] = {"EVAL", EPOCH_LUA, "1", e->key, fresh};
    (void)rconn_cmdargv(e->rc, on_epoch, e, 5, argv, NULL);
}

uint64_t epoch_losses(const epoch_t *e) { return e->losses; }

void epoch_free(epoch_t *e) { xfree(e); }
