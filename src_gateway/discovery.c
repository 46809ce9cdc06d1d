/* discovery: the gateway finds the lobby and game daemons in the Redis registry: the lists at
 * start, after every Redis reconnect and at every sweep (SWEEP_MS), each server's hash, and
 * the ServerOn / ServerOff announcements on the registry channel; upstream.c keeps the links. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "keys.h"
#include "log.h"
#include "upstream_links.h"
#include "util.h"


typedef struct hq {
    upstreams_t *u;
    int peer_type;
    uint32_t id;
} hq_t;

static int type_from_name(const char *name, size_t n)
{
    if (n == 5 && memcmp(name, "Lobby", 5) == 0)
        return PEER_LOBBY;
    if (n == 4 && memcmp(name, "Game", 4) == 0)
        return PEER_GAME;
    return 0;
}

static void on_hash(redisAsyncContext *ac, void *reply, void *privdata)
{
    hq_t *q = privdata;
    upstreams_t *u = q->u;
    redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        xfree(q);
        return;
    }
    if (r->elements == 0) {
        /* The hash expired: the server is gone. Remove it from the list (atomically, only if
         * still gone) and drop its link. */
        registry_sweep_id(u->gw->redis, u->gw->s.prefix, peer_type_name(q->peer_type), q->id);
        ulink_t *l = find_link(u, q->peer_type, q->id);
        if (l && registry_says_gone(l))
            link_remove(l, "registry_expired");
        xfree(q);
        return;
    }
    const char *address = NULL;
    int port = -1, status = 0;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const char *k = r->element[i]->str, *v = r->element[i + 1]->str;
        if (!k || !v)
            continue;
        if (strcmp(k, "address") == 0)
            address = v;
        else if (strcmp(k, "port") == 0)
            port = atoi(v);
        else if (strcmp(k, "status") == 0)
            status = atoi(v);
    }
    if (address && port > 0 && port < 65536) {
        ensure_link(u, q->peer_type, q->id, address, port, status);
    }
    xfree(q);
}

static void query_server(upstreams_t *u, int peer_type, uint32_t id)
{
    char key[300];
    registry_hash_key(key, sizeof key, u->gw->s.prefix, peer_type_name(peer_type), id);
    hq_t *q = xcalloc(1, sizeof *q);
    q->u = u;
    q->peer_type = peer_type;
    q->id = id;
    if (rconn_cmd(u->gw->redis, on_hash, q, "HGETALL %s", key) < 0)
        xfree(q);
}

typedef struct lq {
    upstreams_t *u;
    int peer_type;
} lq_t;

static void on_list(redisAsyncContext *ac, void *reply, void *privdata)
{
    lq_t *q = privdata;
    upstreams_t *u = q->u;
    redisReply *r = reply;
    int peer_type = q->peer_type;
    xfree(q);
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return;
    uint32_t ids[1024];
    size_t n = 0;
    for (size_t i = 0; i < r->elements && n < 1024; i++) {
        if (r->element[i]->str && server_id_parse(r->element[i]->str, &ids[n]) == 0) {
            query_server(u, peer_type, ids[n]);
            n++;
        }
    }
    /* Links whose id left the list are gone (deregistered, or swept after expiring). */
    for (ulink_t *l = u->links; l; l = l->next) {
        if (l->peer_type != peer_type || l->removed)
            continue;
        int found = 0;
        for (size_t i = 0; i < n && !found; i++)
            found = ids[i] == l->server_id;
        if (!found && registry_says_gone(l))
            link_remove(l, "not_in_registry");
    }
}

void read_lists(upstreams_t *u)
{
    u->sweep_gen++;
    u->last_sweep_ms = uv_now(u->gw->loop);
    for (size_t i = 0; i < sizeof PEER_TYPES / sizeof PEER_TYPES[0]; i++) {
        char list[300];
        registry_list_key(list, sizeof list, u->gw->s.prefix, peer_type_name(PEER_TYPES[i]));
        lq_t *q = xmalloc(sizeof *q);
        q->u = u;
        q->peer_type = PEER_TYPES[i];
        if (rconn_cmd(u->gw->redis, on_list, q, "LRANGE %s 0 -1", list) < 0)
            xfree(q);
    }
}

/* "<prefix>Server:<Type>:<id>" -> type and id; 0 when it is not a backend's key. */
static int parse_server_key(upstreams_t *u, const char *key, size_t len, uint32_t *id)
{
    size_t pl = strlen(u->gw->s.prefix);
    if (len < pl + 7 || memcmp(key, u->gw->s.prefix, pl) != 0 || memcmp(key + pl, "Server:", 7) != 0)
        return 0;
    const char *t = key + pl + 7;
    const char *colon = memchr(t, ':', len - pl - 7);
    if (!colon)
        return 0;
    int type = type_from_name(t, (size_t)(colon - t));
    char num[16];
    size_t nl = len - (size_t)(colon + 1 - key);
    if (!type || nl == 0 || nl >= sizeof num)
        return 0;
    memcpy(num, colon + 1, nl);
    num[nl] = '\0';
    return server_id_parse(num, id) == 0 ? type : 0;
}

static void on_sub_message(redisAsyncContext *ac, void *reply, void *privdata)
{
    upstreams_t *u = privdata;
    redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 3)
        return;
    const char *kind = r->element[0]->str;
    if (!kind)
        return;
    if (strcmp(kind, "subscribe") == 0) {
        if (!u->subscribed) {
            u->subscribed = 1;
            read_lists(u); /* pub/sub is at-most-once: re-read after (re)subscribing */
        }
        return;
    }
    if (strcmp(kind, "message") != 0 || !r->element[1]->str || !r->element[2]->str)
        return;
    char on_chan[300];
    registry_channel(on_chan, sizeof on_chan, u->gw->s.prefix, 1);
    int on = strcmp(r->element[1]->str, on_chan) == 0;
    uint32_t id;
    int type = parse_server_key(u, r->element[2]->str, r->element[2]->len, &id);
    if (!type)
        return;
    if (on) {
        query_server(u, type, id);
    } else {
        ulink_t *l = find_link(u, type, id);
        if (l)
            link_remove(l, "server_off");
    }
}

void upstreams_sub_event(upstreams_t *u, int up)
{
    u->subscribed = 0;
    if (!up)
        return;
    char on[300], off[300];
    registry_channel(on, sizeof on, u->gw->s.prefix, 1);
    registry_channel(off, sizeof off, u->gw->s.prefix, 0);
    (void)rconn_cmd(u->gw->redis_sub, on_sub_message, u, "SUBSCRIBE %s %s", on, off);
}

void upstreams_redis_event(upstreams_t *u, int up)
{
    if (up)
        read_lists(u);
}

