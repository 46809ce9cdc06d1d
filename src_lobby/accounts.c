/* accounts: REGISTER, LOGIN, RESUME, LOGOUT and presence. Accounts in PostgreSQL (argon2id
 * hashes, computed off the loop), session tokens in Redis (only their hash), the gateway's
 * session bound to the user only after a successful LOGIN/RESUME. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "keys.h"
#include "lobby.h"
#include "log.h"
#include "rconn.h"
#include "throttle.h"
#include "util.h"

#define USERNAME_MIN 3
#define USERNAME_MAX 24
#define PASSWORD_MIN 8
#define PASSWORD_MAX 128
#define TOKEN_BYTES 32
#define TOKEN_HEX (TOKEN_BYTES * 2)

static int username_valid(const char *u)
{
    size_t n = strlen(u);
    if (n < USERNAME_MIN || n > USERNAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = u[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return 1;
}

static int password_valid(const char *p)
{
    size_t n = strlen(p);
    return n >= PASSWORD_MIN && n <= PASSWORD_MAX;
}

/* A request in progress; owns copies of what the client sent (password wiped on free). */
typedef struct acct_rq {
    lobby_t *lb;
    backend_req_t req;
    char username[USERNAME_MAX + 1];
    char login_name[USERNAME_MAX + 1]; /* as the client sent it: the throttling key */
    char password[PASSWORD_MAX + 1];
    uint64_t user_id;
    int found;
    char token_hex[TOKEN_HEX + 1];
    char token_key[RKEY_MAX];
    char token_val[128];
} acct_rq_t;

/* LOGIN and RESUME start a session: on a session logged in already they answer
 * ALREADY_AUTHENTICATED (and this returns 1). */
static int already_logged_in(backend_t *be, const backend_req_t *req)
{
    if (!req->user)
        return 0;
    backend_error(be, req, ERROR_CODE__ALREADY_AUTHENTICATED, "already logged in");
    return 1;
}

static acct_rq_t *acct_new(lobby_t *lb, const backend_req_t *req)
{
    acct_rq_t *a = xcalloc(1, sizeof *a);
    a->lb = lb;
    a->req = *req;
    return a;
}

static void acct_free(acct_rq_t *a)
{
    sodium_memzero(a->password, sizeof a->password);
    sodium_memzero(a->token_hex, sizeof a->token_hex);
    xfree(a);
}

static void acct_fail(acct_rq_t *a, ErrorCode code, const char *msg)
{
    backend_error(a->lb->be, &a->req, code, msg);
    acct_free(a);
}

/* token key and value: token:<hex of the first 16 bytes of BLAKE2b(token)> ->
 * "<user id>:<hex of the full 32-byte hash>"; the full hash is compared in constant time. */
static void token_hash(const char *token_hex, uint8_t out[32])
{
    crypto_generichash(out, 32, (const uint8_t *)token_hex, strlen(token_hex), NULL, 0);
}

static void token_key(lobby_t *lb, const uint8_t h[32], char *out, size_t n)
{
    char hex[33];
    sodium_bin2hex(hex, sizeof hex, h, 16);
    snprintf(out, n, "%s", key_token(backend_prefix(lb->be), hex).s);
}

/* ---- REGISTER ---- */

static void on_register_insert(const PGresult *res, const char *err, const char *sqlstate, void *ud)
{
    acct_rq_t *a = ud;
    if (!res) {
        if (strcmp(sqlstate, "23505") == 0)
            acct_fail(a, ERROR_CODE__USERNAME_TAKEN, "username taken");
        else
            acct_fail(a, ERROR_CODE__SERVICE_UNAVAILABLE, "accounts unavailable");
        return;
    }
    RegisterResponse out = REGISTER_RESPONSE__INIT;
    out.user_id = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
    log_info("account_registered", "user=%llu", (unsigned long long)out.user_id);
    backend_reply(a->lb->be, &a->req, PACKET_TYPE__REGISTER_RESPONSE, &out.base);
    acct_free(a);
}

static void on_register_hashed(int status, const char *hash, void *ud)
{
    acct_rq_t *a = ud;
    sodium_memzero(a->password, sizeof a->password);
    if (status != PWHASH_OK) {
        acct_fail(a, ERROR_CODE__INTERNAL, "could not hash the password");
        return;
    }
    const char *params[] = {a->username, hash};
    metrics_pg_query(backend_metrics(a->lb->be), a->lb->pg,
             "INSERT INTO accounts (username, password_hash) VALUES ($1, $2) RETURNING id", 2,
             params, on_register_insert, a);
}

static void on_register_exists(const PGresult *res, const char *err, const char *sqlstate, void *ud)
{
    acct_rq_t *a = ud;
    if (!res) {
        acct_fail(a, ERROR_CODE__SERVICE_UNAVAILABLE, "accounts unavailable");
        return;
    }
    if (PQntuples(res) > 0) {
        acct_fail(a, ERROR_CODE__USERNAME_TAKEN, "username taken");
        return;
    }
    if (pwhash_hash(a->lb->pwhash, a->password, strlen(a->password), on_register_hashed, a) != 0)
        acct_fail(a, ERROR_CODE__BUSY, "too many logins and registrations in progress, retry");
}

void lobby_register(backend_t *be, const backend_req_t *req, const ProtobufCMessage *msg, void *ud)
{
    const RegisterRequest *in = (const RegisterRequest *)msg;
    if (!username_valid(in->username)) {
        backend_error(be, req, ERROR_CODE__BAD_REQUEST, "username must be 3-24 of A-Z a-z 0-9 _");
        return;
    }
    if (!password_valid(in->password)) {
        backend_error(be, req, ERROR_CODE__BAD_REQUEST, "password must be 8-128 bytes");
        return;
    }
    acct_rq_t *a = acct_new(ud, req);
    snprintf(a->username, sizeof a->username, "%s", in->username);
    snprintf(a->password, sizeof a->password, "%s", in->password);
    const char *params[] = {a->username};
    /* A cheap check first, so a storm of taken names costs no hashing; the unique index
     * still decides races. */
    metrics_pg_query(backend_metrics(a->lb->be), a->lb->pg,
                     "SELECT 1 FROM accounts WHERE lower(username) = lower($1)", 1, params,
                     on_register_exists, a);
}

/* ---- sessions: shared by LOGIN and RESUME ---- */

static void on_online(lobby_t *lb, redisReply *r, void *ud);

/* Puts the user online at this session (kicking an older session elsewhere), binds the
 * gateway's session, and answers. */
static void go_online(acct_rq_t *a)
{
    char uid[24], gw[16], sid[24];
    snprintf(uid, sizeof uid, "%llu", (unsigned long long)a->user_id);
    snprintf(gw, sizeof gw, "%u", a->req.gw_id);
    snprintf(sid, sizeof sid, "%llu", (unsigned long long)a->req.session);
    const char *argv[] = {uid, a->username, gw, sid, a->token_key};
    if (lobby_script(a->lb, on_online, a, "online", 5, argv) != 0)
        acct_fail(a, ERROR_CODE__SERVICE_UNAVAILABLE, "sessions unavailable");
}

static void on_online(lobby_t *lb, redisReply *r, void *ud)
{
    acct_rq_t *a = ud;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 5) {
        acct_fail(a, ERROR_CODE__SERVICE_UNAVAILABLE, "sessions unavailable");
        return;
    }
    uint32_t prev_gw = (uint32_t)strtoul(r->element[1]->str ? r->element[1]->str : "0", NULL, 10);
    uint64_t prev_sid = strtoull(r->element[2]->str ? r->element[2]->str : "0", NULL, 10);
    int prev_online = r->element[3]->str && strcmp(r->element[3]->str, "1") == 0;
    const char *name = r->element[4]->str ? r->element[4]->str : a->username;
    if (prev_online && prev_sid && (prev_gw != a->req.gw_id || prev_sid != a->req.session)) {
        log_info("duplicate_login", "user=%llu old_gateway=%u new_gateway=%u",
                 (unsigned long long)a->user_id, prev_gw, a->req.gw_id);
        (void)backend_kick(lb->be, prev_gw, prev_sid, ERROR_CODE__ALREADY_AUTHENTICATED,
                           "logged in from another connection");
    }
    room_view_t v;
    int has_room = r->elements > 5 && room_view_parse(&v, r, 5) >= 0;
    backend_bind(lb->be, &a->req, a->user_id);
    /* Whatever Redis remembers (it may have lost the older session): every gateway drops any
     * other session of this user. */
    backend_user_online(lb->be, a->user_id, a->req.gw_id, a->req.session);
    /* Back into a running match: game packets of this session go to its game daemon (the
     * client then asks that daemon for a snapshot). */
    if (has_room && v.state.status == ROOM_STATUS__IN_GAME && v.state.game_server_id)
        (void)backend_bind_game(lb->be, a->req.gw_id, a->req.session, v.state.game_server_id,
                                v.state.match_id);
    if (a->req.type == PACKET_TYPE__LOGIN_REQUEST) {
        LoginResponse out = LOGIN_RESPONSE__INIT;
        out.user_id = a->user_id;
        out.token = a->token_hex;
        out.username = (char *)name;
        out.token_ttl_s = (uint32_t)lb->session_ttl_s;
        out.room = has_room ? &v.state : NULL;
        backend_reply(lb->be, &a->req, PACKET_TYPE__LOGIN_RESPONSE, &out.base);
    } else {
        ResumeResponse out = RESUME_RESPONSE__INIT;
        out.user_id = a->user_id;
        out.username = (char *)name;
        out.room = has_room ? &v.state : NULL;
        backend_reply(lb->be, &a->req, PACKET_TYPE__RESUME_RESPONSE, &out.base);
    }
    if (has_room) {
        room_view_push(lb, &v, "online", a->user_id);
        room_view_free(&v);
    }
    acct_free(a);
}

/* ---- LOGIN ---- */

static void on_token_stored(redisAsyncContext *ac, void *reply, void *privdata)
{
    acct_rq_t *a = privdata;
    redisReply *r = reply;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        acct_fail(a, ERROR_CODE__SERVICE_UNAVAILABLE, "sessions unavailable");
        return;
    }
    go_online(a);
}

static void on_pg_ignore(const PGresult *res, const char *err, const char *sqlstate, void *ud)
{
    if (!res)
        log_warn("last_login_not_recorded", "error=\"%s\"", err);
}

static void on_login_verified(int status, const char *hash, void *ud)
{
    acct_rq_t *a = ud;
    lobby_t *lb = a->lb;
    sodium_memzero(a->password, sizeof a->password);
    if (status != PWHASH_OK || !a->found) {
        if (status == PWHASH_ERROR && a->found)
            log_error("password_hash_unreadable", "user=%llu", (unsigned long long)a->user_id);
        throttle_done(lb, a->req.src, a->login_name, THROTTLE_FAILURE);
        acct_fail(a, ERROR_CODE__INVALID_CREDENTIALS, "wrong username or password");
        return;
    }
    throttle_done(lb, a->req.src, a->login_name, THROTTLE_SUCCESS);
    char id[24];
    snprintf(id, sizeof id, "%llu", (unsigned long long)a->user_id);
    const char *params[] = {id};
    metrics_pg_query(backend_metrics(lb->be), lb->pg,
                     "UPDATE accounts SET last_login_at = now() WHERE id = $1", 1, params,
                     on_pg_ignore, NULL);

    uint8_t token[TOKEN_BYTES], h[32];
    randombytes_buf(token, sizeof token);
    sodium_bin2hex(a->token_hex, sizeof a->token_hex, token, sizeof token);
    sodium_memzero(token, sizeof token);
    token_hash(a->token_hex, h);
    token_key(lb, h, a->token_key, sizeof a->token_key);
    char full[65];
    sodium_bin2hex(full, sizeof full, h, sizeof h);
    snprintf(a->token_val, sizeof a->token_val, "%llu:%s", (unsigned long long)a->user_id, full);
    if (rconn_cmd(backend_redis(lb->be), on_token_stored, a, "SET %s %s EX %lld", a->token_key,
                  a->token_val, (long long)lb->session_ttl_s) != 0)
        acct_fail(a, ERROR_CODE__SERVICE_UNAVAILABLE, "sessions unavailable");
}

static void on_login_account(const PGresult *res, const char *err, const char *sqlstate, void *ud)
{
    acct_rq_t *a = ud;
    if (!res) {
        throttle_done(a->lb, a->req.src, a->login_name, THROTTLE_UNCHECKED);
        acct_fail(a, ERROR_CODE__SERVICE_UNAVAILABLE, "accounts unavailable");
        return;
    }
    const char *stored = a->lb->dummy_hash;
    if (PQntuples(res) == 1) {
        a->found = 1;
        a->user_id = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
        snprintf(a->username, sizeof a->username, "%s", PQgetvalue(res, 0, 1));
        stored = PQgetvalue(res, 0, 2);
    }
    /* An unknown user costs the same hashing as a wrong password: no user enumeration by time. */
    if (pwhash_verify(a->lb->pwhash, stored, a->password, strlen(a->password), on_login_verified, a) != 0) {
        throttle_done(a->lb, a->req.src, a->login_name, THROTTLE_UNCHECKED);
        acct_fail(a, ERROR_CODE__BUSY, "too many logins in progress, retry");
    }
}

static void on_login_throttle(lobby_t *lb, int status, uint32_t retry_ms, void *ud)
{
    acct_rq_t *a = ud;
    if (status < 0) {
        acct_fail(a, ERROR_CODE__SERVICE_UNAVAILABLE, "sessions unavailable");
        return;
    }
    if (status == 0) {
        char msg[96];
        snprintf(msg, sizeof msg, "too many failed logins from this address, retry in %u ms", retry_ms);
        backend_error_retry(lb->be, &a->req, ERROR_CODE__TOO_MANY_ATTEMPTS, msg, retry_ms);
        acct_free(a);
        return;
    }
    const char *params[] = {a->username};
    metrics_pg_query(backend_metrics(lb->be), lb->pg,
             "SELECT id, username, password_hash FROM accounts WHERE lower(username) = lower($1)",
             1, params, on_login_account, a);
}

void lobby_login(backend_t *be, const backend_req_t *req, const ProtobufCMessage *msg, void *ud)
{
    lobby_t *lb = ud;
    const LoginRequest *in = (const LoginRequest *)msg;
    if (already_logged_in(be, req))
        return;
    if (!username_valid(in->username) || !password_valid(in->password)) {
        backend_error(be, req, ERROR_CODE__BAD_REQUEST,
                      "username must be 3-24 of A-Z a-z 0-9 _, password 8-128 bytes");
        return;
    }
    acct_rq_t *a = acct_new(lb, req);
    snprintf(a->username, sizeof a->username, "%s", in->username);
    snprintf(a->password, sizeof a->password, "%s", in->password);
    snprintf(a->login_name, sizeof a->login_name, "%s", in->username);
    if (throttle_check(lb, req->src, a->login_name, on_login_throttle, a) != 0)
        acct_fail(a, ERROR_CODE__SERVICE_UNAVAILABLE, "sessions unavailable");
}

/* ---- RESUME ---- */

static void on_resume_token(redisAsyncContext *ac, void *reply, void *privdata)
{
    acct_rq_t *a = privdata;
    redisReply *r = reply;
    if (!r) {
        acct_fail(a, ERROR_CODE__SERVICE_UNAVAILABLE, "sessions unavailable");
        return;
    }
    uint8_t h[32];
    char full[65];
    token_hash(a->token_hex, h);
    sodium_bin2hex(full, sizeof full, h, sizeof h);
    const char *colon = r->type == REDIS_REPLY_STRING ? strchr(r->str, ':') : NULL;
    if (!colon || strlen(colon + 1) != 64 || sodium_memcmp(colon + 1, full, 64) != 0) {
        acct_fail(a, ERROR_CODE__INVALID_TOKEN, "unknown or expired token");
        return;
    }
    a->user_id = strtoull(r->str, NULL, 10);
    a->username[0] = '\0'; /* kept from the user's record */
    (void)rconn_cmd(backend_redis(a->lb->be), NULL, NULL, "EXPIRE %s %lld", a->token_key,
                    (long long)a->lb->session_ttl_s);
    go_online(a);
}

void lobby_resume(backend_t *be, const backend_req_t *req, const ProtobufCMessage *msg, void *ud)
{
    lobby_t *lb = ud;
    const ResumeRequest *in = (const ResumeRequest *)msg;
    if (already_logged_in(be, req))
        return;
    size_t n = strlen(in->token);
    int hex = n == TOKEN_HEX;
    for (size_t i = 0; hex && i < n; i++)
        hex = (in->token[i] >= '0' && in->token[i] <= '9') || (in->token[i] >= 'a' && in->token[i] <= 'f');
    if (!hex) {
        backend_error(be, req, ERROR_CODE__INVALID_TOKEN, "unknown or expired token");
        return;
    }
    acct_rq_t *a = acct_new(lb, req);
    memcpy(a->token_hex, in->token, TOKEN_HEX + 1);
    uint8_t h[32];
    token_hash(a->token_hex, h);
    token_key(lb, h, a->token_key, sizeof a->token_key);
    /* The response carries no token: the client keeps the one it has. */
    if (rconn_cmd(backend_redis(be), on_resume_token, a, "GET %s", a->token_key) != 0)
        acct_fail(a, ERROR_CODE__SERVICE_UNAVAILABLE, "sessions unavailable");
}

/* ---- LOGOUT ---- */

static void on_logout(lobby_t *lb, redisReply *r, void *ud)
{
    acct_rq_t *a = ud;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        acct_fail(a, ERROR_CODE__SERVICE_UNAVAILABLE, "sessions unavailable");
        return;
    }
    backend_bind(lb->be, &a->req, 0);
    LogoutResponse out = LOGOUT_RESPONSE__INIT;
    backend_reply(lb->be, &a->req, PACKET_TYPE__LOGOUT_RESPONSE, &out.base);
    room_view_t v;
    if (r->elements > 1 && room_view_parse(&v, r, 1) >= 0) {
        room_view_push(lb, &v, "left", a->req.user);
        room_view_free(&v);
    }
    acct_free(a);
}

void lobby_logout(backend_t *be, const backend_req_t *req, const ProtobufCMessage *msg, void *ud)
{
    acct_rq_t *a = acct_new(ud, req);
    char uid[24];
    snprintf(uid, sizeof uid, "%llu", (unsigned long long)req->user);
    const char *argv[] = {uid};
    if (lobby_script(a->lb, on_logout, a, "logout", 1, argv) != 0)
        acct_fail(a, ERROR_CODE__SERVICE_UNAVAILABLE, "sessions unavailable");
}

/* ---- connection closed ---- */

static void on_offline(lobby_t *lb, redisReply *r, void *ud)
{
    room_view_t v;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements > 1 && r->element[0]->str &&
        strcmp(r->element[0]->str, "room") == 0 && room_view_parse(&v, r, 1) >= 0) {
        room_view_push(lb, &v, "offline", (uint64_t)(uintptr_t)ud);
        room_view_free(&v);
    }
}

void lobby_session_closed(backend_t *be, uint32_t gw_id, uint64_t session, uint64_t user, void *ud)
{
    lobby_t *lb = ud;
    char uid[24], gw[16], sid[24], deadline[24];
    snprintf(uid, sizeof uid, "%llu", (unsigned long long)user);
    snprintf(gw, sizeof gw, "%u", gw_id);
    snprintf(sid, sizeof sid, "%llu", (unsigned long long)session);
    snprintf(deadline, sizeof deadline, "%llu", (unsigned long long)(wall_ms() + (uint64_t)lb->resume_grace_ms));
    const char *argv[] = {uid, gw, sid, deadline};
    (void)lobby_script(lb, on_offline, (void *)(uintptr_t)user, "offline", 4, argv);
}
