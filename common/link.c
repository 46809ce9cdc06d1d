/* link: link frame encoding and the mutual challenge-response over CLUSTER_SECRET. */
#include "link.h"

#include <sodium.h>
#include <string.h>

const char *peer_type_name(int t)
{
    switch (t) {
    case PEER_GATEWAY: return "Gateway";
    case PEER_LOBBY: return "Lobby";
    case PEER_GAME: return "Game";
    }
    return "?";
}

void link_key_derive(uint8_t key[LINK_KEY_LEN], const char *secret)
{
    static const char ctx[] = "cluster-link-v1";
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, LINK_KEY_LEN);
    crypto_generichash_update(&st, (const uint8_t *)ctx, sizeof ctx - 1);
    crypto_generichash_update(&st, (const uint8_t *)secret, strlen(secret));
    crypto_generichash_final(&st, key, LINK_KEY_LEN);
    sodium_memzero(&st, sizeof st);
}

static size_t mac_input(uint8_t *buf, const char *label, const uint8_t *first,
                        const uint8_t *second, uint8_t be_type, uint32_t be_id, uint32_t gw_id)
{
    size_t n = 0;
    memcpy(buf, label, 6);
    n += 6;
    memcpy(buf + n, first, LINK_NONCE_LEN);
    n += LINK_NONCE_LEN;
    memcpy(buf + n, second, LINK_NONCE_LEN);
    n += LINK_NONCE_LEN;
    buf[n++] = be_type;
    put_u32(buf + n, be_id);
    n += 4;
    put_u32(buf + n, gw_id);
    n += 4;
    return n;
}

void link_mac(uint8_t out[LINK_MAC_LEN], const uint8_t key[LINK_KEY_LEN], const char *label,
              const uint8_t first[LINK_NONCE_LEN], const uint8_t second[LINK_NONCE_LEN],
              uint8_t be_type, uint32_t be_id, uint32_t gw_id)
{
    uint8_t buf[128];
    size_t n = mac_input(buf, label, first, second, be_type, be_id, gw_id);
    crypto_auth(out, buf, n, key);
}

int link_mac_verify(const uint8_t mac[LINK_MAC_LEN], const uint8_t key[LINK_KEY_LEN],
                    const char *label, const uint8_t first[LINK_NONCE_LEN],
                    const uint8_t second[LINK_NONCE_LEN], uint8_t be_type, uint32_t be_id,
                    uint32_t gw_id)
{
    uint8_t buf[128];
    size_t n = mac_input(buf, label, first, second, be_type, be_id, gw_id);
    return crypto_auth_verify(mac, buf, n, key) == 0 ? 0 : -1;
}

int link_send(conn_t *c, uint16_t kind, uint32_t seq, const void *body, size_t n)
{
    uint8_t *p = conn_reserve(c, FRAME_HDR_LEN + n);
    if (!p)
        return -1;
    frame_hdr_write(p, (uint32_t)n, kind, seq);
    if (n)
        memcpy(p + FRAME_HDR_LEN, body, n);
    conn_commit(c, FRAME_HDR_LEN + n);
    return 0;
}

int link_send_ping(conn_t *c, uint16_t kind, uint64_t token)
{
    uint8_t b[8];
    put_u64(b, token);
    return link_send(c, kind, 0, b, sizeof b);
}

int link_send_request(conn_t *c, uint32_t rid, uint64_t session, uint64_t user, uint16_t type,
                      uint32_t cseq, const uint8_t *payload, size_t n)
{
    return link_send_request_src(c, rid, NULL, session, user, type, cseq, payload, n);
}

int link_send_request_src(conn_t *c, uint32_t rid, const uint8_t *src, uint64_t session,
                          uint64_t user, uint16_t type, uint32_t cseq, const uint8_t *payload,
                          size_t n)
{
    size_t extra = src ? LINK_SRC_LEN : 0;
    uint8_t *p = conn_reserve(c, FRAME_HDR_LEN + extra + LINK_REQ_PREFIX + n);
    if (!p)
        return -1;
    frame_hdr_write(p, (uint32_t)(extra + LINK_REQ_PREFIX + n), src ? LINK_REQUEST_SRC : LINK_REQUEST,
                    rid);
    uint8_t *b = p + FRAME_HDR_LEN;
    if (src) {
        memcpy(b, src, LINK_SRC_LEN);
        b += LINK_SRC_LEN;
    }
    put_u64(b, session);
    put_u64(b + 8, user);
    put_u16(b + 16, type);
    put_u32(b + 18, cseq);
    if (n)
        memcpy(b + LINK_REQ_PREFIX, payload, n);
    conn_commit(c, FRAME_HDR_LEN + extra + LINK_REQ_PREFIX + n);
    return 0;
}

uint8_t *link_begin_delivery(conn_t *c, uint16_t kind, uint32_t rid, uint64_t session,
                             uint16_t type, uint32_t cseq, size_t n)
{
    size_t prefix = kind == LINK_RESPONSE ? LINK_RESP_PREFIX : LINK_PUSH_PREFIX;
    uint8_t *p = conn_reserve(c, FRAME_HDR_LEN + prefix + n);
    if (!p)
        return NULL;
    frame_hdr_write(p, (uint32_t)(prefix + n), kind, rid);
    uint8_t *b = p + FRAME_HDR_LEN;
    put_u64(b, session);
    put_u16(b + 8, type);
    if (kind == LINK_RESPONSE)
        put_u32(b + 10, cseq);
    return b + prefix;
}

void link_commit_delivery(conn_t *c, uint16_t kind, size_t n)
{
    size_t prefix = kind == LINK_RESPONSE ? LINK_RESP_PREFIX : LINK_PUSH_PREFIX;
    conn_commit(c, FRAME_HDR_LEN + prefix + n);
}

int link_parse(uint16_t kind, const uint8_t *b, size_t n, link_msg_t *m)
{
    memset(m, 0, sizeof *m);
    switch (kind) {
    case LINK_REQUEST_SRC:
        if (n < LINK_SRC_LEN + LINK_REQ_PREFIX)
            return -1;
        memcpy(m->src, b, LINK_SRC_LEN);
        m->has_src = 1;
        b += LINK_SRC_LEN;
        n -= LINK_SRC_LEN;
        /* fall through */
    case LINK_REQUEST:
        if (n < LINK_REQ_PREFIX)
            return -1;
        m->session = get_u64(b);
        m->user = get_u64(b + 8);
        m->type = get_u16(b + 16);
        m->cseq = get_u32(b + 18);
        m->payload = b + LINK_REQ_PREFIX;
        m->len = n - LINK_REQ_PREFIX;
        return 0;
    case LINK_RESPONSE:
    case LINK_PUSH: {
        size_t prefix = kind == LINK_RESPONSE ? LINK_RESP_PREFIX : LINK_PUSH_PREFIX;
        if (n < prefix)
            return -1;
        m->session = get_u64(b);
        m->type = get_u16(b + 8);
        if (kind == LINK_RESPONSE)
            m->cseq = get_u32(b + 10);
        m->payload = b + prefix;
        m->len = n - prefix;
        return 0;
    }
    }
    return -1;
}

/* What a link that is up may carry, each way, and how long each body is: the one place the frame
 * sizes of link.h are checked on receipt. */
static const struct {
    uint16_t kind;
    uint8_t to_gateway, to_backend;
    uint32_t min, max;
    const char *why; /* the reason to close a link that got a body of another size */
} FRAME_RULES[] = {
    {LINK_PING, 1, 1, 0, UINT32_MAX, NULL}, /* a PING of another size than 8 goes unanswered */
    {LINK_PONG, 1, 1, 0, UINT32_MAX, NULL},
    {LINK_DRAINING, 1, 0, 0, UINT32_MAX, NULL},
    {LINK_RESPONSE, 1, 0, LINK_RESP_PREFIX, UINT32_MAX, "short_response"},
    {LINK_PUSH, 1, 0, LINK_PUSH_PREFIX, UINT32_MAX, "short_push"},
    {LINK_KICK, 1, 0, LINK_KICK_PREFIX, LINK_KICK_PREFIX + LINK_KICK_REASON_MAX, "bad_kick"},
    {LINK_BIND, 1, 0, 16, 16, "short_bind"},
    {LINK_USER_ONLINE, 1, 0, 20, 20, "short_user_online"},
    {LINK_BIND_GAME, 1, 0, 20, 20, "short_bind_game"},
    {LINK_REQUEST, 0, 1, LINK_REQ_PREFIX, UINT32_MAX, "short_request"},
    {LINK_REQUEST_SRC, 0, 1, LINK_SRC_LEN + LINK_REQ_PREFIX, UINT32_MAX, "short_request"},
    {LINK_SESSION_CLOSED, 0, 1, 16, 16, "short_session_closed"},
    {LINK_GAME_LOST, 0, 1, 4, 4, "short_game_lost"},
};

const char *link_frame_check(int to_gateway, uint16_t kind, uint32_t len)
{
    for (size_t i = 0; i < sizeof FRAME_RULES / sizeof FRAME_RULES[0]; i++) {
        if (FRAME_RULES[i].kind != kind)
            continue;
        if (!(to_gateway ? FRAME_RULES[i].to_gateway : FRAME_RULES[i].to_backend))
            break;
        return len < FRAME_RULES[i].min || len > FRAME_RULES[i].max ? FRAME_RULES[i].why : NULL;
    }
    return "unexpected_kind";
}

int link_take_frame(conn_t *c, int to_gateway, const frame_hdr_t *h, const uint8_t *body, const char **why)
{
    *why = link_frame_check(to_gateway, h->type, h->len);
    if (*why)
        return -1;
    if (h->type == LINK_PING && h->len == 8)
        (void)link_send(c, LINK_PONG, 0, body, 8);
    return h->type != LINK_PING && h->type != LINK_PONG;
}

/* ---- the handshake ---- */

void link_hs_gateway(link_hs_t *hs, uint32_t gw_id, uint8_t be_type, uint32_t be_id,
                     link_hs_out_t *hello)
{
    memset(hs, 0, sizeof *hs);
    hs->state = LINK_HS_WAIT_CHALLENGE;
    hs->gw_id = gw_id;
    hs->be_type = be_type;
    hs->be_id = be_id;
    randombytes_buf(hs->nonce_g, LINK_NONCE_LEN);
    hello->kind = LINK_HELLO;
    hello->len = LINK_HELLO_LEN;
    hello->body[0] = LINK_VERSION;
    hello->body[1] = PEER_GATEWAY;
    put_u32(hello->body + 2, gw_id);
    memcpy(hello->body + 6, hs->nonce_g, LINK_NONCE_LEN);
}

void link_hs_backend(link_hs_t *hs, uint8_t be_type, uint32_t be_id)
{
    memset(hs, 0, sizeof *hs);
    hs->state = LINK_HS_WAIT_HELLO;
    hs->be_type = be_type;
    hs->be_id = be_id;
}

static int hs_fail(link_hs_t *hs, const char *why)
{
    hs->why = why;
    return LINK_HS_FAIL;
}

/* backend: HELLO -> CHALLENGE */
static int on_hello(link_hs_t *hs, const uint8_t key[LINK_KEY_LEN], uint16_t kind,
                    const uint8_t *body, size_t len, link_hs_out_t *out)
{
    if (kind != LINK_HELLO || len != LINK_HELLO_LEN || body[0] != LINK_VERSION ||
        body[1] != PEER_GATEWAY)
        return hs_fail(hs, "bad_hello");
    hs->gw_id = get_u32(body + 2);
    memcpy(hs->nonce_g, body + 6, LINK_NONCE_LEN);
    randombytes_buf(hs->nonce_b, LINK_NONCE_LEN);
    out->kind = LINK_CHALLENGE;
    out->len = LINK_CHALLENGE_LEN;
    out->body[0] = LINK_VERSION;
    out->body[1] = hs->be_type;
    put_u32(out->body + 2, hs->be_id);
    memcpy(out->body + 6, hs->nonce_b, LINK_NONCE_LEN);
    link_mac(out->body + 6 + LINK_NONCE_LEN, key, "be->gw", hs->nonce_g, hs->nonce_b, hs->be_type,
             hs->be_id, hs->gw_id);
    hs->state = LINK_HS_WAIT_AUTH;
    return LINK_HS_MORE;
}

/* gateway: CHALLENGE -> AUTH */
static int on_challenge(link_hs_t *hs, const uint8_t key[LINK_KEY_LEN], uint16_t kind,
                        const uint8_t *body, size_t len, link_hs_out_t *out)
{
    if (kind != LINK_CHALLENGE || len != LINK_CHALLENGE_LEN || body[0] != LINK_VERSION)
        return hs_fail(hs, "bad_challenge");
    uint8_t be_type = body[1];
    uint32_t be_id = get_u32(body + 2);
    if (be_type != hs->be_type || be_id != hs->be_id) {
        hs->be_type = be_type;
        hs->be_id = be_id;
        hs->why = "identity_mismatch";
        return LINK_HS_MISMATCH;
    }
    memcpy(hs->nonce_b, body + 6, LINK_NONCE_LEN);
    if (link_mac_verify(body + 6 + LINK_NONCE_LEN, key, "be->gw", hs->nonce_g, hs->nonce_b,
                        be_type, be_id, hs->gw_id) != 0)
        return hs_fail(hs, "auth_failed");
    out->kind = LINK_AUTH;
    out->len = LINK_MAC_LEN;
    link_mac(out->body, key, "gw->be", hs->nonce_b, hs->nonce_g, be_type, be_id, hs->gw_id);
    hs->state = LINK_HS_WAIT_READY;
    return LINK_HS_MORE;
}

int link_hs_step(link_hs_t *hs, const uint8_t key[LINK_KEY_LEN], uint16_t kind,
                 const uint8_t *body, size_t len, link_hs_out_t *out)
{
    out->kind = 0;
    out->len = 0;
    switch (hs->state) {
    case LINK_HS_WAIT_HELLO:
        return on_hello(hs, key, kind, body, len, out);
    case LINK_HS_WAIT_CHALLENGE:
        return on_challenge(hs, key, kind, body, len, out);
    case LINK_HS_WAIT_AUTH:
        if (kind != LINK_AUTH || len != LINK_MAC_LEN ||
            link_mac_verify(body, key, "gw->be", hs->nonce_b, hs->nonce_g, hs->be_type, hs->be_id,
                            hs->gw_id) != 0)
            return hs_fail(hs, "auth_failed");
        out->kind = LINK_READY;
        hs->state = LINK_HS_UP;
        return LINK_HS_DONE;
    case LINK_HS_WAIT_READY:
        if (kind != LINK_READY)
            return hs_fail(hs, "bad_ready");
        hs->state = LINK_HS_UP;
        return LINK_HS_DONE;
    case LINK_HS_UP:
        break;
    }
    return hs_fail(hs, "handshake_over");
}
