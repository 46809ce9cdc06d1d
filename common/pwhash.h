/* pwhash: argon2id password hashing and verification off the event loop (uv_queue_work),
 * through a bounded queue: past the bound a request is refused at once (BUSY), the loop never
 * waits. Passwords are copied, and wiped after use. */
#ifndef CLUSTER_PWHASH_H
#define CLUSTER_PWHASH_H

#include <stddef.h>
#include <uv.h>

typedef struct pwhash pwhash_t;

enum {
    PWHASH_OK = 0,        /* hashed / password matches */
    PWHASH_MISMATCH = -1, /* verify: wrong password */
    PWHASH_BUSY = -2,     /* returned by pwhash_hash/verify: the queue is full, no callback */
    PWHASH_ERROR = -3,    /* out of memory in libsodium, malformed stored hash */
};

/* hash: the crypto_pwhash_str string (NUL-terminated) on PWHASH_OK for pwhash_hash; NULL
 * otherwise. Valid during the call only. */
typedef void (*pwhash_cb)(int status, const char *hash, void *ud);

/* max_inflight bounds hashes queued or running; opslimit/memlimit as crypto_pwhash_str
 * (0 = the interactive limits). */
pwhash_t *pwhash_new(uv_loop_t *loop, int max_inflight, unsigned long long opslimit, size_t memlimit);

/* Returns 0 (callback later, on the loop thread) or PWHASH_BUSY (no callback; also after
 * pwhash_close). The password is copied (len bytes, NUL bytes included) and wiped after use.
 * The work runs on libuv's shared thread pool: keep max_inflight below its size
 * (UV_THREADPOOL_SIZE, 4 by default) so uv_getaddrinfo never waits behind hashes. */
int pwhash_hash(pwhash_t *p, const char *password, size_t len, pwhash_cb cb, void *ud);
int pwhash_verify(pwhash_t *p, const char *stored_hash, const char *password, size_t len,
                  pwhash_cb cb, void *ud);

int pwhash_inflight(const pwhash_t *p);

/* Frees once the work in flight has finished (callbacks still run, with their result). */
void pwhash_close(pwhash_t *p);

#endif
