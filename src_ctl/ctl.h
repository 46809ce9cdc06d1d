/* ctl: what clusterctl's commands share (main.c: Redis registry, output helpers) and the
 * commands that live in their own file (web.c). */
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

/* "clusterctl: " + the message on stderr. */
void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* s as a JSON string literal (quotes, backslashes and control characters escaped). */
void json_str(FILE *f, const char *s);
/* smooth, congested, draining or unknown. */
const char *status_name(int s);
/* "Gateway" -> "gateway". */
void lower_type(char *out, size_t n, const char *type);
/* Every live server, sorted by type then id; *out is malloc'ed. Exits on a Redis error. */
size_t servers_list(ctl_t *c, server_t **out);

extern const char WEB_HELP[];
/* clusterctl web: serves the live cluster page until SIGINT/SIGTERM (web.c). */
int cmd_web(ctl_t *c, int argc, char **argv);

#endif
