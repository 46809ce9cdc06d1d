/* resolve: a host name (docker-compose service names, a DATABASE_URL host) to its first
 * address, in libuv's thread pool so the loop never blocks on getaddrinfo. One request at a
 * time per resolve_t; the gateway's links, the Redis connections and the PostgreSQL pool use
 * it. */
#ifndef CLUSTER_RESOLVE_H
#define CLUSTER_RESOLVE_H

#include <uv.h>

typedef struct resolve resolve_t;

/* status 0 and the first address (port 0; valid during the call only), or a libuv error
 * (UV_EAI_CANCELED after resolve_cancel) and NULL. */
typedef void (*resolve_cb)(resolve_t *rq, int status, const struct sockaddr *addr);

struct resolve {
    uv_getaddrinfo_t gai;
    resolve_cb cb;
    void *data;  /* the caller's */
    int pending; /* from resolve_start until cb runs: the request (and rq) is libuv's */
};

/* Starts resolving host (any family, for a TCP connect); cb runs once, on the loop. Returns 0,
 * or a libuv error: then cb will not run and rq is free again. */
int resolve_start(uv_loop_t *loop, resolve_t *rq, const char *host, resolve_cb cb, void *data);
/* Asks libuv to drop a pending request: cb still runs, with UV_EAI_CANCELED unless it was done. */
void resolve_cancel(resolve_t *rq);

#endif
