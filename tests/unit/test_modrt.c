/* test_modrt: the Lua runtime of game modules: loading (syntax errors, a module that is not
 * a table or lacks a callback, player limits), the sandbox (no os, io, require, debug,
 * dofile; no binary chunks; the string metatable protected; no collectgarbage), the
 * instruction budget (an endless loop, also inside pcall), the memory cap (string.rep and
 * table bombs), the per-match seed, and the memory one state takes; matches sharing one state
 * (each with its own memory cap, math.random stream, log and budget verdict; no finalizers). */
#include <lauxlib.h>

#include "check.h"
#include "modrt.h"

static const modrt_limits_t LIM = {.memory_max = 4u << 20, .instruction_budget = 200000};
/* the memory bombs run with a budget large enough that the cap, not the budget, stops them */
static const modrt_limits_t LIM_MEM = {.memory_max = 4u << 20, .instruction_budget = 100000000};
static const modrt_limits_t *cur = &LIM;

/* A module whose loop runs `body` (with `state` in scope) and returns the state. */
static char *module_with_loop(const char *body)
{
    static char src[4096];
    snprintf(src, sizeof src,
             "local M = {}\n"
             "function M.init(ctx, params) return {n = 0}, 20 end\n"
             "function M.join(ctx, state, player) return state end\n"
             "function M.leave(ctx, state, player, reason) return state end\n"
             "function M.loop(ctx, state, tick, messages)\n%s\nreturn state end\n"
             "return M\n",
             body);
    return src;
}

/* Loads the module and calls loop once; returns the modrt code, the message in err. */
static int run_loop(const char *body, char *err, size_t n)
{
    modrt_t *r = modrt_new(cur, 42, NULL, NULL);
    CHECK(r != NULL);
    const char *src = module_with_loop(body);
    int rc = modrt_load(r, src, strlen(src), "t", err, n);
    CHECK_EQ(rc, MODRT_OK);
    lua_State *L = modrt_lua(r);
    lua_newtable(L);
    lua_newtable(L);
    lua_pushinteger(L, 1);
    lua_newtable(L);
    rc = modrt_call(r, "loop", 4, 1, err, n);
    if (rc == MODRT_OK) {
        lua_pop(L, 1);
    }
    CHECK_EQ(lua_gettop(L), 0);
    modrt_free(r);
    return rc;
}

static void expect(const char *body, int code, const char *needle)
{
    char err[4096] = "";
    int rc = run_loop(body, err, sizeof err);
    if (rc != code || (needle && !strstr(err, needle))) {
        fprintf(stderr, "body: %s\n  rc=%d (want %d) err=%s\n  want in err: %s\n", body, rc, code, err,
                needle ? needle : "-");
        exit(1);
    }
    printf("%-58.58s -> %s%s%.60s\n", body, modrt_kind(rc), rc ? ": " : "", rc ? err : "");
}

static void test_load_errors(void)
{
    char err[1024];
    uint32_t lo, hi;
    CHECK_EQ(modrt_check("return {", 8, "bad", &LIM, &lo, &hi, err, sizeof err), MODRT_SYNTAX);
    CHECK(strstr(err, "bad:1:") != NULL);
    const char *s = "return 42";
    CHECK_EQ(modrt_check(s, strlen(s), "num", &LIM, &lo, &hi, err, sizeof err), MODRT_BAD_RETURN);
    CHECK(strstr(err, "not a table") != NULL);
    s = "return {init = function() end, join = function() end, loop = function() end}";
    CHECK_EQ(modrt_check(s, strlen(s), "noleave", &LIM, &lo, &hi, err, sizeof err), MODRT_BAD_RETURN);
    CHECK(strstr(err, "no function leave") != NULL);
    s = "error('at load')";
    CHECK_EQ(modrt_check(s, strlen(s), "boom", &LIM, &lo, &hi, err, sizeof err), MODRT_ERROR);
    CHECK(strstr(err, "at load") != NULL && strstr(err, "stack traceback") != NULL);
    s = "while true do end";
    CHECK_EQ(modrt_check(s, strlen(s), "spin", &LIM, &lo, &hi, err, sizeof err), MODRT_BUDGET);
    /* a binary chunk is not a module */
    s = "\x1bLua\x54\x00";
    CHECK_EQ(modrt_check(s, 6, "bin", &LIM, &lo, &hi, err, sizeof err), MODRT_SYNTAX);
    CHECK(strstr(err, "binary") != NULL);
    /* player limits: defaults, declared, out of range */
    const char *base = module_with_loop("");
    CHECK_EQ(modrt_check(base, strlen(base), "ok", &LIM, &lo, &hi, err, sizeof err), MODRT_OK);
    CHECK_EQ(lo, 1);
    CHECK_EQ(hi, 16);
    char src[4096];
    snprintf(src, sizeof src, "%s", base);
    char *ret = strstr(src, "return M\n");
    snprintf(ret, sizeof src - (size_t)(ret - src), "M.min_players = 2 M.max_players = 64 return M\n");
    CHECK_EQ(modrt_check(src, strlen(src), "ok", &LIM, &lo, &hi, err, sizeof err), MODRT_OK);
    CHECK_EQ(lo, 2);
    CHECK_EQ(hi, 64);
    snprintf(ret, sizeof src - (size_t)(ret - src), "M.max_players = 65 return M\n");
    CHECK_EQ(modrt_check(src, strlen(src), "big", &LIM, &lo, &hi, err, sizeof err), MODRT_BAD_RETURN);
    snprintf(ret, sizeof src - (size_t)(ret - src), "M.min_players = 5 M.max_players = 4 return M\n");
    CHECK_EQ(modrt_check(src, strlen(src), "inv", &LIM, &lo, &hi, err, sizeof err), MODRT_BAD_RETURN);
    printf("load errors: syntax, not a table, missing callback, error and endless loop at load, binary "
           "chunk, player limits\n");
}

/* One loop callback body and what running it must give: the code, and a piece of the error. */
typedef struct loop_case {
    const char *body;
    int code;
    const char *needle;
} loop_case_t;

static void expect_all(const loop_case_t *cases, size_t n)
{
    for (size_t i = 0; i < n; i++)
        expect(cases[i].body, cases[i].code, cases[i].needle);
}

/* Calls through the globals the sandbox removes: each fails naming the global it starts with. */
static const char *const GONE[] = {
    "os.execute('touch /tmp/pwned')", "io.open('/etc/passwd')", "require('os')", "debug.getinfo(1)",
    "dofile('/etc/passwd')", "loadfile('/etc/passwd')", "collectgarbage('stop')", "package.loaded.x = 1",
};

/* What else the sandbox refuses or keeps. */
static const loop_case_t SANDBOX[] = {
    {"error('boom')", MODRT_ERROR, "boom"},
    {"local t = nil; t.x = 1", MODRT_ERROR, "attempt to index"},
    {"string.dump(function() end)", MODRT_ERROR, "field 'dump'"},
    /* load: text only, binary refused with the reason */
    {"local f, e = load('\\27Lua') assert(f == nil) error(e)", MODRT_ERROR, "binary chunk"},
    {"local f, e = load('\\27Lua', 'x', 'b') assert(f == nil) error(e)", MODRT_ERROR, "binary chunk"},
    {.body = "assert(load('return 1 + 1')() == 2)", .code = MODRT_OK},
    /* the string metatable: hidden and not replaceable */
    {"assert(getmetatable('') == false) error('hidden')", MODRT_ERROR, "hidden"},
    {"setmetatable('', {})", MODRT_ERROR, "table expected"},
    {"getmetatable('').__index = {}", MODRT_ERROR, "attempt to index"},
    {.body = "assert(('x'):rep(3) == 'xxx')", .code = MODRT_OK},
    /* what stays: string, table, math, utf8 */
    {.body = "assert(utf8.char(72) == 'H' and math.floor(2.5) == 2 and table.concat({1, 2}) == '12')",
     .code = MODRT_OK},
};

static const loop_case_t BUDGET[] = {
    {"while true do end", MODRT_BUDGET, "instruction budget"},
    {"for i = 1, 1e12 do end", MODRT_BUDGET, "instruction budget"},
    /* catching the budget error does not help: it fires again, and the call still fails */
    {"while true do pcall(function() while true do end end) end", MODRT_BUDGET, "instruction budget"},
    {"local ok = pcall(function() while true do end end) state.n = 1", MODRT_BUDGET, "instruction budget"},
};

/* with LIM_MEM */
static const loop_case_t MEMORY[] = {
    {"local s = string.rep('x', 1 << 30)", MODRT_MEMORY, "memory cap"},
    {"local t = {} for i = 1, 1e8 do t[i] = {i} end", MODRT_MEMORY, "memory cap"},
    {"local s = 'x' while true do s = s .. s end", MODRT_MEMORY, "memory cap"},
    {"pcall(string.rep, 'x', 1 << 30) state.n = 2", MODRT_MEMORY, "memory cap"},
};

static void test_sandbox(void)
{
    for (size_t i = 0; i < sizeof GONE / sizeof *GONE; i++) {
        char needle[64];
        snprintf(needle, sizeof needle, "global '%.*s'", (int)strcspn(GONE[i], ".("), GONE[i]);
        expect(GONE[i], MODRT_ERROR, needle);
    }
    expect_all(SANDBOX, sizeof SANDBOX / sizeof *SANDBOX);
}

static void test_budget_and_memory(void)
{
    expect_all(BUDGET, sizeof BUDGET / sizeof *BUDGET);
    cur = &LIM_MEM;
    expect_all(MEMORY, sizeof MEMORY / sizeof *MEMORY);
    cur = &LIM;
}

static void test_seed_and_size(void)
{
    char err[256];
    double a[2], b;
    for (int k = 0; k < 2; k++) {
        modrt_t *r = modrt_new(&LIM, 7, NULL, NULL);
        CHECK(luaL_dostring(modrt_lua(r), "return math.random()") == LUA_OK);
        a[k] = lua_tonumber(modrt_lua(r), -1);
        modrt_free(r);
    }
    modrt_t *r = modrt_new(&LIM, 8, NULL, NULL);
    CHECK(luaL_dostring(modrt_lua(r), "return math.random()") == LUA_OK);
    b = lua_tonumber(modrt_lua(r), -1);
    size_t empty = modrt_memory(r);
    const char *src = module_with_loop("");
    CHECK_EQ(modrt_load(r, src, strlen(src), "m", err, sizeof err), MODRT_OK);
    size_t loaded = modrt_memory(r);
    modrt_free(r);
    CHECK(a[0] == a[1]);
    CHECK(a[0] != b);
    /* a state must fit many matches per daemon: under 64 KiB with a small module */
    CHECK(loaded < 64 * 1024);
    printf("seed: same seed, same math.random (%.6f); another seed differs (%.6f)\n", a[0], b);
    printf("memory: %zu bytes per sandboxed state, %zu with a small module loaded\n", empty, loaded);
    /* a cap below what the libraries need: no state */
    modrt_limits_t tiny = {.memory_max = 4096, .instruction_budget = 1000};
    CHECK(modrt_new(&tiny, 1, NULL, NULL) == NULL);
}

/* ---- matches sharing one state ---- */

static const char *SHARED_MOD = "local M = {}\n"
                                "function M.init(ctx, params) return {}, 20 end\n"
                                "function M.join(ctx, state, player) return state end\n"
                                "function M.leave(ctx, state, player, reason) return state end\n"
                                "function M.loop(ctx, state, tick, f) f(state) return state end\n"
                                "return M\n";

typedef struct smatch {
    modrt_match_t *a;
    int state_ref;
    char log[256];
} smatch_t;

static void slog(void *ud, const char *level, const char *text)
{
    smatch_t *m = ud;
    snprintf(m->log, sizeof m->log, "%s:%s", level, text);
}

static void smatch_new(modrt_t *r, smatch_t *m, size_t cap, uint64_t seed)
{
    memset(m, 0, sizeof *m);
    m->a = modrt_match_new(r, cap, seed, slog, m);
    lua_State *L = modrt_lua(r);
    modrt_match_t *prev = modrt_enter(r, m->a);
    lua_newtable(L);
    m->state_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    modrt_enter(r, prev);
}

/* Runs `body` as loop's step with `state` the match's state table; returns the modrt code. */
static int sloop(modrt_t *r, smatch_t *m, const char *body, char *err, size_t n)
{
    lua_State *L = modrt_lua(r);
    char chunk[1024];
    snprintf(chunk, sizeof chunk, "local state = ...\n%s", body);
    modrt_match_t *prev = modrt_enter(r, m->a);
    lua_newtable(L); /* ctx */
    lua_rawgeti(L, LUA_REGISTRYINDEX, m->state_ref);
    lua_pushinteger(L, 1);
    CHECK_EQ(luaL_loadstring(L, chunk), LUA_OK);
    int rc = modrt_call(r, "loop", 4, 1, err, n);
    if (rc == MODRT_OK)
        lua_pop(L, 1);
    modrt_enter(r, prev);
    CHECK_EQ(lua_gettop(L), 0);
    return rc;
}

static double sget(modrt_t *r, smatch_t *m, const char *field)
{
    lua_State *L = modrt_lua(r);
    lua_rawgeti(L, LUA_REGISTRYINDEX, m->state_ref);
    lua_getfield(L, -1, field);
    double v = lua_tonumber(L, -1);
    lua_pop(L, 2);
    return v;
}

static void smatch_end(modrt_t *r, smatch_t *m)
{
    modrt_match_t *prev = modrt_enter(r, m->a);
    luaL_unref(modrt_lua(r), LUA_REGISTRYINDEX, m->state_ref);
    modrt_enter(r, prev);
    modrt_match_free(m->a);
}

static modrt_t *shared_state(void)
{
    char err[512];
    modrt_t *r = modrt_new(&LIM_MEM, 1, NULL, NULL);
    CHECK(r != NULL);
    CHECK_EQ(modrt_load(r, SHARED_MOD, strlen(SHARED_MOD), "shared", err, sizeof err), MODRT_OK);
    return r;
}

static void full_gc(modrt_t *r)
{
    lua_gc(modrt_lua(r), LUA_GCCOLLECT);
}

static void test_shared_random(void)
{
    char err[1024];
    /* alone: the sequence match A (seed 7) draws */
    modrt_t *r = shared_state();
    smatch_t a, b;
    smatch_new(r, &a, 1u << 20, 7);
    double solo[3];
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(sloop(r, &a, "state.x = math.random()", err, sizeof err), MODRT_OK);
        solo[i] = sget(r, &a, "x");
    }
    smatch_end(r, &a);
    CHECK_EQ(modrt_matches(r), 0);
    modrt_free(r);
    /* A again with B (seed 8) drawing between A's calls on the same state: A's draws are unchanged */
    r = shared_state();
    smatch_new(r, &a, 1u << 20, 7);
    smatch_new(r, &b, 1u << 20, 8);
    CHECK_EQ(modrt_matches(r), 2);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(sloop(r, &b, "state.y = math.random(1, 1000000) state.z = math.random()", err, sizeof err),
                 MODRT_OK);
        CHECK_EQ(sloop(r, &a, "state.x = math.random()", err, sizeof err), MODRT_OK);
        CHECK(sget(r, &a, "x") == solo[i]);
        CHECK(sget(r, &b, "z") != solo[i]);
        CHECK(sget(r, &b, "y") >= 1 && sget(r, &b, "y") <= 1000000);
    }
    /* randomseed() restarts the match's own stream */
    CHECK_EQ(sloop(r, &a, "math.randomseed() state.x = math.random()", err, sizeof err), MODRT_OK);
    CHECK(sget(r, &a, "x") == solo[0]);
    CHECK_EQ(sloop(r, &a, "state.x = math.random(0) ~= nil and 1 or 0", err, sizeof err), MODRT_OK);
    CHECK(sget(r, &a, "x") == 1);
    CHECK_EQ(sloop(r, &a, "math.random(3, 1)", err, sizeof err), MODRT_ERROR);
    CHECK(strstr(err, "interval is empty") != NULL);
    /* print goes to the entered match's log */
    CHECK_EQ(sloop(r, &b, "print('from b', 2)", err, sizeof err), MODRT_OK);
    CHECK_STR(b.log, "info:from b\t2");
    CHECK_STR(a.log, "");
    smatch_end(r, &a);
    smatch_end(r, &b);
    modrt_free(r);
    printf("shared state: each match's math.random replays whatever the other draws; print is the caller's\n");
}

static void test_shared_limits(void)
{
    char err[1024];
    modrt_t *r = shared_state();
    size_t own = modrt_memory(r);
    smatch_t a, b;
    smatch_new(r, &a, 512u * 1024, 1);
    smatch_new(r, &b, 512u * 1024, 2);
    /* b keeps 100 KB; a's bomb hits a's cap only */
    CHECK_EQ(sloop(r, &b, "state.keep = string.rep('b', 100000)", err, sizeof err), MODRT_OK);
    size_t b_used = modrt_match_memory(b.a);
    CHECK(b_used >= 100000 && b_used < 200u * 1024);
    CHECK_EQ(sloop(r, &a, "local t = {} for i = 1, 1e7 do t[i] = {i} end", err, sizeof err), MODRT_MEMORY);
    CHECK(strstr(err, "memory cap exceeded (524288 bytes per match)") != NULL);
    CHECK(modrt_match_memory(a.a) <= 512u * 1024);
    /* b still has its room (120 KB more, 340 KB at the peak of string.rep), whatever a left */
    CHECK_EQ(sloop(r, &b, "state.more = string.rep('c', 120000)", err, sizeof err), MODRT_OK);
    /* the collector, run during b's time, takes a's garbage off a's account, not b's */
    full_gc(r);
    CHECK(modrt_match_memory(a.a) < 16 * 1024);
    CHECK(modrt_match_memory(b.a) >= 220000);
    CHECK(modrt_memory(r) < own + 16 * 1024);
    /* a's endless loop: a's verdict; b's next call is fine */
    CHECK_EQ(sloop(r, &a, "while true do end", err, sizeof err), MODRT_BUDGET);
    CHECK_EQ(sloop(r, &b, "state.n = (state.n or 0) + 1", err, sizeof err), MODRT_OK);
    CHECK(sget(r, &b, "n") == 1);
    /* no finalizers: they would run in whichever match's call the collector is in */
    CHECK_EQ(sloop(r, &a, "setmetatable({}, {__gc = function() while true do end end})", err, sizeof err),
             MODRT_ERROR);
    CHECK(strstr(err, "__gc finalizers are not allowed") != NULL);
    CHECK_EQ(sloop(r, &a, "state.t = setmetatable({}, {__index = {k = 5}}) assert(state.t.k == 5)", err,
                   sizeof err),
             MODRT_OK);
    /* an ended match's account goes once its bytes are collected; b's stay b's */
    smatch_end(r, &a);
    CHECK_EQ(modrt_matches(r), 1);
    full_gc(r);
    CHECK(modrt_match_memory(b.a) >= 220000);
    smatch_end(r, &b);
    full_gc(r);
    CHECK_EQ(modrt_matches(r), 0);
    modrt_free(r); /* ASan: no account or block leaks */
    printf("shared state: a's bomb and endless loop stop a only; a's garbage leaves a's account; no __gc\n");
}

int main(void)
{
    test_load_errors();
    test_sandbox();
    test_budget_and_memory();
    test_seed_and_size();
    test_shared_random();
    test_shared_limits();
    printf("modrt: all passed\n");
    return 0;
}
