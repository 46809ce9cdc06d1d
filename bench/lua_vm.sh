#!/usr/bin/env bash
# Lua 5.4 against LuaJIT 2.1 (Debian's packages) on the same game module, for the choice of
# gamed's module runtime: one driver (bench/lua_vm/driver.lua) plays MATCHES matches of the
# module for TICKS ticks in one VM, hosted by the same C program built against each library;
# prints the CPU time per match-tick, the heap per match and the ratio LuaJIT / Lua 5.4.
# LuaJIT runs a copy of the module with its two Lua 5.3 features replaced: `a // b` becomes
# math.floor(a / b), and string.pack/unpack come from bench/lua_vm/luajit_prelude.lua (ffi);
# one more LuaJIT run has the JIT off (its interpreter).
#
#   bench/lua_vm.sh [MODULE.lua] [MATCHES] [TICKS]     (default modules/arena_lua.lua 200 400)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MOD=${1:-$ROOT/modules/arena_lua.lua} MATCHES=${2:-200} TICKS=${3:-400}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# shellcheck disable=SC2046
cc -O2 -o "$TMP/host54" "$ROOT/bench/lua_vm/host.c" $(pkg-config --cflags --libs lua5.4)
# shellcheck disable=SC2046
cc -O2 -o "$TMP/hostjit" "$ROOT/bench/lua_vm/host.c" $(pkg-config --cflags --libs luajit)
sed -E 's#(\([^()]*\)|[A-Za-z_][A-Za-z0-9_.]*) // ([0-9]+)#math.floor(\1 / \2)#g' "$MOD" >"$TMP/module_jit.lua"
if grep -q ' // ' "$TMP/module_jit.lua"; then echo "lua_vm.sh: a // is left for LuaJIT" >&2; exit 1; fi
DRV=$ROOT/bench/lua_vm/driver.lua PRE=$ROOT/bench/lua_vm/luajit_prelude.lua
a=$("$TMP/host54" "$DRV" "$MOD" "$MATCHES" "$TICKS")
b=$("$TMP/hostjit" "$DRV" "$TMP/module_jit.lua" "$MATCHES" "$TICKS" "$PRE")
c=$("$TMP/host54" "$DRV" "$MOD" "$MATCHES" "$TICKS" - nopack)
d=$("$TMP/hostjit" "$DRV" "$TMP/module_jit.lua" "$MATCHES" "$TICKS" "$PRE" nopack)
printf 'dofile("%s")\njit.off()\n' "$PRE" >"$TMP/jitoff.lua"
e=$("$TMP/hostjit" "$DRV" "$TMP/module_jit.lua" "$MATCHES" "$TICKS" "$TMP/jitoff.lua" nopack)
printf '%s\n' "$a" "$b" "$c" "$d" "$e"
us() { tr ' ' '\n' | sed -n "s/^$1=//p"; }
echo
echo "module $(basename "$MOD"), $MATCHES matches x $TICKS ticks, $(nproc) cores shared, $(date -u +%Y-%m-%d)"
echo "| VM | string.pack | us per match-tick | KiB per match (heap) |"
echo "|----|-------------|------------------:|---------------------:|"
echo "| Lua 5.4 | built in | $(us us_per_match_tick <<<"$a") | $(us kib_per_match <<<"$a") |"
echo "| LuaJIT 2.1 | ffi shim | $(us us_per_match_tick <<<"$b") | $(us kib_per_match <<<"$b") |"
echo "| Lua 5.4 | stubbed | $(us us_per_match_tick <<<"$c") | $(us kib_per_match <<<"$c") |"
echo "| LuaJIT 2.1 | stubbed | $(us us_per_match_tick <<<"$d") | $(us kib_per_match <<<"$d") |"
echo "| LuaJIT 2.1, JIT off | stubbed | $(us us_per_match_tick <<<"$e") | $(us kib_per_match <<<"$e") |"
ratio() { awk -v a="$(us us_per_match_tick <<<"$1")" -v b="$(us us_per_match_tick <<<"$2")" 'BEGIN { printf "%.2f", b / a }'; }
echo "LuaJIT time / Lua 5.4 time: $(ratio "$a" "$b") as shipped (pack included), $(ratio "$c" "$d") on the module's logic alone"
