#!/usr/bin/env bash
# Benchmark 1: the hop. What one request costs through our gateway and a game
# daemon, against HAProxy in front of a minimal echo server of the same framing, and against
# that echo server alone (the floor).
#
#   bench/hop.sh [--no-build] [--no-perf] [--no-handshakes] [--reps N] [--tls-reps N] [--duration S]
#                [--clients "1 100 1000"] [--tls-clients "100 1000"] [--paths "ours haproxy ..."]
#
# Paths, all on loopback, each answering the bot's ECHO_REQUEST with an ECHO_RESPONSE:
#   ours     bot -> gatewayd -> gamed    (Redis for the registry). The gateway frames, rate-
#            limits, checks (the EchoRequest's wire format, for its target), routes and tracks
#            every request; gamed decodes it with protobuf-c and packs the response.
#            RATE_LIMIT/RATE_BURST are raised to 1000000 so no session is throttled.
#   haproxy  bot -> haproxy -> echo_server. Debian's haproxy (installed if missing), TCP mode,
#            nbthread 1, no logging, foreground, generated config. It copies bytes; it never
#            looks at a frame.
#   floor    bot -> echo_server. bench/echo_server.c: one libuv thread, common/frame.h parser,
#            protobuf-c decode and encode, output batched per loop turn by common/conn.c.
# With every core (the gateway and HAProxy as they would run on a real host):
#   ours-2w     bot -> gatewayd with GATEWAY_WORKERS=2 (two gateway processes sharing the port
#               through SO_REUSEPORT, docs/operations.md "Gateway workers") -> the same gamed.
#   haproxy-2t  bot -> haproxy with nbthread 2 -> the same echo_server.
#   Both proxies may use both cores (the bot's too); the servers behind them (gamed, Redis,
#   echo_server) stay on SERVER_CORE as in the other paths. "server core %" is then the CPU of
#   the path's server processes over both cores (up to 200), and "other %" what else ran on
#   both cores besides them and the bot.
# With TLS, the bot speaking TLS 1.3 (--transport tls|wss --insecure; the same
# self-signed P-256 certificate on both sides, made with the openssl CLI):
#   ours-tls     bot -> gatewayd's TLS_LISTEN_ADDR -> gamed: the gateway terminates TLS.
#   haproxy-tls  bot -> haproxy (bind ... ssl crt, TCP mode) -> echo_server: HAProxy terminates
#                TLS in front of the echo floor.
#   ours-wss     bot -> gatewayd's WSS_LISTEN_ADDR -> gamed: TLS and WebSocket in the gateway.
#   haproxy-wss  bot -> haproxy (ssl, TCP mode) -> echo_server ws: HAProxy terminates TLS in
#                front of a WebSocket server (the floor's own WebSocket listener, the same
#                transport code as the gateway's): the "SSL reverse proxy in front of a
#                WebSocket server" deployment. HAProxy does not parse WebSocket here (less work
#                than in HTTP mode), so the comparison is, if anything, kind to HAProxy.
# The TLS paths run at --tls-clients (100 and 1000) clients, --tls-reps (3) times (so that the
# whole benchmark stays near 10 minutes). Their ratios (ours-tls against haproxy-tls, ours-wss
# against haproxy-wss) get their own table.
#
# Full handshakes (unless --no-handshakes): HS_PAR (4) parallel `openssl s_time -new` clients
# (an independent client: a new session each time, no resumption) against ours (the gateway's
# TLS listener) and haproxy (its TLS frontend), alternated, HS_REPS (3) runs of HS_S (5)
# seconds each: handshakes per second, the server side's CPU per handshake (what one core can
# do: 1e6 / us), and the ratio. HAProxy in TCP mode also opens a connection to echo_server per
# client; the gateway opens none (its backend links are shared).
#
# ours and haproxy are the same shape: client -> proxy process -> server process, two TCP
# hops, protobuf decode + encode at the server. The floor has one process and one hop less.
# One difference is structural: our gateway multiplexes every client onto one link to gamed,
# while haproxy opens one server connection per client.
#
# For each client count (1, 100, 1000) and pipeline depth (1 and 8 in flight per client) the
# bot runs unpaced (--rate 0) for --duration seconds (default 3) against each path in turn:
# ours, haproxy, floor, ours, haproxy, floor, ... --reps times (default 5); repetitions of a
# configuration are spread over the whole run (the outer loop is the repetition). The table
# shows the median of the repetitions for each figure. A short warm-up run per path comes
# first.
#
# Pinning (the machine has 2 cores): every server process (gatewayd, gamed, Redis, haproxy,
# echo_server) runs on SERVER_CORE (1); the bot and this script on BOT_CORE (0). So each path
# gets exactly one core for its server side, and the bot one core of its own; all of them run
# at niceness NICE (-10). The table shows
# the server core's use (CPU %, all server processes of the path together) and the server CPU
# time per request (us/req), which does not depend on whether the bot or the servers were the
# bottleneck; bot CPU % shows when the bot itself was saturated, and other % how much of the
# server core other processes on this shared machine took during the run.
#
# Last (unless --no-perf), one more run of ours at 100 clients, pipeline 8, under
# `perf record -g` on gatewayd and on gamed (PERF_S seconds, default 5), and their top symbols.
#
# Environment: BUILD_DIR (build), BOT_BIN (the bot to drive the load; default
# BUILD_DIR/src_bot/bot: set it to compare two builds of the servers with one bot),
# SERVER_CORE (1), BOT_CORE (0), NICE (-10: the niceness of the servers and the bot, so that
# other work on this shared machine takes less of their cores; 0 to run them as everything
# else), PAYLOAD (32 bytes), PERF_S (5), HS_S (5), HS_REPS (3), HS_PAR (4), KEEP_TMP=1 (keep
# the temp dir with every log, JSON and perf.data).
# Installs what it needs (scripts/deps.sh, haproxy; perf is optional). Everything it started
# is stopped and removed on exit, Ctrl-C included. About 5 minutes with the defaults.
set -euo pipefail

# shellcheck source=scripts/lib/opts.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/opts.sh" # ROOT, the working directory
BUILD=1 PERF=1 HANDSHAKES=1 REPS=5 TLS_REPS=3 DURATION=3 CLIENTS="1 100 1000" TLS_CLIENTS="100 1000"
PATHS="ours haproxy floor ours-2w haproxy-2t ours-tls haproxy-tls ours-wss haproxy-wss"
parse_opts --no-build:BUILD=0 --no-perf:PERF=0 --no-handshakes:HANDSHAKES=0 --tls-clients=TLS_CLIENTS \
  --tls-reps=TLS_REPS --paths=PATHS --reps=REPS --duration=DURATION --clients=CLIENTS -- "$@"
opts_count "$REPS" --reps
opts_count "$TLS_REPS" --tls-reps
opts_count "$DURATION" --duration

BUILD_DIR=${BUILD_DIR:-build}
SERVER_CORE=${SERVER_CORE:-1}
BOT_CORE=${BOT_CORE:-0}
PAYLOAD=${PAYLOAD:-32}
PERF_S=${PERF_S:-5}
NICE=${NICE:--10}
HS_S=${HS_S:-5}
HS_REPS=${HS_REPS:-3}
HS_PAR=${HS_PAR:-4}
PIPELINES="1 8"
for path in $PATHS; do
  case $path in ours|haproxy|floor|ours-2w|haproxy-2t|ours-tls|haproxy-tls|ours-wss|haproxy-wss) ;;
    *) echo "hop.sh: unknown path $path (try --help)" >&2; exit 2 ;;
  esac
done
PREFIX=hop:

BENCH_NAME=hop
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

# ---------------------------------------------------------------- cleanup (also on Ctrl-C)
GW_PID="" GAME_PID="" ECHO_PID="" ECHO_WS_PID="" HAP_PID="" BOT_PID="" PERF_PIDS=() HS_PIDS=()
GW2_PID="" HAP2_PID=""
on_cleanup() {
  local p
  for p in "${PERF_PIDS[@]}" "${HS_PIDS[@]}"; do stop_pid "$p" 3; done
  stop_pid "$BOT_PID" 2
  stop_pid "$HAP_PID" 3
  stop_pid "$HAP2_PID" 3
  stop_pid "$ECHO_PID" 3
  stop_pid "$ECHO_WS_PID" 3
  # no graceful drain needed: nothing is in flight once the bot is gone
  kill_pid "$GAME_PID"
  kill_pid "$GW_PID"
  [[ -n $GW2_PID ]] && kill -KILL -- "-$GW2_PID" 2>/dev/null # the supervisor and its workers
  kill_pid "$GW2_PID"
}

# ---------------------------------------------------------------- deps + build
((NCPU >= 2)) || die "needs 2 cores (servers on one, the bot on the other)"
bash scripts/deps.sh >&2
if ! command -v haproxy >/dev/null 2>&1 && [[ ! -x /usr/sbin/haproxy ]]; then
  ((EUID == 0)) || die "haproxy not installed and not root: apt-get install haproxy first"
  say "installing haproxy (apt-get install -y haproxy)"
  # deps.sh ran apt-get update if it installed anything; do it here too, once
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 || true
  # never start the packaged service: only our foreground instance runs
  POLICY=/usr/sbin/policy-rc.d OWN_POLICY=0
  if [[ ! -e $POLICY ]]; then printf '#!/bin/sh\nexit 101\n' >"$POLICY"; chmod 755 "$POLICY"; OWN_POLICY=1; fi
  HAP_OK=1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends haproxy >/dev/null 2>&1 || HAP_OK=0
  if ((OWN_POLICY)); then rm -f "$POLICY"; fi
  ((HAP_OK)) || die "apt-get install haproxy failed"
fi
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
need_perf
build gatewayd gamed bot echo_server
for b in src_gateway/gatewayd src_game/gamed src_bot/bot bench/echo_server; do
  [[ -x $BUILD_DIR/$b ]] || die "$BUILD_DIR/$b not built"
done

# 1000 clients through a proxy: 2000+ descriptors in one process
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
# From here on this script and the bot run on BOT_CORE; every server is started on SERVER_CORE.
taskset -pc "$BOT_CORE" $$ >/dev/null
if ! nice -n "$NICE" true 2>/dev/null || [[ $(nice -n "$NICE" nice) != "$NICE" ]]; then
  say "cannot run at niceness $NICE: running at 0"
  NICE=0
fi
ON_SRV=(nice -n "$NICE" taskset -c "$SERVER_CORE")
ON_BOT=(nice -n "$NICE" taskset -c "$BOT_CORE")
ON_ALL=(nice -n "$NICE" taskset -c "$SERVER_CORE,$BOT_CORE")

make_tmp hop
# Run copies: a rebuild of $BUILD_DIR while the benchmark runs must not swap a binary under it.
mkdir "$TMP/bin"
cp "$BUILD_DIR/src_gateway/gatewayd" "$BUILD_DIR/src_game/gamed" "$BUILD_DIR/bench/echo_server" "$TMP/bin/"
cp "${BOT_BIN:-$BUILD_DIR/src_bot/bot}" "$TMP/bin/bot" || die "no bot at ${BOT_BIN:-$BUILD_DIR/src_bot/bot}"
GATEWAYD=$TMP/bin/gatewayd GAMED=$TMP/bin/gamed BOT=$TMP/bin/bot ECHO=$TMP/bin/echo_server

# ---------------------------------------------------------------- servers
start_redis "${ON_SRV[@]}"
cluster_env info

# One self-signed certificate (P-256, as a modern default) for every TLS listener.
CERT=$TMP/cert.pem KEY=$TMP/key.pem
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost -keyout "$KEY" -out "$CERT" >/dev/null 2>&1 ||
  die "openssl could not make a certificate"
cat "$CERT" "$KEY" >"$TMP/haproxy.pem"

GW_PORT=$(free_port) GW_TLS_PORT=$(free_port) GW_WSS_PORT=$(free_port)
GW_LOG=$TMP/gatewayd.log
LISTEN_ADDR=127.0.0.1:$GW_PORT TLS_LISTEN_ADDR=127.0.0.1:$GW_TLS_PORT WSS_LISTEN_ADDR=127.0.0.1:$GW_WSS_PORT \
  TLS_CERT_FILE=$CERT TLS_KEY_FILE=$KEY RATE_LIMIT=1000000 RATE_BURST=1000000 \
  setsid "${ON_SRV[@]}" "$GATEWAYD" >"$GW_LOG" 2>&1 </dev/null &
GW_PID=$!
# gamed does not need PostgreSQL to answer ECHO (its pool retries in the background); it is
# pointed at a closed port so that it never touches a server it did not start.
GAME_LOG=$TMP/gamed.log
LISTEN_ADDR=127.0.0.1:0 DATABASE_URL="host=127.0.0.1 port=1 user=bench dbname=bench connect_timeout=1" \
  setsid "${ON_SRV[@]}" "$GAMED" >"$GAME_LOG" 2>&1 </dev/null &
GAME_PID=$!
wait_game_links() { # PID LOG COUNT WHAT: until LOG has COUNT links up to gamed (15 s)
  local i
  for ((i = 0; i < 150; i++)); do
    alive "$1" || { tail -n 20 "$2" >&2; die "$4 exited"; }
    alive "$GAME_PID" || { tail -n 20 "$GAME_LOG" >&2; die "gamed exited"; }
    (($(grep -c 'event=link_up type=Game' "$2") >= $3)) && return 0
    sleep 0.1
  done
  tail -n 20 "$2" >&2
  die "$4: $3 link(s) to gamed not up after 15 s"
}
wait_game_links "$GW_PID" "$GW_LOG" 1 gatewayd
for p in "$GW_TLS_PORT" "$GW_WSS_PORT"; do
  (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { tail -n 20 "$GW_LOG" >&2; die "the gateway does not listen on $p (TLS/wss)"; }
done

start_echo() { # VAR NAME [ws]: echo_server on SERVER_CORE (TMP/NAME.out, .log); sets VAR_PID, VAR_PORT
  local var=$1 name=$2 i port=""
  shift 2
  setsid "${ON_SRV[@]}" "$ECHO" 127.0.0.1:0 "$@" >"$TMP/$name.out" 2>"$TMP/$name.log" </dev/null &
  local pid=$!
  printf -v "${var}_PID" '%s' "$pid" # at once: on_cleanup stops it if the wait below dies
  for ((i = 0; i < 50; i++)); do
    port=$(sed -n 's/^port=//p' "$TMP/$name.out")
    [[ -n $port ]] && break
    alive "$pid" || die "$name exited: $(cat "$TMP/$name.log")"
    sleep 0.1
  done
  [[ -n $port ]] || die "$name did not print its port"
  printf -v "${var}_PORT" '%s' "$port"
}
start_echo ECHO echo_server
# The WebSocket floor behind haproxy-wss: echo_server's ws listener (server role of xport).
start_echo ECHO_WS echo_server_ws ws

start_haproxy() { # VAR NAME PORT WHAT CORES...: haproxy with TMP/NAME.cfg (log TMP/NAME.log) on
  # CORES (a command prefix), waited for until it accepts on PORT (5 s); sets VAR to its pid
  local var=$1 name=$2 port=$3 what=$4 i pid
  shift 4
  setsid "$@" "$HAPROXY" -db -f "$TMP/$name.cfg" >"$TMP/$name.log" 2>&1 </dev/null &
  pid=$!
  printf -v "$var" '%s' "$pid"
  for ((i = 0; i < 50; i++)); do
    alive "$pid" || { cat "$TMP/$name.log" >&2; die "$what exited"; }
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
}
HAP_PORT=$(free_port) HAP_TLS_PORT=$(free_port) HAP_WSS_PORT=$(free_port)
HAP_MAXCONN=$(((NOFILE - 100) / 2))
((HAP_MAXCONN > 5000)) && HAP_MAXCONN=5000
HAP_DEFAULTS="defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s"
cat >"$TMP/haproxy.cfg" <<EOF
# generated by bench/hop.sh: one thread, TCP mode, no logging; TLS 1.2 minimum as the gateway
global
    nbthread 1
    maxconn $HAP_MAXCONN
    pidfile $TMP/haproxy.pid
    ssl-default-bind-options ssl-min-ver TLSv1.2
$HAP_DEFAULTS
frontend hop
    bind 127.0.0.1:$HAP_PORT
    default_backend echo
frontend hop_tls
    bind 127.0.0.1:$HAP_TLS_PORT ssl crt $TMP/haproxy.pem
    default_backend echo
frontend hop_wss
    bind 127.0.0.1:$HAP_WSS_PORT ssl crt $TMP/haproxy.pem
    default_backend echo_ws
backend echo
    server echo1 127.0.0.1:$ECHO_PORT
backend echo_ws
    server echo2 127.0.0.1:$ECHO_WS_PORT
EOF
"$HAPROXY" -c -q -f "$TMP/haproxy.cfg" >"$TMP/haproxy-check.log" 2>&1 ||
  { cat "$TMP/haproxy-check.log" >&2; die "haproxy rejected the config"; }
start_haproxy HAP_PID haproxy "$HAP_PORT" haproxy "${ON_SRV[@]}"
# With every core: gatewayd with two workers, haproxy with two threads.
if [[ " $PATHS " == *" ours-2w "* ]]; then
  GW2_PORT=$(free_port)
  GW2_LOG=$TMP/gatewayd-2w.log
  GATEWAY_WORKERS=2 LISTEN_ADDR=127.0.0.1:$GW2_PORT RATE_LIMIT=1000000 RATE_BURST=1000000 \
    setsid "${ON_ALL[@]}" "$GATEWAYD" >"$GW2_LOG" 2>&1 </dev/null &
  GW2_PID=$!
  wait_game_links "$GW2_PID" "$GW2_LOG" 2 "gatewayd (2 workers)"
fi
if [[ " $PATHS " == *" haproxy-2t "* ]]; then
  HAP2_PORT=$(free_port)
  cat >"$TMP/haproxy-2t.cfg" <<CFG
# generated by bench/hop.sh: two threads, TCP mode, no logging
global
    nbthread 2
    maxconn $HAP_MAXCONN
$HAP_DEFAULTS
frontend hop
    bind 127.0.0.1:$HAP2_PORT
    default_backend echo
backend echo
    server echo1 127.0.0.1:$ECHO_PORT
CFG
  start_haproxy HAP2_PID haproxy-2t "$HAP2_PORT" "haproxy (2 threads)" "${ON_ALL[@]}"
fi
REDIS_PID=$(cat "$TMP/redis/redis.pid")
say "servers on core $SERVER_CORE: gatewayd :$GW_PORT tls :$GW_TLS_PORT wss :$GW_WSS_PORT (pid $GW_PID) -> gamed (pid $GAME_PID), redis :$REDIS_PORT;" \
  "haproxy $("$HAPROXY" -v | head -n 1 | awk '{print $3}') :$HAP_PORT tls :$HAP_TLS_PORT wss :$HAP_WSS_PORT (pid $HAP_PID) -> echo_server :$ECHO_PORT, ws :$ECHO_WS_PORT (pids $ECHO_PID $ECHO_WS_PID); bot on core $BOT_CORE"

port_of() {
  case $1 in
    ours) echo "$GW_PORT" ;; haproxy) echo "$HAP_PORT" ;; floor) echo "$ECHO_PORT" ;;
    ours-2w) echo "$GW2_PORT" ;; haproxy-2t) echo "$HAP2_PORT" ;;
    ours-tls) echo "$GW_TLS_PORT" ;; haproxy-tls) echo "$HAP_TLS_PORT" ;;
    ours-wss) echo "$GW_WSS_PORT" ;; haproxy-wss) echo "$HAP_WSS_PORT" ;;
  esac
}
pids_of() {
  case $1 in
    ours|ours-tls|ours-wss) echo "$GW_PID $GAME_PID $REDIS_PID" ;;
    ours-2w) echo "$GW2_PID $(pgrep -P "$GW2_PID" | tr '\n' ' ') $GAME_PID $REDIS_PID" ;;
    haproxy-2t) echo "$HAP2_PID $ECHO_PID" ;;
    haproxy|haproxy-tls) echo "$HAP_PID $ECHO_PID" ;;
    haproxy-wss) echo "$HAP_PID $ECHO_WS_PID" ;;
    floor) echo "$ECHO_PID" ;;
  esac
}
transport_of() { case $1 in *-tls) echo tls ;; *-wss) echo wss ;; *) echo tcp ;; esac; }
clients_of() { case $1 in *-tls|*-wss) echo "$TLS_CLIENTS" ;; *) echo "$CLIENTS" ;; esac; }
reps_of() { case $1 in *-tls|*-wss) echo "$TLS_REPS" ;; *) echo "$REPS" ;; esac; }
runs_at() { # PATH N: does PATH run at N clients?
  local c
  for c in $(clients_of "$1"); do [[ $c == "$2" ]] && return 0; done
  return 1
}
pids_ticks() { # PID...: utime + stime of every thread of them all, in clock ticks
  local p t=0 v
  for p in "$@"; do
    v=$(stat_ticks "/proc/$p/stat" 2>/dev/null || echo 0)
    t=$((t + v))
  done
  echo "$t"
}
core_busy() { # CORE[,CORE]: busy ticks of those cores (user nice system irq softirq steal) from /proc/stat
  awk -v c=",$1," '$1 ~ /^cpu[0-9]/ && index(c, "," substr($1, 4) ",") { s += $2 + $3 + $4 + $7 + $8 + $9 } END { print s + 0 }' /proc/stat
}
cores_of() { case $1 in *-2w|*-2t) echo "$SERVER_CORE,$BOT_CORE" ;; *) echo "$SERVER_CORE" ;; esac; }

# One bot run. Sets R_RPS R_P50 R_P99 R_SRV (server core %) R_US (server CPU us per request)
# R_BOT (bot CPU %) R_OTHER (the server core's time taken by anything else: other processes,
# steal) R_OK R_PASS.
run_bot() { # PATH CLIENTS PIPELINE DURATION TAG
  local path=$1 n=$2 k=$3 d=$4 tag=$5 json out t0 t1 c0 c1 secs bt
  json=$TMP/$tag.json out=$TMP/$tag.out
  local pids
  read -r -a pids <<<"$(pids_of "$path")"
  for p in "${pids[@]}"; do alive "$p" || die "a server of path $path (pid $p) is gone"; done
  rm -f "$json"
  local k0 k1
  k0=$(core_busy "$(cores_of "$path")")
  c0=$(pids_ticks "${pids[@]}") t0=$(date +%s%N)
  local TIMEFORMAT='%U %S'
  { time "${ON_BOT[@]}" "$BOT" --scenario echo --gateway "127.0.0.1:$(port_of "$path")" \
      --transport "$(transport_of "$path")" --insecure \
      --bots "$n" --duration "$d" --pipeline "$k" --target game --payload "$PAYLOAD" --rate 0 \
      --connect-rate 10000 --json "$json" >"$out" 2>&1; } 2>"$TMP/$tag.time" && R_PASS=1 || R_PASS=0
  t1=$(date +%s%N) c1=$(pids_ticks "${pids[@]}")
  k1=$(core_busy "$(cores_of "$path")")
  [[ -s $json ]] || { tail -n 20 "$out" >&2; die "bot wrote no JSON ($path, $n clients, pipeline $k)"; }
  secs=$(secs_between "$t0" "$t1")
  R_RPS=$(jnum "$json" throughput_rps)
  R_P50=$(jnum "$json" p50)
  R_P99=$(jnum "$json" p99)
  R_OK=$(jnum "$json" responses_ok)
  R_SRV=$(cpu_pct "$((c1 - c0))" "$secs")
  R_OTHER=$(awk -v c="$((k1 - k0 - (c1 - c0)))" -v hz="$CLK_TCK" -v s="$secs" 'BEGIN { v = 100 * c / hz / s; printf "%.0f", (v < 0 ? 0 : v) }')
  R_US=$(awk -v c="$((c1 - c0))" -v hz="$CLK_TCK" -v ok="$R_OK" 'BEGIN { printf "%.2f", (ok > 0 ? 1e6 * c / hz / ok : 0) }')
  bt=$(tail -n 1 "$TMP/$tag.time")
  R_BOT=$(awk -v u="${bt% *}" -v s="${bt#* }" -v w="$secs" 'BEGIN { printf "%.0f", 100 * (u + s) / w }')
  # on both cores the bot's own time is not "other"
  if [[ $(cores_of "$path") == *,* ]]; then
    R_OTHER=$(awk -v o="$R_OTHER" -v b="$R_BOT" 'BEGIN { v = o - b; printf "%.0f", (v < 0 ? 0 : v) }')
  fi
}

# ---------------------------------------------------------------- the runs
T_START=$SECONDS
LOAD_BEFORE=$(loadavg)
say "load average before: $LOAD_BEFORE"
for path in $PATHS; do
  run_bot "$path" 100 8 1 "warmup-$path"
  ((R_PASS)) || { tail -n 20 "$TMP/warmup-$path.out" >&2; die "warm-up run on $path failed"; }
done
ALL_CLIENTS=$(tr ' ' '\n' <<<"$CLIENTS $TLS_CLIENTS" | grep -v '^$' | sort -nu | tr '\n' ' ')
NRUNS=0
for n in $ALL_CLIENTS; do for path in $PATHS; do if runs_at "$path" "$n"; then NRUNS=$((NRUNS + 2 * $(reps_of "$path"))); fi; done; done
say "$NRUNS runs (paths x clients x 2 pipelines x their repetitions: $REPS, TLS paths $TLS_REPS), ${DURATION}s each (about $((NRUNS * (DURATION + 1) / 60 + 1)) min)"
declare -A V # V[path,n,k,metric] = space-separated values of the repetitions
FAILS=()
MAX_REPS=$REPS
((TLS_REPS > MAX_REPS)) && MAX_REPS=$TLS_REPS
for ((rep = 1; rep <= MAX_REPS; rep++)); do
  for n in $ALL_CLIENTS; do
    for k in $PIPELINES; do
      for path in $PATHS; do
        runs_at "$path" "$n" || continue
        ((rep <= $(reps_of "$path"))) || continue
        run_bot "$path" "$n" "$k" "$DURATION" "run-$rep-$path-$n-$k"
        ((R_PASS)) || FAILS+=("$path, $n clients, pipeline $k, repetition $rep: the bot reported a failure (see its output)")
        for m in RPS P50 P99 SRV US BOT OTHER; do
          v=R_$m
          V[$path,$n,$k,$m]+="${!v} "
        done
        say "rep $rep: $(printf '%-11s %4s clients x %s: %9s req/s  p50 %6s ms  p99 %6s ms  server core %3s%%  %6s us/req  bot %3s%%  other %3s%%' \
          "$path" "$n" "$k" "$R_RPS" "$R_P50" "$R_P99" "$R_SRV" "$R_US" "$R_BOT" "$R_OTHER")"
      done
    done
  done
done
T_RUNS=$((SECONDS - T_START))
LOAD_AFTER=$(loadavg)

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
med() { median <<<"${V[$1,$2,$3,$4]:-}"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

# ---------------------------------------------------------------- profile
PERF_GW="" PERF_GAME=""
if ((PERF)); then
  say "perf record -g on gatewayd and gamed for ${PERF_S}s: ours, 100 clients, pipeline 8 (not in the table)"
  PERF_PIDS=()
  perf record -g -o "$TMP/perf-gw.data" -p "$GW_PID" -- sleep "$PERF_S" >/dev/null 2>"$TMP/perf-gw.log" &
  PERF_PIDS+=($!)
  perf record -g -o "$TMP/perf-game.data" -p "$GAME_PID" -- sleep "$PERF_S" >/dev/null 2>"$TMP/perf-game.log" &
  PERF_PIDS+=($!)
  run_bot ours 100 8 "$PERF_S" perf-run
  for p in "${PERF_PIDS[@]}"; do wait "$p" || true; done
  PERF_PIDS=()
  perf_top() { # DATA
    perf report -i "$1" --no-children --sort dso,symbol --stdio -g none --percent-limit 1.5 2>/dev/null |
      grep -v '^#' | grep -v '^$' | sed 's/[ -]*$//' | head -n 18 || true
  }
  perf_dso() { # DATA: self time by object, one line
    perf report -i "$1" --no-children --sort dso --stdio -g none --percent-limit 1 2>/dev/null |
      grep -v '^#' | grep -v '^$' | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1 }' || true
  }
  PERF_GW="$(perf_dso "$TMP/perf-gw.data")
$(perf_top "$TMP/perf-gw.data")"
  PERF_GAME="$(perf_dso "$TMP/perf-game.data")
$(perf_top "$TMP/perf-game.data")"
fi

# ---------------------------------------------------------------- full TLS handshakes
hs_port() { case $1 in ours) echo "$GW_TLS_PORT" ;; haproxy) echo "$HAP_TLS_PORT" ;; esac; }
hs_pids() { case $1 in ours) echo "$GW_PID" ;; haproxy) echo "$HAP_PID $ECHO_PID" ;; esac; }
# One handshake run: HS_PAR s_time clients for HS_S seconds. Sets H_RATE (handshakes/s),
# H_SRV (server core %), H_US (server CPU us per handshake).
run_handshakes() { # WHO TAG
  local who=$1 tag=$2 i p v n=0 t0 t1 c0 c1 secs pids
  read -r -a pids <<<"$(hs_pids "$who")"
  c0=$(pids_ticks "${pids[@]}") t0=$(date +%s%N)
  HS_PIDS=()
  for ((i = 0; i < HS_PAR; i++)); do
    "${ON_BOT[@]}" openssl s_time -connect "127.0.0.1:$(hs_port "$who")" -new -time "$HS_S" \
      >"$TMP/hs-$tag-$i.out" 2>&1 </dev/null &
    HS_PIDS+=($!)
  done
  for p in "${HS_PIDS[@]}"; do wait "$p" || true; done
  HS_PIDS=()
  t1=$(date +%s%N) c1=$(pids_ticks "${pids[@]}")
  for ((i = 0; i < HS_PAR; i++)); do
    v=$(awk '/ connections in .*s;/ { print $1; exit }' "$TMP/hs-$tag-$i.out")
    [[ $v =~ ^[0-9]+$ ]] || { cat "$TMP/hs-$tag-$i.out" >&2; die "openssl s_time against $who printed no count"; }
    n=$((n + v))
  done
  secs=$(secs_between "$t0" "$t1")
  H_RATE=$(awk -v n="$n" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
  H_SRV=$(cpu_pct "$((c1 - c0))" "$secs")
  H_US=$(awk -v c="$((c1 - c0))" -v hz="$CLK_TCK" -v n="$n" 'BEGIN { printf "%.1f", (n > 0 ? 1e6 * c / hz / n : 0) }')
}
negotiated() { # PORT: "TLSv1.3 TLS_AES_256_GCM_SHA384" as an independent client sees it
  openssl s_client -connect "127.0.0.1:$1" -brief </dev/null 2>&1 |
    awk -F': ' '/^Protocol version/ { v = $2 } /^Ciphersuite/ { c = $2 } END { print v, c }'
}
declare -A HS # HS[who,metric] = values of the repetitions
if ((HANDSHAKES)); then
  HS_NEG_OURS=$(negotiated "$GW_TLS_PORT") HS_NEG_HAP=$(negotiated "$HAP_TLS_PORT")
  say "full handshakes: $HS_REPS x (ours, haproxy), $HS_PAR parallel openssl s_time -new for ${HS_S}s each; ours $HS_NEG_OURS, haproxy $HS_NEG_HAP"
  for ((rep = 1; rep <= HS_REPS; rep++)); do
    for who in ours haproxy; do
      run_handshakes "$who" "$rep-$who"
      HS[$who,RATE]+="$H_RATE " HS[$who,SRV]+="$H_SRV " HS[$who,US]+="$H_US "
      say "handshakes rep $rep: $(printf '%-7s %7s/s  server core %3s%%  %7s us/handshake' "$who" "$H_RATE" "$H_SRV" "$H_US")"
    done
  done
fi
hs_med() { median <<<"${HS[$1,$2]:-}"; }

# ---------------------------------------------------------------- report
echo
echo "hop: $(machine)"
echo "bot echo --rate 0 --payload $PAYLOAD, ${DURATION}s per run, median of $REPS runs per row ($TLS_REPS for the TLS paths; runs alternated: $PATHS); runs took ${T_RUNS}s, load average after $LOAD_AFTER"
echo "servers on core $SERVER_CORE, bot on core $BOT_CORE, both at niceness $NICE; ours = gatewayd -> gamed (+ redis), haproxy = haproxy (TCP, nbthread 1) -> echo_server, floor = echo_server"
echo "server core % = CPU of the path's server processes over the run; us/req = their CPU time per response; bot % = the bot's CPU;"
echo "other % = the server core's time taken by other processes (and steal) during the run: the noise"
echo
echo "TLS paths: the bot speaks TLS 1.3 (tls: frames in TLS; wss: WebSocket in TLS); ours-* terminate it in gatewayd, haproxy-* in haproxy (TCP mode) in front of echo_server (tcp; ws for wss)"
echo
echo "| clients | in flight | path        |     req/s |  p50 ms |  p99 ms | server core % | server us/req | bot % | other % |"
echo "|--------:|----------:|:------------|----------:|--------:|--------:|--------------:|--------------:|------:|--------:|"
for n in $ALL_CLIENTS; do
  for k in $PIPELINES; do
    for path in $PATHS; do
      runs_at "$path" "$n" || continue
      printf '| %7s | %9s | %-11s | %9.0f | %7.3f | %7.3f | %13.0f | %13.2f | %5.0f | %7.0f |\n' "$n" "$k" "$path" \
        "$(med "$path" "$n" "$k" RPS)" "$(med "$path" "$n" "$k" P50)" "$(med "$path" "$n" "$k" P99)" \
        "$(med "$path" "$n" "$k" SRV)" "$(med "$path" "$n" "$k" US)" "$(med "$path" "$n" "$k" BOT)" \
        "$(med "$path" "$n" "$k" OTHER)"
    done
  done
done
echo
echo "ratios (of the medians): throughput ours/x (goal >= 1 vs haproxy), p99 ours/x (goal <= 1 vs haproxy), server CPU per request ours/x"
echo
echo "| clients | in flight | req/s ours/haproxy | p99 ours/haproxy | us/req ours/haproxy | req/s ours/floor | p99 ours/floor | us/req ours/floor |"
echo "|--------:|----------:|-------------------:|-----------------:|--------------------:|-----------------:|---------------:|------------------:|"
for n in $CLIENTS; do
  for k in $PIPELINES; do
    [[ " $PATHS " == *" ours "* ]] || continue
    printf '| %7s | %9s | %18s | %16s | %19s | %16s | %14s | %17s |\n' "$n" "$k" \
      "$(ratio "$(med ours "$n" "$k" RPS)" "$(med haproxy "$n" "$k" RPS)")" \
      "$(ratio "$(med ours "$n" "$k" P99)" "$(med haproxy "$n" "$k" P99)")" \
      "$(ratio "$(med ours "$n" "$k" US)" "$(med haproxy "$n" "$k" US)")" \
      "$(ratio "$(med ours "$n" "$k" RPS)" "$(med floor "$n" "$k" RPS)")" \
      "$(ratio "$(med ours "$n" "$k" P99)" "$(med floor "$n" "$k" P99)")" \
      "$(ratio "$(med ours "$n" "$k" US)" "$(med floor "$n" "$k" US)")"
  done
done
echo
if [[ " $PATHS " == *" ours-2w "* && " $PATHS " == *" haproxy-2t "* ]]; then
  echo "every core: ours-2w (gatewayd, GATEWAY_WORKERS=2) against haproxy-2t (nbthread 2), both proxies free on both cores (the bot's"
  echo "included), the servers behind them on core $SERVER_CORE; and ours-2w against ours (one gateway process on core $SERVER_CORE)"
  echo
  echo "| clients | in flight | req/s ours-2w/haproxy-2t | p99 ours-2w/haproxy-2t | us/req ours-2w/haproxy-2t | req/s ours-2w/ours |"
  echo "|--------:|----------:|-------------------------:|-----------------------:|--------------------------:|-------------------:|"
  for n in $CLIENTS; do
    for k in $PIPELINES; do
      printf '| %7s | %9s | %24s | %22s | %25s | %18s |\n' "$n" "$k" \
        "$(ratio "$(med ours-2w "$n" "$k" RPS)" "$(med haproxy-2t "$n" "$k" RPS)")" \
        "$(ratio "$(med ours-2w "$n" "$k" P99)" "$(med haproxy-2t "$n" "$k" P99)")" \
        "$(ratio "$(med ours-2w "$n" "$k" US)" "$(med haproxy-2t "$n" "$k" US)")" \
        "$(ratio "$(med ours-2w "$n" "$k" RPS)" "$(med ours "$n" "$k" RPS)")"
    done
  done
  echo
fi
echo "TLS ratios (of the medians): ours-tls/haproxy-tls and ours-wss/haproxy-wss (goal: throughput >= 1.5)"
echo
echo "| clients | in flight | transport | req/s ours/haproxy | p99 ours/haproxy | us/req ours/haproxy |"
echo "|--------:|----------:|:----------|-------------------:|-----------------:|--------------------:|"
for n in $TLS_CLIENTS; do
  for k in $PIPELINES; do
    for t in tls wss; do
      [[ " $PATHS " == *" ours-$t "* && " $PATHS " == *" haproxy-$t "* ]] || continue
      printf '| %7s | %9s | %-9s | %18s | %16s | %19s |\n' "$n" "$k" "$t" \
        "$(ratio "$(med "ours-$t" "$n" "$k" RPS)" "$(med "haproxy-$t" "$n" "$k" RPS)")" \
        "$(ratio "$(med "ours-$t" "$n" "$k" P99)" "$(med "haproxy-$t" "$n" "$k" P99)")" \
        "$(ratio "$(med "ours-$t" "$n" "$k" US)" "$(med "haproxy-$t" "$n" "$k" US)")"
    done
  done
done
echo
if ((HANDSHAKES)); then
  echo "full TLS handshakes: $HS_PAR parallel \`openssl s_time -new\` clients on core $BOT_CORE, ${HS_S}s per run, median of $HS_REPS runs (alternated);"
  echo "negotiated: ours $HS_NEG_OURS, haproxy $HS_NEG_HAP; server = gatewayd (ours), haproxy + echo_server (haproxy: one backend connection per client)"
  echo
  echo "| server  | handshakes/s | server core % | server us/handshake | handshakes/s per server core |"
  echo "|:--------|-------------:|--------------:|--------------------:|-----------------------------:|"
  for who in ours haproxy; do
    printf '| %-7s | %12.0f | %13.0f | %19.1f | %28.0f |\n' "$who" "$(hs_med "$who" RATE)" "$(hs_med "$who" SRV)" \
      "$(hs_med "$who" US)" "$(awk -v u="$(hs_med "$who" US)" 'BEGIN { printf "%.0f", (u > 0 ? 1e6 / u : 0) }')"
  done
  echo
  echo "handshakes/s ours/haproxy: $(ratio "$(hs_med ours RATE)" "$(hs_med haproxy RATE)"), server us per handshake ours/haproxy: $(ratio "$(hs_med ours US)" "$(hs_med haproxy US)")"
  echo
fi
for f in "${FAILS[@]}"; do echo "note: $f"; done
if [[ -n $PERF_GW ]]; then
  echo "perf, ours at 100 clients x 8 in flight, ${PERF_S}s, self time by object, then by symbol; gatewayd:"
  echo "$PERF_GW" | sed 's/ *$//; s/^/  /'
  echo "gamed:"
  echo "$PERF_GAME" | sed 's/ *$//; s/^/  /'
  echo
fi
if ((${#FAILS[@]})); then
  exit 1
fi
