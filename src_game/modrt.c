/* modrt: sandboxed Lua 5.4 states for game modules, shared by matches (see modrt.h). */
#include "modrt.h"

#include <assert.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdalign.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"

#define REFIRE_EVERY 1 /* once spent: every instruction errs, so no pcall can loop on */
#define RNG_STREAM 0x6a09e667f3bcc909ull /* math.random's stream differs from ctx.random's */

static const char *const FN_NAMES[5] = {"init", "join", "leave", "loop", "terminate"};

/* Who the bytes belong to and whose limits apply: the state itself (the libraries, the
 * module's code, what its top level builds) or one match. */
struct modrt_match {
    modrt_t *r;
    size_t used, limit;
    int over_budget, over_memory;
    int open;      /* a match account: 0 once its match ended (freed when its bytes are) */
    uint64_t seed, rng;
    modrt_log_fn log;
    void *log_ud;
};

struct modrt {
    lua_State *L;
    modrt_match_t own; /* the state's account */
    modrt_match_t *cur; /* the account charged now: &own or the match being called */
    uint32_t budget;
    uint32_t matches;  /* open match accounts */
    int fn_ref[5];  /* registry refs of init, join, leave, loop, terminate (LUA_NOREF: none):
                     * a call fetches its function without allocating, outside a pcall */
    uint32_t min_players, max_players;
};

/* Every block Lua gets carries its owner in front, so a block freed during another match's
 * call (the collector runs whenever anyone allocates) is taken off the right account. */
typedef struct hdr {
    modrt_match_t *owner;
} hdr_t;
static_assert(sizeof(hdr_t) % alignof(lua_Number) == 0 && sizeof(hdr_t) % alignof(void *) == 0,
              "Lua blocks keep their alignment behind the header");

static modrt_t *self(lua_State *L) { return *(modrt_t **)lua_getextraspace(L); }

static void account_release(modrt_match_t *a, size_t n)
{
    assert(a->used >= n);
    a->used -= n;
    if (!a->open && a->used == 0 && a != &a->r->own)
        xfree(a);
}

static void *rt_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    modrt_t *r = ud;
    modrt_match_t *cur = r->cur;
    hdr_t *h = ptr ? (hdr_t *)ptr - 1 : NULL;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        if (h) {
            modrt_match_t *owner = h->owner;
            xfree(h);
            account_release(owner, old);
        }
        return NULL;
    }
    modrt_match_t *owner = h ? h->owner : NULL;
    /* a block grown or shrunk moves to whoever resizes it */
    size_t add = owner == cur ? (nsize > old ? nsize - old : 0) : nsize;
    if (add && cur->used + add > cur->limit) {
        cur->over_memory = 1;
        return NULL;
    }
    hdr_t *n = xrealloc(h, sizeof *n + nsize);
    cur->used += nsize;
    if (owner)
        account_release(owner, old);
    n->owner = cur;
    return n + 1;
}

static void budget_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    modrt_t *r = self(L);
    r->cur->over_budget = 1;
    lua_sethook(L, budget_hook, LUA_MASKCOUNT, REFIRE_EVERY); /* err again if caught */
    luaL_error(L, "instruction budget exceeded (%d instructions per callback)", (int)r->budget);
}

/* load(chunk [, name [, mode [, env]]]) with mode forced to "t": no binary chunks. */
static int sb_load(lua_State *L)
{
    int n = lua_gettop(L);
    lua_settop(L, 4);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_pushliteral(L, "t");
    if (n >= 4)
        lua_pushvalue(L, 4);
    lua_call(L, n >= 4 ? 4 : 3, LUA_MULTRET);
    return lua_gettop(L) - 4;
}

static int sb_print(lua_State *L)
{
    modrt_t *r = self(L);
    int n = lua_gettop(L); /* before luaL_buffinit, which may push a placeholder */
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        if (i > 1)
            luaL_addchar(&b, '\t');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    if (r->cur->log)
        r->cur->log(r->cur->log_ud, "info", lua_tostring(L, -1));
    return 0;
}

/* splitmix64, per account: math.random replays per match whoever else shares the state */
static uint64_t next_random(modrt_match_t *a)
{
    uint64_t z = (a->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

int modrt_random_result(lua_State *L, uint64_t x)
{
    int n = lua_gettop(L);
    if (n == 0) {
        lua_pushnumber(L, (lua_Number)(x >> 11) * (1.0 / 9007199254740992.0));
        return 1;
    }
    if (n > 2)
        return luaL_error(L, "wrong number of arguments");
    lua_Integer lo = 1, hi = luaL_checkinteger(L, 1);
    if (n == 1 && hi == 0) {
        lua_pushinteger(L, (lua_Integer)x);
        return 1;
    }
    if (n == 2) {
        lo = hi;
        hi = luaL_checkinteger(L, 2);
    }
    luaL_argcheck(L, lo <= hi, n, "interval is empty");
    uint64_t span = (uint64_t)hi - (uint64_t)lo + 1;
    lua_pushinteger(L, (lua_Integer)((uint64_t)lo + (span ? x % span : x)));
    return 1;
}

static int sb_random(lua_State *L) { return modrt_random_result(L, next_random(self(L)->cur)); }

/* math.randomseed([x [, y]]): the match's own stream again, or one from x and y. */
static int sb_randomseed(lua_State *L)
{
    modrt_match_t *a = self(L)->cur;
    if (lua_isnone(L, 1))
        a->rng = a->seed ^ RNG_STREAM;
    else
        a->rng = ((uint64_t)luaL_checkinteger(L, 1) ^ ((uint64_t)luaL_optinteger(L, 2, 0) << 32)) ^ RNG_STREAM;
    return 0;
}

/* setmetatable without finalizers: a __gc would run whenever the collector finds the object,
 * in another match's call (and budget) on a shared state. */
static int sb_setmetatable(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL)
            return luaL_error(L, "setmetatable: __gc finalizers are not allowed in game modules");
        lua_pop(L, 1);
    }
    lua_settop(L, 2);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 2, 1);
    return 1;
}

static int open_sandbox(lua_State *L)
{
    modrt_t *r = self(L);
    static const luaL_Reg libs[] = {{LUA_GNAME, luaopen_base},     {LUA_STRLIBNAME, luaopen_string},
                                    {LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, luaopen_math},
                                    {LUA_UTF8LIBNAME, luaopen_utf8}};
    for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
        luaL_requiref(L, libs[i].name, libs[i].func, 1);
        lua_pop(L, 1);
    }
    static const char *const gone[] = {"dofile", "loadfile", "collectgarbage", "require"};
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++) {
        lua_pushnil(L);
        lua_setglobal(L, gone[i]);
    }
    lua_getglobal(L, "load");
    lua_pushcclosure(L, sb_load, 1);
    lua_setglobal(L, "load");
    lua_pushcfunction(L, sb_print);
    lua_setglobal(L, "print");
    lua_getglobal(L, "setmetatable");
    lua_pushcclosure(L, sb_setmetatable, 1);
    lua_setglobal(L, "setmetatable");
    lua_getglobal(L, "math");
    lua_pushcfunction(L, sb_random);
    lua_setfield(L, -2, "random");
    lua_pushcfunction(L, sb_randomseed);
    lua_setfield(L, -2, "randomseed");
    lua_pop(L, 1);
    lua_getglobal(L, "string");
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);
    /* getmetatable("") answers false; setmetatable takes tables only */
    lua_pushliteral(L, "");
    if (lua_getmetatable(L, -1)) {
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    (void)r;
    return 0;
}

static void account_init(modrt_match_t *a, modrt_t *r, size_t limit, uint64_t seed, modrt_log_fn log,
                         void *log_ud)
{
    a->r = r;
    a->limit = limit;
    a->open = 1;
    a->seed = seed;
    a->rng = seed ^ RNG_STREAM;
    a->log = log;
    a->log_ud = log_ud;
}

modrt_t *modrt_new(const modrt_limits_t *lim, uint64_t seed, modrt_log_fn log, void *log_ud)
{
    modrt_t *r = xcalloc(1, sizeof *r);
    account_init(&r->own, r, lim->memory_max, seed, log, log_ud);
    r->cur = &r->own;
    r->budget = lim->instruction_budget ? lim->instruction_budget : MODRT_DEFAULT_BUDGET;
    for (int i = 0; i < 5; i++)
        r->fn_ref[i] = LUA_NOREF;
    r->L = lua_newstate(rt_alloc, r);
    if (!r->L) {
        xfree(r);
        return NULL;
    }
    *(modrt_t **)lua_getextraspace(r->L) = r;
    lua_pushcfunction(r->L, open_sandbox);
    if (lua_pcall(r->L, 0, 0, 0) != LUA_OK) {
        modrt_free(r);
        return NULL;
    }
    return r;
}

void modrt_free(modrt_t *r)
{
    if (!r)
        return;
    assert(r->matches == 0);
    r->cur = &r->own;
    if (r->L)
        lua_close(r->L); /* frees what closed matches still owned, and their accounts */
    xfree(r);
}

modrt_match_t *modrt_match_new(modrt_t *r, size_t memory_max, uint64_t seed, modrt_log_fn log, void *log_ud)
{
    modrt_match_t *a = xcalloc(1, sizeof *a);
    account_init(a, r, memory_max, seed, log, log_ud);
    r->matches++;
    return a;
}

void modrt_match_free(modrt_match_t *a)
{
    if (!a)
        return;
    modrt_t *r = a->r;
    assert(r->cur != a);
    assert(r->matches > 0);
    r->matches--;
    a->open = 0;
    if (a->used == 0)
        xfree(a);
}

uint32_t modrt_matches(const modrt_t *r) { return r->matches; }

modrt_match_t *modrt_enter(modrt_t *r, modrt_match_t *a)
{
    modrt_match_t *prev = r->cur;
    r->cur = a ? a : &r->own;
    return prev == &r->own ? NULL : prev;
}

size_t modrt_match_memory(const modrt_match_t *a) { return a->used; }

lua_State *modrt_lua(modrt_t *r) { return r->L; }
size_t modrt_memory(const modrt_t *r) { return r->own.used; }

static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg)
        msg = luaL_typename(L, 1);
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* Runs the function below the nargs arguments on top of the stack. */
static int run(modrt_t *r, int nargs, int nres, char *err, size_t errlen)
{
    lua_State *L = r->L;
    int base = lua_gettop(L) - nargs; /* the function */
    lua_pushcfunction(L, traceback);
    lua_insert(L, base);
    modrt_match_t *a = r->cur;
    a->over_budget = a->over_memory = 0;
    lua_sethook(L, budget_hook, LUA_MASKCOUNT, (int)r->budget);
    int rc = lua_pcall(L, nargs, nres, base);
    lua_sethook(L, NULL, 0, 0);
    if (rc != LUA_OK) {
        snprintf(err, errlen, "%s", lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "error object is not a string");
        lua_settop(L, base - 1);
    } else {
        lua_remove(L, base);
    }
    int out = MODRT_OK;
    if (a->over_memory || rc == LUA_ERRMEM)
        out = MODRT_MEMORY; /* even if the module caught it */
    else if (a->over_budget)
        out = MODRT_BUDGET;
    else if (rc != LUA_OK)
        out = MODRT_ERROR;
    if (out == MODRT_MEMORY)
        snprintf(err, errlen, "memory cap exceeded (%zu bytes per match)", a->limit);
    else if (out == MODRT_BUDGET && (rc == LUA_OK || rc == LUA_ERRERR))
        snprintf(err, errlen, "instruction budget exceeded (%u instructions per callback)", r->budget);
    if (out != MODRT_OK && rc == LUA_OK)
        lua_pop(L, nres);
    return out;
}

static uint32_t int_field(lua_State *L, int t, const char *k, uint32_t dflt, uint32_t lo, uint32_t hi,
                          int *bad)
{
    lua_getfield(L, t, k);
    uint32_t v = dflt;
    if (!lua_isnil(L, -1)) {
        int isnum = 0;
        lua_Integer i = lua_tointegerx(L, -1, &isnum);
        if (!isnum || i < (lua_Integer)lo || i > (lua_Integer)hi)
            *bad = 1;
        else
            v = (uint32_t)i;
    }
    lua_pop(L, 1);
    return v;
}

/* Checks the table the module returned (argument 1) and keeps its functions. */
static int take_module(lua_State *L)
{
    modrt_t *r = self(L);
    if (!lua_istable(L, 1))
        return luaL_error(L, "the module returned %s, not a table", luaL_typename(L, 1));
    static const char *const need[] = {"init", "join", "leave", "loop"};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
        lua_getfield(L, 1, need[i]);
        if (!lua_isfunction(L, -1))
            return luaL_error(L, "the module's table has no function %s", need[i]);
        lua_pop(L, 1);
    }
    lua_getfield(L, 1, "terminate");
    if (!lua_isnil(L, -1) && !lua_isfunction(L, -1))
        return luaL_error(L, "the module's terminate is not a function");
    lua_pop(L, 1);
    int bad = 0;
    r->min_players = int_field(L, 1, "min_players", 1, 1, MODRT_MAX_PLAYERS, &bad);
    r->max_players = int_field(L, 1, "max_players", 16, 1, MODRT_MAX_PLAYERS, &bad);
    if (bad || r->min_players > r->max_players)
        return luaL_error(L, "min_players and max_players must be integers, 1 <= min <= max <= %d",
                          MODRT_MAX_PLAYERS);
    for (int i = 0; i < 5; i++) {
        lua_getfield(L, 1, FN_NAMES[i]);
        if (lua_isfunction(L, -1))
            r->fn_ref[i] = luaL_ref(L, LUA_REGISTRYINDEX);
        else
            lua_pop(L, 1);
    }
    return 0;
}

int modrt_load(modrt_t *r, const char *src, size_t len, const char *name, char *err, size_t errlen)
{
    lua_State *L = r->L;
    char chunk[96];
    snprintf(chunk, sizeof chunk, "=%s", name);
    r->cur->over_memory = 0;
    int rc = luaL_loadbufferx(L, src, len, chunk, "t");
    if (rc != LUA_OK) {
        snprintf(err, errlen, "%s", lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "cannot load");
        lua_pop(L, 1);
        return rc == LUA_ERRMEM || r->cur->over_memory ? MODRT_MEMORY : MODRT_SYNTAX;
    }
    rc = run(r, 0, 1, err, errlen);
    if (rc != MODRT_OK)
        return rc;
    /* the checks allocate (field names): protected, so the memory cap can't panic */
    lua_pushcfunction(L, take_module);
    lua_insert(L, -2);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        snprintf(err, errlen, "%s", lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "not enough memory");
        lua_pop(L, 1);
        return r->cur->over_memory ? MODRT_MEMORY : MODRT_BAD_RETURN;
    }
    return MODRT_OK;
}

void modrt_limits_of(const modrt_t *r, uint32_t *min_players, uint32_t *max_players)
{
    *min_players = r->min_players;
    *max_players = r->max_players;
}

static int fn_index(const char *fn)
{
    for (int i = 0; i < 5; i++)
        if (strcmp(FN_NAMES[i], fn) == 0)
            return i;
    return -1;
}

int modrt_has(modrt_t *r, const char *fn)
{
    int i = fn_index(fn);
    return i >= 0 && r->fn_ref[i] != LUA_NOREF;
}

int modrt_call(modrt_t *r, const char *fn, int nargs, int nres, char *err, size_t errlen)
{
    lua_State *L = r->L;
    if (!lua_checkstack(L, 4)) {
        lua_pop(L, nargs);
        snprintf(err, errlen, "Lua stack exhausted");
        return MODRT_MEMORY;
    }
    if (!modrt_has(r, fn)) {
        lua_pop(L, nargs);
        snprintf(err, errlen, "the module has no function %s", fn);
        return MODRT_BAD_RETURN;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->fn_ref[fn_index(fn)]);
    lua_insert(L, -1 - nargs);
    return run(r, nargs, nres, err, errlen);
}

int modrt_check(const char *src, size_t len, const char *name, const modrt_limits_t *lim,
                uint32_t *min_players, uint32_t *max_players, char *err, size_t errlen)
{
    modrt_t *r = modrt_new(lim, 1, NULL, NULL);
    if (!r) {
        snprintf(err, errlen, "the memory cap is too small for the Lua libraries");
        return MODRT_MEMORY;
    }
    int rc = modrt_load(r, src, len, name, err, errlen);
    if (rc == MODRT_OK)
        modrt_limits_of(r, min_players, max_players);
    modrt_free(r);
    return rc;
}

const char *modrt_kind(int rc)
{
    switch (rc) {
    case MODRT_SYNTAX: return "syntax";
    case MODRT_ERROR: return "error";
    case MODRT_BUDGET: return "budget";
    case MODRT_MEMORY: return "memory";
    case MODRT_BAD_RETURN: return "bad_return";
    default: return "ok";
    }
}
