/* pwhash: argon2id hashing and verification on a pool of threads of its own, bounded by
 * max_inflight.
 *
 * Why not libuv's shared pool: an argon2id hash at the interactive limits is ~40 ms of one
 * core and 64 MiB of memory traffic. On libuv's pool (4 threads) a login storm took every core
 * from the event loop (bench/login.sh: echo p99 x12 during the storm) and made uv_getaddrinfo
 * wait behind hashes. Here the hashing threads run at a low priority (setpriority on each
 * thread; Linux nice is per thread), so the loop thread, which wakes for a few microseconds
 * per frame, gets a core first, while an idle machine still gives every core to hashing.
 *
 * Each request owns a copy of the password inside its work item; the copy is wiped on the
 * worker thread as soon as libsodium is done with it, and again before the item is freed, so
 * no path (success, failure, refusal) leaves it in freed memory.
 *
 * Threads and the loop share two lists under one mutex: `queue` (filled by the loop, taken by
 * the workers) and `done` (filled by the workers, taken by the loop through a uv_async_t).
 * Items are allocated and freed on the loop thread only. */
#include "pwhash.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <utlist.h>

#include "alloc.h"
#include "log.h"

typedef struct pw_work pw_work_t;

struct pwhash {
    uv_loop_t *loop;
    uv_async_t async; /* a worker finished an item */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pw_work_t *queue;                 /* under mu: utlist DL, oldest first */
    pw_work_t *done;                  /* under mu: utlist DL, oldest first */
    int stop;                         /* under mu: workers exit once the queue is empty */
    pthread_t *threads;
    int nthreads;
    int nice;
    int max_inflight;
    int inflight; /* loop thread only: submitted, callback not yet run */
    int closing;
    int shut; /* loop thread only: shutdown_pool ran */
    int nice_failed; /* set by a worker whose setpriority failed (logged by the loop) */
    unsigned long long opslimit;
    size_t memlimit;
};

struct pw_work {
    pw_work_t *prev, *next;
    pwhash_cb cb;
    void *ud;
    int verify;
    int status;
    char hash[crypto_pwhash_STRBYTES]; /* verify: the stored hash; hash: the output */
    size_t pwlen;
    char pw[]; /* pwlen bytes, not NUL-terminated */
};

static void work_free(pw_work_t *w)
{
    sodium_memzero(w->pw, w->pwlen);
    sodium_memzero(w->hash, sizeof w->hash);
    xfree(w);
}

/* Worker thread: no loop access, no allocation through the counted wrappers. */
static void run_item(const pwhash_t *p, pw_work_t *w)
{
    if (w->verify) {
        /* crypto_pwhash_str_verify returns -1 both for a wrong password and for a string it
         * cannot parse; needs_rehash parses without hashing and tells the two apart. */
        if (w->status != PWHASH_OK ||
            crypto_pwhash_str_needs_rehash(w->hash, p->opslimit, p->memlimit) < 0) {
            w->status = PWHASH_ERROR;
        } else {
            errno = 0;
            if (crypto_pwhash_str_verify(w->hash, w->pw, w->pwlen) == 0)
                w->status = PWHASH_OK;
            else
                w->status = errno == EINVAL ? PWHASH_MISMATCH : PWHASH_ERROR;
        }
    } else {
        w->status = crypto_pwhash_str(w->hash, w->pw, w->pwlen, p->opslimit, p->memlimit) == 0
                        ? PWHASH_OK
                        : PWHASH_ERROR;
    }
    sodium_memzero(w->pw, w->pwlen);
}

static void *worker(void *arg)
{
    pwhash_t *p = arg;
    if (p->nice > 0 && setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), p->nice) != 0) {
        pthread_mutex_lock(&p->mu);
        p->nice_failed = errno;
        pthread_mutex_unlock(&p->mu);
    }
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->queue && !p->stop)
            pthread_cond_wait(&p->cv, &p->mu);
        pw_work_t *w = p->queue;
        if (!w)
            break; /* stop, and nothing left */
        DL_DELETE(p->queue, w);
        pthread_mutex_unlock(&p->mu);

        run_item(p, w);

        pthread_mutex_lock(&p->mu);
        DL_APPEND(p->done, w);
        /* Outside the lock, which the loop also takes: a low-priority thread preempted while
         * holding it would hold up the loop (measured with SCHED_IDLE: 266 ms stalls). The
         * handle outlives this call: the loop closes it only after joining every worker. */
        pthread_mutex_unlock(&p->mu);
        uv_async_send(&p->async); /* thread-safe; coalesced with earlier sends */
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void on_async_closed(uv_handle_t *h)
{
    pwhash_t *p = h->data;
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    xfree(p->threads);
    xfree(p);
}

/* Loop thread, once closing and nothing is in flight: the workers are idle in cond_wait, so
 * the joins return at once. */
static void shutdown_pool(pwhash_t *p)
{
    if (p->shut) /* pwhash_close from inside a callback, then on_async's own check */
        return;
    p->shut = 1;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    uv_close((uv_handle_t *)&p->async, on_async_closed);
}

static void on_async(uv_async_t *h)
{
    pwhash_t *p = h->data;
    pthread_mutex_lock(&p->mu);
    pw_work_t *done = p->done, *w, *tmp;
    p->done = NULL;
    int nice_failed = p->nice_failed;
    p->nice_failed = 0;
    pthread_mutex_unlock(&p->mu);
    if (nice_failed)
        log_warn("pwhash_nice_failed", "nice=%d error=\"%s\"", p->nice, strerror(nice_failed));
    DL_FOREACH_SAFE(done, w, tmp) {
        p->inflight--;
        w->cb(w->status, (!w->verify && w->status == PWHASH_OK) ? w->hash : NULL, w->ud);
        work_free(w);
    }
    if (p->inflight == 0) {
        if (p->closing) {
            shutdown_pool(p);
            return;
        }
        uv_unref((uv_handle_t *)&p->async); /* an idle pool does not keep the loop alive */
    }
}

static int submit(pwhash_t *p, int verify, const char *stored, const char *password, size_t len,
                  pwhash_cb cb, void *ud)
{
    if (p->closing || p->inflight >= p->max_inflight)
        return PWHASH_BUSY;
    pw_work_t *w = xmalloc(sizeof *w + (len ? len : 1));
    memset(w, 0, sizeof *w);
    w->cb = cb;
    w->ud = ud;
    w->verify = verify;
    w->status = PWHASH_OK;
    w->pwlen = len;
    if (len)
        memcpy(w->pw, password, len);
    if (verify) {
        size_t n = strnlen(stored, sizeof w->hash);
        if (n == sizeof w->hash)
            w->status = PWHASH_ERROR; /* too long to be ours: reported by the callback */
        else
            memcpy(w->hash, stored, n + 1);
    }
    if (p->inflight++ == 0)
        uv_ref((uv_handle_t *)&p->async); /* work in flight keeps the loop alive */
    pthread_mutex_lock(&p->mu);
    DL_APPEND(p->queue, w);
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

pwhash_t *pwhash_new(uv_loop_t *loop, const pwhash_opts_t *o)
{
    if (sodium_init() < 0) { /* no entropy source: nothing safe can follow */
        log_error("pwhash_init_failed", "error=\"sodium_init\"");
        abort();
    }
    pwhash_t *p = xcalloc(1, sizeof *p);
    p->loop = loop;
    p->max_inflight = o->max_inflight > 0 ? o->max_inflight : 1;
    p->nthreads = o->threads > 0 ? o->threads : (int)uv_available_parallelism();
    if (p->nthreads < 1)
        p->nthreads = 1;
    p->nice = o->nice < 0 ? 0 : o->nice > 19 ? 19 : o->nice;
    p->opslimit = o->opslimit ? o->opslimit : crypto_pwhash_OPSLIMIT_INTERACTIVE;
    p->memlimit = o->memlimit ? o->memlimit : crypto_pwhash_MEMLIMIT_INTERACTIVE;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (uv_async_init(loop, &p->async, on_async) != 0) {
        log_error("pwhash_init_failed", "error=\"uv_async_init\"");
        abort();
    }
    p->async.data = p;
    uv_unref((uv_handle_t *)&p->async);
    p->threads = xcalloc((size_t)p->nthreads, sizeof *p->threads);
    for (int i = 0; i < p->nthreads; i++) {
        int rc = pthread_create(&p->threads[i], NULL, worker, p);
        if (rc != 0) {
            log_error("pwhash_init_failed", "error=\"pthread_create: %s\"", strerror(rc));
            abort();
        }
    }
    return p;
}

int pwhash_hash(pwhash_t *p, const char *password, size_t len, pwhash_cb cb, void *ud)
{
    return submit(p, 0, NULL, password, len, cb, ud);
}

int pwhash_verify(pwhash_t *p, const char *stored_hash, const char *password, size_t len,
                  pwhash_cb cb, void *ud)
{
    return submit(p, 1, stored_hash, password, len, cb, ud);
}

int pwhash_inflight(const pwhash_t *p) { return p->inflight; }
int pwhash_threads(const pwhash_t *p) { return p->nthreads; }

void pwhash_close(pwhash_t *p)
{
    if (!p || p->closing)
        return;
    p->closing = 1;
    if (p->inflight == 0)
        shutdown_pool(p);
}
