/* pwhash: argon2id password hashing and verification off the event loop, on a thread pool of
 * its own at a low CPU priority, through a bounded queue: past the bound a request is refused
 * at once (BUSY), the loop never waits. Passwords are copied, and wiped after use. */
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

typedef struct pwhash_opts {
    int max_inflight;             /* hashes queued or running; past it: PWHASH_BUSY (>= 1) */
    int threads;                  /* hashing threads; 0 = the cores this process may use */
    int nice;                     /* niceness of the hashing threads (0-19): the loop thread
                                   * and everything else at the default 0 go first */
    unsigned long long opslimit;  /* as crypto_pwhash_str; 0 = the interactive limits */
    size_t memlimit;              /* bytes; 0 = the interactive limits */
} pwhash_opts_t;

/* Starts the pool's threads. Hashing never runs on libuv's shared pool, so name lookups and
 * file work never queue behind it. */
pwhash_t *pwhash_new(uv_loop_t *loop, const pwhash_opts_t *opts);

/* Returns 0 (callback later, on the loop thread) or PWHASH_BUSY (no callback; also after
 * pwhash_close). The password is copied (len bytes, NUL bytes included) and wiped after use. */
int pwhash_hash(pwhash_t *p, const char *password, size_t len, pwhash_cb cb, void *ud);
int pwhash_verify(pwhash_t *p, const char *stored_hash, const char *password, size_t len,
                  pwhash_cb cb, void *ud);

int pwhash_inflight(const pwhash_t *p);
int pwhash_threads(const pwhash_t *p);

/* Frees once the work in flight has finished (callbacks still run, with their result) and
 * the loop has closed the pool's handle; the threads are joined then (they are idle). */
void pwhash_close(pwhash_t *p);

#endif
