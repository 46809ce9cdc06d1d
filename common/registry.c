/* registry: self-registration, heartbeat and deregistration in the Redis registry. */
#include "keys.h"
#include "registry.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "log.h"
#include "util.h"

/* Refreshes the hash only if it still exists (else the daemon must register again, announcing
 * itself), and puts the id back in the list if a sweep removed it. */
static const char HEARTBEAT_LUA[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end "
    "redis.call('HSET', KEYS[1], 'status', ARGV[1], 'games', ARGV[2], 'players', ARGV[3], "
    "'heartbeat', ARGV[4]) "
    "redis.call('PEXPIRE', KEYS[1], ARGV[5]) "
    "if not redis.call('LPOS', KEYS[2], ARGV[6]) then redis.call('RPUSH', KEYS[2], ARGV[6]) end "
    "for i = 7, #ARGV - 1, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end "
    "return 1";

/* Keeps Server:<Type>:seq at least at an id we hold, so that after a Redis restart INCR never
 * hands our id to a newcomer. */
static const char BUMP_SEQ_LUA[] =
    "local v = tonumber(redis.call('GET', KEYS[1]) or '0') "
    "if v < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end return 1";

/* The sweep: remove an id from its list only if its hash is gone, atomically. */
static const char SWEEP_LUA[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return redis.call('LREM', KEYS[2], 0, ARGV[1]) end "
    "return 0";

#define REG_MAX_FIELDS 8

struct registry {
    uv_loop_t *loop;
    rconn_t *rc;
    char *prefix, *type, *address, *version;
    int port;
    char *admin_address;
    int admin_port;
    char *field_name[REG_MAX_FIELDS], *field_value[REG_MAX_FIELDS];
    int nfields;
    char instance[33];
    uint32_t id;
    int status, games, players;
    int registered, registering, hb_pending;
    uv_timer_t timer;
    registry_cb cb;
    void *ud;
    void (*dereg_done)(void *);
    void *dereg_ud;
    int stopped;
};

void registry_list_key(char *out, size_t n, const char *prefix, const char *type)
{
    snprintf(out, n, "%s", key_server_list(prefix, type).s);
}

void registry_hash_key(char *out, size_t n, const char *prefix, const char *type, uint32_t id)
{
    snprintf(out, n, "%s", key_server(prefix, type, id).s);
}

void registry_channel(char *out, size_t n, const char *prefix, int on)
{
    snprintf(out, n, "%s%s", prefix, on ? "ServerOn" : "ServerOff");
}

static void start_register(registry_t *g);

static void on_exec(redisAsyncContext *ac, void *reply, void *privdata)
{
    registry_t *g = privdata;
    redisReply *r = reply;
    g->registering = 0;
    if (!r)
        return;
    if (r->type != REDIS_REPLY_ARRAY) {
        log_error("registry_register_failed", "type=%s id=%u error=\"%s\"", g->type, g->id,
                  r->type == REDIS_REPLY_ERROR ? r->str : "transaction aborted");
        return; /* the heartbeat timer tries again */
    }
    g->registered = 1;
    log_set_id(g->id);
    log_info("registry_registered", "type=%s id=%u address=%s port=%d status=%d", g->type, g->id,
             g->address, g->port, g->status);
    if (g->cb)
        g->cb(g, g->id, g->ud);
}

static void send_registration(registry_t *g)
{
    char list[256], key[256], chan[256], idbuf[16], port[16], status[8], games[16], players[16],
        hb[24];
    registry_list_key(list, sizeof list, g->prefix, g->type);
    registry_hash_key(key, sizeof key, g->prefix, g->type, g->id);
    registry_channel(chan, sizeof chan, g->prefix, 1);
    snprintf(idbuf, sizeof idbuf, "%u", g->id);
    snprintf(port, sizeof port, "%d", g->port);
    snprintf(status, sizeof status, "%d", g->status);
    snprintf(games, sizeof games, "%d", g->games);
    snprintf(players, sizeof players, "%d", g->players);
    snprintf(hb, sizeof hb, "%llu", (unsigned long long)wall_ms());
    char bump[] = "EVAL";
    const char *bargv[] = {bump, BUMP_SEQ_LUA, "1", NULL, idbuf};
    rkey_t seqkey = key_server_seq(g->prefix, g->type);
    bargv[3] = seqkey.s;
    int ok = rconn_cmdargv(g->rc, NULL, NULL, 5, bargv, NULL) == 0;
    ok = ok && rconn_cmd(g->rc, NULL, NULL, "MULTI") == 0;
    ok = ok && rconn_cmd(g->rc, NULL, NULL, "LREM %s 0 %s", list, idbuf) == 0;
    ok = ok && rconn_cmd(g->rc, NULL, NULL, "RPUSH %s %s", list, idbuf) == 0;
    ok = ok && rconn_cmd(g->rc, NULL, NULL,
                         "HSET %s address %s port %s status %s games %s players %s heartbeat %s "
                         "version %s instance %s",
                         key, g->address, port, status, games, players, hb, g->version,
                         g->instance) == 0;
    if (g->admin_port > 0)
        ok = ok && rconn_cmd(g->rc, NULL, NULL, "HSET %s admin_address %s admin_port %d", key,
                             g->admin_address, g->admin_port) == 0;
    for (int i = 0; i < g->nfields; i++)
        ok = ok && rconn_cmd(g->rc, NULL, NULL, "HSET %s %s %s", key, g->field_name[i],
                             g->field_value[i]) == 0;
    ok = ok && rconn_cmd(g->rc, NULL, NULL, "PEXPIRE %s %d", key, REG_EXPIRE_MS) == 0;
    ok = ok && rconn_cmd(g->rc, NULL, NULL, "PUBLISH %s %s", chan, key) == 0;
    ok = ok && rconn_cmd(g->rc, on_exec, g, "EXEC") == 0;
    if (!ok)
        g->registering = 0;
}

static void on_incr(redisAsyncContext *ac, void *reply, void *privdata)
{
    registry_t *g = privdata;
    redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_INTEGER || r->integer <= 0 || r->integer > UINT32_MAX) {
        g->registering = 0;
        if (r)
            log_error("registry_incr_failed", "type=%s", g->type);
        return;
    }
    g->id = (uint32_t)r->integer;
    send_registration(g);
}

static void new_id(registry_t *g)
{
    if (rconn_cmd(g->rc, on_incr, g, "INCR %s", key_server_seq(g->prefix, g->type).s) < 0)
        g->registering = 0;
}

static void on_instance(redisAsyncContext *ac, void *reply, void *privdata)
{
    registry_t *g = privdata;
    redisReply *r = reply;
    if (!r) {
        g->registering = 0;
        return;
    }
    if (r->type == REDIS_REPLY_STRING && strcmp(r->str, g->instance) != 0) {
        log_warn("registry_id_taken", "type=%s id=%u action=new_id", g->type, g->id);
        new_id(g);
        return;
    }
    send_registration(g);
}

static void start_register(registry_t *g)
{
    if (g->registering || g->stopped || !rconn_up(g->rc))
        return;
    g->registering = 1;
    if (g->id == 0) {
        new_id(g);
        return;
    }
    char key[256];
    registry_hash_key(key, sizeof key, g->prefix, g->type, g->id);
    if (rconn_cmd(g->rc, on_instance, g, "HGET %s instance", key) < 0)
        g->registering = 0;
}

static void on_heartbeat(redisAsyncContext *ac, void *reply, void *privdata)
{
    registry_t *g = privdata;
    redisReply *r = reply;
    g->hb_pending = 0;
    if (!r || g->stopped)
        return;
    if (r->type == REDIS_REPLY_INTEGER && r->integer == 0) {
        log_warn("registry_entry_lost", "type=%s id=%u action=register", g->type, g->id);
        g->registered = 0;
        start_register(g);
    } else if (r->type == REDIS_REPLY_ERROR) {
        log_error("registry_heartbeat_failed", "error=\"%s\"", r->str);
    }
}

static void heartbeat(registry_t *g)
{
    if (g->stopped || !rconn_up(g->rc))
        return;
    if (!g->registered) {
        start_register(g);
        return;
    }
    if (g->hb_pending)
        return;
    char list[256], key[256], idbuf[16], status[8], games[16], players[16], hb[24], exp[16];
    registry_list_key(list, sizeof list, g->prefix, g->type);
    registry_hash_key(key, sizeof key, g->prefix, g->type, g->id);
    snprintf(idbuf, sizeof idbuf, "%u", g->id);
    snprintf(status, sizeof status, "%d", g->status);
    snprintf(games, sizeof games, "%d", g->games);
    snprintf(players, sizeof players, "%d", g->players);
    snprintf(hb, sizeof hb, "%llu", (unsigned long long)wall_ms());
    snprintf(exp, sizeof exp, "%d", REG_EXPIRE_MS);
    const char *argv[11 + 2 * REG_MAX_FIELDS] = {"EVAL", HEARTBEAT_LUA, "2", key, list, status,
                                                games, players, hb, exp, idbuf};
    int argc = 11;
    for (int i = 0; i < g->nfields; i++) {
        argv[argc++] = g->field_name[i];
        argv[argc++] = g->field_value[i];
    }
    if (rconn_cmdargv(g->rc, on_heartbeat, g, argc, argv, NULL) == 0)
        g->hb_pending = 1;
}

static void on_timer(uv_timer_t *t) { heartbeat(t->data); }

registry_t *registry_new(uv_loop_t *loop, rconn_t *rc, const char *prefix, const char *type,
                         const char *address, int port, const char *version, registry_cb cb,
                         void *ud)
{
    registry_t *g = xcalloc(1, sizeof *g);
    g->loop = loop;
    g->rc = rc;
    g->prefix = xstrdup(prefix);
    g->type = xstrdup(type);
    g->address = xstrdup(address);
    g->version = xstrdup(version);
    g->port = port;
    g->status = REG_STATUS_SMOOTH;
    g->cb = cb;
    g->ud = ud;
    uint8_t rnd[16];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(g->instance, sizeof g->instance, rnd, sizeof rnd);
    uv_timer_init(loop, &g->timer);
    g->timer.data = g;
    uv_timer_start(&g->timer, on_timer, REG_HEARTBEAT_MS, REG_HEARTBEAT_MS);
    return g;
}

void registry_redis_event(registry_t *g, int up)
{
    g->registered = 0;
    g->registering = 0;
    g->hb_pending = 0;
    if (up)
        start_register(g);
}

uint32_t registry_id(const registry_t *g) { return g->id; }
int registry_registered(const registry_t *g) { return g->registered; }

void registry_set_load(registry_t *g, int games, int players)
{
    g->games = games;
    g->players = players;
}

void registry_set_admin(registry_t *g, const char *address, int port)
{
    xfree(g->admin_address);
    g->admin_address = xstrdup(address);
    g->admin_port = port;
}

int registry_set_field(registry_t *g, const char *name, const char *value)
{
    int i = 0;
    while (i < g->nfields && strcmp(g->field_name[i], name) != 0)
        i++;
    if (i == g->nfields) {
        if (g->nfields == REG_MAX_FIELDS)
            return -1;
        g->field_name[g->nfields++] = xstrdup(name);
    } else {
        xfree(g->field_value[i]);
    }
    g->field_value[i] = xstrdup(value);
    if (g->registered) {
        g->hb_pending = 0; /* publish now (through the heartbeat: never recreates an expired hash) */
        heartbeat(g);
    }
    return 0;
}

void registry_set_status(registry_t *g, int status)
{
    if (g->status == status)
        return;
    g->status = status;
    log_info("registry_status", "type=%s id=%u status=%d", g->type, g->id, status);
    g->hb_pending = 0; /* send now even if the last heartbeat is still out */
    heartbeat(g);
}

static void on_dereg(redisAsyncContext *ac, void *reply, void *privdata)
{
    registry_t *g = privdata;
    if (reply)
        log_info("registry_deregistered", "type=%s id=%u", g->type, g->id);
    else
        log_warn("registry_deregister_failed", "type=%s id=%u error=redis_down", g->type, g->id);
    if (g->dereg_done) {
        void (*done)(void *) = g->dereg_done;
        g->dereg_done = NULL;
        done(g->dereg_ud);
    }
}

void registry_deregister(registry_t *g, void (*done)(void *ud), void *ud)
{
    g->stopped = 1;
    uv_timer_stop(&g->timer);
    g->dereg_done = done;
    g->dereg_ud = ud;
    char list[256], key[256], chan[256], idbuf[16];
    registry_list_key(list, sizeof list, g->prefix, g->type);
    registry_hash_key(key, sizeof key, g->prefix, g->type, g->id);
    registry_channel(chan, sizeof chan, g->prefix, 0);
    snprintf(idbuf, sizeof idbuf, "%u", g->id);
    int ok = g->id && rconn_up(g->rc);
    ok = ok && rconn_cmd(g->rc, NULL, NULL, "MULTI") == 0;
    ok = ok && rconn_cmd(g->rc, NULL, NULL, "LREM %s 0 %s", list, idbuf) == 0;
    ok = ok && rconn_cmd(g->rc, NULL, NULL, "DEL %s", key) == 0;
    ok = ok && rconn_cmd(g->rc, NULL, NULL, "PUBLISH %s %s", chan, key) == 0;
    ok = ok && rconn_cmd(g->rc, on_dereg, g, "EXEC") == 0;
    if (!ok)
        on_dereg(NULL, NULL, g);
}

void registry_close(registry_t *g)
{
    g->stopped = 1;
    uv_timer_stop(&g->timer);
    uv_close((uv_handle_t *)&g->timer, NULL);
}

void registry_free(registry_t *g)
{
    xfree(g->prefix);
    xfree(g->type);
    xfree(g->address);
    xfree(g->version);
    xfree(g->admin_address);
    for (int i = 0; i < g->nfields; i++) {
        xfree(g->field_name[i]);
        xfree(g->field_value[i]);
    }
    xfree(g);
}

void registry_sweep_id(rconn_t *rc, const char *prefix, const char *type, uint32_t id)
{
    char list[256], key[256], idbuf[16];
    registry_list_key(list, sizeof list, prefix, type);
    registry_hash_key(key, sizeof key, prefix, type, id);
    snprintf(idbuf, sizeof idbuf, "%u", id);
    const char *argv[] = {"EVAL", SWEEP_LUA, "2", key, list, idbuf};
    (void)rconn_cmdargv(rc, NULL, NULL, 6, argv, NULL);
}
