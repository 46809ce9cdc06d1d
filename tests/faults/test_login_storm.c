/* test_login_storm: a login storm against one account must slow the attacker, never lock the
 * owner out (docs/lobby.md, "Login throttling").
 *
 * 1. 200 wrong passwords for one account from 127.0.0.1, all sent in one write; while they
 *    are in flight the owner logs in from 127.0.0.2: it must succeed at once. The attacker
 *    gets LOGIN_FAIL_LIMIT (5) INVALID_CREDENTIALS and TOO_MANY_ATTEMPTS with a retry hint
 *    for the rest; after the hint one more guess is checked and the next hint has doubled;
 *    the right password from the attacker's address is still refused meanwhile.
 * 2. One source guessing across many usernames (127.0.0.3, LOGIN_SOURCE_FAIL_LIMIT=20): past
 *    20 failures every username is throttled for that source, while 127.0.0.2 logs in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "faults_util.h"
#include "frame.h"

#define STORM 200
#define FAIL_LIMIT 5

static char run_tag[8];

static csync_t *connect_from(const fcluster_t *c, const char *src)
{
    csync_t *s = csync_connect_from("127.0.0.1", c->port[0], src, 5000);
    if (!s)
        fprintf(stderr, "could not connect from %s\n", src);
    CHECK(s != NULL);
    return s;
}

/* Packs STORM LOGIN frames (seq 1..STORM) with a wrong password into one buffer. */
static uint8_t *storm_frames(const char *user, size_t *len)
{
    LoginRequest rq = LOGIN_REQUEST__INIT;
    rq.username = (char *)user;
    rq.password = (char *)"not-the-password";
    size_t n = login_request__get_packed_size(&rq);
    uint8_t *buf = xmalloc(STORM * (FRAME_HDR_LEN + n));
    for (uint32_t i = 0; i < STORM; i++) {
        uint8_t *p = buf + i * (FRAME_HDR_LEN + n);
        frame_hdr_write(p, (uint32_t)n, PACKET_TYPE__LOGIN_REQUEST, i + 1);
        login_request__pack(&rq, p + FRAME_HDR_LEN);
    }
    *len = STORM * (FRAME_HDR_LEN + n);
    return buf;
}

/* A storm's two sides: the owner of account <who>_<run> (registered, connected from 127.0.0.2)
 * and an attacker connected from att_src. */
typedef struct storm {
    char user[32];
    const char *pass;
    csync_t *owner, *att;
} storm_t;

static void storm_up(storm_t *s, const fcluster_t *c, const char *who, const char *pass, const char *att_src)
{
    snprintf(s->user, sizeof s->user, "%s_%s", who, run_tag);
    s->pass = pass;
    s->owner = connect_from(c, "127.0.0.2");
    fc_register(s->owner, s->user, pass);
    s->att = connect_from(c, att_src);
}

static void storm_down(storm_t *s)
{
    csync_close(s->owner);
    csync_close(s->att);
}

static void storm_one_account(fcluster_t *c)
{
    storm_t s;
    storm_up(&s, c, "owner", "owner-password-1", "127.0.0.1");
    const char *user = s.user, *pass = s.pass;
    csync_t *owner = s.owner, *att = s.att;
    size_t len;
    uint8_t *frames = storm_frames(user, &len);
    uint64_t t0 = h_now_ms();
    CHECK_EQ(csync_send_bytes(att, frames, len), 0);
    xfree(frames);
    /* the owner, at once, from another address */
    fres_t r = fc_login(owner, user, pass);
    uint64_t owner_ms = h_now_ms() - t0;
    if (r.type != PACKET_TYPE__LOGIN_RESPONSE)
        fprintf(stderr, "owner login during the storm: type %u code %d\n", r.type, r.code);
    CHECK_EQ(r.type, PACKET_TYPE__LOGIN_RESPONSE);
    fres_free(&r);

    int invalid = 0, throttled = 0, other = 0, seen[STORM + 1] = {0};
    uint32_t hint_min = UINT32_MAX, hint_max = 0;
    for (int got = 0; got < STORM; got++) {
        fres_t x = {0};
        uint32_t seq = 0;
        if (csync_wait_push_seq(att, &x.type, &seq, &x.payload, &x.len, 20000) != 0) {
            fprintf(stderr, "attacker: only %d of %d responses\n", got, STORM);
            h_fail();
        }
        CHECK(seq >= 1 && seq <= STORM && !seen[seq]);
        seen[seq] = 1;
        fres_parse(&x);
        if (x.type == PACKET_TYPE__ERROR_RESPONSE && x.code == ERROR_CODE__INVALID_CREDENTIALS) {
            invalid++;
        } else if (x.type == PACKET_TYPE__ERROR_RESPONSE && x.code == ERROR_CODE__TOO_MANY_ATTEMPTS) {
            throttled++;
            hint_min = x.retry_ms < hint_min ? x.retry_ms : hint_min;
            hint_max = x.retry_ms > hint_max ? x.retry_ms : hint_max;
        } else {
            other++;
            fprintf(stderr, "attacker: unexpected type %u code %d\n", x.type, x.code);
        }
        fres_free(&x);
    }
    uint64_t storm_ms = h_now_ms() - t0;
    CHECK_EQ(other, 0);
    CHECK_EQ(invalid, FAIL_LIMIT);
    CHECK_EQ(throttled, STORM - FAIL_LIMIT);
    CHECK(hint_min > 0);
    CHECK(hint_max <= 1000); /* LOGIN_BACKOFF_MS after the 5th failure */

    /* the right password from the attacker's address: still slowed */
    r = fc_login(att, user, pass);
    CHECK_EQ(r.code, ERROR_CODE__TOO_MANY_ATTEMPTS);
    uint32_t wait1 = r.retry_ms;
    fres_free(&r);
    CHECK(wait1 > 0 && wait1 <= 1000);
    /* after the hint one more guess is checked; the next wait has doubled */
    h_sleep_ms((int)wait1 + 50);
    r = fc_login(att, user, "still-not-it");
    CHECK_EQ(r.code, ERROR_CODE__INVALID_CREDENTIALS);
    fres_free(&r);
    r = fc_login(att, user, pass);
    CHECK_EQ(r.code, ERROR_CODE__TOO_MANY_ATTEMPTS);
    uint32_t wait2 = r.retry_ms;
    fres_free(&r);
    CHECK(wait2 > 1000 && wait2 <= 2000);

    /* the owner again, from its own address: not affected at all */
    csync_t *owner2 = connect_from(c, "127.0.0.2");
    r = fc_login(owner2, user, pass);
    CHECK_EQ(r.type, PACKET_TYPE__LOGIN_RESPONSE);
    fres_free(&r);
    csync_close(owner2);
    storm_down(&s);
    printf("ok storm on one account: %d wrong passwords from 127.0.0.1 in one burst -> %d "
           "INVALID_CREDENTIALS, %d TOO_MANY_ATTEMPTS (retry hints %u-%u ms), answered in %llu ms; "
           "the owner logged in from 127.0.0.2 during the storm in %llu ms; backoff: %u ms, then "
           "%u ms after one more failure; the right password from 127.0.0.1 refused meanwhile\n",
           STORM, invalid, throttled, hint_min, hint_max, (unsigned long long)storm_ms,
           (unsigned long long)owner_ms, wait1, wait2);
}

static void storm_one_source(fcluster_t *c)
{
    storm_t s;
    storm_up(&s, c, "victim", "owner-password-2", "127.0.0.3");
    const char *user = s.user, *pass = s.pass;
    csync_t *owner = s.owner, *att = s.att;
    int invalid = 0, throttled = 0, first_throttled = -1;
    for (int i = 0; i < 30; i++) {
        char guess[32];
        snprintf(guess, sizeof guess, "nobody%d_%s", i, run_tag); /* a fresh username each time */
        fres_t r = fc_login(att, guess, "some-password");
        if (r.code == ERROR_CODE__INVALID_CREDENTIALS) {
            invalid++;
        } else {
            CHECK_EQ(r.code, ERROR_CODE__TOO_MANY_ATTEMPTS);
            CHECK(r.retry_ms > 0);
            if (first_throttled < 0)
                first_throttled = i;
            throttled++;
        }
        fres_free(&r);
    }
    CHECK_EQ(invalid, 20);
    CHECK_EQ(first_throttled, 20);
    /* that source is slowed for every username, the owner's right password included */
    fres_t r = fc_login(att, user, pass);
    CHECK_EQ(r.code, ERROR_CODE__TOO_MANY_ATTEMPTS);
    fres_free(&r);
    /* the owner from its own address is not */
    r = fc_login(owner, user, pass);
    CHECK_EQ(r.type, PACKET_TYPE__LOGIN_RESPONSE);
    fres_free(&r);
    storm_down(&s);
    printf("ok storm from one source: 30 usernames guessed from 127.0.0.3 -> %d "
           "INVALID_CREDENTIALS then %d TOO_MANY_ATTEMPTS (LOGIN_SOURCE_FAIL_LIMIT=20); the owner "
           "logs in from 127.0.0.2\n", invalid, throttled);
}

int main(void)
{
    h_init("login_storm");
    snprintf(run_tag, sizeof run_tag, "%x", (unsigned)getpid() & 0xfffffu);
    h_pg_start();
    static const char *const lobby_env[] = {"LOGIN_SOURCE_FAIL_LIMIT=20", NULL};
    fcluster_t c;
    fc_up(&c, "storm", 1, 1, 0, lobby_env, NULL, NULL);
    storm_one_account(&c);
    storm_one_source(&c);
    CHECK(h_alive(c.lobby[0]) && h_alive(c.gw[0]));
    fc_down(&c);
    printf("test_login_storm: ok\n");
    return 0;
}
