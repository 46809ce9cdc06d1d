#!/bin/sh
# The module runner on fixed modules and a script: its output must be exactly expected.txt
# (broadcasts, finish results, a budget failure, a syntax error, and the exit codes).
set -u
MODRUN=$1
DIR=$(dirname "$0")
OUT=$(mktemp)
{
  "$MODRUN" "$DIR/count.lua" "$DIR/count.txt" 2>/dev/null; echo "exit=$?"
  "$MODRUN" --budget 100000 "$DIR/spin.lua" 2>/dev/null; echo "exit=$?"
  "$MODRUN" "$DIR/bad.lua" 2>/dev/null; echo "exit=$?"
} > "$OUT"
if diff -u "$DIR/expected.txt" "$OUT"; then echo "modrun: output as expected"; rm -f "$OUT"; exit 0; fi
rm -f "$OUT"
exit 1
