/* link: the gateway <-> backend link protocol (documented in docs/link-protocol.md).
 *
 * Every link message is a frame with the client frame header (frame.h): `type` holds the link
 * message kind and `seq` the request id (rid) where one applies. Fields are big-endian.
 *
 *   HELLO     gw->be  u8 version, u8 gw type, u32 gateway id, nonce_g[32]
 *   CHALLENGE be->gw  u8 version, u8 be type, u32 backend id, nonce_b[32], mac_b[32]
 *   AUTH      gw->be  mac_g[32]
 *   READY     be->gw  (empty): the link is authenticated both ways
 *   PING/PONG either  u64 token
 *   REQUEST   gw->be  rid=seq; u64 session, u64 user, u16 type, u32 client seq, payload
 *   RESPONSE  be->gw  rid=seq; u64 session, u16 type, u32 client seq, payload
 *   PUSH      be->gw  u64 session, u16 type, payload (a push to one session; client seq 0)
 *   DRAINING  be->gw  (empty): send this backend no new requests
 *   BIND      be->gw  u64 session, u64 user: the session is now this user (0: logged out)
 *   KICK      be->gw  u64 session, u16 ErrorCode, reason: push KICKED, then close it
 *   SESSION_CLOSED gw->be  u64 session, u64 user: an authenticated client went away
 *   BIND_GAME be->gw  u64 session, u32 game server id (0: unbind), u64 match id: game packets
 *                     of the session go to that game daemon; an unbind names the match it
 *                     ends. A game daemon's is fenced by the gateway (docs/link-protocol.md)
 *   GAME_LOST gw->be  u32 game server id: the gateway lost its link to that game daemon
 *   REQUEST_SRC gw->be rid=seq; src[16], then a REQUEST body: a request with the client's
 *                     source address (IPv6, IPv4 as ::ffff:a.b.c.d), sent for LOGIN_REQUEST
 *   USER_ONLINE be->gw u64 user, u32 gateway id, u64 session: the user just logged in (or
 *                     resumed) there; every other session of that user is kicked
 *
 * mac_b = crypto_auth(key, "be->gw" | nonce_g | nonce_b | be type | backend id | gateway id)
 * mac_g = crypto_auth(key, "gw->be" | nonce_b | nonce_g | be type | backend id | gateway id)
 * with key = BLAKE2b-256("cluster-link-v1" | CLUSTER_SECRET). Fresh nonces on both sides stop
 * replay; the direction labels stop reflection. */
#ifndef CLUSTER_LINK_H
#define CLUSTER_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "frame.h"

#define LINK_VERSION 1
#define LINK_NONCE_LEN 32
#define LINK_MAC_LEN 32
#define LINK_KEY_LEN 32
#define LINK_MAX_FRAME (FRAME_DEFAULT_MAX * 4 + 64)

enum link_kind {
    LINK_HELLO = 1,
    LINK_CHALLENGE = 2,
    LINK_AUTH = 3,
    LINK_READY = 4,
    LINK_PING = 5,
    LINK_PONG = 6,
    LINK_REQUEST = 10,
    LINK_RESPONSE = 11,
    LINK_PUSH = 12,
    LINK_DRAINING = 13,
    LINK_BIND = 14,
    LINK_KICK = 15,
    LINK_SESSION_CLOSED = 16,
    LINK_BIND_GAME = 17,
    LINK_GAME_LOST = 18,
    LINK_REQUEST_SRC = 19,
    LINK_USER_ONLINE = 20,
};

enum link_peer_type { PEER_GATEWAY = 1, PEER_LOBBY = 2, PEER_GAME = 3 };

#define LINK_HELLO_LEN (1 + 1 + 4 + LINK_NONCE_LEN)
#define LINK_CHALLENGE_LEN (1 + 1 + 4 + LINK_NONCE_LEN + LINK_MAC_LEN)
#define LINK_REQ_PREFIX (8 + 8 + 2 + 4)
#define LINK_RESP_PREFIX (8 + 2 + 4)
#define LINK_PUSH_PREFIX (8 + 2)
#define LINK_KICK_PREFIX (8 + 2) /* session, error code; then the reason */
#define LINK_KICK_REASON_MAX 200
#define LINK_SRC_LEN 16 /* a source address in REQUEST_SRC: IPv6, IPv4 mapped (::ffff:a.b.c.d) */

const char *peer_type_name(int t); /* "Gateway", "Lobby", "Game" */

/* Derives the link key from the shared secret. */
void link_key_derive(uint8_t key[LINK_KEY_LEN], const char *secret);

/* Computes the MAC for one direction (label "be->gw" or "gw->be"), binding both nonces and ids. */
void link_mac(uint8_t out[LINK_MAC_LEN], const uint8_t key[LINK_KEY_LEN], const char *label,
              const uint8_t first[LINK_NONCE_LEN], const uint8_t second[LINK_NONCE_LEN],
              uint8_t be_type, uint32_t be_id, uint32_t gw_id);
/* Constant-time check; returns 0 when mac is right. */
int link_mac_verify(const uint8_t mac[LINK_MAC_LEN], const uint8_t key[LINK_KEY_LEN],
                    const char *label, const uint8_t first[LINK_NONCE_LEN],
                    const uint8_t second[LINK_NONCE_LEN], uint8_t be_type, uint32_t be_id,
                    uint32_t gw_id) __attribute__((warn_unused_result));

/* Queues one link frame. Returns 0 or -1 (conn refused the bytes). */
int link_send(conn_t *c, uint16_t kind, uint32_t seq, const void *body, size_t n);
int link_send_ping(conn_t *c, uint16_t kind, uint64_t token);
int link_send_request(conn_t *c, uint32_t rid, uint64_t session, uint64_t user, uint16_t type,
                      uint32_t cseq, const uint8_t *payload, size_t n);
/* As link_send_request, as a REQUEST_SRC carrying the client's source address src (NULL: a
 * plain REQUEST). */
int link_send_request_src(conn_t *c, uint32_t rid, const uint8_t *src, uint64_t session,
                          uint64_t user, uint16_t type, uint32_t cseq, const uint8_t *payload,
                          size_t n);
/* Reserves a RESPONSE (kind LINK_RESPONSE) or PUSH (kind LINK_PUSH) frame with room for n payload
 * bytes and returns where the payload goes; finish with link_commit(c, n). NULL if refused. */
uint8_t *link_begin_delivery(conn_t *c, uint16_t kind, uint32_t rid, uint64_t session,
                             uint16_t type, uint32_t cseq, size_t n);
void link_commit_delivery(conn_t *c, uint16_t kind, size_t n);

/* A parsed REQUEST/REQUEST_SRC/RESPONSE/PUSH body. Returns 0, or -1 when the body is too
 * short. has_src is 1 for a REQUEST_SRC (src then holds its address), else 0. */
typedef struct link_msg {
    uint8_t src[LINK_SRC_LEN];
    int has_src;
    uint64_t session;
    uint64_t user;
    uint16_t type;
    uint32_t cseq;
    const uint8_t *payload;
    size_t len;
} link_msg_t;

int link_parse(uint16_t kind, const uint8_t *body, size_t n, link_msg_t *out)
    __attribute__((warn_unused_result));

/* Checks a frame that reached a link that is up (the handshake's frames are the state machine's
 * below): to_gateway 1 on the gateway's side, 0 on a backend's. Returns NULL when its kind goes
 * that way and its body has that kind's size (a body link_parse then takes), else the reason to
 * close the link: "short_<kind>", "bad_kick", or "unexpected_kind". */
const char *link_frame_check(int to_gateway, uint16_t kind, uint32_t len)
    __attribute__((warn_unused_result));
/* What every link that is up does first with a frame: checks it (link_frame_check) and answers
 * a PING of 8 bytes with a PONG of the same bytes. Returns 1 when the frame is the caller's to
 * handle, 0 when nothing is left to do (PING, PONG), -1 when the link must close for *why. */
int link_take_frame(conn_t *c, int to_gateway, const frame_hdr_t *h, const uint8_t *body, const char **why)
    __attribute__((warn_unused_result));

/* ---- the handshake, both sides: a state machine over frames, pure (no I/O) ----
 *
 * The gateway opens it (link_hs_gateway gives the HELLO to send) and checks that the
 * CHALLENGE comes from the daemon it meant to reach (type and id from the registry) and
 * carries the right MAC; the backend (link_hs_backend) answers a HELLO with its CHALLENGE and
 * checks the gateway's AUTH. Each link_hs_step takes the next frame and may give one frame
 * to send in *out (out->kind 0: nothing). */
typedef enum {
    LINK_HS_WAIT_HELLO,     /* backend */
    LINK_HS_WAIT_CHALLENGE, /* gateway */
    LINK_HS_WAIT_AUTH,      /* backend */
    LINK_HS_WAIT_READY,     /* gateway */
    LINK_HS_UP,
} link_hs_state_t;

typedef struct link_hs {
    link_hs_state_t state;
    uint8_t be_type; /* the backend's type: expected (gateway side) or own (backend side) */
    uint32_t be_id;  /* the backend's registry id: expected or own */
    uint32_t gw_id;  /* the gateway's registry id: own, or read from its HELLO */
    uint8_t nonce_g[LINK_NONCE_LEN];
    uint8_t nonce_b[LINK_NONCE_LEN];
    const char *why; /* after LINK_HS_FAIL: the reason, a log word */
} link_hs_t;

typedef struct link_hs_out {
    uint16_t kind; /* 0: nothing to send */
    size_t len;
    uint8_t body[LINK_CHALLENGE_LEN];
} link_hs_out_t;

enum { LINK_HS_MORE = 0, LINK_HS_DONE = 1, LINK_HS_FAIL = -1, LINK_HS_MISMATCH = -2 };

/* Gateway gw_id starts a link to backend (be_type, be_id): *hello is the HELLO to send. */
void link_hs_gateway(link_hs_t *hs, uint32_t gw_id, uint8_t be_type, uint32_t be_id,
                     link_hs_out_t *hello);
/* Backend (be_type, be_id) waits for a gateway's HELLO. */
void link_hs_backend(link_hs_t *hs, uint8_t be_type, uint32_t be_id);
/* Takes one frame. LINK_HS_MORE: go on (send *out if any); LINK_HS_DONE: the link is up (send
 * *out if any); LINK_HS_FAIL: drop the link (hs->why); LINK_HS_MISMATCH (gateway side): the
 * CHALLENGE came from another daemon than the one expected (hs->be_type/be_id are the ones
 * heard), drop it too. */
int link_hs_step(link_hs_t *hs, const uint8_t key[LINK_KEY_LEN], uint16_t kind,
                 const uint8_t *body, size_t len, link_hs_out_t *out)
    __attribute__((warn_unused_result));

#endif
