/* fuzz_link: link_parse for every kind, and the address / Redis URL parsers, on any bytes.
 *
 * The input is parsed as a link body of each kind (exact-size heap copy), then as text (a
 * NUL-terminated copy) by redis_url_parse and by addr_split with a roomy and a tight buffer.
 * Checks: link_parse succeeds exactly for REQUEST/RESPONSE/PUSH bodies at least as long as
 * their prefix and its payload is the rest of the body, and for every body link_frame_check
 * lets through; whatever the text parsers accept has
 * a port in range and NUL-terminated fields that fit; the same for the Sentinel list and
 * +switch-master parsers and the gateway's peer-name parser (srcaddr). The input is also cut
 * into frames (kind byte, length byte, body) fed to both sides of the link handshake
 * (link_hs_step): no frame a peer without the secret can make opens a link (the MACs cover a
 * fresh nonce), a refusal says why and sends nothing, and what a step sends fits its frame. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "link.h"
#include "sentinel.h"
#include "srcaddr.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_link: %s\n", what);
    abort();
}

static size_t prefix_of(uint16_t kind)
{
    switch (kind) {
    case LINK_REQUEST: return LINK_REQ_PREFIX;
    case LINK_REQUEST_SRC: return LINK_SRC_LEN + LINK_REQ_PREFIX;
    case LINK_RESPONSE: return LINK_RESP_PREFIX;
    case LINK_PUSH: return LINK_PUSH_PREFIX;
    }
    return SIZE_MAX;
}

static void check_link(const uint8_t *data, size_t size)
{
    uint8_t *b = malloc(size ? size : 1);
    if (!b)
        abort();
    memcpy(b, data, size);
    static const uint16_t kinds[] = {0, LINK_HELLO, LINK_CHALLENGE, LINK_AUTH, LINK_READY,
                                     LINK_PING, LINK_PONG, 7, 8, 9, LINK_REQUEST, LINK_RESPONSE,
                                     LINK_PUSH, LINK_DRAINING, 14, LINK_REQUEST_SRC, 0xFFFF};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        link_msg_t m;
        size_t prefix = prefix_of(kinds[i]);
        int rc = link_parse(kinds[i], b, size, &m);
        int want = prefix != SIZE_MAX && size >= prefix ? 0 : -1;
        if (rc != want)
            fail("link_parse result");
        /* a frame the receiving side's check takes is one its handler can parse */
        for (int to_gw = 0; to_gw <= 1; to_gw++)
            if (prefix != SIZE_MAX && !link_frame_check(to_gw, kinds[i], (uint32_t)size) && rc != 0)
                fail("link_frame_check took a body link_parse refuses");
        if (rc != 0)
            continue;
        if (m.payload != b + prefix || m.len != size - prefix)
            fail("link_parse payload is not the rest of the body");
        const uint8_t *f = b; /* the fields after the source address of a REQUEST_SRC */
        if (kinds[i] == LINK_REQUEST_SRC) {
            if (!m.has_src || memcmp(m.src, b, LINK_SRC_LEN) != 0)
                fail("link_parse source address");
            f = b + LINK_SRC_LEN;
        } else if (m.has_src) {
            fail("link_parse source address on a kind without one");
        }
        if (m.session != get_u64(f))
            fail("link_parse session");
        if (kinds[i] == LINK_REQUEST_SRC && (m.user != get_u64(f + 8) || m.type != get_u16(f + 16) ||
                                             m.cseq != get_u32(f + 18)))
            fail("link_parse request_src fields");
        if (kinds[i] == LINK_REQUEST && (m.user != get_u64(b + 8) || m.type != get_u16(b + 16) ||
                                         m.cseq != get_u32(b + 18)))
            fail("link_parse request fields");
        if (kinds[i] == LINK_RESPONSE && (m.user != 0 || m.type != get_u16(b + 8) ||
                                          m.cseq != get_u32(b + 10)))
            fail("link_parse response fields");
        if (kinds[i] == LINK_PUSH && (m.user != 0 || m.type != get_u16(b + 8) || m.cseq != 0))
            fail("link_parse push fields");
    }
    free(b);
}

static void check_text(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';

    redis_url_t u;
    memset(&u, 0xAB, sizeof u);
    if (redis_url_parse(s, &u) == 0) {
        if (u.port < 1 || u.port > 65535)
            fail("redis_url_parse port out of range");
        if (u.db < 0 || u.db > 1000)
            fail("redis_url_parse db out of range");
        if (!memchr(u.host, '\0', sizeof u.host) || !memchr(u.password, '\0', sizeof u.password))
            fail("redis_url_parse field not terminated");
        if (!u.host[0])
            fail("redis_url_parse accepted an empty host");
    }

    char host[64];
    int port = -1;
    memset(host, 0xAB, sizeof host);
    if (addr_split(s, host, sizeof host, &port) == 0) {
        if (port < 0 || port > 65535)
            fail("addr_split port out of range");
        if (!memchr(host, '\0', sizeof host))
            fail("addr_split host not terminated");
        if (!host[0])
            fail("addr_split gave an empty host");
    }
    /* a tight buffer: whatever is accepted still fits */
    char tiny[8];
    memset(tiny, 0xAB, sizeof tiny);
    if (addr_split(s, tiny, sizeof tiny, &port) == 0 && !memchr(tiny, '\0', sizeof tiny))
        fail("addr_split overflowed a small host buffer");

    /* REDIS_SENTINELS lists and Sentinel's +switch-master payloads (bytes from the network) */
    sentinel_addr_t sa[3];
    int n = sentinel_list_parse(s, sa, 3);
    if (n == 0 || n > 3)
        fail("sentinel_list_parse count out of range");
    for (int i = 0; i < n; i++)
        if (sa[i].port < 1 || sa[i].port > 65535 || !memchr(sa[i].host, '\0', sizeof sa[i].host) || !sa[i].host[0])
            fail("sentinel_list_parse entry");
    char sh[16];
    int sp = 0;
    memset(sh, 0xAB, sizeof sh);
    if (sentinel_switch_parse(s, "cluster", sh, sizeof sh, &sp) == 0 &&
        (sp < 1 || sp > 65535 || !memchr(sh, '\0', sizeof sh)))
        fail("sentinel_switch_parse result");

    /* the gateway's peer names into source addresses, and their keys */
    uint8_t a[SRCADDR_LEN];
    if (srcaddr_from_peer(s, a) == 0) {
        char key[SRCADDR_KEY_MAX];
        srcaddr_key(a, key, sizeof key);
        if (!memchr(key, '\0', sizeof key) || !key[0])
            fail("srcaddr_key");
    }
    free(s);
}


/* Up to 4 frames out of the bytes: kind (1 byte), length (1 byte), that many body bytes. */
static void check_handshake(const uint8_t *data, size_t size)
{
    static uint8_t key[LINK_KEY_LEN];
    link_hs_t be, gw;
    link_hs_out_t out, hello;
    link_hs_backend(&be, PEER_GAME, 5);
    link_hs_gateway(&gw, 3, PEER_GAME, 5, &hello);
    int be_open = 1, gw_open = 1;
    for (int f = 0; f < 4 && size >= 2; f++) {
        uint16_t kind = data[0] % (LINK_USER_ONLINE + 2);
        size_t len = data[1] <= size - 2 ? data[1] : size - 2;
        uint8_t *body = malloc(len ? len : 1); /* exact size: a read past it is caught */
        if (!body)
            abort();
        memcpy(body, data + 2, len);
        link_hs_t *sides[2] = {&be, &gw};
        int *open[2] = {&be_open, &gw_open};
        for (int k = 0; k < 2; k++) {
            if (!*open[k])
                continue;
            int rc = link_hs_step(sides[k], key, kind, body, len, &out);
            if (rc == LINK_HS_DONE || sides[k]->state == LINK_HS_UP)
                fail("a link opened without the secret's MAC");
            if (rc < 0 && (out.kind != 0 || !sides[k]->why))
                fail("a refusal sent a frame or gave no reason");
            if (out.len > sizeof out.body)
                fail("a handshake frame larger than its buffer");
            if (rc < 0)
                *open[k] = 0;
        }
        free(body);
        data += 2 + len;
        size -= 2 + len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_link(data, size);
    check_text(data, size);
    check_handshake(data, size);
    return 0;
}
