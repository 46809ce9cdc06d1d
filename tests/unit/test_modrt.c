/* test_modrt: the Lua runtime of game modules: loading (syntax errors, a module that is not
 * a table or lacks a callback, player limits), the sandbox (no os, io, require, debug,
 * dofile; no binary chunks; the string metatable protected; no collectgarbage), the
 * instruction budget (an endless loop, also inside pcall), the memory cap (string.rep and
 * table bombs), the per-match seed, and the memory one state takes. */
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

static void test_sandbox(void)
{
    expect("error('boom')", MODRT_ERROR, "boom");
    expect("local t = nil; t.x = 1", MODRT_ERROR, "attempt to index");
    expect("os.execute('touch /tmp/pwned')", MODRT_ERROR, "global 'os'");
    expect("io.open('/etc/passwd')", MODRT_ERROR, "global 'io'");
    expect("require('os')", MODRT_ERROR, "global 'require'");
    expect("debug.getinfo(1)", MODRT_ERROR, "global 'debug'");
    expect("dofile('/etc/passwd')", MODRT_ERROR, "global 'dofile'");
    expect("loadfile('/etc/passwd')", MODRT_ERROR, "global 'loadfile'");
    expect("collectgarbage('stop')", MODRT_ERROR, "global 'collectgarbage'");
    expect("package.loaded.x = 1", MODRT_ERROR, "global 'package'");
    expect("string.dump(function() end)", MODRT_ERROR, "field 'dump'");
    /* load: text only, binary refused with the reason */
    expect("local f, e = load('\\27Lua') assert(f == nil) error(e)", MODRT_ERROR, "binary chunk");
    expect("local f, e = load('\\27Lua', 'x', 'b') assert(f == nil) error(e)", MODRT_ERROR, "binary chunk");
    expect("assert(load('return 1 + 1')() == 2)", MODRT_OK, NULL);
    /* the string metatable: hidden and not replaceable */
    expect("assert(getmetatable('') == false) error('hidden')", MODRT_ERROR, "hidden");
    expect("setmetatable('', {})", MODRT_ERROR, "table expected");
    expect("getmetatable('').__index = {}", MODRT_ERROR, "attempt to index");
    expect("assert(('x'):rep(3) == 'xxx')", MODRT_OK, NULL);
    /* what stays: string, table, math, utf8 */
    expect("assert(utf8.char(72) == 'H' and math.floor(2.5) == 2 and table.concat({1, 2}) == '12')", MODRT_OK,
           NULL);
}

static void test_budget_and_memory(void)
{
    expect("while true do end", MODRT_BUDGET, "instruction budget");
    expect("for i = 1, 1e12 do end", MODRT_BUDGET, "instruction budget");
    /* catching the budget error does not help: it fires again, and the call still fails */
    expect("while true do pcall(function() while true do end end) end", MODRT_BUDGET, "instruction budget");
    expect("local ok = pcall(function() while true do end end) state.n = 1", MODRT_BUDGET, "instruction budget");
    cur = &LIM_MEM;
    expect("local s = string.rep('x', 1 << 30)", MODRT_MEMORY, "memory cap");
    expect("local t = {} for i = 1, 1e8 do t[i] = {i} end", MODRT_MEMORY, "memory cap");
    expect("local s = 'x' while true do s = s .. s end", MODRT_MEMORY, "memory cap");
    expect("pcall(string.rep, 'x', 1 << 30) state.n = 2", MODRT_MEMORY, "memory cap");
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

int main(void)
{
    test_load_errors();
    test_sandbox();
    test_budget_and_memory();
    test_seed_and_size();
    printf("modrt: all passed\n");
    return 0;
}
