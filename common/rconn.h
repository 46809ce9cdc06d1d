/* rconn: one asynchronous Redis connection on a libuv loop (hiredis' libuv adapter) that
 * reconnects by itself with capped exponential backoff and detects a hung server. */
#ifndef CLUSTER_RCONN_H
#define CLUSTER_RCONN_H

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <uv.h>

typedef struct rconn rconn_t;

/* Called when the connection comes up (up = 1; AUTH and SELECT done) and when it goes down
 * (up = 0). After a reconnect the owner must re-issue whatever state it keeps in Redis:
 * subscriptions, registrations. */
typedef void (*rconn_event_cb)(rconn_t *r, int up, void *ud);

/* Sentinel mode, for every rconn created afterwards in this process: instead of the URL's host
 * and port, each (re)connect asks the Sentinels of `list` (REDIS_SENTINELS, "host:port,...")
 * in turn for the address of master `master_name` (REDIS_MASTER_NAME), asynchronously, and
 * checks with ROLE that it reached a master; the URL still gives the password and db. An
 * up connection also subscribes to +switch-master on the Sentinel that answered and
 * reconnects (to the new master) when that master moves. An empty list: off. Returns 0, or -1
 * for a malformed list. */
int rconn_use_sentinels(const char *list, const char *master_name);

/* Starts connecting at once. The URL is redis://[:password@]host[:port][/db]. Host names are
 * resolved with uv_getaddrinfo, never blocking the loop. Returns NULL on a malformed URL. */
rconn_t *rconn_new(uv_loop_t *loop, const char *url, const char *name, rconn_event_cb cb, void *ud);

/* For a connection that will SUBSCRIBE: hiredis 0.14 never answers a PING callback in
 * subscribed mode, so the PING watchdog is off; the owner resets it (rconn_reset) when its
 * command connection to the same server fails. */
void rconn_set_subscriber(rconn_t *r);

/* 1 when connected and ready for commands. */
int rconn_up(const rconn_t *r);

/* Sends a command (hiredis format string). The callback is always called exactly once: with
 * the reply, or with reply == NULL when the connection fails first. Returns -1 (and does not
 * call the callback) when not connected. */
int rconn_cmd(rconn_t *r, redisCallbackFn *fn, void *privdata, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int rconn_cmdargv(rconn_t *r, redisCallbackFn *fn, void *privdata, int argc, const char **argv,
                  const size_t *argvlen);

/* Drops the connection (pending callbacks get NULL) and reconnects after backoff. */
void rconn_reset(rconn_t *r);

/* Closes for good; pending callbacks get NULL; the object is freed once libuv is done. */
void rconn_close(rconn_t *r);

/* Round-trip time of the last watchdog PING, microseconds. */
uint64_t rconn_last_rtt_us(const rconn_t *r);

/* A Redis list read as a work queue: rqueue_poll pops up to n items (LPOP key n) unless a pop
 * is already in flight, and gives a reply with at least one item to fn(ud, ...) (an array; an
 * item may be of any type). An empty list, an error or Redis down gives nothing: the next poll
 * tries again. A zeroed rqueue_t is ready; it must outlive the connection's callbacks (keep it
 * in the daemon's state). */
typedef void (*rqueue_fn)(void *ud, const redisReply *items);
typedef struct rqueue {
    rqueue_fn fn;
    void *ud;
    int pending;
} rqueue_t;

void rqueue_poll(rqueue_t *q, rconn_t *r, const char *key, unsigned n, rqueue_fn fn, void *ud);

#endif
