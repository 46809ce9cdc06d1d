/* modrt: the Lua runtime of game modules: sandboxed Lua 5.4 states, each holding one module
 * version's code and shared by up to MODULE_MATCHES_PER_STATE of its matches.
 *
 * The sandbox (DESIGN.md, Game modules): the base, string, table, math and utf8 libraries
 * only; no io, os, debug, package/require, dofile/loadfile; load takes text chunks only (a
 * binary chunk is refused); string.dump and collectgarbage are gone; the string metatable is
 * protected (getmetatable("") is false); setmetatable refuses __gc (a finalizer would run in
 * whichever match's call the collector finds it); math.random draws from the current match's
 * own seeded stream; print goes to the current match's log function.
 *
 * Matches on one state: each has an account (modrt_match_t). Whatever runs while a match is
 * entered (modrt_enter) is charged to it: every block Lua allocates carries its owner, so the
 * memory cap holds per match even though the collector frees one match's garbage during
 * another's call; math.random, print and the budget's verdict are the entered match's too.
 * Every call into the module has an instruction budget (a count hook; once spent, the hook
 * errs again at every instruction so a pcall in the module can't swallow it). What matches
 * share is the module's code and its top-level locals (the module's own business). Nothing
 * here does I/O: the caller hands in the module's source. Not thread-safe; distinct states may
 * live on distinct threads. */
#ifndef GAME_MODRT_H
#define GAME_MODRT_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#define MODRT_DEFAULT_BUDGET 1000000u           /* instructions per callback */
#define MODRT_DEFAULT_MEMORY (8u * 1024 * 1024) /* bytes per match */
#define MODRT_MAX_PLAYERS 64
#define MODRT_DEFAULT_MATCHES_PER_STATE 64u

/* Results of modrt calls: 0 or one of these. */
enum {
    MODRT_OK = 0,
    MODRT_SYNTAX = -1,     /* the chunk does not compile */
    MODRT_ERROR = -2,      /* a runtime error (error(), a bad index, ...) */
    MODRT_BUDGET = -3,     /* the instruction budget ran out (an endless loop) */
    MODRT_MEMORY = -4,     /* the memory cap was reached */
    MODRT_BAD_RETURN = -5, /* the module or a callback returned something unusable */
};

typedef struct modrt_limits {
    size_t memory_max;           /* bytes a match (and a state's own account) may hold */
    uint32_t instruction_budget; /* per call */
    uint32_t matches_per_state;  /* matches of one module version on one state (0: the default) */
} modrt_limits_t;

typedef void (*modrt_log_fn)(void *ud, const char *level, const char *text);

typedef struct modrt modrt_t;
typedef struct modrt_match modrt_match_t;

/* A fresh sandboxed state; NULL when the libraries alone exceed the memory cap. seed, log and
 * the cap are the state's own account's: what runs while no match is entered (the load). */
modrt_t *modrt_new(const modrt_limits_t *lim, uint64_t seed, modrt_log_fn log, void *log_ud);
/* Closes the state; every match account must have been freed. */
void modrt_free(modrt_t *r);
lua_State *modrt_lua(modrt_t *r);
/* Bytes the state's own account holds now (the libraries and the module's code). */
size_t modrt_memory(const modrt_t *r);

/* A match's account on r: its memory cap, its math.random seed, its log. */
modrt_match_t *modrt_match_new(modrt_t *r, size_t memory_max, uint64_t seed, modrt_log_fn log,
                               void *log_ud);
/* The match is over (not entered): its account goes when the collector has freed its bytes.
 * The caller drops its references (luaL_unref) first, entered. */
void modrt_match_free(modrt_match_t *a);
/* Open match accounts on r. */
uint32_t modrt_matches(const modrt_t *r);
/* Charges what runs from now on to a (NULL: the state's own account); returns the previous
 * match (NULL: none), to enter again after. */
modrt_match_t *modrt_enter(modrt_t *r, modrt_match_t *a);
/* Bytes charged to the match and not yet freed. */
size_t modrt_match_memory(const modrt_match_t *a);

/* Runs the module's source (text only) and keeps the table it returns. Checks that init,
 * join, leave and loop are functions (terminate is optional) and reads min_players (default
 * 1) and max_players (default 16, at most 64). Returns 0 or a MODRT_* code with the reason
 * in err. */
int modrt_load(modrt_t *r, const char *src, size_t len, const char *name, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void modrt_limits_of(const modrt_t *r, uint32_t *min_players, uint32_t *max_players);
/* 1 when the loaded module has function fn. */
int modrt_has(modrt_t *r, const char *fn);

/* Calls M[fn] with the nargs values on top of the stack, within the budget, charged to the
 * entered match; on 0 the nres results are on the stack; else nothing is and err holds the
 * message with a traceback. */
int modrt_call(modrt_t *r, const char *fn, int nargs, int nres, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Compiles and runs src in a throwaway state with the given limits (a reload's check).
 * Returns 0 with the module's player limits, or a MODRT_* code and the reason. */
int modrt_check(const char *src, size_t len, const char *name, const modrt_limits_t *lim,
                uint32_t *min_players, uint32_t *max_players, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* math.random's answer for the call's arguments (on L's stack) from 64 random bits x: () a
 * float in [0,1), (0) any integer, (n) 1..n, (a, b) a..b; errors as Lua 5.4's. Returns 1 (the
 * result pushed), for a lua_CFunction to return. */
int modrt_random_result(lua_State *L, uint64_t x);

/* "syntax", "error", "budget", "memory", "bad_return" (for metrics labels). */
const char *modrt_kind(int rc);

#endif
