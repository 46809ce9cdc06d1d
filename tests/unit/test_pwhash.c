/* test_pwhash: argon2id hashing off the loop: results, the BUSY bound, the loop staying live
 * while a hash runs, close with work in flight, no leaked bytes. */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#include "alloc.h"
#include "check.h"
#include "pwhash.h"

#define FAST_OPS crypto_pwhash_OPSLIMIT_MIN
#define FAST_MEM ((size_t)8 << 20)

typedef struct result {
    int called;
    int status;
    char hash[crypto_pwhash_STRBYTES];
    uint64_t done_ns;
} result_t;

static void on_result(int status, const char *hash, void *ud)
{
    result_t *r = ud;
    r->called++;
    r->status = status;
    r->done_ns = uv_hrtime();
    if (hash) {
        CHECK(strlen(hash) < sizeof r->hash);
        strcpy(r->hash, hash);
    } else {
        r->hash[0] = '\0';
    }
}

/* pwhash_close, then the loop turn that closes the pool's handle and frees it. */
static void close_pool(uv_loop_t *loop, pwhash_t *p)
{
    pwhash_close(p);
    uv_run(loop, UV_RUN_DEFAULT);
}

static int in_call; /* set around pwhash_* calls: callbacks must never run inside them */

static void on_result_checked(int status, const char *hash, void *ud)
{
    CHECK_EQ(in_call, 0);
    on_result(status, hash, ud);
}

static int hash_sync(uv_loop_t *loop, pwhash_t *p, const char *pw, size_t len, result_t *r)
{
    memset(r, 0, sizeof *r);
    in_call = 1;
    int rc = pwhash_hash(p, pw, len, on_result_checked, r);
    in_call = 0;
    CHECK_EQ(rc, 0);
    CHECK_EQ(r->called, 0);
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK_EQ(r->called, 1);
    return r->status;
}

static int verify_sync(uv_loop_t *loop, pwhash_t *p, const char *stored, const char *pw, size_t len)
{
    result_t r;
    memset(&r, 0, sizeof r);
    in_call = 1;
    int rc = pwhash_verify(p, stored, pw, len, on_result_checked, &r);
    in_call = 0;
    CHECK_EQ(rc, 0);
    CHECK_EQ(r.called, 0);
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK_EQ(r.called, 1);
    CHECK_STR(r.hash, ""); /* verify never hands out a hash */
    return r.status;
}

static void test_hash_verify(uv_loop_t *loop)
{
    pwhash_t *p = pwhash_new(loop, &(pwhash_opts_t){.max_inflight = 4, .threads = 2, .opslimit = FAST_OPS, .memlimit = FAST_MEM});
    CHECK(p != NULL);
    result_t r;
    const char *pw = "correct horse battery staple";
    CHECK_EQ(hash_sync(loop, p, pw, strlen(pw), &r), PWHASH_OK);
    CHECK(strncmp(r.hash, "$argon2id$", 10) == 0);
    CHECK_EQ(verify_sync(loop, p, r.hash, pw, strlen(pw)), PWHASH_OK);

    /* a second hash of the same password differs (fresh salt) but verifies too */
    result_t r2;
    CHECK_EQ(hash_sync(loop, p, pw, strlen(pw), &r2), PWHASH_OK);
    CHECK(strcmp(r.hash, r2.hash) != 0);
    CHECK_EQ(verify_sync(loop, p, r2.hash, pw, strlen(pw)), PWHASH_OK);

    /* wrong passwords: different, a prefix, one byte longer, empty */
    CHECK_EQ(verify_sync(loop, p, r.hash, "correct horse battery stapler", 29), PWHASH_MISMATCH);
    CHECK_EQ(verify_sync(loop, p, r.hash, pw, strlen(pw) - 1), PWHASH_MISMATCH);
    CHECK_EQ(verify_sync(loop, p, r.hash, "", 0), PWHASH_MISMATCH);

    /* the length counts, not a NUL: bytes after an embedded NUL matter */
    const char bin[] = {'a', '\0', 'b', 'c'};
    const char bin2[] = {'a', '\0', 'b', 'd'};
    CHECK_EQ(hash_sync(loop, p, bin, sizeof bin, &r), PWHASH_OK);
    CHECK_EQ(verify_sync(loop, p, r.hash, bin, sizeof bin), PWHASH_OK);
    CHECK_EQ(verify_sync(loop, p, r.hash, bin2, sizeof bin2), PWHASH_MISMATCH);
    CHECK_EQ(verify_sync(loop, p, r.hash, "a", 1), PWHASH_MISMATCH);

    /* an empty password is a password */
    CHECK_EQ(hash_sync(loop, p, "", 0, &r), PWHASH_OK);
    CHECK_EQ(verify_sync(loop, p, r.hash, "", 0), PWHASH_OK);
    CHECK_EQ(verify_sync(loop, p, r.hash, "x", 1), PWHASH_MISMATCH);
    CHECK_EQ(pwhash_inflight(p), 0);
    close_pool(loop, p);
}

static void test_malformed(uv_loop_t *loop)
{
    pwhash_t *p = pwhash_new(loop, &(pwhash_opts_t){.max_inflight = 4, .threads = 2, .opslimit = FAST_OPS, .memlimit = FAST_MEM});
    result_t r;
    CHECK_EQ(hash_sync(loop, p, "pw", 2, &r), PWHASH_OK);

    CHECK_EQ(verify_sync(loop, p, "", "pw", 2), PWHASH_ERROR);
    CHECK_EQ(verify_sync(loop, p, "not a hash", "pw", 2), PWHASH_ERROR);
    CHECK_EQ(verify_sync(loop, p, "$argon2id$", "pw", 2), PWHASH_ERROR);
    CHECK_EQ(verify_sync(loop, p, "$argon2id$v=19$m=8192,t=1,p=1$garbage", "pw", 2), PWHASH_ERROR);
    const char *bcrypt = "$2b$10$abcdefghijklmnopqrstuuJ2gJ3Qf6V3u1RrYQn5sV0v8jOqOqAe";
    CHECK_EQ(verify_sync(loop, p, bcrypt, "pw", 2), PWHASH_ERROR); /* not ours */

    /* truncated: the real hash minus its last characters */
    char cut[crypto_pwhash_STRBYTES];
    snprintf(cut, sizeof cut, "%s", r.hash);
    cut[strlen(cut) - 10] = '\0';
    CHECK_EQ(verify_sync(loop, p, cut, "pw", 2), PWHASH_ERROR);

    /* longer than any stored hash can be: never read past the buffer */
    char big[400];
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "$argon2id$", 10);
    CHECK_EQ(verify_sync(loop, p, big, "pw", 2), PWHASH_ERROR);

    /* still fine afterwards */
    CHECK_EQ(verify_sync(loop, p, r.hash, "pw", 2), PWHASH_OK);
    close_pool(loop, p);
}

static void test_busy(uv_loop_t *loop)
{
    pwhash_t *p = pwhash_new(loop, &(pwhash_opts_t){.max_inflight = 2, .threads = 2, .opslimit = FAST_OPS, .memlimit = FAST_MEM});
    result_t r[3];
    memset(r, 0, sizeof r);
    CHECK_EQ(pwhash_hash(p, "one", 3, on_result, &r[0]), 0);
    CHECK_EQ(pwhash_hash(p, "two", 3, on_result, &r[1]), 0);
    CHECK_EQ(pwhash_inflight(p), 2);
    uint64_t t0 = uv_hrtime();
    CHECK_EQ(pwhash_hash(p, "three", 5, on_result, &r[2]), PWHASH_BUSY);
    CHECK_EQ(pwhash_verify(p, "x", "three", 5, on_result, &r[2]), PWHASH_BUSY);
    uint64_t busy_us = (uv_hrtime() - t0) / 1000u;
    CHECK(busy_us < 5000); /* refused at once, nothing waited */
    CHECK_EQ(pwhash_inflight(p), 2);
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK_EQ(r[0].called, 1);
    CHECK_EQ(r[1].called, 1);
    CHECK_EQ(r[2].called, 0); /* BUSY means no callback, ever */
    CHECK_EQ(r[0].status, PWHASH_OK);
    CHECK_EQ(r[1].status, PWHASH_OK);
    CHECK_EQ(pwhash_inflight(p), 0);
    /* room again */
    CHECK_EQ(verify_sync(loop, p, r[0].hash, "one", 3), PWHASH_OK);
    CHECK_EQ(verify_sync(loop, p, r[1].hash, "one", 3), PWHASH_MISMATCH);
    printf("busy: third request refused in %llu us\n", (unsigned long long)busy_us);
    close_pool(loop, p);
}

/* The loop keeps serving a 5 ms timer while a hash with the interactive limits runs. */
typedef struct ticker {
    uv_timer_t t;
    uint64_t last_ns;
    uint64_t max_gap_ns;
    int ticks;
    int hashing;
} ticker_t;

static void on_tick(uv_timer_t *t)
{
    ticker_t *k = t->data;
    uint64_t now = uv_hrtime();
    if (k->hashing && k->last_ns && now - k->last_ns > k->max_gap_ns)
        k->max_gap_ns = now - k->last_ns;
    k->last_ns = now;
    k->ticks++;
}

static ticker_t *g_ticker;

static void on_interactive_done(int status, const char *hash, void *ud)
{
    on_result(status, hash, ud);
    g_ticker->hashing = 0;
    uv_timer_stop(&g_ticker->t);
}

static void test_loop_live(uv_loop_t *loop)
{
    pwhash_t *p = pwhash_new(loop, &(pwhash_opts_t){.max_inflight = 2, .threads = 0, .nice = 10}); /* 0: the interactive limits, a thread per core */
    ticker_t k;
    memset(&k, 0, sizeof k);
    g_ticker = &k;
    uv_timer_init(loop, &k.t);
    k.t.data = &k;
    uv_timer_start(&k.t, on_tick, 5, 5);
    result_t r;
    memset(&r, 0, sizeof r);
    k.hashing = 1;
    k.last_ns = uv_hrtime();
    uint64_t t0 = k.last_ns;
    CHECK_EQ(pwhash_hash(p, "interactive", 11, on_interactive_done, &r), 0);
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK_EQ(r.called, 1);
    CHECK_EQ(r.status, PWHASH_OK);
    /* the interactive limits are in the string: m=65536 KiB, t=2 */
    CHECK(strstr(r.hash, "m=65536,t=2,") != NULL);
    uint64_t hash_ms = (r.done_ns - t0) / 1000000u;
    uint64_t gap_ms = k.max_gap_ns / 1000000u;
    printf("interactive hash: %llu ms, %d ticks of 5 ms meanwhile, max gap %.2f ms\n",
           (unsigned long long)hash_ms, k.ticks, (double)k.max_gap_ns / 1e6);
    CHECK(hash_ms >= 20); /* else the measurement below says nothing */
    CHECK(k.ticks >= 2);
    /* A blocked loop would show one gap as long as the hash; what is left is scheduling noise
     * (a few ms idle, tens of ms on a loaded two-core machine). */
    CHECK(gap_ms * 3 < hash_ms);
    CHECK(gap_ms < 100);

    uint64_t v0 = uv_hrtime();
    CHECK_EQ(verify_sync(loop, p, r.hash, "interactive", 11), PWHASH_OK);
    printf("interactive verify: %llu ms\n", (unsigned long long)((uv_hrtime() - v0) / 1000000u));
    CHECK_EQ(verify_sync(loop, p, r.hash, "Interactive", 11), PWHASH_MISMATCH);
    uv_close((uv_handle_t *)&k.t, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    close_pool(loop, p);
}

/* Close while work is in flight: the callbacks still run with their results, then it frees. */
static void test_close_inflight(uv_loop_t *loop)
{
    size_t before = alloc_used();
    pwhash_t *p = pwhash_new(loop, &(pwhash_opts_t){.max_inflight = 3, .threads = 1, .opslimit = FAST_OPS, .memlimit = FAST_MEM});
    result_t r[3];
    memset(r, 0, sizeof r);
    CHECK_EQ(pwhash_hash(p, "a", 1, on_result, &r[0]), 0);
    CHECK_EQ(pwhash_hash(p, "b", 1, on_result, &r[1]), 0);
    CHECK_EQ(pwhash_verify(p, "bad", "c", 1, on_result, &r[2]), 0);
    pwhash_close(p);
    CHECK_EQ(r[0].called + r[1].called + r[2].called, 0);
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK_EQ(r[0].called, 1);
    CHECK_EQ(r[1].called, 1);
    CHECK_EQ(r[2].called, 1);
    CHECK_EQ(r[0].status, PWHASH_OK);
    CHECK_EQ(r[1].status, PWHASH_OK);
    CHECK_EQ(r[2].status, PWHASH_ERROR);
    CHECK_EQ(alloc_used(), before);

    /* closing an idle one frees it in the next loop turn (its handle is closed) */
    p = pwhash_new(loop, &(pwhash_opts_t){.max_inflight = 1, .opslimit = FAST_OPS, .memlimit = FAST_MEM});
    close_pool(loop, p);
    CHECK_EQ(alloc_used(), before);
}

/* Threads of this process whose niceness is `nice` (field 19 of /proc/self/task/<tid>/stat). */
static int threads_at_nice(int nice)
{
    uv_fs_t req;
    int n = 0;
    CHECK(uv_fs_scandir(NULL, &req, "/proc/self/task", 0, NULL) >= 0);
    uv_dirent_t ent;
    while (uv_fs_scandir_next(&req, &ent) != UV_EOF) {
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/self/task/%s/stat", ent.name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = '\0';
        const char *q = strrchr(buf, ')'); /* the name may hold spaces */
        CHECK(q != NULL);
        int field = 2, val = 0;
        for (q++; *q && field < 19; q++)
            if (*q == ' ')
                field++;
        CHECK(sscanf(q, "%d", &val) == 1);
        n += val == nice;
    }
    uv_fs_req_cleanup(&req);
    return n;
}

/* The pool's threads run at the niceness asked for; the loop thread keeps its own. */
static void test_threads_nice(uv_loop_t *loop)
{
    int before = threads_at_nice(13);
    int loop_nice = getpriority(PRIO_PROCESS, 0); /* 0, or what `nice` gave the test run */
    pwhash_t *p = pwhash_new(loop, &(pwhash_opts_t){.max_inflight = 3, .threads = 3, .nice = 13,
                                                     .opslimit = FAST_OPS, .memlimit = FAST_MEM});
    CHECK_EQ(pwhash_threads(p), 3);
    /* The workers set their niceness as they start: after one hash on each they all have. */
    result_t r[3];
    memset(r, 0, sizeof r);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(pwhash_hash(p, "n", 1, on_result, &r[i]), 0);
    uv_run(loop, UV_RUN_DEFAULT);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(r[i].status, PWHASH_OK);
    CHECK_EQ(threads_at_nice(13) - before, 3);
    CHECK_EQ(getpriority(PRIO_PROCESS, 0), loop_nice); /* this (loop) thread is untouched */
    close_pool(loop, p);
    CHECK_EQ(threads_at_nice(13), before); /* joined */
}

/* Hashes never occupy libuv's shared pool: with that pool at one thread (UV_THREADPOOL_SIZE=1,
 * set in main before its first use) and every hashing thread busy, a uv_queue_work item still
 * runs at once. On libuv's pool (the old design) it would wait behind the hashes. */
typedef struct side {
    uint64_t done_ns;
} side_t;
static void side_work(uv_work_t *w) { (void)w; }
static void side_after(uv_work_t *w, int status)
{
    CHECK_EQ(status, 0);
    ((side_t *)w->data)->done_ns = uv_hrtime();
}

static void test_own_pool(uv_loop_t *loop)
{
    pwhash_t *p = pwhash_new(loop, &(pwhash_opts_t){.max_inflight = 2, .threads = 2}); /* interactive */
    result_t r[2];
    memset(r, 0, sizeof r);
    CHECK_EQ(pwhash_hash(p, "a", 1, on_result, &r[0]), 0);
    CHECK_EQ(pwhash_hash(p, "b", 1, on_result, &r[1]), 0);
    side_t side = {0};
    uv_work_t w;
    w.data = &side;
    CHECK_EQ(uv_queue_work(loop, &w, side_work, side_after), 0);
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK_EQ(r[0].status, PWHASH_OK);
    CHECK_EQ(r[1].status, PWHASH_OK);
    CHECK(side.done_ns != 0);
    CHECK(side.done_ns < r[0].done_ns);
    CHECK(side.done_ns < r[1].done_ns);
    close_pool(loop, p);
}

/* pwhash_close from inside the last callback: no second shutdown, everything freed. */
static pwhash_t *g_close_me;
static void on_result_close(int status, const char *hash, void *ud)
{
    on_result(status, hash, ud);
    pwhash_close(g_close_me);
}

static void test_close_in_callback(uv_loop_t *loop)
{
    size_t before = alloc_used();
    g_close_me = pwhash_new(loop, &(pwhash_opts_t){.max_inflight = 1, .threads = 1,
                                                    .opslimit = FAST_OPS, .memlimit = FAST_MEM});
    result_t r;
    memset(&r, 0, sizeof r);
    CHECK_EQ(pwhash_hash(g_close_me, "x", 1, on_result_close, &r), 0);
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK_EQ(r.called, 1);
    CHECK_EQ(r.status, PWHASH_OK);
    CHECK_EQ(alloc_used(), before);
}

int main(void)
{
    CHECK_EQ(setenv("UV_THREADPOOL_SIZE", "1", 1), 0); /* before libuv's pool starts */
    CHECK(sodium_init() >= 0);
    size_t start = alloc_used();
    uv_loop_t loop;
    CHECK_EQ(uv_loop_init(&loop), 0);

    /* each test leaves nothing allocated behind it */
    void (*const tests[])(uv_loop_t *) = {
        test_hash_verify,    test_malformed,    test_busy,     test_loop_live,
        test_close_inflight, test_threads_nice, test_own_pool, test_close_in_callback,
    };
    for (size_t i = 0; i < sizeof tests / sizeof *tests; i++) {
        tests[i](&loop);
        CHECK_EQ(alloc_used(), start);
    }

    CHECK_EQ(uv_loop_close(&loop), 0);
    CHECK_EQ(alloc_used(), start);
    printf("test_pwhash: ok\n");
    return 0;
}
