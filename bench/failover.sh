#!/usr/bin/env bash
# Benchmark 3: failover. Time from `kill -9` and from `kill -STOP` of a game daemon
# to the last affected client being told, over REPS (20) repetitions each: median and max.
#
#   bench/failover.sh [--no-build] [--reps N]
#
# Starts its own Redis and PostgreSQL (scripts/redis.sh, scripts/pg.sh) in a temp folder on
# free loopback ports, one gatewayd (LINK_DEAD_MS=1000 and LINK_PING_MS=250: the defaults),
# one lobbyd, and bench/failover_probe, which starts the two game daemons itself, keeps the
# clients busy and sends the signals (see the top of bench/failover_probe.c for every rule):
#
#  - 100 echo clients: ECHO_REQUEST target GAME, one in flight each, one every 10 ms on average
#    (5-15 ms apart at random, so the clients never move in step; at once after a
#    SERVICE_UNAVAILABLE or TIMEOUT). The gateway spreads them round
#    robin over both daemons. Affected: an echo client that gets an error after the signal (it
#    had a request in flight to the victim, or sent one before the gateway knew). Told: that
#    ERROR_RESPONSE. Also measured: the time until every affected echo client has been served
#    again (its first ok answer after its last error), which the survivor does.
#  - 16 players: registered, logged in, each in a running quick match of 2 (MATCH_START came),
#    on one of the two daemons. Affected: the players whose match runs on the victim. Told:
#    their MATCH_ABORTED push (the gateway sends it when its link to the daemon closes).
#
# Per repetition the probe waits until both daemons serve echoes and every player is in a
# running match, pauses 300-800 ms at random, signals the daemon running the most matches,
# watches for 2 s (KILL) or 3 s (STOP), then kills -9 the victim (a STOPped one too) and starts
# a fresh daemon in its place; the aborted players queue again. KILL and STOP alternate.
#
# Prints one line per repetition, then a table per signal: players and echo clients affected,
# median and max of the last player told, the last echo error and every echo client served
# again, with their ratios to LINK_DEAD_MS.
#
# Environment: REPS (20), BUILD_DIR (build), LINK_DEAD_MS (1000), ECHO_CLIENTS (100),
# ECHO_INTERVAL_MS (10), KEEP_TMP=1 (keep the temp dir with every log). Installs what it needs (scripts/deps.sh). Everything it started is
# stopped and removed on exit, Ctrl-C included. About 2 minutes.
set -euo pipefail

# shellcheck source=scripts/lib/opts.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/opts.sh" # ROOT, the working directory
BUILD=1
REPS=${REPS:-20}
parse_opts --no-build:BUILD=0 --reps=REPS -- "$@"
opts_count "$REPS" --reps

BUILD_DIR=${BUILD_DIR:-build}
LINK_DEAD_MS=${LINK_DEAD_MS:-1000}
LINK_PING_MS=250
ECHO_CLIENTS=${ECHO_CLIENTS:-100}
ECHO_INTERVAL_MS=${ECHO_INTERVAL_MS:-10}
PLAYERS=16
PREFIX=benchfo:

BENCH_NAME=failover
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

# ---------------------------------------------------------------- cleanup (also on Ctrl-C)
GW_PID="" LOBBY_PID="" PROBE_PID=""
on_cleanup() {
  if [[ -n $PROBE_PID ]]; then stop_pid "$PROBE_PID" 3; fi
  # the game daemons the probe started (it kills them itself, unless it was killed first)
  if [[ -n $TMP && -f $TMP/gamed.pids ]]; then
    local p
    while read -r p; do
      [[ $p =~ ^[0-9]+$ ]] && alive "$p" && grep -q gamed "/proc/$p/cmdline" 2>/dev/null &&
        kill -KILL "$p" 2>/dev/null || true
    done <"$TMP/gamed.pids"
  fi
  stop_pid "$LOBBY_PID" 5
  stop_pid "$GW_PID" 5
}

# ---------------------------------------------------------------- deps + build
bash scripts/deps.sh >&2
build gatewayd lobbyd gamed failover_probe
GATEWAYD=$BUILD_DIR/src_gateway/gatewayd
LOBBYD=$BUILD_DIR/src_lobby/lobbyd
GAMED=$BUILD_DIR/src_game/gamed
PROBE=$BUILD_DIR/bench/failover_probe
for b in "$GATEWAYD" "$LOBBYD" "$GAMED" "$PROBE"; do [[ -x $b ]] || die "$b not built"; done

make_tmp failover

# ---------------------------------------------------------------- Redis + PostgreSQL
start_redis
start_pg
say "redis on 127.0.0.1:$REDIS_PORT, postgres on 127.0.0.1:$PG_PORT, temp dir $TMP"

# ---------------------------------------------------------------- daemons
cluster_env info

GW_PORT=$(free_port)
LISTEN_ADDR=127.0.0.1:$GW_PORT LINK_DEAD_MS=$LINK_DEAD_MS LINK_PING_MS=$LINK_PING_MS \
  setsid "$GATEWAYD" >"$TMP/gatewayd.log" 2>&1 </dev/null &
GW_PID=$!
wait_log "$GW_PID" "$TMP/gatewayd.log" "event=registry_registered type=Gateway" gatewayd
start_lobbyd
say "gatewayd on 127.0.0.1:$GW_PORT (LINK_DEAD_MS=$LINK_DEAD_MS, LINK_PING_MS=$LINK_PING_MS), lobbyd up"

# ---------------------------------------------------------------- the probe
LOAD_BEFORE=$(loadavg)
T_START=$SECONDS
say "$REPS repetitions each of kill -9 and kill -STOP ($ECHO_CLIENTS echo clients every ${ECHO_INTERVAL_MS} ms, $PLAYERS players in matches of 2)"
# The game daemons the probe starts: any free port, matches that outlast the run (no damage,
# one hour, 100 waves), no drain.
LISTEN_ADDR=127.0.0.1:0 MATCH_TIME_LIMIT_MS=3600000 MATCH_WAVES=100 MONSTER_DAMAGE=0 \
  DRAIN_TIMEOUT_MS=0 "$PROBE" --gateway "127.0.0.1:$GW_PORT" --gamed "$GAMED" --dir "$TMP" \
  --reps-per-signal "$REPS" --signals KILL,STOP --echo-clients "$ECHO_CLIENTS" \
  --echo-interval-ms "$ECHO_INTERVAL_MS" --players "$PLAYERS" --window-ms KILL:2000,STOP:3000 \
  >"$TMP/reps.txt" 2>"$TMP/probe.log" &
PROBE_PID=$!
shown=0
while alive "$PROBE_PID"; do
  n=$(wc -l <"$TMP/reps.txt")
  if ((n > shown)); then sed -n "$((shown + 1)),${n}p" "$TMP/reps.txt" | sed 's/^/failover: /' >&2; shown=$n; fi
  sleep 0.5
done
PROBE_RC=0
wait "$PROBE_PID" || PROBE_RC=$?
PROBE_PID=""
n=$(wc -l <"$TMP/reps.txt")
if ((n > shown)); then sed -n "$((shown + 1)),${n}p" "$TMP/reps.txt" | sed 's/^/failover: /' >&2; fi
T_RUN=$((SECONDS - T_START))
if ((PROBE_RC != 0)); then
  tail -n 20 "$TMP/probe.log" >&2
  die "failover_probe failed (exit $PROBE_RC) after $n repetitions"
fi
grep -v '^failover_probe: done' "$TMP/probe.log" | sed 's/^/failover: /' >&2 || true

# ---------------------------------------------------------------- report
# stats SIGNAL KEY: "median max" of KEY over the repetitions with that signal (values < 0,
# meaning none, are left out; "-" when none is left)
stats() {
  awk -v sig="$1" -v key="$2" '
    { ok = 0; v = ""
      for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "signal" && kv[2] == sig) ok = 1; if (kv[1] == key) v = kv[2] }
      if (ok && v != "" && v + 0 >= 0) a[n++] = v + 0 }
    END {
      if (!n) { print "- -"; exit }
      for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      med = n % 2 ? a[(n - 1) / 2] : (a[n / 2 - 1] + a[n / 2]) / 2
      printf "%.1f %.1f\n", med, a[n - 1]
    }' "$TMP/reps.txt"
}
total() { # SIGNAL KEY: sum over the repetitions
  awk -v sig="$1" -v key="$2" '
    { ok = 0; v = 0
      for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "signal" && kv[2] == sig) ok = 1; if (kv[1] == key) v = kv[2] }
      if (ok) s += v }
    END { print s + 0 }' "$TMP/reps.txt"
}
count() { grep -c "signal=$1 " "$TMP/reps.txt" || true; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }

echo
echo "failover: $(machine), ${T_RUN}s"
echo "gatewayd LINK_DEAD_MS=$LINK_DEAD_MS LINK_PING_MS=$LINK_PING_MS (tick 25 ms); 2 gamed; $ECHO_CLIENTS echo clients (target GAME, every ${ECHO_INTERVAL_MS} ms on average, retry at once after a failover error); $PLAYERS players in matches of 2"
echo "times in ms from the signal (sent by the probe) to the frame handled on the client's loop"
echo
echo "| signal | reps | players affected | players told | not told | wrongly told | last player told: median | max | echo clients affected | last echo error: median | max | every echo client served again: median | max |"
echo "|--------|-----:|-----------------:|-------------:|---------:|-------------:|-------------------------:|----:|----------------------:|------------------------:|----:|----------------------------------------:|----:|"
declare -A MED MAX
for sig in KILL STOP; do
  reps=$(count "$sig")
  aff=$(total "$sig" players_affected)
  told=$(total "$sig" players_told)
  wrong=$(total "$sig" wrongly_told)
  eaff=$(total "$sig" echo_affected)
  read -r tm tx < <(stats "$sig" told_last_ms)
  read -r em ex < <(stats "$sig" echo_last_error_ms)
  read -r sm sx < <(stats "$sig" echo_all_served_ms)
  MED[$sig.told]=$tm MAX[$sig.told]=$tx MED[$sig.err]=$em MAX[$sig.err]=$ex MED[$sig.srv]=$sm MAX[$sig.srv]=$sx
  printf '| %-6s | %4s | %16s | %12s | %8s | %12s | %24s | %3s | %21s | %23s | %3s | %39s | %3s |\n' \
    "$sig" "$reps" "$aff" "$told" "$((aff - told))" "$wrong" "$tm" "$tx" "$eaff" "$em" "$ex" "$sm" "$sx"
done
unserved=$(awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "echo_unserved") s += kv[2] } } END { print s + 0 }' "$TMP/reps.txt")
victim_ok=$(awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "victim_ok_after") s += kv[2] } } END { print s + 0 }' "$TMP/reps.txt")
echo
echo "players affected/told and echo clients affected are totals over the repetitions; medians and maxima are over the repetitions"
echo "echo error codes seen: $(grep -o 'echo_codes=[^ ]*' "$TMP/reps.txt" | cut -d= -f2 | tr ',' '\n' | grep -v '^-$' |
  awk -F: '{ s[$1] += $2 } END { for (k in s) printf "%s %d  ", k, s[k] }')"
echo "echo clients never served again within the window: $unserved; ok answers from a victim to requests sent after its signal: $victim_ok"
echo
echo "ratios to LINK_DEAD_MS ($LINK_DEAD_MS ms), median / max:"
for sig in KILL STOP; do
  echo "  $sig: last player told $(ratio "${MED[$sig.told]}" "$LINK_DEAD_MS") / $(ratio "${MAX[$sig.told]}" "$LINK_DEAD_MS"), last echo error $(ratio "${MED[$sig.err]}" "$LINK_DEAD_MS") / $(ratio "${MAX[$sig.err]}" "$LINK_DEAD_MS"), every echo client served again $(ratio "${MED[$sig.srv]}" "$LINK_DEAD_MS") / $(ratio "${MAX[$sig.srv]}" "$LINK_DEAD_MS")"
done
