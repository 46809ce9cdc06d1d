# shellcheck shell=bash
# bench/lib.sh: what the benchmark scripts share. Sourced (not run) by bench/*.sh once they
# have parsed their options and set BENCH_NAME (the prefix of their progress lines):
#
#   BENCH_NAME=failover
#   source "$ROOT/bench/lib.sh"
#
# It sets CLK_TCK, NCPU, TMP="" and the *_STARTED flags, and installs the traps: on exit,
# Ctrl-C included, cleanup runs the script's own on_cleanup (when it defines one: stop what it
# started, in order), stops the Redis and PostgreSQL of start_redis/start_pg and removes TMP
# (KEEP_TMP=1 keeps it). The scripts run with set -euo pipefail and from the repository root.

CLK_TCK=$(getconf CLK_TCK)
NCPU=$(getconf _NPROCESSORS_ONLN)

say() { printf '%s: %s\n' "$BENCH_NAME" "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------- processes + cleanup
TMP="" REDIS_STARTED=0 PG_STARTED=0 CLEANED=0

alive() { # PID: running and not a zombie
  local st
  [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null || return 1
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || echo Z)
  [[ $st != Z ]]
}

stop_pid() { # PID SECONDS: SIGTERM, wait, then SIGKILL (an empty PID: nothing)
  local pid=$1 wait_s=$2 i
  [[ -n $pid ]] || return 0
  alive "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < wait_s * 10; i++)); do
    alive "$pid" || break
    sleep 0.1
  done
  if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
}

kill_pid() { # PID: SIGKILL and reap, no grace (an empty PID: nothing)
  [[ -n ${1:-} ]] || return 0
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

cleanup() {
  ((CLEANED)) && return 0
  CLEANED=1
  trap '' INT TERM
  if declare -F on_cleanup >/dev/null; then on_cleanup; fi
  if ((REDIS_STARTED)); then bash scripts/redis.sh stop "$TMP/redis" >/dev/null 2>&1 || true; fi
  if ((PG_STARTED)); then bash scripts/pg.sh stop "$TMP/pg" >/dev/null 2>&1 || true; fi
  if [[ -n $TMP && -d $TMP ]]; then
    if [[ ${KEEP_TMP:-0} == 1 ]]; then say "kept $TMP"; else rm -rf "$TMP"; fi
  fi
}
trap cleanup EXIT
trap 'say interrupted; exit 130' INT
trap 'say terminated; exit 143' TERM

# ---------------------------------------------------------------- deps + build
build() { # TARGET...: cmake configure + build of BUILD_DIR (RelWithDebInfo), unless --no-build
  ((BUILD)) || return 0
  say "building $BUILD_DIR (RelWithDebInfo)"
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || die "cmake configure failed"
  cmake --build "$BUILD_DIR" -j"$NCPU" --target "$@" >/dev/null || die "build failed"
}

need_perf() { # with PERF=1: installs linux-perf when missing (as root); no perf: PERF=0
  ((PERF)) || return 0
  perf --version >/dev/null 2>&1 && return 0
  if ((EUID == 0)) && command -v apt-get >/dev/null 2>&1; then
    say "perf not found: apt-get install linux-perf (optional, for the profile)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends linux-perf \
      >/dev/null 2>&1 || say "could not install linux-perf: no profile"
  fi
  perf --version >/dev/null 2>&1 || { say "no perf: no profile"; PERF=0; }
}

make_tmp() { # NAME: TMP=/tmp/bench-NAME.XXXXXX, readable by the postgres user
  TMP=$(mktemp -d "/tmp/bench-$1.XXXXXX")
  chmod 755 "$TMP"
}

# ---------------------------------------------------------------- ports, Redis, PostgreSQL
# A port nothing listens on. Without arguments below the ephemeral range (a port some
# connection uses as its local end can't be bound either); with BASE SPAN in BASE..BASE+SPAN-1.
free_port() { # [BASE SPAN]
  local p i lo base=${1:-10000} span=${2:-}
  if [[ -z $span ]]; then
    read -r lo _ </proc/sys/net/ipv4/ip_local_port_range
    ((lo > 11000)) || lo=32768
    span=$((lo - base))
  fi
  for i in $(seq 1 200); do
    p=$((base + RANDOM % span))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  die "no free port"
}

# shellcheck disable=SC2120 # the arguments are optional
start_redis() { # [COMMAND PREFIX...] [-- BASE SPAN]: scripts/redis.sh in TMP/redis on a free
  # port (BASE SPAN: free_port's); sets REDIS_PORT, REDIS_URL
  local pre=() range=()
  while (($#)); do
    if [[ $1 == -- ]]; then shift; range=("$@"); break; fi
    pre+=("$1"); shift
  done
  REDIS_PORT=$(free_port "${range[@]}")
  REDIS_STARTED=1
  REDIS_URL=$("${pre[@]}" bash scripts/redis.sh start "$TMP/redis" "$REDIS_PORT" 2>"$TMP/redis-start.log") ||
    { cat "$TMP/redis-start.log" >&2; die "redis did not start"; }
}

# shellcheck disable=SC2120 # the arguments are optional
start_pg() { # [BASE SPAN]: scripts/pg.sh in TMP/pg on a free port; sets PG_PORT, DATABASE_URL
  PG_PORT=$(free_port "$@")
  PG_STARTED=1
  DATABASE_URL=$(bash scripts/pg.sh start "$TMP/pg" "$PG_PORT" 2>"$TMP/pg-start.log") ||
    { cat "$TMP/pg-start.log" >&2; die "postgres did not start"; }
}

# ---------------------------------------------------------------- daemons
cluster_env() { # LOG_LEVEL: what every daemon reads (DATABASE_URL too once start_pg ran)
  CLUSTER_SECRET=$(head -c 24 /dev/urandom | base64)
  export REDIS_URL CLUSTER_SECRET
  if ((PG_STARTED)); then export DATABASE_URL; fi
  export REDIS_PREFIX=$PREFIX ADVERTISE_ADDR=127.0.0.1 LOG_LEVEL=$1
  export GATEWAY_WORKERS=${GATEWAY_WORKERS:-1} # one gateway process unless a benchmark asks
}

wait_log() { # PID LOG PATTERN WHAT: until PATTERN is in LOG (15 s)
  local i
  for ((i = 0; i < 150; i++)); do
    alive "$1" || { tail -n 20 "$2" >&2; die "$4 exited"; }
    grep -q -- "$3" "$2" && return 0
    sleep 0.1
  done
  tail -n 20 "$2" >&2
  die "$4: no '$3' in its log after 15 s"
}

start_lobbyd() { # one lobbyd (LOBBYD) on any free port, up and linked to GW_PID's gateway; sets LOBBY_PID
  LISTEN_ADDR=127.0.0.1:0 setsid "$LOBBYD" >"$TMP/lobbyd.log" 2>&1 </dev/null &
  LOBBY_PID=$!
  wait_log "$LOBBY_PID" "$TMP/lobbyd.log" "event=migrations_done" lobbyd
  wait_log "$GW_PID" "$TMP/gatewayd.log" "event=link_up type=Lobby" "gatewayd (link to the lobby)"
}

# ---------------------------------------------------------------- measurement
metrics() { # the /metrics of the gateway's admin endpoint on ADMIN_PORT (plain bash: no curl)
  (
    exec 3<>"/dev/tcp/127.0.0.1/$ADMIN_PORT" || exit 1
    printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
    timeout 5 cat <&3
  ) 2>/dev/null || true
}
jnum() { sed -n "s/.*\"$2\": \([0-9.]*\).*/\1/p" "$1" | head -n 1; } # FILE KEY: first "KEY": number of a bot JSON
stat_ticks() { awk '{print $14 + $15}' "$1"; } # a /proc/.../stat file: utime + stime in clock ticks
cpu_ticks() { stat_ticks "/proc/$1/stat"; } # PID
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; } # PID
secs_between() { awk -v ns="$(($2 - $1))" 'BEGIN { printf "%.3f", ns / 1e9 }'; } # T0 T1 (date +%s%N)
cpu_pct() { # TICKS SECONDS [FORMAT (%.0f)]: CPU % of TICKS clock ticks over SECONDS
  awk -v c="$1" -v hz="$CLK_TCK" -v s="$2" -v fmt="${3:-%.0f}" 'BEGIN { printf fmt, 100 * c / hz / s }'
}
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
machine() { # the report's first line after "NAME: ": when, where, the load before (LOAD_BEFORE)
  echo "$(date -u +%Y-%m-%dT%H:%MZ), $NCPU cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), load average before $LOAD_BEFORE"
}
