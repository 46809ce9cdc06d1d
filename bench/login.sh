#!/usr/bin/env bash
# Benchmark 5: login. Logins/s with the argon2id setting we ship, and the latency of
# other requests through the same gateway and lobby meanwhile (hashing must not stall the
# lobby's event loop).
#
#   bench/login.sh [--no-build] [--rounds N]
#
# Starts its own Redis and PostgreSQL (scripts/redis.sh, scripts/pg.sh) in a temp folder on
# free loopback ports, one gatewayd and one lobbyd with the lobby's defaults: argon2id at
# libsodium's interactive limits (opslimit 2, memlimit 64 MiB) on the lobby's own hashing pool
# (HASH_THREADS=0: a thread per core but one, HASH_NICE=10, HASH_INFLIGHT=0: 8 queued or
# running per thread), PG_POOL_SIZE=4; nothing is tuned.
#
# First LOGIN_BOTS (64) accounts are made: one through the gateway and the lobby (REGISTER,
# one hash at the shipped setting), the others with a copy of its password hash straight in
# PostgreSQL (psql), so the setup does not take LOGIN_BOTS hashes. Then ROUNDS (2) rounds of
# these phases, WINDOW (15) s each, in this order:
#   quiet:  bot --scenario echo --target lobby, ECHO_BOTS (20) bots at ECHO_RATE (50)
#           requests/s each (1,000/s), through the gateway to the lobby and back;
#   storm:  the same echo load, while bot --scenario login runs LOGIN_BOTS bots that LOGIN,
#           LOGOUT, LOGIN... as fast as answers come (one request in flight each; BUSY, the
#           lobby's answer when HASH_INFLIGHT hashes are queued or running, is retried after
#           the bot's backoff). The login bots start 3 s before the echo bots.
#   the baselines (VARIANTS=1, default on): the storm again against a lobbyd restarted with
#     allcores: HASH_THREADS = every core (what a pool sized to the cores gives: more
#               logins/s, less room for the loop),
#     nice0:    the same with HASH_NICE=0 (hashing at the loop's priority: what the
#               lower priority buys),
#   then restarted with the shipped defaults. Rounds rotate the order of the storms.
# Logins/s is the LOGIN_RESPONSEs the gateway delivered over the echo window (its /metrics,
# cluster_gateway_packets_out_total); BUSY/s likewise (cluster_gateway_errors_sent_total).
# The echo bot's p50/p99/p99.9/max are the latency of other requests. Over the same window the
# script samples the lobby's CPU (all threads), its loop thread's CPU and how long that thread
# waited for a core (/proc/<pid>/task/<pid>/schedstat): with 2 cores and 4 hashing threads the
# loop competes for a core, which is not the same as being blocked by a hash.
#
# Prints a table per phase and round, then the ratios storm/quiet of the echo p50 and p99
# (medians over the rounds), and each baseline's against the shipped storm.
#
# Environment: ROUNDS (2), WINDOW (15 s), LOGIN_BOTS (64), ECHO_BOTS (20), ECHO_RATE (50), VARIANTS (1),
# BUILD_DIR (build), KEEP_TMP=1 (keep the temp dir with every log). Installs what it needs
# (scripts/deps.sh). Everything it started is stopped and removed on exit, Ctrl-C included.
# About 3 minutes.
set -euo pipefail

# shellcheck source=scripts/lib/opts.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/opts.sh" # ROOT, the working directory
BUILD=1
ROUNDS=${ROUNDS:-2}
parse_opts --no-build:BUILD=0 --rounds=ROUNDS -- "$@"
opts_count "$ROUNDS" --rounds

WINDOW=${WINDOW:-15}
LOGIN_BOTS=${LOGIN_BOTS:-64}
ECHO_BOTS=${ECHO_BOTS:-20}
ECHO_RATE=${ECHO_RATE:-50}
VARIANTS=${VARIANTS:-1}
LEAD=3 # seconds the storm runs before the echo window
BUILD_DIR=${BUILD_DIR:-build}
PREFIX=benchlogin:
USER_PREFIX=bl$$_

BENCH_NAME=login
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

# ---------------------------------------------------------------- cleanup (also on Ctrl-C)
GW_PID="" LOBBY_PID="" STORM_PID="" ECHO_PID=""
on_cleanup() {
  stop_pid "$ECHO_PID" 3
  stop_pid "$STORM_PID" 3
  stop_pid "$LOBBY_PID" 5
  stop_pid "$GW_PID" 5
}

# ---------------------------------------------------------------- deps + build
bash scripts/deps.sh >&2
build gatewayd lobbyd bot
GATEWAYD=$BUILD_DIR/src_gateway/gatewayd
LOBBYD=$BUILD_DIR/src_lobby/lobbyd
BOT=$BUILD_DIR/src_bot/bot
for b in "$GATEWAYD" "$LOBBYD" "$BOT"; do [[ -x $b ]] || die "$b not built"; done
BOT_HELP=$("$BOT" --help 2>&1 || true)
grep -q '^ *login ' <<<"$BOT_HELP" || die "$BOT has no login scenario"

make_tmp login

# ---------------------------------------------------------------- Redis + PostgreSQL
start_redis
start_pg
say "redis on 127.0.0.1:$REDIS_PORT, postgres on 127.0.0.1:$PG_PORT, temp dir $TMP"

# ---------------------------------------------------------------- daemons
cluster_env info
unset UV_THREADPOOL_SIZE HASH_INFLIGHT HASH_THREADS HASH_NICE HASH_OPSLIMIT HASH_MEMLIMIT_KIB PG_POOL_SIZE

GW_PORT=$(free_port)
ADMIN_PORT=$(free_port)
LISTEN_ADDR=127.0.0.1:$GW_PORT ADMIN_ADDR=127.0.0.1:$ADMIN_PORT \
  setsid "$GATEWAYD" >"$TMP/gatewayd.log" 2>&1 </dev/null &
GW_PID=$!
wait_log "$GW_PID" "$TMP/gatewayd.log" "event=registry_registered type=Gateway" gatewayd
start_lobbyd
sleep 0.5
POOL=$(grep -o 'event=pwhash_pool .*' "$TMP/lobbyd.log" | head -n 1 | sed 's/event=pwhash_pool //')
say "gatewayd on 127.0.0.1:$GW_PORT, lobbyd pid $LOBBY_PID (defaults: interactive argon2id, hashing pool $POOL)"

# ---------------------------------------------------------------- helpers
mcount() { # NAME LABEL_TEXT: a counter of the gateway's /metrics (0 when absent)
  metrics | awk -v k="$1" -v l="$2" 'index($1, k "{") == 1 && index($1, l) { printf "%.0f\n", $2; f = 1; exit } END { if (!f) print 0 }'
}
run_delay_ns() { awk '{print $2}' "/proc/$1/task/$1/schedstat"; }

restart_lobby() { # [VAR=VALUE...]: a new lobbyd (the shipped defaults, or these settings), linked
  local n i kv
  stop_pid "$LOBBY_PID" 5
  n=$(grep -c "event=link_up type=Lobby" "$TMP/gatewayd.log" || true)
  for kv in "$@"; do export "${kv?}"; done
  start_lobbyd
  unset HASH_THREADS HASH_NICE
  for ((i = 0; i < 150; i++)); do # start_lobbyd saw the old link's line: wait for a new one
    (($(grep -c "event=link_up type=Lobby" "$TMP/gatewayd.log" || true) > n)) && break
    sleep 0.1
  done
  ((i < 150)) || die "gatewayd never linked to the restarted lobby"
  sleep 0.5
}
pool_of_lobby() { grep -o 'event=pwhash_pool .*' "$TMP/lobbyd.log" | head -n 1 | sed 's/event=pwhash_pool //'; }

login_bots() { # SECONDS LOG [JSON]: the login storm in the background (sets STORM_PID)
  "$BOT" --scenario login --gateway "127.0.0.1:$GW_PORT" --bots "$LOGIN_BOTS" --user-prefix "$USER_PREFIX" \
    --duration "$1" --connect-rate 1000 --timeout-ms 30000 --quiet ${3:+--json "$3"} >"$2" 2>&1 </dev/null &
  STORM_PID=$!
}

# ---------------------------------------------------------------- accounts
# One account is registered through the gateway and the lobby (one argon2id hash at the
# shipped setting); the other LOGIN_BOTS - 1 get a copy of its password hash straight in
# PostgreSQL. Each login verifies a real hash at the shipped setting all the same, and the
# setup takes a second instead of LOGIN_BOTS hashes competing with the first logins.
say "registering $LOGIN_BOTS accounts (not measured)"
"$BOT" --scenario login --gateway "127.0.0.1:$GW_PORT" --bots 1 --user-prefix "$USER_PREFIX" \
  --duration 1 --quiet --json "$TMP/register.json" >"$TMP/register.log" 2>&1 </dev/null || true
PSQL=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n 1)
[[ -x $PSQL ]] || die "psql not found"
"$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$DATABASE_URL" -c "
  INSERT INTO accounts (username, password_hash)
  SELECT '${USER_PREFIX}' || i, (SELECT password_hash FROM accounts WHERE username = '${USER_PREFIX}0')
  FROM generate_series(1, $((LOGIN_BOTS - 1))) AS i" >"$TMP/psql.log" 2>&1 ||
  { cat "$TMP/register.log" "$TMP/psql.log" >&2; die "could not create the accounts"; }
REG=$("$PSQL" -X -tA -d "$DATABASE_URL" -c "SELECT count(*) FROM accounts WHERE username LIKE '${USER_PREFIX}%'")
HASH=$("$PSQL" -X -tA -d "$DATABASE_URL" -c "SELECT split_part(password_hash, '\$', 4) FROM accounts WHERE username = '${USER_PREFIX}0'")
say "$REG accounts, password hash parameters $HASH"
((REG == LOGIN_BOTS)) || die "$REG accounts, not $LOGIN_BOTS"

# ---------------------------------------------------------------- the phases
# One phase: echo load for WINDOW s (after LEAD s of storm when STORM=1). Sets R_*.
run_phase() { # STORM TAG
  local storm=$1 tag=$2 l0 l1 b0 b1 c0 c1 m0 m1 d0 d1 t0 t1 secs json=$TMP/echo-$2.json
  sleep 1 # the gateway's /metrics snapshot is refreshed every 500 ms
  if ((storm)); then
    login_bots $((LEAD + WINDOW + 2)) "$TMP/storm-$tag.log" "$TMP/storm-$tag.json"
    sleep "$LEAD"
  fi
  l0=$(mcount cluster_gateway_packets_out_total LOGIN_RESPONSE) b0=$(mcount cluster_gateway_errors_sent_total BUSY)
  c0=$(stat_ticks "/proc/$LOBBY_PID/stat") m0=$(stat_ticks "/proc/$LOBBY_PID/task/$LOBBY_PID/stat")
  d0=$(run_delay_ns "$LOBBY_PID") t0=$(date +%s%N)
  "$BOT" --scenario echo --target lobby --gateway "127.0.0.1:$GW_PORT" --bots "$ECHO_BOTS" \
    --rate "$ECHO_RATE" --duration "$WINDOW" --quiet --json "$json" >"$TMP/echo-$tag.log" 2>&1 </dev/null &
  ECHO_PID=$!
  wait "$ECHO_PID" || say "echo bot ($tag) exit status $? (errors or timeouts: see its report)"
  ECHO_PID=""
  l1=$(mcount cluster_gateway_packets_out_total LOGIN_RESPONSE) b1=$(mcount cluster_gateway_errors_sent_total BUSY)
  c1=$(stat_ticks "/proc/$LOBBY_PID/stat") m1=$(stat_ticks "/proc/$LOBBY_PID/task/$LOBBY_PID/stat")
  d1=$(run_delay_ns "$LOBBY_PID") t1=$(date +%s%N)
  if ((storm)); then wait "$STORM_PID" || true; STORM_PID=""; fi
  [[ -s $json ]] || { tail -n 20 "$TMP/echo-$tag.log" >&2; die "the echo bot wrote no JSON ($tag)"; }
  secs=$(secs_between "$t0" "$t1")
  R_LOGINS=$(awk -v a="$l0" -v b="$l1" -v s="$secs" 'BEGIN { printf "%.1f", (b - a) / s }')
  R_BUSY=$(awk -v a="$b0" -v b="$b1" -v s="$secs" 'BEGIN { printf "%.1f", (b - a) / s }')
  R_CPU=$(cpu_pct "$((c1 - c0))" "$secs")
  R_LOOP=$(cpu_pct "$((m1 - m0))" "$secs" %.1f)
  R_WAIT=$(awk -v d="$((d1 - d0))" -v s="$secs" 'BEGIN { printf "%.1f", d / 1e6 / s }')
  R_RPS=$(jnum "$json" throughput_rps)
  R_P50=$(jnum "$json" p50) R_P99=$(jnum "$json" p99) R_P999=$(jnum "$json" p99_9) R_MAX=$(jnum "$json" max)
  R_ERR=$(jnum "$json" errors) R_TO=$(jnum "$json" timeouts)
}

LOAD_BEFORE=$(loadavg)
T_START=$SECONDS
ROWS=() Q50=() Q99=() S50=() S99=() SL=()
row() { # PHASE ROUND
  printf '| %-8s | %5s | %8s | %6s | %8s | %7s | %7s | %8s | %7s | %10s | %11s | %14s | %16s |' \
    "$1" "$2" "$R_LOGINS" "$R_BUSY" "$R_RPS" "$R_P50" "$R_P99" "$R_P999" "$R_MAX" "${R_ERR}/${R_TO}" \
    "$R_CPU" "$R_LOOP" "$R_WAIT"
}
# The storms: the shipped lobby, then (VARIANTS=1) the baselines, each on a restarted lobbyd.
NAMES=(storm) SETTINGS=("")
if ((VARIANTS)); then
  NAMES+=(allcores nice0) SETTINGS+=("HASH_THREADS=$NCPU" "HASH_THREADS=$NCPU HASH_NICE=0")
fi
declare -A P50 P99 LPS WAIT POOLS
storm_phase() { # INDEX
  local name=${NAMES[$1]} set=${SETTINGS[$1]}
  # shellcheck disable=SC2086 # the settings are words
  [[ -n $set ]] && restart_lobby $set
  POOLS[$name]=$(pool_of_lobby)
  run_phase 1 "$name-$r"
  ROWS+=("$(row "$name" "$r")")
  P50[$name]+="$R_P50 " P99[$name]+="$R_P99 " LPS[$name]+="$R_LOGINS " WAIT[$name]+="$R_WAIT "
  say "$(row "$name" "$r")"
  [[ -n $set ]] && restart_lobby
  return 0
}
for ((r = 1; r <= ROUNDS; r++)); do
  run_phase 0 "quiet-$r"
  ROWS+=("$(row quiet "$r")") Q50+=("$R_P50") Q99+=("$R_P99")
  say "$(row quiet "$r")"
  for ((k = 0; k < ${#NAMES[@]}; k++)); do storm_phase $(((k + r - 1) % ${#NAMES[@]})); done
done
T_RUN=$((SECONDS - T_START))

median() { printf '%s\n' "$@" | sort -g | awk '{ a[n++] = $1 } END { if (!n) print "-"; else if (n % 2) print a[(n - 1) / 2]; else print (a[n / 2 - 1] + a[n / 2]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }

echo
echo "login: $(machine), ${T_RUN}s"
echo "lobbyd defaults: argon2id at libsodium's interactive limits (stored hash: $HASH), its own hashing pool: ${POOLS[storm]}; one gatewayd"
if ((VARIANTS)); then
  echo "baselines, on a lobbyd restarted for the phase: allcores = ${POOLS[allcores]}; nice0 = ${POOLS[nice0]}"
fi
echo "echo: $ECHO_BOTS bots x $ECHO_RATE/s ECHO target LOBBY for $WINDOW s per phase; storm: $LOGIN_BOTS bots LOGIN/LOGOUT, one request in flight each, from $LEAD s before the echo window"
echo "latency in ms (echo bot, ok responses); logins/s and BUSY/s from the gateway's counters over the echo window; lobby CPU % = all its threads (200 = both cores);"
echo "loop thread = the lobby's main thread; waited = time it was runnable but had no core, ms per second"
echo
echo "| phase    | round | logins/s | BUSY/s | echo req/s | p50 ms | p99 ms | p99.9 ms | max ms | errors/timeouts | lobby CPU % | loop thread CPU % | loop waited ms/s |"
echo "|----------|------:|---------:|-------:|-----------:|-------:|-------:|---------:|-------:|----------------:|------------:|------------------:|-----------------:|"
printf '%s\n' "${ROWS[@]}"
echo
q50=$(median "${Q50[@]}") q99=$(median "${Q99[@]}")
# shellcheck disable=SC2086 # the lists are words
s50=$(median ${P50[storm]}) s99=$(median ${P99[storm]}) sl=$(median ${LPS[storm]}) sw=$(median ${WAIT[storm]})
echo "medians of $ROUNDS rounds:"
echo "shipped: logins/s $sl; echo p50 $s50 ms = $(ratio "$s50" "$q50") x quiet, p99 $s99 ms = $(ratio "$s99" "$q99") x quiet ($q99 ms); loop waited $sw ms/s"
for name in "${NAMES[@]:1}"; do
  # shellcheck disable=SC2086
  n50=$(median ${P50[$name]}) n99=$(median ${P99[$name]}) nl=$(median ${LPS[$name]}) nw=$(median ${WAIT[$name]})
  echo "$name: logins/s $nl; echo p50 $n50 ms = $(ratio "$n50" "$q50") x quiet, p99 $n99 ms = $(ratio "$n99" "$q99") x quiet; loop waited $nw ms/s"
  echo "  shipped / $name: logins/s $(ratio "$sl" "$nl"), echo p99 $(ratio "$s99" "$n99"), loop waited $(ratio "$sw" "$nw")"
done
