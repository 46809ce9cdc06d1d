/* mode_lua: a Lua game module behind the mode seam: the match runs on a sandboxed state
 * (modrt.c) of the module version it started with, shared with at most
 * MODULE_MATCHES_PER_STATE - 1 other matches of that version, with an account of its own
 * (memory cap, math.random, log); ctx (DESIGN.md, Game modules) gives
 * the module match_id, mode, players, broadcast, finish, log, now_ms and random. The players'
 * MATCH_DATA_SEND messages are queued and handed to loop once per tick. A module that errs,
 * loops past its budget, overspends its memory or returns garbage fails its match only. */
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "game.h"
#include "log.h"
#include "modrt.h"

#define INBOX_MAX_BYTES (256 * 1024) /* queued MATCH_DATA_SEND bytes per match per tick */
#define INBOX_MAX_MSGS 4096
#define BROADCAST_MAX (60 * 1024)    /* a MATCH_DATA push must fit the client frame (64 KiB) */
#define SUMMARY_MAX 500

typedef struct qmsg {
    uint64_t sender;
    uint32_t op;
    size_t len;
    uint8_t *data;
} qmsg_t;

typedef struct lmode {
    match_t *m;
    modrt_t *rt;           /* shared: the version's state this match runs on */
    modrt_match_t *acct;   /* this match's account on it */
    int state_ref, ctx_ref;
    qmsg_t *q;
    size_t nq, capq, qbytes;
    int finished;
    mode_result_t fin;
    mode_player_result_t *fin_players;
} lmode_t;

static lmode_t *lm_of(lua_State *L) { return lua_touserdata(L, lua_upvalueindex(1)); }

/* ---- ctx ---- */

static int ctx_broadcast(lua_State *L)
{
    lmode_t *lm = lm_of(L);
    lua_Integer op = luaL_checkinteger(L, 1);
    size_t len;
    const char *data = luaL_checklstring(L, 2, &len);
    luaL_argcheck(L, op >= 0 && op <= 0xffffffffLL, 1, "op must be 0-4294967295");
    luaL_argcheck(L, len <= BROADCAST_MAX, 2, "data over 60 KiB");
    uint64_t users[MATCH_MAX_PLAYERS];
    size_t nusers = 0;
    int to_some = !lua_isnoneornil(L, 3);
    if (to_some) {
        luaL_checktype(L, 3, LUA_TTABLE);
        lua_Integer n = luaL_len(L, 3);
        for (lua_Integer i = 1; i <= n && nusers < MATCH_MAX_PLAYERS; i++) {
            lua_geti(L, 3, i);
            int isnum = 0;
            lua_Integer u = lua_tointegerx(L, -1, &isnum);
            lua_pop(L, 1);
            if (!isnum)
                return luaL_error(L, "broadcast: user_ids[%d] is not an integer", (int)i);
            users[nusers++] = (uint64_t)u;
        }
    }
    MatchData md = MATCH_DATA__INIT;
    md.op_code = (uint32_t)op;
    md.data.data = (uint8_t *)data;
    md.data.len = len;
    md.sender_id = 0;
    match_broadcast(lm->m, PACKET_TYPE__MATCH_DATA, &md.base, to_some ? users : NULL, nusers);
    return 0;
}

/* stats = {name = number|string|boolean, ...} as a JSON object of at most 255 bytes. */
static void stats_json(lua_State *L, int t, char *out, size_t n)
{
    size_t l = (size_t)snprintf(out, n, "{");
    lua_pushnil(L);
    while (lua_next(L, t)) {
        char item[160];
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        int ok = k && strlen(k) < 48;
        for (const char *c = k; ok && *c; c++)
            ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_';
        if (!ok) {
            lua_pop(L, 2);
            luaL_error(L, "finish: stats keys must be short names ([A-Za-z0-9_])");
        }
        const char *sep = l > 1 ? "," : "";
        if (lua_type(L, -1) == LUA_TNUMBER && lua_isinteger(L, -1))
            snprintf(item, sizeof item, "%s\"%s\":%lld", sep, k, (long long)lua_tointeger(L, -1));
        else if (lua_type(L, -1) == LUA_TNUMBER)
            snprintf(item, sizeof item, "%s\"%s\":%.6g", sep, k, (double)lua_tonumber(L, -1));
        else if (lua_type(L, -1) == LUA_TBOOLEAN)
            snprintf(item, sizeof item, "%s\"%s\":%s", sep, k, lua_toboolean(L, -1) ? "true" : "false");
        else {
            lua_pop(L, 2);
            luaL_error(L, "finish: stats values must be numbers or booleans");
        }
        size_t il = strlen(item);
        if (l + il + 2 > n) {
            lua_pop(L, 2);
            luaL_error(L, "finish: stats over %d bytes of JSON", (int)n - 1);
        }
        memcpy(out + l, item, il + 1);
        l += il;
        lua_pop(L, 1);
    }
    snprintf(out + l, n - l, "}");
}

static void finish_player(lua_State *L, lmode_t *lm, int t)
{
    lua_getfield(L, t, "user_id");
    int isnum = 0;
    lua_Integer uid = lua_tointegerx(L, -1, &isnum);
    lua_pop(L, 1);
    int idx = isnum ? match_index_of(lm->m, (uint64_t)uid) : -1;
    if (idx < 0)
        luaL_error(L, "finish: a result's user_id is not a player of this match");
    mode_player_result_t *p = &lm->fin_players[idx];
    lua_getfield(L, t, "score");
    lua_Integer score = lua_isnil(L, -1) ? 0 : lua_tointegerx(L, -1, &isnum);
    if (!lua_isnil(L, -1) && (!isnum || score < 0 || score > 0x7fffffffLL))
        luaL_error(L, "finish: score must be an integer 0-2147483647");
    lua_pop(L, 1);
    p->score = (uint32_t)score;
    lua_getfield(L, t, "outcome");
    const char *o = lua_isnil(L, -1) ? "" : lua_tostring(L, -1);
    if (!o || (*o && strcmp(o, "win") && strcmp(o, "loss") && strcmp(o, "draw")))
        luaL_error(L, "finish: outcome must be \"win\", \"loss\" or \"draw\"");
    snprintf(p->outcome, sizeof p->outcome, "%s", o);
    lua_pop(L, 1);
    lua_getfield(L, t, "stats");
    if (lua_istable(L, -1))
        stats_json(L, lua_gettop(L), p->stats_json, sizeof p->stats_json);
    else if (!lua_isnil(L, -1))
        luaL_error(L, "finish: stats must be a table");
    lua_pop(L, 1);
}

static int ctx_finish(lua_State *L)
{
    lmode_t *lm = lm_of(L);
    if (lm->finished)
        return 0; /* the first call decides */
    luaL_checktype(L, 1, LUA_TTABLE);
    memset(lm->fin_players, 0, match_players(lm->m) * sizeof *lm->fin_players);
    lua_getfield(L, 1, "summary");
    size_t sl = 0;
    const char *summary = lua_isnil(L, -1) ? "" : lua_tolstring(L, -1, &sl);
    if (!summary || sl > SUMMARY_MAX)
        return luaL_error(L, "finish: summary must be a string of at most %d bytes", SUMMARY_MAX);
    snprintf(lm->fin.summary, sizeof lm->fin.summary, "%s", summary);
    lua_pop(L, 1);
    lua_getfield(L, 1, "players");
    if (!lua_isnil(L, -1)) {
        luaL_checktype(L, -1, LUA_TTABLE);
        int t = lua_gettop(L);
        lua_Integer n = luaL_len(L, t);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_geti(L, t, i);
            if (!lua_istable(L, -1))
                return luaL_error(L, "finish: players[%d] is not a table", (int)i);
            finish_player(L, lm, lua_gettop(L));
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    lm->finished = 1;
    match_finish(lm->m);
    return 0;
}

/* Log text: one line, quotes made single, at most 300 bytes. */
static void log_text(char *out, size_t n, const char *in)
{
    size_t k = 0;
    for (; *in && k + 1 < n; in++)
        out[k++] = *in == '"' ? '\'' : (*in == '\n' || *in == '\r') ? ' ' : *in;
    out[k] = '\0';
}

static void rt_log(void *ud, const char *level, const char *text)
{
    lmode_t *lm = ud;
    char t[301];
    log_text(t, sizeof t, text);
    if (strcmp(level, "error") == 0)
        log_error("module_log", "match=%llu mode=%s text=\"%s\"", (unsigned long long)match_id(lm->m),
                  match_mode(lm->m), t);
    else if (strcmp(level, "warn") == 0)
        log_warn("module_log", "match=%llu mode=%s text=\"%s\"", (unsigned long long)match_id(lm->m),
                 match_mode(lm->m), t);
    else if (strcmp(level, "debug") == 0)
        log_debug("module_log", "match=%llu mode=%s text=\"%s\"", (unsigned long long)match_id(lm->m),
                  match_mode(lm->m), t);
    else
        log_info("module_log", "match=%llu mode=%s text=\"%s\"", (unsigned long long)match_id(lm->m),
                 match_mode(lm->m), t);
}

/* What the module's top level prints while a state is made (no match entered yet). */
static void state_log(void *ud, const char *level, const char *text)
{
    const module_version_t *v = ud;
    char t[301];
    log_text(t, sizeof t, text);
    log_info("module_log", "mode=%s version=%u level=%s text=\"%s\"", v->mode, v->version, level, t);
}

static int ctx_log(lua_State *L)
{
    const char *level = luaL_checkstring(L, 1);
    const char *text = luaL_checkstring(L, 2);
    rt_log(lm_of(L), level, text);
    return 0;
}

static int ctx_now_ms(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)match_now_ms(lm_of(L)->m));
    return 1;
}

/* ctx.random(): as math.random (modrt_random_result), from the match's own generator. */
static int ctx_random(lua_State *L) { return modrt_random_result(L, match_random(lm_of(L)->m)); }

static int build_ctx(lua_State *L)
{
    lmode_t *lm = lua_touserdata(L, 1);
    match_t *m = lm->m;
    lua_createtable(L, 0, 10);
    lua_pushinteger(L, (lua_Integer)match_id(m));
    lua_setfield(L, -2, "match_id");
    lua_pushstring(L, match_mode(m));
    lua_setfield(L, -2, "mode");
    lua_createtable(L, (int)match_players(m), 0);
    for (uint32_t i = 0; i < match_players(m); i++) {
        lua_createtable(L, 0, 2);
        lua_pushinteger(L, (lua_Integer)match_user(m, i));
        lua_setfield(L, -2, "user_id");
        lua_pushstring(L, match_user_name(m, i));
        lua_setfield(L, -2, "name");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "players");
    static const luaL_Reg fns[] = {{"broadcast", ctx_broadcast}, {"finish", ctx_finish}, {"log", ctx_log},
                                   {"now_ms", ctx_now_ms},       {"random", ctx_random},  {NULL, NULL}};
    lua_pushlightuserdata(L, lm);
    luaL_setfuncs(L, fns, 1);
    lm->ctx_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushboolean(L, 1);
    lm->state_ref = luaL_ref(L, LUA_REGISTRYINDEX); /* a slot for the state */
    return 0;
}

/* ---- calling the module ---- */

static void fail(lmode_t *lm, int rc, const char *fn, const char *err)
{
    char kind_reason[200];
    char first[160];
    size_t k = 0;
    for (; err[k] && err[k] != '\n' && k + 1 < sizeof first; k++)
        first[k] = err[k];
    first[k] = '\0';
    snprintf(kind_reason, sizeof kind_reason, "module %s failed in %s: %s", match_mode(lm->m), fn, first);
    char tb[1024];
    size_t j = 0;
    for (const char *c = err; *c && j + 3 < sizeof tb; c++) {
        if (*c == '\n') {
            tb[j++] = '\\';
            tb[j++] = 'n';
        } else {
            tb[j++] = *c == '"' ? '\'' : *c == '\t' ? ' ' : *c;
        }
    }
    tb[j] = '\0';
    log_error("module_error", "match=%llu mode=%s callback=%s kind=%s error=\"%s\"",
              (unsigned long long)match_id(lm->m), match_mode(lm->m), fn, modrt_kind(rc), tb);
    match_fail(lm->m, modrt_kind(rc), kind_reason);
}

typedef struct call_args {
    lmode_t *lm;
    const char *fn;
    uint32_t player;  /* join/leave */
    const char *reason;
} call_args_t;

/* Pushes ctx, [state], then the callback's own arguments (protected: may allocate). */
static int push_args(lua_State *L)
{
    call_args_t *a = lua_touserdata(L, 1);
    lmode_t *lm = a->lm;
    match_t *m = lm->m;
    lua_settop(L, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, lm->ctx_ref);
    if (strcmp(a->fn, "init") == 0) {
        lua_createtable(L, 0, 3);
        lua_pushinteger(L, (lua_Integer)match_time_limit_ms(m));
        lua_setfield(L, -2, "time_limit_ms");
        lua_pushinteger(L, (lua_Integer)match_players(m));
        lua_setfield(L, -2, "players");
        lua_pushinteger(L, (lua_Integer)(match_seed(m) & 0x7fffffffffffffffull));
        lua_setfield(L, -2, "seed");
        return 2;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, lm->state_ref);
    if (strcmp(a->fn, "loop") == 0) {
        lua_pushinteger(L, (lua_Integer)match_ticks(m));
        lua_createtable(L, (int)lm->nq, 0);
        for (size_t i = 0; i < lm->nq; i++) {
            lua_createtable(L, 0, 3);
            lua_pushinteger(L, (lua_Integer)lm->q[i].sender);
            lua_setfield(L, -2, "sender");
            lua_pushinteger(L, (lua_Integer)lm->q[i].op);
            lua_setfield(L, -2, "op");
            lua_pushlstring(L, (const char *)lm->q[i].data, lm->q[i].len);
            lua_setfield(L, -2, "data");
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        return 4;
    }
    if (strcmp(a->fn, "terminate") == 0) {
        lua_pushstring(L, a->reason);
        return 3;
    }
    /* join, leave: the player */
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, (lua_Integer)match_user(m, a->player));
    lua_setfield(L, -2, "user_id");
    lua_pushstring(L, match_user_name(m, a->player));
    lua_setfield(L, -2, "name");
    if (strcmp(a->fn, "leave") == 0) {
        lua_pushstring(L, a->reason);
        return 4;
    }
    return 3;
}

/* Calls the callback; on success the nres results are on the stack. Returns 0 or -1 (the
 * match failed). */
static int call(lmode_t *lm, call_args_t *a, int nres)
{
    lua_State *L = modrt_lua(lm->rt);
    char err[4096];
    int base = lua_gettop(L);
    modrt_match_t *prev = modrt_enter(lm->rt, lm->acct);
    lua_pushcfunction(L, push_args);
    lua_pushlightuserdata(L, a);
    if (lua_pcall(L, 1, LUA_MULTRET, 0) != LUA_OK) {
        lua_settop(L, base);
        modrt_enter(lm->rt, prev);
        fail(lm, MODRT_MEMORY, a->fn, "memory cap exceeded while preparing the call");
        return -1;
    }
    int rc = modrt_call(lm->rt, a->fn, lua_gettop(L) - base, nres, err, sizeof err);
    modrt_enter(lm->rt, prev);
    if (rc != MODRT_OK) {
        fail(lm, rc, a->fn, err);
        return -1;
    }
    return 0;
}

/* The callback's first result becomes the state; nil is garbage. */
static int keep_state(lmode_t *lm, const char *fn, int nres)
{
    lua_State *L = modrt_lua(lm->rt);
    if (lua_isnil(L, -nres)) {
        lua_pop(L, nres);
        char why[96];
        snprintf(why, sizeof why, "%s returned no state", fn);
        fail(lm, MODRT_BAD_RETURN, fn, why);
        return -1;
    }
    lua_pop(L, nres - 1);
    lua_rawseti(L, LUA_REGISTRYINDEX, lm->state_ref); /* no allocation: the slot exists */
    return 0;
}

/* ---- the seam ---- */

/* The version's state hosts matches until MODULE_MATCHES_PER_STATE run on it at once; then a
 * new one is made (and compiled); a state goes with its last match. */
static modrt_t *state_for(game_t *g, module_version_t *v, char *err, size_t errlen, int *rc)
{
    const modrt_limits_t *lim = modules_limits(g->modules);
    uint32_t per = lim->matches_per_state ? lim->matches_per_state : MODRT_DEFAULT_MATCHES_PER_STATE;
    *rc = MODRT_OK;
    if (v->rt && modrt_matches(v->rt) < per)
        return v->rt;
    modrt_t *r = modrt_new(lim, v->version, state_log, v);
    if (!r) {
        *rc = MODRT_MEMORY;
        snprintf(err, errlen, "the module's memory cap is too small for the Lua libraries");
        return NULL;
    }
    *rc = modrt_load(r, v->source, v->len, v->mode, err, errlen);
    if (*rc != MODRT_OK) {
        modrt_free(r);
        return NULL;
    }
    v->rt = r; /* a full one before it stays with its matches */
    log_info("module_state_new", "mode=%s version=%u bytes=%zu matches_per_state=%u", v->mode, v->version,
             modrt_memory(r), per);
    return r;
}

static void lua_free_state(void *st)
{
    lmode_t *lm = st;
    if (lm->acct) {
        lua_State *L = modrt_lua(lm->rt);
        modrt_match_t *prev = modrt_enter(lm->rt, lm->acct);
        luaL_unref(L, LUA_REGISTRYINDEX, lm->state_ref);
        luaL_unref(L, LUA_REGISTRYINDEX, lm->ctx_ref);
        modrt_enter(lm->rt, prev);
        modrt_match_free(lm->acct);
        module_version_t *v = lm->m->module;
        if (modrt_matches(lm->rt) == 0) {
            if (v->rt == lm->rt)
                v->rt = NULL;
            modrt_free(lm->rt);
        }
    }
    for (size_t i = 0; i < lm->nq; i++)
        xfree(lm->q[i].data);
    xfree(lm->q);
    xfree(lm->fin_players);
    xfree(lm);
}

static void *lua_init(match_t *m, uint32_t *tick_ms, char *err, size_t errlen)
{
    game_t *g = m->g;
    lmode_t *lm = xcalloc(1, sizeof *lm);
    lm->m = m;
    lm->fin_players = xcalloc(match_players(m), sizeof *lm->fin_players);
    lm->state_ref = lm->ctx_ref = LUA_NOREF;
    char lerr[1024];
    int rc;
    lm->rt = state_for(g, m->module, lerr, sizeof lerr, &rc);
    if (!lm->rt) {
        fail(lm, rc, "load", lerr);
        lua_free_state(lm);
        return NULL;
    }
    lm->acct = modrt_match_new(lm->rt, modules_limits(g->modules)->memory_max, match_seed(m), rt_log, lm);
    lua_State *L = modrt_lua(lm->rt);
    /* ctx and a registry slot for the state, charged to the match (protected: both allocate) */
    modrt_match_t *prev = modrt_enter(lm->rt, lm->acct);
    lua_pushcfunction(L, build_ctx);
    lua_pushlightuserdata(L, lm);
    rc = lua_pcall(L, 1, 0, 0);
    modrt_enter(lm->rt, prev);
    if (rc != LUA_OK) {
        lua_pop(L, 1);
        fail(lm, MODRT_MEMORY, "load", "memory cap exceeded while building ctx");
        lua_free_state(lm);
        return NULL;
    }
    call_args_t a = {.lm = lm, .fn = "init"};
    if (call(lm, &a, 2) != 0) {
        lua_free_state(lm);
        return NULL;
    }
    int isnum = 0;
    lua_Integer rate = lua_tointegerx(L, -1, &isnum);
    if (!isnum || rate < 1 || rate > 60) {
        lua_pop(L, 2);
        fail(lm, MODRT_BAD_RETURN, "init", "init must return state, tick_rate (an integer 1-60 Hz)");
        lua_free_state(lm);
        return NULL;
    }
    lua_pop(L, 1);
    if (keep_state(lm, "init", 1) != 0) {
        lua_free_state(lm);
        return NULL;
    }
    *tick_ms = (uint32_t)((1000 + rate / 2) / rate);
    return lm;
}

static int lua_join(void *st, match_t *m, uint32_t idx)
{
    (void)m;
    lmode_t *lm = st;
    call_args_t a = {.lm = lm, .fn = "join", .player = idx};
    if (call(lm, &a, 1) != 0)
        return -1;
    return keep_state(lm, "join", 1);
}

static int lua_loop(void *st, match_t *m)
{
    (void)m;
    lmode_t *lm = st;
    call_args_t a = {.lm = lm, .fn = "loop"};
    int rc = call(lm, &a, 1);
    for (size_t i = 0; i < lm->nq; i++)
        xfree(lm->q[i].data);
    lm->nq = 0;
    lm->qbytes = 0;
    if (rc != 0)
        return -1;
    return keep_state(lm, "loop", 1);
}

static void lua_leave(void *st, match_t *m, uint32_t idx, const char *reason)
{
    (void)m;
    lmode_t *lm = st;
    if (match_over(lm->m))
        return;
    call_args_t a = {.lm = lm, .fn = "leave", .player = idx, .reason = reason};
    if (call(lm, &a, 1) == 0)
        (void)keep_state(lm, "leave", 1);
}

static void lua_terminate(void *st, match_t *m, const char *reason)
{
    (void)m;
    lmode_t *lm = st;
    if (!modrt_has(lm->rt, "terminate") || lm->m->fail_kind[0])
        return;
    call_args_t a = {.lm = lm, .fn = "terminate", .reason = reason};
    if (call(lm, &a, 1) == 0)
        lua_pop(modrt_lua(lm->rt), 1);
}

int mode_lua_queue(void *st, uint64_t sender, uint32_t op, const uint8_t *data, size_t len)
{
    lmode_t *lm = st;
    if (lm->nq >= INBOX_MAX_MSGS || lm->qbytes + len > INBOX_MAX_BYTES)
        return -1;
    if (lm->nq == lm->capq) {
        lm->capq = lm->capq ? lm->capq * 2 : 16;
        lm->q = xrealloc(lm->q, lm->capq * sizeof *lm->q);
    }
    qmsg_t *q = &lm->q[lm->nq++];
    q->sender = sender;
    q->op = op;
    q->len = len;
    q->data = xmalloc(len ? len : 1);
    if (len)
        memcpy(q->data, data, len);
    lm->qbytes += len;
    return 0;
}

static int lua_request(void *st, match_t *m, uint32_t idx, const backend_req_t *req,
                       const ProtobufCMessage *msg)
{
    lmode_t *lm = st;
    if (req->type != PACKET_TYPE__MATCH_DATA_SEND)
        return -1;
    const MatchDataSend *in = (const MatchDataSend *)msg;
    backend_t *be = match_backend(m);
    if (mode_lua_queue(lm, match_user(m, idx), in->op_code, in->data.data, in->data.len) != 0) {
        backend_error(be, req, ERROR_CODE__RATE_LIMITED, "the match's inbox is full this tick");
        return 0;
    }
    backend_ack(be, req);
    return 0;
}

static void lua_results(void *st, match_t *m, mode_result_t *out)
{
    lmode_t *lm = st;
    if (!lm->finished) {
        out->outcome = MATCH_OUTCOME__ABORTED;
        return;
    }
    out->outcome = MATCH_OUTCOME__FINISHED;
    snprintf(out->summary, sizeof out->summary, "%s", lm->fin.summary);
    memcpy(out->players, lm->fin_players, match_players(m) * sizeof *out->players);
    log_info("module_match_memory", "match=%llu mode=%s bytes=%zu", (unsigned long long)match_id(m),
             match_mode(m), modrt_match_memory(lm->acct));
}

const mode_ops_t MODE_LUA = {
    .name = "lua",
    .init = lua_init,
    .join = lua_join,
    .describe = NULL,
    .loop = lua_loop,
    .leave = lua_leave,
    .terminate = lua_terminate,
    .request = lua_request,
    .results = lua_results,
    .free = lua_free_state,
};
