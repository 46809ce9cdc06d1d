#!/usr/bin/env bash
# Benchmark 2: connections. Hold 10k, 50k and 100k idle sessions on one gateway and
# report the gateway's memory per connection and the CPU its keep-alive work costs. Goal:
# 100k connections, under 1 KiB of gateway user-space memory per idle connection (600 B:
# the stricter goal of the gateway workers, shown too).
#
# Gateway workers: a step that does not fit in one process's open files limit runs the
# gateway as GATEWAY_WORKERS processes behind the same port (docs/operations.md, "Gateway
# workers"), as many as keep each under its limit with 15% to spare for the kernel's uneven
# spread; the step's figures (RSS, heap, sessions, PINGs, CPU) are summed over the workers and
# their supervisor. WORKERS=N forces N for every step.
#
#   bench/connections.sh [--no-build] [--steps "10000 50000 100000"] [--no-steps]
#                        [--ping-ms 20000] [--xport-conns 4000] [--xports "tcp tls ws wss"]
#
# Starts its own Redis (scripts/redis.sh) in a temp folder on a free loopback port and, per
# step, a fresh gatewayd (pinned to core GW_CORE, 0) with its admin endpoint on loopback, then
# bot --scenario idle processes (pinned to BOT_CORE, 1) that open the step's connections at
# --ramp RAMP (5000/s) and send one PING every --ping-ms (20 s; the gateway's IDLE_TIMEOUT_MS
# is 60 s) on each, nothing else. The gateway answers PING itself: no lobby or game daemon is
# involved. Per step, once the gateway counts every session (cluster_gateway_sessions):
#   - memory right away (every connection accepted; some have sent their first PING),
#   - the gateway's CPU over WINDOW (30) s of idle holding (/proc/<pid>/stat utime+stime),
#     the bots' CPU and the PINGs answered over the same window,
#   - memory again at the end of the window (every connection has pinged at least once).
# Memory is the gateway's RSS (VmRSS: user space; socket buffers live in the kernel) and its
# heap counter (cluster_heap_bytes on /metrics: bytes allocated through its allocator, usable
# sizes), each minus the same figure of the fresh gateway before the step, divided by the
# connections. The first sample splits the heap per connection into what a connection holds
# before its first PING and what that PING adds. The kernel's memory for the sockets (slab
# caches, both ends of every loopback connection, system-wide) is shown apart.
#
# Limits: each connection is a file descriptor in the gateway and one in a bot. The script
# raises RLIMIT_NOFILE (ulimit -n) for itself and what it starts, raising fs.nr_open first when
# needed (restored on exit), and splits the bots over several processes. If the limit cannot
# be raised far enough (no CAP_SYS_RESOURCE, as in some containers), a step that does not fit
# is reported as not run, and the largest step that fits is run instead, so the per-connection
# figures are still measured. One source address has about 28k ephemeral ports per gateway
# address: above 25,000 connections each bot process connects from its own source address
# (--source-addrs 127.0.0.K), or, while the bot cannot bind a source address, to its own
# gateway address 127.0.0.K (the gateway then listens on 0.0.0.0 for the step).
#
# Transports (--xport-conns 0 skips it): memory per idle connection of each transport
# in --xports, ours against HAProxy 2.6 (Debian's), in the same run. For each transport and
# side, fresh processes on GW_CORE, then XPORT_CONNS idle connections from one bot process
# (bot --scenario idle --transport T --insecure, ramp XPORT_RAMP/s, a PING every XPORT_PING_MS,
# 20 s as in the steps): ours = gatewayd with all four listeners (TLS_LISTEN_ADDR, WS_LISTEN_ADDR,
# WSS_LISTEN_ADDR, one self-signed P-256 certificate); haproxy = haproxy (TCP mode, nbthread 1)
# terminating TLS for tls and wss (ssl crt, the same certificate), passing bytes for tcp and
# ws, in front of bench/echo_server (its tcp listener for tcp/tls, its WebSocket listener for
# ws/wss; it answers the PINGs). Once every connection is established and has pinged at least
# once: the RSS of the gateway, and of haproxy, minus their RSS before, per connection; the
# echo_server behind HAProxy holds its own per-connection state (its RSS per connection is
# shown apart, not added). Ratio ours/haproxy (goal: <= 1).
#
# Prints a table (per step: connections held, RSS and heap of the gateway, per connection, the
# heap before and added by the first PING, CPU at 0 connections and while holding, PINGs/s,
# CPU per PING, the bots' CPU, kernel slab per connection, ratio to the 1 KiB goal), the sizes
# of the per-connection structures and the limits met.
#
# Environment: STEPS, PING_MS (20000), RAMP (5000 connections/s), WINDOW (30 s), BUILD_DIR
# (build), GW_CORE (0), BOT_CORE (1), PER_BOT_MAX (25000 connections per bot process and
# source address), XPORT_CONNS (4000), XPORTS ("tcp tls ws wss"), XPORT_RAMP (1000/s),
# XPORT_PING_MS (20000), KEEP_TMP=1 (keep the temp dir with every log).
# Installs what it needs (scripts/deps.sh). Everything it started is stopped and removed on
# exit, Ctrl-C included. About 2 minutes here (4 with 100k connections).
set -euo pipefail

# shellcheck source=scripts/lib/opts.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/opts.sh" # ROOT, the working directory
BUILD=1 DO_STEPS=1
STEPS=${STEPS:-"10000 50000 100000"}
PING_MS=${PING_MS:-20000}
XPORT_CONNS=${XPORT_CONNS:-4000}
XPORTS=${XPORTS:-"tcp tls ws wss"}
parse_opts --no-build:BUILD=0 --steps=STEPS --ping-ms=PING_MS --no-steps:DO_STEPS=0 \
  --xport-conns=XPORT_CONNS --xports=XPORTS -- "$@"

RAMP=${RAMP:-5000}
XPORT_RAMP=${XPORT_RAMP:-1000}
XPORT_PING_MS=${XPORT_PING_MS:-20000}
[[ $XPORT_CONNS =~ ^[0-9]+$ ]] || { echo "connections.sh: --xport-conns must be a number" >&2; exit 2; }
for t in $XPORTS; do
  case $t in tcp|tls|ws|wss) ;; *) echo "connections.sh: unknown transport $t" >&2; exit 2 ;; esac
done
((DO_STEPS)) || STEPS=""
WINDOW=${WINDOW:-30}
BUILD_DIR=${BUILD_DIR:-build}
GW_CORE=${GW_CORE:-0}
BOT_CORE=${BOT_CORE:-1}
GOAL_BYTES=1024
PER_BOT_MAX=${PER_BOT_MAX:-25000} # connections per bot process (and per source address)
FD_SPARE=256      # descriptors a process needs besides its connections
PREFIX=benchconn:
PAGE=$(getconf PAGESIZE)

BENCH_NAME=connections
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

# ---------------------------------------------------------------- cleanup (also on Ctrl-C)
GW_PID="" NR_OPEN_OLD=""
BOT_PIDS=()

stop_bots() { # SIGKILL: their report is not needed, and 100k graceful closes take a while
  local p
  for p in "${BOT_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${BOT_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  BOT_PIDS=()
}

stop_gw() { # the supervisor and its workers (one process group: setsid)
  [[ -n $GW_PID ]] && kill -KILL -- "-$GW_PID" 2>/dev/null
  kill_pid "$GW_PID"
  GW_PID=""
  sleep 0.5 # the workers' registry entries: gone with them (their hashes expire), not counted
}

on_cleanup() {
  stop_bots
  stop_gw
  if declare -F x_stop >/dev/null; then x_stop; fi
  if [[ -n $NR_OPEN_OLD ]]; then echo "$NR_OPEN_OLD" >/proc/sys/fs/nr_open 2>/dev/null || true; fi
}

# ---------------------------------------------------------------- deps + build
((NCPU >= 2)) || die "needs 2 cores (the gateway on one, the bots on the other)"
[[ $PING_MS =~ ^[0-9]+$ ]] && ((PING_MS >= 100 && PING_MS < 60000)) ||
  die "--ping-ms must be 100-59999 (the gateway closes sessions silent for IDLE_TIMEOUT_MS, 60 s)"
bash scripts/deps.sh >&2
build gatewayd bot
GATEWAYD=$BUILD_DIR/src_gateway/gatewayd
BOT=$BUILD_DIR/src_bot/bot
[[ -x $GATEWAYD && -x $BOT ]] || die "$GATEWAYD / $BOT not built"
BOT_HELP=$("$BOT" --help 2>&1 || true)
grep -q '^ *idle ' <<<"$BOT_HELP" || die "$BOT has no idle scenario"
SOURCE_ADDRS_OK=1
grep -q 'NOT AVAILABLE YET' <<<"$BOT_HELP" && SOURCE_ADDRS_OK=0

make_tmp conn

# ---------------------------------------------------------------- limits
LIMIT_NOTES=()
MAX_STEP=0
for n in $STEPS; do
  [[ $n =~ ^[0-9]+$ ]] && ((n > 0)) || die "bad step '$n'"
  ((n > MAX_STEP)) && MAX_STEP=$n
done
LIMIT_STEP=$MAX_STEP # descriptors one process needs: a step, or haproxy's two per connection
((2 * XPORT_CONNS > LIMIT_STEP)) && LIMIT_STEP=$((2 * XPORT_CONNS))
NEED=$((LIMIT_STEP + FD_SPARE))
HARD=$(ulimit -Hn)
if [[ $HARD != unlimited ]] && ((HARD < NEED)); then
  NR_OPEN=$(cat /proc/sys/fs/nr_open)
  if ((NR_OPEN < NEED)); then
    if echo "$NEED" >/proc/sys/fs/nr_open 2>/dev/null; then
      NR_OPEN_OLD=$NR_OPEN
      say "raised fs.nr_open from $NR_OPEN to $NEED (restored on exit)"
    else
      LIMIT_NOTES+=("fs.nr_open is $NR_OPEN and could not be raised to $NEED")
    fi
  fi
  if ! ulimit -Hn "$NEED" 2>/dev/null; then
    LIMIT_NOTES+=("RLIMIT_NOFILE hard limit is $HARD: raising it to $NEED was refused (setrlimit: EPERM, no CAP_SYS_RESOURCE in this container; fs.nr_open $(cat /proc/sys/fs/nr_open))")
  fi
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
[[ $NOFILE == unlimited ]] && NOFILE=$((NEED * 2))
FIT=$((NOFILE - FD_SPARE)) # connections one process can hold
FILE_MAX=$(cat /proc/sys/fs/file-max)
if ((FILE_MAX < 2 * MAX_STEP + 10000)); then
  LIMIT_NOTES+=("fs.file-max is $FILE_MAX, under 2 descriptors per connection (gateway + bot) for $MAX_STEP")
fi
CT_MAX=$(cat /proc/sys/net/netfilter/nf_conntrack_max 2>/dev/null || echo "")
if [[ -n $CT_MAX ]] && ((CT_MAX < MAX_STEP + 1000)); then
  LIMIT_NOTES+=("nf_conntrack_max is $CT_MAX: loopback connections are tracked, raise it for $MAX_STEP")
fi
SOMAXCONN=$(cat /proc/sys/net/core/somaxconn)
read -r PORT_LO PORT_HI </proc/sys/net/ipv4/ip_local_port_range
say "open files: $NOFILE per process (one process holds $FIT connections); fs.nr_open $(cat /proc/sys/fs/nr_open), fs.file-max $FILE_MAX, nf_conntrack_max ${CT_MAX:-none}, somaxconn $SOMAXCONN, ephemeral ports $PORT_LO-$PORT_HI"

# Every step runs: one that does not fit in one process's open files gets gateway workers
# (the bots are split over processes anyway).
RUN_STEPS=() SKIPPED=()
for n in $STEPS; do RUN_STEPS+=("$n"); done
((FIT > 1000)) || die "only $NOFILE open files per process"
workers_for() { # N: gateway processes for N connections (WORKERS overrides)
  if [[ -n ${WORKERS:-} ]]; then echo "$WORKERS"; return; fi
  local w=$(((($1 * 115 / 100) + FIT - 1) / FIT))
  ((w >= 1)) || w=1
  echo "$w"
}

# ---------------------------------------------------------------- Redis
start_redis
cluster_env warn
say "redis on 127.0.0.1:$REDIS_PORT, temp dir $TMP"
taskset -pc "$BOT_CORE" $$ >/dev/null

# ---------------------------------------------------------------- measurement helpers
GW_PORT="" ADMIN_PORT="" ADMIN_PORTS=()
# The gateway of a step is one process or a supervisor with workers: /metrics of each worker's
# admin endpoint, summed; RSS and CPU of the supervisor and its workers.
metrics() {
  local p
  for p in "${ADMIN_PORTS[@]}"; do
    (
      exec 3<>"/dev/tcp/127.0.0.1/$p" || exit 1
      printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
      timeout 5 cat <&3
    ) 2>/dev/null || true
  done
}
metric() { metrics | awk -v k="$1" '$1 == k { s += $2; f = 1 } END { if (f) printf "%.0f\n", s }'; }
gw_pids() { echo "$GW_PID"; pgrep -P "$GW_PID" 2>/dev/null || true; }
gw_rss() { local t=0 p r; for p in $(gw_pids); do r=$(rss_kib "$p" 2>/dev/null || echo 0); t=$((t + ${r:-0})); done; echo "$t"; }
gw_cpu_ticks() { # shellcheck disable=SC2046
  sum_cpu_ticks $(gw_pids); }
# Kernel memory of sockets: the slab caches a TCP connection's two ends use (socket, inode,
# file, epoll item, dentry; active objects x object size, system-wide). Idle sockets hold no
# buffers.
slab_bytes() { awk '$1 ~ /^(TCP|sock_inode_cache|filp|eventpoll_epi|dentry)$/ { s += $2 * $4 } END { printf "%.0f\n", s }' /proc/slabinfo 2>/dev/null || echo 0; }
sum_cpu_ticks() { local t=0 p; for p in "$@"; do alive "$p" && t=$((t + $(cpu_ticks "$p"))); done; echo "$t"; }
pings_answered() { metrics | awk '$1 ~ /^cluster_gateway_packets_in_total/ && $1 ~ /PING_REQUEST/ { s += $2 } END { printf "%.0f\n", s }'; }

rcli() { redis-cli -p "$REDIS_PORT" --no-auth-warning "$@"; }

start_gw() { # LISTEN_HOST WORKERS: sets GW_PID (the gateway or the supervisor), ADMIN_PORTS
  GW_PORT=$(free_port)
  ADMIN_PORTS=()
  : >"$TMP/gatewayd.log"
  GATEWAY_WORKERS=$2 LISTEN_ADDR=$1:$GW_PORT ADMIN_ADDR=127.0.0.1:0 MAX_SESSIONS=$((MAX_STEP + 1000)) \
    setsid taskset -c "$GW_CORE" "$GATEWAYD" >>"$TMP/gatewayd.log" 2>&1 </dev/null &
  GW_PID=$!
  # registered (with admin ports): the process itself, or every worker of this supervisor
  local i id port of
  for ((i = 0; i < 150; i++)); do
    alive "$GW_PID" || { tail -n 20 "$TMP/gatewayd.log" >&2; die "gatewayd exited"; }
    ADMIN_PORTS=()
    for id in $(rcli LRANGE "${PREFIX}Server:Gateway" 0 -1 2>/dev/null); do
      port=$(rcli HGET "${PREFIX}Server:Gateway:$id" admin_port 2>/dev/null)
      of=$(rcli HGET "${PREFIX}Server:Gateway:$id" worker_of 2>/dev/null)
      [[ -n $port ]] || continue
      if (($2 > 1)); then [[ $of == */$GW_PID ]] || continue; else [[ -z $of ]] || continue; fi
      ADMIN_PORTS+=("$port")
    done
    if ((${#ADMIN_PORTS[@]} == ($2 > 1 ? $2 : 1))); then
      ADMIN_PORT=${ADMIN_PORTS[0]}
      return 0
    fi
    sleep 0.1
  done
  tail -n 20 "$TMP/gatewayd.log" >&2
  die "gatewayd ($2 worker(s)) did not register in 15 s"
}

nap() { sleep "$1" & wait $!; } # a sleep that a signal's trap interrupts at once

per_conn() { # BEFORE AFTER N UNIT: (AFTER - BEFORE) * UNIT / N
  awk -v a="$1" -v b="$2" -v n="$3" -v k="$4" 'BEGIN { if (n > 0) printf "%.0f", (b - a) * k / n; else print "-" }'
}

# ---------------------------------------------------------------- the steps
LOAD_BEFORE=$(loadavg)
T_START=$SECONDS
ROWS=() NOTES=()
FIRST_BYTES=""
for n in "${RUN_STEPS[@]}"; do
  nproc=$(((n + PER_BOT_MAX - 1) / PER_BOT_MAX))
  per=$(((n + nproc - 1) / nproc))
  ((per <= FIT)) || { nproc=$(((n + FIT - 1) / FIT)); per=$(((n + nproc - 1) / nproc)); }
  listen=127.0.0.1 spread=none
  if ((nproc > 1 && per * nproc > PER_BOT_MAX)); then
    if ((SOURCE_ADDRS_OK)); then spread=source; else spread=dest; listen=0.0.0.0; fi
  fi
  workers=$(workers_for "$n")
  start_gw "$listen" "$workers"
  sleep 1
  rss0=$(gw_rss) heap0=$(metric cluster_heap_bytes) slab0=$(slab_bytes)
  # the gateway's own background work (tick, registry, admin snapshots), no connection
  c0=$(gw_cpu_ticks) t0=$(date +%s%N)
  nap 5
  c1=$(gw_cpu_ticks) t1=$(date +%s%N)
  base_cpu=$(awk -v c="$((c1 - c0))" -v hz="$CLK_TCK" -v ns="$((t1 - t0))" 'BEGIN { printf "%.1f", 100 * c / hz / (ns / 1e9) }')

  say "step $n: $workers gateway process(es), $nproc bot process(es) of up to $per, ramp $RAMP/s, PING every $PING_MS ms (spread: $spread); gateway rss ${rss0} KiB, heap $heap0 B"
  ramp_each=$(((RAMP + nproc - 1) / nproc))
  dur=$((n / RAMP + WINDOW + 60))
  left=$n
  for ((k = 0; k < nproc; k++)); do
    cnt=$((left < per ? left : per))
    left=$((left - cnt))
    target=127.0.0.1:$GW_PORT src=()
    case $spread in
      source) src=(--source-addrs "127.0.0.$((k + 2))") ;;
      dest) target=127.0.0.$((k + 1)):$GW_PORT ;;
    esac
    setsid taskset -c "$BOT_CORE" "$BOT" --scenario idle --gateway "$target" "${src[@]}" \
      --bots "$cnt" --ramp "$ramp_each" --ping-ms "$PING_MS" --duration "$dur" --seed "$((k + 1))" \
      --timeout-ms 10000 --quiet --json "$TMP/bot-$n-$k.json" \
      >"$TMP/bot-$n-$k.log" 2>&1 </dev/null &
    BOT_PIDS+=($!)
  done

  # every connection accepted
  deadline=$((SECONDS + n / RAMP * 3 + 60))
  held=0
  while :; do
    held=$(metric cluster_gateway_sessions || echo 0)
    ((held >= n)) && break
    dead=0
    for p in "${BOT_PIDS[@]}"; do alive "$p" || dead=1; done
    if ((dead)) || ((SECONDS > deadline)); then
      say "step $n: only $held sessions held ($( ((dead)) && echo 'a bot exited' || echo 'timed out'))"
      for f in "$TMP"/bot-"$n"-*.log; do tail -n 5 "$f" >&2; done
      break
    fi
    alive "$GW_PID" || { tail -n 20 "$TMP/gatewayd.log" >&2; die "gatewayd exited at $held sessions"; }
    sleep 0.5
  done
  t_conn=$SECONDS
  sleep 1 # let the admin snapshot (every 500 ms) catch up
  held=$(metric cluster_gateway_sessions)
  rss1=$(gw_rss) heap1=$(metric cluster_heap_bytes) pinged1=$(pings_answered)

  # WINDOW seconds of idle holding
  g0=$(gw_cpu_ticks) b0=$(sum_cpu_ticks "${BOT_PIDS[@]}") p0=$(pings_answered) t0=$(date +%s%N)
  nap "$WINDOW"
  g1=$(gw_cpu_ticks) b1=$(sum_cpu_ticks "${BOT_PIDS[@]}") p1=$(pings_answered) t1=$(date +%s%N)
  secs=$(secs_between "$t0" "$t1")
  # every connection has pinged at least once by now (the window is longer than the interval)
  ((WINDOW * 1000 >= PING_MS)) || NOTES+=("$n: the window ($WINDOW s) is shorter than the PING interval: not every connection pinged before the second memory sample")
  sleep 1
  held2=$(metric cluster_gateway_sessions)
  rss2=$(gw_rss) heap2=$(metric cluster_heap_bytes) slab2=$(slab_bytes)
  gw_cpu=$(cpu_pct "$((g1 - g0))" "$secs" %.1f)
  bot_cpu=$(cpu_pct "$((b1 - b0))" "$secs" %.1f)
  pps=$(awk -v p="$((p1 - p0))" -v s="$secs" 'BEGIN { printf "%.0f", p / s }')
  us_per_ping=$(awk -v c="$((g1 - g0))" -v hz="$CLK_TCK" -v p="$((p1 - p0))" \
    'BEGIN { if (p > 0) printf "%.1f", 1e6 * c / hz / p; else print "-" }')
  drops=$(awk '$1 ~ /^cluster_gateway_clients_dropped_total/ { s += $2 } END { printf "%.0f\n", s }' <(metrics))
  # the gateway first: it closes actively, so the TIME_WAIT entries are on its side (its port
  # is new each step) and the bots' ephemeral ports are free for the next step
  stop_gw
  stop_bots
  ((held2 < held)) && NOTES+=("$n: $((held - held2)) sessions closed during the window (gateway drops: $drops)")
  ((held < n)) && NOTES+=("$n: only $held of $n connections were held")

  rss_pc=$(per_conn "$rss0" "$rss2" "$held2" 1024)
  heap_pc=$(per_conn "$heap0" "$heap2" "$held2" 1)
  # Split of the heap per connection: the first sample came when a share f of the
  # connections had sent their first PING (the PINGs counted so far / connections: each
  # pings once in its first interval), the second when all had. Linear in f: per connection
  # = before + f x added.
  read -r heap_before heap_added < <(awk -v a="$heap0" -v b1="$heap1" -v b2="$heap2" -v n1="$held" -v n2="$held2" -v p="$pinged1" '
    BEGIN { f = n1 > 0 ? p / n1 : 1; if (f > 1) f = 1
      x1 = (b1 - a) / n1; x2 = (b2 - a) / n2
      if (f > 0.8) { print "- -"; exit }
      add = (x2 - x1) / (1 - f); printf "%.0f %.0f\n", x2 - add, add }')
  slab_pc=$(per_conn "$slab0" "$slab2" "$held2" 1)
  ratio=$(awk -v r="$rss_pc" -v g="$GOAL_BYTES" 'BEGIN { if (r == "-") print "-"; else printf "%.2f", r / g }')
  ratio600=$(awk -v r="$rss_pc" 'BEGIN { if (r == "-") print "-"; else printf "%.2f", r / 600 }')
  row=$(printf '| %11s | %5s | %6s | %7.1f | %8.1f | %8s | %9s | %13s | %12s | %8s | %5s | %6s | %7s | %9s | %18s | %12s | %12s |' \
    "$n" "$workers" "$held2" "$(awk -v k="$rss2" 'BEGIN { print k / 1024 }')" "$(awk -v b="$heap2" 'BEGIN { print b / 1048576 }')" \
    "$rss_pc" "$heap_pc" "$heap_before" "$heap_added" "$base_cpu" "$gw_cpu" "$pps" "$us_per_ping" "$bot_cpu" "$slab_pc" "$ratio" "$ratio600")
  say "step: $row"
  ROWS+=("$row")
done
T_RUN=$((SECONDS - T_START))

# ---------------------------------------------------------------- transports: ours vs HAProxy
XROWS=() XNOTES=()
X_GW_PID="" X_HAP_PID="" X_ECHO_PID="" X_BOT_PID=""
x_stop() {
  kill_pid "$X_BOT_PID"
  stop_pid "$X_HAP_PID" 3
  stop_pid "$X_ECHO_PID" 3
  kill_pid "$X_GW_PID"
  X_BOT_PID="" X_HAP_PID="" X_ECHO_PID="" X_GW_PID=""
}
x_established() { # PORT: established connections whose local port is PORT
  ss -Htn state established "( sport = :$1 )" 2>/dev/null | wc -l
}
x_wait_port() { # PORT PID LOG
  local i
  for ((i = 0; i < 100; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    alive "$2" || { tail -n 20 "$3" >&2; die "a server of the transport phase exited"; }
    sleep 0.1
  done
  tail -n 20 "$3" >&2
  die "nothing listens on $1 after 10 s"
}
# Starts the side's servers for transport T on GW_CORE. Sets X_PORT (where the bot connects),
# X_PROXY (the pid measured: gatewayd or haproxy) and, for haproxy, X_ECHO_PID.
x_start() { # SIDE T
  local side=$1 t=$2 var
  X_PORT=$(free_port)
  if [[ $side == ours ]]; then
    case $t in tcp) var=LISTEN_ADDR ;; tls) var=TLS_LISTEN_ADDR ;; ws) var=WS_LISTEN_ADDR ;; wss) var=WSS_LISTEN_ADDR ;; esac
    # LISTEN_ADDR on a free port of its own when another transport is measured
    env LISTEN_ADDR="127.0.0.1:$(free_port)" "$var=127.0.0.1:$X_PORT" TLS_CERT_FILE="$X_CERT" \
      TLS_KEY_FILE="$X_KEY" MAX_SESSIONS=$((XPORT_CONNS + 1000)) \
      setsid taskset -c "$GW_CORE" "$GATEWAYD" >"$TMP/x-gw-$t.log" 2>&1 </dev/null &
    X_GW_PID=$! X_PROXY=$!
    x_wait_port "$X_PORT" "$X_GW_PID" "$TMP/x-gw-$t.log"
    return 0
  fi
  local etrans=tcp ssl="" i eport=""
  [[ $t == ws || $t == wss ]] && etrans=ws
  [[ $t == tls || $t == wss ]] && ssl="ssl crt $TMP/x-haproxy.pem"
  setsid taskset -c "$GW_CORE" "$ECHO" 127.0.0.1:0 "$etrans" >"$TMP/x-echo-$t.out" 2>"$TMP/x-echo-$t.log" </dev/null &
  X_ECHO_PID=$!
  for ((i = 0; i < 50; i++)); do
    eport=$(sed -n 's/^port=//p' "$TMP/x-echo-$t.out")
    [[ -n $eport ]] && break
    sleep 0.1
  done
  [[ -n $eport ]] || die "echo_server ($etrans) did not start: $(cat "$TMP/x-echo-$t.log")"
  cat >"$TMP/x-haproxy-$t.cfg" <<EOF
# generated by bench/connections.sh: one thread, TCP mode, no logging
global
    nbthread 1
    maxconn $((XPORT_CONNS * 2 + 100))
    ssl-default-bind-options ssl-min-ver TLSv1.2
defaults
    mode tcp
    timeout connect 5s
    timeout client 120s
    timeout server 120s
frontend idle
    bind 127.0.0.1:$X_PORT $ssl
    default_backend echo
backend echo
    server echo1 127.0.0.1:$eport
EOF
  setsid taskset -c "$GW_CORE" "$HAPROXY" -db -f "$TMP/x-haproxy-$t.cfg" >"$TMP/x-haproxy-$t.log" 2>&1 </dev/null &
  X_HAP_PID=$! X_PROXY=$!
  x_wait_port "$X_PORT" "$X_HAP_PID" "$TMP/x-haproxy-$t.log"
}
# One side and transport: XPORT_CONNS idle connections. Sets X_RSS_PC (the proxy's RSS per
# connection, bytes), X_ECHO_PC (echo_server's, haproxy only), X_HELD, X_RSS_MIB.
x_measure() { # SIDE T
  local side=$1 t=$2 rss0 rss1 erss0=0 erss1=0 deadline
  x_start "$side" "$t"
  sleep 1
  rss0=$(rss_kib "$X_PROXY")
  [[ -n $X_ECHO_PID ]] && erss0=$(rss_kib "$X_ECHO_PID")
  local dur=$((XPORT_CONNS / XPORT_RAMP + 60))
  setsid taskset -c "$BOT_CORE" "$BOT" --scenario idle --gateway "127.0.0.1:$X_PORT" --transport "$t" \
    --insecure --bots "$XPORT_CONNS" --ramp "$XPORT_RAMP" --ping-ms "$XPORT_PING_MS" --duration "$dur" \
    --timeout-ms 10000 --quiet --json "$TMP/x-bot-$side-$t.json" >"$TMP/x-bot-$side-$t.log" 2>&1 </dev/null &
  X_BOT_PID=$!
  deadline=$((SECONDS + XPORT_CONNS / XPORT_RAMP * 3 + 60))
  while :; do
    X_HELD=$(x_established "$X_PORT")
    ((X_HELD >= XPORT_CONNS)) && break
    alive "$X_BOT_PID" || { tail -n 5 "$TMP/x-bot-$side-$t.log" >&2; break; }
    ((SECONDS > deadline)) && break
    sleep 0.5
  done
  # every connection has sent its first PING (within one interval of connecting) and had its
  # answer: the memory of an idle connection after some traffic, not of a fresh one
  nap $((XPORT_PING_MS / 1000 + 2))
  X_HELD=$(x_established "$X_PORT")
  rss1=$(rss_kib "$X_PROXY")
  [[ -n $X_ECHO_PID ]] && erss1=$(rss_kib "$X_ECHO_PID")
  ((X_HELD < XPORT_CONNS)) && XNOTES+=("$side $t: only $X_HELD of $XPORT_CONNS connections established")
  X_RSS_PC=$(per_conn "$rss0" "$rss1" "$X_HELD" 1024)
  X_ECHO_PC=-
  [[ -n $X_ECHO_PID ]] && X_ECHO_PC=$(per_conn "$erss0" "$erss1" "$X_HELD" 1024)
  X_RSS_MIB=$(awk -v k="$rss1" 'BEGIN { printf "%.1f", k / 1024 }')
  x_stop
}
if ((XPORT_CONNS > 0)); then
  HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
  [[ -x $HAPROXY ]] || die "haproxy is not installed (apt-get install haproxy; bench/hop.sh installs it)"
  build echo_server
  ECHO=$BUILD_DIR/bench/echo_server
  [[ -x $ECHO ]] || die "$ECHO not built"
  X_CERT=$TMP/cert.pem X_KEY=$TMP/key.pem
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost -keyout "$X_KEY" -out "$X_CERT" >/dev/null 2>&1 ||
    die "openssl could not make a certificate"
  cat "$X_CERT" "$X_KEY" >"$TMP/x-haproxy.pem"
  X_T0=$SECONDS
  for t in $XPORTS; do
    x_measure ours "$t"
    o_pc=$X_RSS_PC o_held=$X_HELD o_mib=$X_RSS_MIB
    x_measure haproxy "$t"
    row=$(printf '| %-9s | %11s | %9s | %12s | %11s | %15s | %14s | %20s | %19s |' "$t" "$XPORT_CONNS" \
      "$o_held" "$o_mib" "$o_pc" "$X_RSS_MIB" "$X_RSS_PC" "$X_ECHO_PC" \
      "$(awk -v a="$o_pc" -v b="$X_RSS_PC" 'BEGIN { if (b > 0 && a != "-") printf "%.2f", a / b; else print "-" }')")
    say "transport: $row"
    XROWS+=("$row")
  done
  X_RUN=$((SECONDS - X_T0))
fi

# ---------------------------------------------------------------- report
SIZES=""
if command -v gdb >/dev/null 2>&1; then
  SIZES=$(gdb -batch -ex 'print sizeof(struct session)' -ex 'print sizeof(struct conn)' \
    -ex 'print sizeof(uv_tcp_t)' -ex 'print sizeof(frame_parser_t)' -ex 'print sizeof(struct slot)' \
    "$GATEWAYD" 2>/dev/null | awk -F' = ' '/^\$/ { printf "%s ", $2 }')
fi
echo
echo "connections: $(machine), steps ${T_RUN}s"
if ((DO_STEPS)); then
echo "the gateway on core $GW_CORE (one gatewayd, or GATEWAY_WORKERS processes where a step needs more descriptors than one may hold: figures summed), bot --scenario idle on core $BOT_CORE: ramp $RAMP/s, one PING per connection every $PING_MS ms, nothing else; CPU over $WINDOW s"
echo "per connection: (figure at N - figure of the fresh gateway) / N in bytes, after every connection has sent at least one PING;"
echo "heap split: before its first PING / added by its first PING (fit from a sample taken while only some had pinged)"
echo
echo "| connections | gateway processes | held   | RSS MiB | heap MiB | RSS/conn | heap/conn | heap: before PING | added by PING | CPU % at 0 | CPU % | PING/s | µs/PING | bot CPU % | kernel slab/conn (both ends) | RSS/conn / 1 KiB | RSS/conn / 600 B |"
echo "|------------:|------------------:|-------:|--------:|---------:|---------:|----------:|------------------:|--------------:|-----------:|------:|-------:|--------:|----------:|-----------------------------:|-----------------:|-----------------:|"
printf '%s\n' "${ROWS[@]}"
fi
echo
if ((${#XROWS[@]})); then
  echo "transports, ${X_RUN}s: $XPORT_CONNS idle connections per row, ours (gatewayd) against haproxy $("$HAPROXY" -v | head -n 1 | awk '{print $3}') (TCP mode, nbthread 1;"
  echo "terminating TLS for tls and wss, in front of echo_server: tcp, or its WebSocket listener for ws/wss), fresh processes per row on core $GW_CORE;"
  echo "bot --scenario idle --transport T on core $BOT_CORE, ramp $XPORT_RAMP/s, a PING every $XPORT_PING_MS ms; RSS after every connection pinged, minus RSS before, per connection (bytes)"
  echo
  echo "| transport | connections | ours held | ours RSS MiB | ours B/conn | haproxy RSS MiB | haproxy B/conn | + echo_server B/conn | ours/haproxy B/conn |"
  echo "|:----------|------------:|----------:|-------------:|------------:|----------------:|---------------:|---------------------:|--------------------:|"
  printf '%s\n' "${XROWS[@]}"
  for note in "${XNOTES[@]}"; do echo "note: $note"; done
  echo
fi
for s in "${SKIPPED[@]}"; do echo "not run: $s connections (open files limit $NOFILE per process)"; done
for l in "${LIMIT_NOTES[@]}"; do echo "limit: $l"; done
for note in "${NOTES[@]}"; do echo "note: $note"; done
if [[ -n $SIZES ]]; then
  read -r s_session s_conn s_tcp s_parser s_slot <<<"$SIZES"
  echo "sizes (gdb, from $GATEWAYD): session_t $s_session (its frame_parser_t $s_parser), conn_t $s_conn (its uv_tcp_t $s_tcp), slot_t $s_slot + 4 (free list) per slot"
  # glibc's usable size of a malloc(n): chunks of n + 8 rounded up to 16, at least 32
  usable() { awk -v n="$1" 'BEGIN { c = int((n + 8 + 15) / 16) * 16; if (c < 32) c = 32; print c - 8 }'; }
  u_s=$(usable "$s_session") u_c=$(usable "$s_conn")
  echo "expected heap per connection (usable sizes): session_t $u_s + conn_t $u_c + slot arrays (${s_slot} + 4) x capacity / N (capacity: 1024 doubled to >= N)"
  echo "  the same before and after its PINGs: a PONG's 512-byte output buffer is given back after its flush (conn.c: an idle"
  echo "  connection holds none; one that also wrote in the previous loop turn keeps it), the uv_connect_t exists only while connecting"
  for n in "${RUN_STEPS[@]}"; do
    cap=1024; while ((cap < n)); do cap=$((cap * 2)); done
    echo "  at $n: $((u_s + u_c)) + $(((s_slot + 4) * cap / n)) = $((u_s + u_c + (s_slot + 4) * cap / n))"
  done
fi
