/* test_link: link key derivation, the handshake MACs (replay, reflection, binding), the
 * handshake state machine of both sides (good path, every refusal), and
 * parsing REQUEST/RESPONSE/PUSH bodies. */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "frame.h"
#include "link.h"

static void test_key_derive(void)
{
    uint8_t k1[LINK_KEY_LEN], k2[LINK_KEY_LEN], k3[LINK_KEY_LEN], k4[LINK_KEY_LEN];
    link_key_derive(k1, "correct horse battery staple");
    link_key_derive(k2, "correct horse battery staple");
    CHECK_MEM(k1, k2, LINK_KEY_LEN); /* deterministic */
    link_key_derive(k3, "correct horse battery stapl3");
    CHECK(memcmp(k1, k3, LINK_KEY_LEN) != 0); /* secret-dependent */
    link_key_derive(k4, "");
    CHECK(memcmp(k1, k4, LINK_KEY_LEN) != 0);
    /* not the secret itself, and not all zeros */
    static const uint8_t zero[LINK_KEY_LEN];
    CHECK(memcmp(k4, zero, LINK_KEY_LEN) != 0);
    CHECK(memcmp(k1, "correct horse battery staple", 28) != 0);

    /* key = BLAKE2b-256("cluster-link-v1" | secret), as link.h documents */
    uint8_t want[LINK_KEY_LEN];
    static const char in[] = "cluster-link-v1" "s3cret";
    crypto_generichash(want, sizeof want, (const uint8_t *)in, sizeof in - 1, NULL, 0);
    link_key_derive(k1, "s3cret");
    CHECK_MEM(k1, want, LINK_KEY_LEN);
}

static void test_mac(void)
{
    uint8_t key[LINK_KEY_LEN], other[LINK_KEY_LEN];
    link_key_derive(key, "cluster secret");
    link_key_derive(other, "cluster secreT");
    uint8_t ng[LINK_NONCE_LEN], nb[LINK_NONCE_LEN];
    randombytes_buf(ng, sizeof ng);
    randombytes_buf(nb, sizeof nb);
    const uint8_t bt = PEER_LOBBY;
    const uint32_t be = 7, gw = 3;

    /* the backend's MAC (CHALLENGE) and the gateway's (AUTH), as the handshake computes them */
    uint8_t mac_b[LINK_MAC_LEN], mac_g[LINK_MAC_LEN];
    link_mac(mac_b, key, "be->gw", ng, nb, bt, be, gw);
    link_mac(mac_g, key, "gw->be", nb, ng, bt, be, gw);

    /* deterministic, and they verify with the right key and inputs */
    uint8_t again[LINK_MAC_LEN];
    link_mac(again, key, "be->gw", ng, nb, bt, be, gw);
    CHECK_MEM(again, mac_b, LINK_MAC_LEN);
    CHECK_EQ(link_mac_verify(mac_b, key, "be->gw", ng, nb, bt, be, gw), 0);
    CHECK_EQ(link_mac_verify(mac_g, key, "gw->be", nb, ng, bt, be, gw), 0);

    /* it is crypto_auth (HMAC-SHA512-256) over label | first | second | type | be id | gw id */
    uint8_t msg[6 + 2 * LINK_NONCE_LEN + 1 + 4 + 4], want[LINK_MAC_LEN];
    memcpy(msg, "be->gw", 6);
    memcpy(msg + 6, ng, LINK_NONCE_LEN);
    memcpy(msg + 6 + LINK_NONCE_LEN, nb, LINK_NONCE_LEN);
    msg[6 + 2 * LINK_NONCE_LEN] = bt;
    put_u32(msg + 7 + 2 * LINK_NONCE_LEN, be);
    put_u32(msg + 11 + 2 * LINK_NONCE_LEN, gw);
    crypto_auth(want, msg, sizeof msg, key);
    CHECK_MEM(mac_b, want, LINK_MAC_LEN);

    /* wrong key */
    CHECK_EQ(link_mac_verify(mac_b, other, "be->gw", ng, nb, bt, be, gw), -1);
    CHECK_EQ(link_mac_verify(mac_g, other, "gw->be", nb, ng, bt, be, gw), -1);
    /* swapped nonces */
    CHECK_EQ(link_mac_verify(mac_b, key, "be->gw", nb, ng, bt, be, gw), -1);
    CHECK_EQ(link_mac_verify(mac_g, key, "gw->be", ng, nb, bt, be, gw), -1);
    /* reflection: a "be->gw" MAC presented as "gw->be", with either nonce order */
    CHECK_EQ(link_mac_verify(mac_b, key, "gw->be", ng, nb, bt, be, gw), -1);
    CHECK_EQ(link_mac_verify(mac_b, key, "gw->be", nb, ng, bt, be, gw), -1);
    CHECK_EQ(link_mac_verify(mac_g, key, "be->gw", nb, ng, bt, be, gw), -1);
    CHECK_EQ(link_mac_verify(mac_g, key, "be->gw", ng, nb, bt, be, gw), -1);
    CHECK(memcmp(mac_b, mac_g, LINK_MAC_LEN) != 0);
    /* replay: a fresh nonce from either side invalidates an old MAC */
    uint8_t ng2[LINK_NONCE_LEN], nb2[LINK_NONCE_LEN];
    memcpy(ng2, ng, sizeof ng2);
    ng2[LINK_NONCE_LEN - 1] ^= 1;
    memcpy(nb2, nb, sizeof nb2);
    nb2[0] ^= 0x80;
    CHECK_EQ(link_mac_verify(mac_b, key, "be->gw", ng2, nb, bt, be, gw), -1);
    CHECK_EQ(link_mac_verify(mac_b, key, "be->gw", ng, nb2, bt, be, gw), -1);
    /* changed ids and type: each is bound */
    CHECK_EQ(link_mac_verify(mac_b, key, "be->gw", ng, nb, PEER_GAME, be, gw), -1);
    CHECK_EQ(link_mac_verify(mac_b, key, "be->gw", ng, nb, bt, be + 1, gw), -1);
    CHECK_EQ(link_mac_verify(mac_b, key, "be->gw", ng, nb, bt, be, gw + 1), -1);
    CHECK_EQ(link_mac_verify(mac_b, key, "be->gw", ng, nb, bt, gw, be), -1); /* ids swapped */
    CHECK_EQ(link_mac_verify(mac_b, key, "be->gw", ng, nb, bt, be | 0x80000000u, gw), -1);
    /* any flipped bit of the MAC */
    for (int i = 0; i < LINK_MAC_LEN * 8; i++) {
        uint8_t bad[LINK_MAC_LEN];
        memcpy(bad, mac_b, sizeof bad);
        bad[i / 8] ^= (uint8_t)(1u << (i % 8));
        CHECK_EQ(link_mac_verify(bad, key, "be->gw", ng, nb, bt, be, gw), -1);
    }
    static const uint8_t zero[LINK_MAC_LEN];
    CHECK_EQ(link_mac_verify(zero, key, "be->gw", ng, nb, bt, be, gw), -1);
}

static void test_parse(void)
{
    link_msg_t m;
    uint8_t b[64];

    /* REQUEST: u64 session, u64 user, u16 type, u32 client seq, payload */
    static const uint8_t req[] = {
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* session */
        0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, /* user */
        0x00, 0x04,                                     /* type */
        0xA1, 0xB2, 0xC3, 0xD4,                         /* client seq */
        'x', 'y', 'z',
    };
    CHECK_EQ(LINK_REQ_PREFIX, 22);
    CHECK_EQ(link_parse(LINK_REQUEST, req, sizeof req, &m), 0);
    CHECK(m.session == 0x0102030405060708ull);
    CHECK(m.user == 0x1112131415161718ull);
    CHECK_EQ(m.type, 4);
    CHECK_EQ(m.cseq, 0xA1B2C3D4u);
    CHECK(m.payload == req + 22);
    CHECK_EQ(m.len, 3);
    CHECK_MEM(m.payload, "xyz", 3);
    /* exactly the prefix: an empty payload */
    CHECK_EQ(link_parse(LINK_REQUEST, req, 22, &m), 0);
    CHECK_EQ(m.len, 0);
    CHECK_EQ(m.cseq, 0xA1B2C3D4u);
    /* one byte short, and nothing */
    CHECK_EQ(link_parse(LINK_REQUEST, req, 21, &m), -1);
    CHECK_EQ(link_parse(LINK_REQUEST, req, 0, &m), -1);
    CHECK_EQ(m.has_src, 0);

    /* REQUEST_SRC: src[16] (127.0.0.2 as ::ffff:127.0.0.2), then a REQUEST body */
    uint8_t rs[LINK_SRC_LEN + sizeof req];
    static const uint8_t src[LINK_SRC_LEN] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 127, 0, 0, 2};
    memcpy(rs, src, sizeof src);
    memcpy(rs + LINK_SRC_LEN, req, sizeof req);
    CHECK_EQ(link_parse(LINK_REQUEST_SRC, rs, sizeof rs, &m), 0);
    CHECK_EQ(m.has_src, 1);
    CHECK_MEM(m.src, src, LINK_SRC_LEN);
    CHECK(m.session == 0x0102030405060708ull);
    CHECK(m.user == 0x1112131415161718ull);
    CHECK_EQ(m.type, 4);
    CHECK_EQ(m.cseq, 0xA1B2C3D4u);
    CHECK(m.payload == rs + LINK_SRC_LEN + 22);
    CHECK_EQ(m.len, 3);
    CHECK_EQ(link_parse(LINK_REQUEST_SRC, rs, LINK_SRC_LEN + 22, &m), 0);
    CHECK_EQ(m.len, 0);
    CHECK_EQ(link_parse(LINK_REQUEST_SRC, rs, LINK_SRC_LEN + 21, &m), -1);
    CHECK_EQ(link_parse(LINK_REQUEST_SRC, rs, LINK_SRC_LEN, &m), -1);

    /* RESPONSE: u64 session, u16 type, u32 client seq, payload */
    static const uint8_t resp[] = {
        0xFF, 0xEE, 0xDD, 0xCC, 0xBB, 0xAA, 0x99, 0x88, /* session */
        0x12, 0x34,                                     /* type */
        0x00, 0x00, 0x00, 0x2A,                         /* client seq */
        0x00, 0xFF,
    };
    CHECK_EQ(LINK_RESP_PREFIX, 14);
    CHECK_EQ(link_parse(LINK_RESPONSE, resp, sizeof resp, &m), 0);
    CHECK(m.session == 0xFFEEDDCCBBAA9988ull);
    CHECK(m.user == 0); /* a response carries no user */
    CHECK_EQ(m.type, 0x1234);
    CHECK_EQ(m.cseq, 42);
    CHECK(m.payload == resp + 14);
    CHECK_EQ(m.len, 2);
    CHECK_EQ(link_parse(LINK_RESPONSE, resp, 14, &m), 0);
    CHECK_EQ(m.len, 0);
    CHECK_EQ(link_parse(LINK_RESPONSE, resp, 13, &m), -1);

    /* PUSH: u64 session, u16 type, payload */
    static const uint8_t push[] = {
        0, 0, 0, 0, 0, 0, 0, 9, /* session */
        0x00, 0x0A,             /* type */
        'p', 'u', 's', 'h',
    };
    CHECK_EQ(LINK_PUSH_PREFIX, 10);
    CHECK_EQ(link_parse(LINK_PUSH, push, sizeof push, &m), 0);
    CHECK(m.session == 9);
    CHECK(m.user == 0);
    CHECK_EQ(m.type, 10);
    CHECK_EQ(m.cseq, 0); /* pushes carry client seq 0 */
    CHECK(m.payload == push + 10);
    CHECK_EQ(m.len, 4);
    CHECK_MEM(m.payload, "push", 4);
    CHECK_EQ(link_parse(LINK_PUSH, push, 10, &m), 0);
    CHECK_EQ(m.len, 0);
    CHECK_EQ(link_parse(LINK_PUSH, push, 9, &m), -1);

    /* every too-short length, for each kind, from an exact-size heap copy (ASan) */
    static const struct { uint16_t kind; size_t prefix; } kinds[] = {
        {LINK_REQUEST, LINK_REQ_PREFIX}, {LINK_RESPONSE, LINK_RESP_PREFIX}, {LINK_PUSH, LINK_PUSH_PREFIX},
        {LINK_REQUEST_SRC, LINK_SRC_LEN + LINK_REQ_PREFIX},
    };
    for (size_t k = 0; k < 4; k++)
        for (size_t n = 0; n <= kinds[k].prefix + 2; n++) {
            uint8_t *h = malloc(n ? n : 1);
            CHECK(h);
            memset(h, 0xA5, n);
            int rc = link_parse(kinds[k].kind, h, n, &m);
            CHECK_EQ(rc, n < kinds[k].prefix ? -1 : 0);
            if (rc == 0) {
                CHECK(m.payload == h + kinds[k].prefix);
                CHECK_EQ(m.len, n - kinds[k].prefix);
            }
            free(h);
        }

    /* kinds that carry no such body, and unknown kinds */
    memset(b, 0x5A, sizeof b);
    static const uint16_t others[] = {0, LINK_HELLO, LINK_CHALLENGE, LINK_AUTH, LINK_READY,
                                      LINK_PING, LINK_PONG, 7, 9, LINK_DRAINING, 14, 100, 0xFFFF};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        m.session = 123;
        CHECK_EQ(link_parse(others[i], b, sizeof b, &m), -1);
    }
}

/* What a link that is up takes, each way: the sizes the daemons used to check one by one. */
static void test_frame_check(void)
{
    static const struct {
        int to_gateway;
        uint16_t kind;
        uint32_t len;
        const char *why; /* NULL: taken */
    } cases[] = {
        {1, LINK_PING, 8, NULL},           {0, LINK_PING, 3, NULL}, /* answered only when 8 long */
        {1, LINK_PONG, 0, NULL},           {0, LINK_PONG, 8, NULL},
        {1, LINK_DRAINING, 0, NULL},       {0, LINK_DRAINING, 0, "unexpected_kind"},
        {1, LINK_RESPONSE, LINK_RESP_PREFIX, NULL},
        {1, LINK_RESPONSE, LINK_RESP_PREFIX - 1, "short_response"},
        {0, LINK_RESPONSE, LINK_RESP_PREFIX, "unexpected_kind"},
        {1, LINK_PUSH, LINK_PUSH_PREFIX, NULL},    {1, LINK_PUSH, 0, "short_push"},
        {1, LINK_KICK, 10, NULL},          {1, LINK_KICK, 210, NULL},
        {1, LINK_KICK, 9, "bad_kick"},     {1, LINK_KICK, 211, "bad_kick"},
        {0, LINK_KICK, 10, "unexpected_kind"},
        {1, LINK_BIND, 16, NULL},          {1, LINK_BIND, 15, "short_bind"},
        {1, LINK_BIND, 17, "short_bind"},  {1, LINK_USER_ONLINE, 20, NULL},
        {1, LINK_USER_ONLINE, 16, "short_user_online"},
        {1, LINK_BIND_GAME, 20, NULL},     {1, LINK_BIND_GAME, 21, "short_bind_game"},
        {0, LINK_BIND, 16, "unexpected_kind"},
        {0, LINK_REQUEST, LINK_REQ_PREFIX, NULL},
        {0, LINK_REQUEST, LINK_REQ_PREFIX - 1, "short_request"},
        {0, LINK_REQUEST_SRC, LINK_SRC_LEN + LINK_REQ_PREFIX, NULL},
        {0, LINK_REQUEST_SRC, LINK_REQ_PREFIX, "short_request"},
        {1, LINK_REQUEST, LINK_REQ_PREFIX, "unexpected_kind"},
        {0, LINK_SESSION_CLOSED, 16, NULL}, {0, LINK_SESSION_CLOSED, 8, "short_session_closed"},
        {0, LINK_GAME_LOST, 4, NULL},      {0, LINK_GAME_LOST, 5, "short_game_lost"},
        {1, LINK_SESSION_CLOSED, 16, "unexpected_kind"},
        {1, LINK_HELLO, LINK_HELLO_LEN, "unexpected_kind"}, /* the handshake is over */
        {0, LINK_AUTH, 64, "unexpected_kind"},
        {1, 0, 0, "unexpected_kind"},      {0, 0xFFFF, 0, "unexpected_kind"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *why = link_frame_check(cases[i].to_gateway, cases[i].kind, cases[i].len);
        if (!cases[i].why)
            CHECK(why == NULL);
        else
            CHECK(why && strcmp(why, cases[i].why) == 0);
    }
    /* every body a frame check takes, link_parse takes too */
    static const uint16_t parsed[] = {LINK_REQUEST, LINK_REQUEST_SRC, LINK_RESPONSE, LINK_PUSH};
    uint8_t body[64] = {0};
    for (size_t k = 0; k < 4; k++)
        for (uint32_t n = 0; n < sizeof body; n++) {
            link_msg_t m;
            int to_gw = parsed[k] == LINK_RESPONSE || parsed[k] == LINK_PUSH;
            if (!link_frame_check(to_gw, parsed[k], n))
                CHECK_EQ(link_parse(parsed[k], body, n, &m), 0);
        }
}

static void test_names(void)
{
    CHECK_STR(peer_type_name(PEER_GATEWAY), "Gateway");
    CHECK_STR(peer_type_name(PEER_LOBBY), "Lobby");
    CHECK_STR(peer_type_name(PEER_GAME), "Game");
    CHECK_STR(peer_type_name(0), "?");
    CHECK_STR(peer_type_name(99), "?");
}


/* One gateway-backend handshake in memory: gw opens, be answers; returns the last step's rc
 * on the side that stopped, with *where 'g' or 'b'. tamper (when set) changes the frame in
 * flight before the receiver takes it. */
typedef void (*tamper_fn)(link_hs_out_t *f);

static int run_handshake(link_hs_t *gw, link_hs_t *be, const uint8_t *kg, const uint8_t *kb,
                         uint32_t want_be_id, tamper_fn tamper, char *where)
{
    link_hs_out_t f, out;
    link_hs_gateway(gw, 3, PEER_LOBBY, want_be_id, &f);
    CHECK_EQ(f.kind, LINK_HELLO);
    CHECK_EQ(f.len, LINK_HELLO_LEN);
    link_hs_backend(be, PEER_LOBBY, 7);
    for (int turn = 0; turn < 4; turn++) {
        link_hs_t *rx = turn % 2 ? gw : be;
        *where = turn % 2 ? 'g' : 'b';
        if (tamper)
            tamper(&f);
        int rc = link_hs_step(rx, turn % 2 ? kg : kb, f.kind, f.body, f.len, &out);
        if (rc != LINK_HS_MORE && !(rc == LINK_HS_DONE && out.kind))
            return rc; /* done with nothing to send back, or failed */
        f = out;
    }
    CHECK(0); /* the handshake takes four frames at most */
    return LINK_HS_FAIL;
}

static int tamper_kind = 0, tamper_byte = -1;
static void tamper(link_hs_out_t *f)
{
    if (f->kind == tamper_kind && tamper_byte >= 0 && (size_t)tamper_byte < f->len)
        f->body[tamper_byte] ^= 0x01;
}

static void test_handshake(void)
{
    uint8_t k[LINK_KEY_LEN], other[LINK_KEY_LEN];
    link_key_derive(k, "cluster secret");
    link_key_derive(other, "another secret");
    link_hs_t gw, be;
    char where;

    /* the good path: both sides up, each knowing the other's id */
    CHECK_EQ(run_handshake(&gw, &be, k, k, 7, NULL, &where), LINK_HS_DONE);
    CHECK_EQ(where, 'g');
    CHECK_EQ(gw.state, LINK_HS_UP);
    CHECK_EQ(be.state, LINK_HS_UP);
    CHECK_EQ(be.gw_id, 3);
    CHECK_MEM(gw.nonce_g, be.nonce_g, LINK_NONCE_LEN);
    CHECK_MEM(gw.nonce_b, be.nonce_b, LINK_NONCE_LEN);
    /* anything after READY is not the handshake's */
    link_hs_out_t out;
    CHECK_EQ(link_hs_step(&gw, k, LINK_READY, NULL, 0, &out), LINK_HS_FAIL);
    CHECK_STR(gw.why, "handshake_over");

    /* another secret: the gateway refuses the backend's CHALLENGE (and sends no AUTH) */
    CHECK_EQ(run_handshake(&gw, &be, k, other, 7, NULL, &where), LINK_HS_FAIL);
    CHECK_EQ(where, 'g');
    CHECK_STR(gw.why, "auth_failed");
    CHECK_EQ(be.state, LINK_HS_WAIT_AUTH);

    /* another daemon answered (the registry's id was reused or the address moved) */
    CHECK_EQ(run_handshake(&gw, &be, k, k, 8, NULL, &where), LINK_HS_MISMATCH);
    CHECK_EQ(where, 'g');
    CHECK_STR(gw.why, "identity_mismatch");
    CHECK_EQ(gw.be_id, 7); /* the one heard, for the log */

    /* a bit flipped anywhere in HELLO's version/type, the CHALLENGE or the AUTH: refused */
    static const struct { int kind, byte; char side; const char *why; } cases[] = {
        {LINK_HELLO, 0, 'b', "bad_hello"},            /* version */
        {LINK_HELLO, 1, 'b', "bad_hello"},            /* not a gateway */
        {LINK_HELLO, 2, 'g', "auth_failed"},          /* gateway id: the MACs bind it */
        {LINK_HELLO, 10, 'g', "auth_failed"},         /* nonce_g */
        {LINK_CHALLENGE, 0, 'g', "bad_challenge"},    /* version */
        {LINK_CHALLENGE, 10, 'g', "auth_failed"},     /* nonce_b */
        {LINK_CHALLENGE, 6 + LINK_NONCE_LEN + 3, 'g', "auth_failed"}, /* mac_b */
        {LINK_AUTH, 0, 'b', "auth_failed"},           /* mac_g */
        {LINK_AUTH, LINK_MAC_LEN - 1, 'b', "auth_failed"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tamper_kind = cases[i].kind;
        tamper_byte = cases[i].byte;
        int rc = run_handshake(&gw, &be, k, k, 7, tamper, &where);
        CHECK_EQ(rc, LINK_HS_FAIL);
        CHECK_EQ(where, cases[i].side);
        CHECK_STR((where == 'g' ? gw.why : be.why), cases[i].why);
    }
    tamper_byte = -1;

    /* a frame of the wrong kind or length at each step */
    link_hs_out_t hello;
    link_hs_backend(&be, PEER_GAME, 9);
    CHECK_EQ(link_hs_step(&be, k, LINK_AUTH, hello.body, 0, &out), LINK_HS_FAIL);
    CHECK_STR(be.why, "bad_hello");
    link_hs_gateway(&gw, 3, PEER_GAME, 9, &hello);
    link_hs_backend(&be, PEER_GAME, 9);
    CHECK_EQ(link_hs_step(&be, k, LINK_HELLO, hello.body, hello.len - 1, &out), LINK_HS_FAIL);
    CHECK_EQ(out.kind, 0); /* nothing to send on a refusal */
    CHECK_EQ(link_hs_step(&gw, k, LINK_READY, NULL, 0, &out), LINK_HS_FAIL);
    CHECK_STR(gw.why, "bad_challenge");

    /* replay: an AUTH recorded from one handshake does not open another (fresh nonce_b) */
    CHECK_EQ(run_handshake(&gw, &be, k, k, 7, NULL, &where), LINK_HS_DONE);
    uint8_t old_auth[LINK_MAC_LEN];
    link_mac(old_auth, k, "gw->be", be.nonce_b, be.nonce_g, PEER_LOBBY, 7, 3);
    link_hs_backend(&be, PEER_LOBBY, 7);
    link_hs_gateway(&gw, 3, PEER_LOBBY, 7, &hello);
    memcpy(hello.body + 6, gw.nonce_g, LINK_NONCE_LEN);
    CHECK_EQ(link_hs_step(&be, k, LINK_HELLO, hello.body, hello.len, &out), LINK_HS_MORE);
    CHECK_EQ(link_hs_step(&be, k, LINK_AUTH, old_auth, sizeof old_auth, &out), LINK_HS_FAIL);
    CHECK_STR(be.why, "auth_failed");
    /* reflection: the backend's own MAC sent back as AUTH */
    link_hs_backend(&be, PEER_LOBBY, 7);
    CHECK_EQ(link_hs_step(&be, k, LINK_HELLO, hello.body, hello.len, &out), LINK_HS_MORE);
    CHECK_EQ(link_hs_step(&be, k, LINK_AUTH, out.body + 6 + LINK_NONCE_LEN, LINK_MAC_LEN, &out),
             LINK_HS_FAIL);
}

int main(void)
{
    CHECK(sodium_init() >= 0);
    test_key_derive();
    test_mac();
    test_parse();
    test_frame_check();
    test_names();
    test_handshake();
    printf("test_link: ok\n");
    return 0;
}
