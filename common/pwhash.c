/* pwhash: argon2id hashing and verification on libuv's thread pool, bounded by max_inflight.
 *
 * Each request owns a copy of the password inside its work item; the copy is wiped on the
 * worker thread as soon as libsodium is done with it, and again before the item is freed, so
 * no path (success, failure, refusal) leaves it in freed memory. The thread pool is shared
 * with uv_getaddrinfo and uv_fs: keep max_inflight below its size (UV_THREADPOOL_SIZE, 4 by
 * default) so name resolution never queues behind hashes. */
#include "pwhash.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "log.h"

struct pwhash {
    uv_loop_t *loop;
    int max_inflight;
    int inflight;
    int closing;
    unsigned long long opslimit;
    size_t memlimit;
};

typedef struct pw_work {
    uv_work_t req;
    pwhash_t *p;
    pwhash_cb cb;
    void *ud;
    int verify;
    int status;
    char hash[crypto_pwhash_STRBYTES]; /* verify: the stored hash; hash: the output */
    size_t pwlen;
    char pw[]; /* pwlen bytes, not NUL-terminated */
} pw_work_t;

static void work_free(pw_work_t *w)
{
    sodium_memzero(w->pw, w->pwlen);
    sodium_memzero(w->hash, sizeof w->hash);
    xfree(w);
}

static void maybe_free(pwhash_t *p)
{
    if (p->closing && p->inflight == 0)
        xfree(p);
}

/* Worker thread: no loop access, no allocation through the counted wrappers. */
static void on_work(uv_work_t *req)
{
    pw_work_t *w = req->data;
    pwhash_t *p = w->p;
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

static void on_after_work(uv_work_t *req, int status)
{
    pw_work_t *w = req->data;
    pwhash_t *p = w->p;
    if (status < 0)
        w->status = PWHASH_ERROR; /* cancelled: we never cancel, but be exact */
    p->inflight--;
    w->cb(w->status, (!w->verify && w->status == PWHASH_OK) ? w->hash : NULL, w->ud);
    work_free(w);
    maybe_free(p);
}

static int submit(pwhash_t *p, int verify, const char *stored, const char *password, size_t len,
                  pwhash_cb cb, void *ud)
{
    if (p->closing || p->inflight >= p->max_inflight)
        return PWHASH_BUSY;
    pw_work_t *w = xmalloc(sizeof *w + (len ? len : 1));
    memset(w, 0, sizeof *w);
    w->req.data = w;
    w->p = p;
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
    if (uv_queue_work(p->loop, &w->req, on_work, on_after_work) != 0) {
        work_free(w);
        return PWHASH_BUSY;
    }
    p->inflight++;
    return 0;
}

pwhash_t *pwhash_new(uv_loop_t *loop, int max_inflight, unsigned long long opslimit,
                     size_t memlimit)
{
    if (sodium_init() < 0) { /* no entropy source: nothing safe can follow */
        log_error("pwhash_init_failed", "error=\"sodium_init\"");
        abort();
    }
    pwhash_t *p = xcalloc(1, sizeof *p);
    p->loop = loop;
    p->max_inflight = max_inflight > 0 ? max_inflight : 1;
    p->opslimit = opslimit ? opslimit : crypto_pwhash_OPSLIMIT_INTERACTIVE;
    p->memlimit = memlimit ? memlimit : crypto_pwhash_MEMLIMIT_INTERACTIVE;
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

void pwhash_close(pwhash_t *p)
{
    if (!p || p->closing)
        return;
    p->closing = 1;
    maybe_free(p);
}
