/* ctl: what clusterctl's commands share (main.c: output helpers; store.c: Redis, the registry
 * and the users) and the commands that live in their own file (web.c). */
#ifndef CTL_H
#define CTL_H

#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdio.h>

#define EXIT_OK 0
#define EXIT_FAILED 1
#define EXIT_USAGE 2

typedef struct ctl {
    const char *redis_url;
    const char *prefix;
    const char *sentinels;   /* empty: connect to redis_url's host */
    const char *master_name;
    int http_timeout_ms;
    redisContext *rc;
} ctl_t;

/* One live server: its registry hash. */
typedef struct server {
    const char *type;
    uint32_t id;
    char address[256];
    int port;
    char admin_address[256];
    int admin_port;
    int status, games, players;
    uint64_t heartbeat;
    char version[32];
    char worker_of[320]; /* gateway workers: "host/supervisor pid" ("" for a single process) */
    int worker;          /* the worker's index, -1 when not a worker */
} server_t;

/* "clusterctl: " + the message and a pointer to --help on stderr, then exit EXIT_USAGE. */
void die_usage(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/* "clusterctl: " + the message on stderr. */
void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* s as a JSON string literal (quotes, backslashes and control characters escaped). */
void json_str(FILE *f, const char *s);
/* smooth, congested, draining or unknown. */
const char *status_name(int s);
/* "Gateway" -> "gateway". */
void lower_type(char *out, size_t n, const char *type);

/* ---- store.c: Redis (every call exits on a Redis error, after saying why) ---- */

/* The connection to c->redis_url (its master, through c->sentinels when set), AUTH and SELECT
 * done. Exits when there is none. */
redisContext *ctl_redis_open(const ctl_t *c);
/* One command on c->rc; never NULL, never an error reply. The caller frees the reply. */
redisReply *ctl_cmd(ctl_t *c, const char *fmt, ...);
/* The hash of server type:id into *s. Returns 0, or -1 when it does not exist (not live). */
int server_read(ctl_t *c, const char *type, uint32_t id, server_t *s);
/* Every live server, sorted by type then id; *out is malloc'ed. */
size_t servers_list(ctl_t *c, server_t **out);
/* "ID" or "TYPE:ID" (type case-insensitive) -> a live server. Returns 0, or EXIT_* after
 * saying why (a malformed spec exits with a usage error). */
int server_find(ctl_t *c, const char *spec, server_t *found);
/* 1 while the server's registry hash exists. */
int server_alive(ctl_t *c, const server_t *s);
/* 1 when s is a non-empty string of decimal digits. */
int all_digits(const char *s);

/* A user's presence (user:<uid>). */
typedef struct user {
    uint64_t uid;
    char name[128];
    int online;
    uint32_t gw;
    uint64_t sid;
    uint64_t room;
} user_t;

/* The user named by who (a user id or a username, case-insensitive) into *u. Returns EXIT_OK,
 * or EXIT_FAILED after saying that Redis knows no such user. */
int user_lookup(ctl_t *c, const char *who, user_t *u);

extern const char WEB_HELP[];
/* clusterctl web: serves the live cluster page until SIGINT/SIGTERM (web.c). */
int cmd_web(ctl_t *c, int argc, char **argv);

#endif
