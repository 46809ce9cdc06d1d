/* store: what clusterctl reads from Redis: the connection (through Sentinel when asked), the
 * registry's live servers and the users' presence keys. Synchronous hiredis: blocking is fine
 * in a command-line tool. */
#include <ctype.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ctl.h"
#include "keys.h"
#include "sentinel.h"
#include "util.h"

static const char *TYPES[] = {"Gateway", "Lobby", "Game"};
#define NTYPES 3

/* ---- Redis ---- */

/* Asks the Sentinels in turn for the master's address (clusterctl may block: it is a
 * command-line tool, not an event loop). Exits when none names it. */
static void sentinel_master(const ctl_t *c, redis_url_t *u)
{
    sentinel_addr_t s[SENTINEL_MAX];
    int n = sentinel_list_parse(c->sentinels, s, SENTINEL_MAX);
    if (n < 0)
        die_usage("bad Sentinel list \"%s\" (host:port,...)", c->sentinels);
    struct timeval tv = {2, 0};
    for (int i = 0; i < n; i++) {
        redisContext *sc = redisConnectWithTimeout(s[i].host, s[i].port, tv);
        redisReply *r = sc && !sc->err ? redisCommand(sc, "SENTINEL get-master-addr-by-name %s", c->master_name) : NULL;
        int ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->str &&
                 r->element[1]->str && strlen(r->element[0]->str) < sizeof u->host;
        if (ok) {
            snprintf(u->host, sizeof u->host, "%s", r->element[0]->str);
            u->port = atoi(r->element[1]->str);
        }
        if (r)
            freeReplyObject(r);
        if (sc)
            redisFree(sc);
        if (ok)
            return;
    }
    fail("no Sentinel of \"%s\" knows the master \"%s\"", c->sentinels, c->master_name);
    exit(EXIT_FAILED);
}

redisContext *ctl_redis_open(const ctl_t *c)
{
    redis_url_t u;
    if (redis_url_parse(c->redis_url, &u) < 0)
        die_usage("bad Redis URL \"%s\"", c->redis_url);
    if (c->sentinels && *c->sentinels)
        sentinel_master(c, &u);
    struct timeval tv = {3, 0};
    redisContext *rc = redisConnectWithTimeout(u.host, u.port, tv);
    if (!rc || rc->err) {
        fail("cannot connect to Redis at %s:%d: %s", u.host, u.port, rc ? rc->errstr : "out of memory");
        exit(EXIT_FAILED);
    }
    redisSetTimeout(rc, tv);
    redisReply *r = NULL;
    if (u.password[0]) {
        r = u.user[0] ? redisCommand(rc, "AUTH %s %s", u.user, u.password) : redisCommand(rc, "AUTH %s", u.password);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            fail("Redis AUTH failed");
            exit(EXIT_FAILED);
        }
        freeReplyObject(r);
    }
    if (u.db) {
        r = redisCommand(rc, "SELECT %d", u.db);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            fail("Redis SELECT %d failed", u.db);
            exit(EXIT_FAILED);
        }
        freeReplyObject(r);
    }
    return rc;
}

redisReply *ctl_cmd(ctl_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c->rc, fmt, ap);
    va_end(ap);
    if (!r) {
        fail("Redis: %s", c->rc->errstr);
        exit(EXIT_FAILED);
    }
    if (r->type == REDIS_REPLY_ERROR) {
        fail("Redis: %s", r->str);
        exit(EXIT_FAILED);
    }
    return r;
}

/* Reads the hash of server type:id. Returns 0, or -1 when it does not exist (not live). */
int server_read(ctl_t *c, const char *type, uint32_t id, server_t *s)
{
    redisReply *r = ctl_cmd(c, "HGETALL %s", key_server(c->prefix, type, id).s);
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
        freeReplyObject(r);
        return -1;
    }
    memset(s, 0, sizeof *s);
    s->type = type;
    s->id = id;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const char *k = r->element[i]->str, *v = r->element[i + 1]->str;
        if (!k || !v)
            continue;
        if (strcmp(k, "address") == 0)
            snprintf(s->address, sizeof s->address, "%s", v);
        else if (strcmp(k, "port") == 0)
            s->port = atoi(v);
        else if (strcmp(k, "admin_address") == 0)
            snprintf(s->admin_address, sizeof s->admin_address, "%s", v);
        else if (strcmp(k, "admin_port") == 0)
            s->admin_port = atoi(v);
        else if (strcmp(k, "status") == 0)
            s->status = atoi(v);
        else if (strcmp(k, "games") == 0)
            s->games = atoi(v);
        else if (strcmp(k, "players") == 0)
            s->players = atoi(v);
        else if (strcmp(k, "heartbeat") == 0)
            s->heartbeat = strtoull(v, NULL, 10);
        else if (strcmp(k, "version") == 0)
            snprintf(s->version, sizeof s->version, "%s", v);
        else if (strcmp(k, "worker_of") == 0)
            snprintf(s->worker_of, sizeof s->worker_of, "%s", v);
        else if (strcmp(k, "worker") == 0)
            s->worker = atoi(v);
    }
    if (!s->worker_of[0])
        s->worker = -1;
    freeReplyObject(r);
    return 0;
}

static int cmp_server(const void *a, const void *b)
{
    const server_t *x = a, *y = b;
    int tx = 0, ty = 0;
    for (int i = 0; i < NTYPES; i++) {
        if (x->type == TYPES[i])
            tx = i;
        if (y->type == TYPES[i])
            ty = i;
    }
    if (tx != ty)
        return tx - ty;
    /* the workers of one supervisor (host/pid) together, after the single processes */
    int c = strcmp(x->worker_of, y->worker_of);
    if (c)
        return c;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Every live server (listed, and its hash exists), sorted by type then id. Returns how many;
 * *out is malloc'ed. */
size_t servers_list(ctl_t *c, server_t **out)
{
    size_t n = 0, cap = 16;
    server_t *v = malloc(cap * sizeof *v);
    for (int t = 0; t < NTYPES; t++) {
        redisReply *r = ctl_cmd(c, "LRANGE %s 0 -1", key_server_list(c->prefix, TYPES[t]).s);
        for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
            uint32_t id;
            if (!r->element[i]->str || server_id_parse(r->element[i]->str, &id) < 0)
                continue;
            int dup = 0;
            for (size_t k = 0; k < n; k++)
                dup |= v[k].type == TYPES[t] && v[k].id == id;
            if (dup)
                continue;
            if (n == cap)
                v = realloc(v, (cap *= 2) * sizeof *v);
            if (server_read(c, TYPES[t], id, &v[n]) == 0)
                n++;
        }
        freeReplyObject(r);
    }
    qsort(v, n, sizeof *v, cmp_server);
    *out = v;
    return n;
}

/* "ID" or "TYPE:ID" (type case-insensitive) -> a live server. Returns 0, or EXIT_* after
 * saying why. */
int server_find(ctl_t *c, const char *spec, server_t *found)
{
    const char *type = NULL;
    const char *idtext = spec;
    const char *colon = strchr(spec, ':');
    if (colon) {
        for (int t = 0; t < NTYPES; t++)
            if (strlen(TYPES[t]) == (size_t)(colon - spec) && strncasecmp(spec, TYPES[t], (size_t)(colon - spec)) == 0)
                type = TYPES[t];
        if (!type)
            die_usage("unknown server type in \"%s\" (gateway, lobby or game)", spec);
        idtext = colon + 1;
    }
    uint32_t id;
    if (server_id_parse(idtext, &id) < 0)
        die_usage("bad server id \"%s\" (ID or TYPE:ID, e.g. game:3)", spec);
    int matches = 0;
    char names[256] = "";
    for (int t = 0; t < NTYPES; t++) {
        if (type && type != TYPES[t])
            continue;
        server_t s;
        if (server_read(c, TYPES[t], id, &s) == 0) {
            *found = s;
            matches++;
            char lt[16];
            lower_type(lt, sizeof lt, TYPES[t]);
            size_t l = strlen(names);
            snprintf(names + l, sizeof names - l, "%s%s:%u", l ? ", " : "", lt, id);
        }
    }
    if (matches == 0) {
        fail("no live server %s in the registry (prefix \"%s\")", spec, c->prefix);
        return EXIT_FAILED;
    }
    if (matches > 1) {
        fail("id %u is ambiguous: %s; say which with TYPE:ID", id, names);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

int server_alive(ctl_t *c, const server_t *s)
{
    redisReply *r = ctl_cmd(c, "EXISTS %s", key_server(c->prefix, s->type, s->id).s);
    int alive = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    return alive;
}

/* ---- users ---- */

int all_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

/* Escapes glob characters for SCAN MATCH. */
static void glob_escape(char *out, size_t n, const char *in)
{
    size_t o = 0;
    for (; *in && o + 2 < n; in++) {
        if (strchr("*?[]\\", *in))
            out[o++] = '\\';
        out[o++] = *in;
    }
    out[o] = '\0';
}

static int user_exists(ctl_t *c, uint64_t uid)
{
    redisReply *r = ctl_cmd(c, "EXISTS %s", key_user(c->prefix, uid).s);
    int e = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    return e;
}

/* A user id, or a username (case-insensitive): the lobby's username:<lower> key, else a scan
 * of the user:<uid> hashes. Returns the id, or 0 when no such user is known to Redis. */
static uint64_t user_find(ctl_t *c, const char *who)
{
    if (all_digits(who)) {
        uint64_t uid = strtoull(who, NULL, 10);
        if (uid && user_exists(c, uid))
            return uid;
    }
    char lower[256];
    size_t i = 0;
    for (; who[i] && i + 1 < sizeof lower; i++)
        lower[i] = (char)tolower((unsigned char)who[i]);
    lower[i] = '\0';
    redisReply *r = ctl_cmd(c, "GET %s", key_username(c->prefix, lower).s);
    uint64_t uid = r->type == REDIS_REPLY_STRING ? strtoull(r->str, NULL, 10) : 0;
    freeReplyObject(r);
    if (uid && user_exists(c, uid))
        return uid;
    /* Users that logged in before the username key existed: scan (fine for a CLI). */
    char pat[600];
    char esc[512];
    glob_escape(esc, sizeof esc, c->prefix);
    snprintf(pat, sizeof pat, "%suser:*", esc);
    size_t plen = strlen(c->prefix) + 5;
    char cursor[32] = "0";
    do {
        r = ctl_cmd(c, "SCAN %s MATCH %s COUNT 1000", cursor, pat);
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            freeReplyObject(r);
            return 0;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        redisReply *keys = r->element[1];
        for (size_t k = 0; k < keys->elements && !uid; k++) {
            const char *key = keys->element[k]->str;
            if (!key || strlen(key) <= plen || !all_digits(key + plen))
                continue;
            redisReply *n = ctl_cmd(c, "HGET %s name", key);
            if (n->type == REDIS_REPLY_STRING && strcasecmp(n->str, who) == 0)
                uid = strtoull(key + plen, NULL, 10);
            freeReplyObject(n);
        }
        freeReplyObject(r);
    } while (!uid && strcmp(cursor, "0") != 0);
    return uid;
}


static void user_read(ctl_t *c, uint64_t uid, user_t *u)
{
    memset(u, 0, sizeof *u);
    u->uid = uid;
    redisReply *r = ctl_cmd(c, "HMGET %s name online gw sid room", key_user(c->prefix, uid).s);
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 5) {
        if (r->element[0]->str)
            snprintf(u->name, sizeof u->name, "%s", r->element[0]->str);
        u->online = r->element[1]->str && strcmp(r->element[1]->str, "1") == 0;
        u->gw = r->element[2]->str ? (uint32_t)strtoul(r->element[2]->str, NULL, 10) : 0;
        u->sid = r->element[3]->str ? strtoull(r->element[3]->str, NULL, 10) : 0;
        u->room = r->element[4]->str ? strtoull(r->element[4]->str, NULL, 10) : 0;
    }
    freeReplyObject(r);
}

/* The user named by who (a user id or a username) into *u. Returns EXIT_OK, or EXIT_FAILED
 * after saying that Redis knows no such user. */
int user_lookup(ctl_t *c, const char *who, user_t *u)
{
    uint64_t uid = user_find(c, who);
    if (!uid) {
        fail("no user \"%s\" known to Redis", who);
        return EXIT_FAILED;
    }
    user_read(c, uid, u);
    return EXIT_OK;
}
