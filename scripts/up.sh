#!/usr/bin/env bash
# Bring the whole cluster up on this machine (README command 1).
#
#   scripts/up.sh [--once] [--no-build] [--ha]
#
# Installs deps, builds build/ (RelWithDebInfo), starts Redis (.local/redis, port REDIS_PORT=6390)
# unless REDIS_URL is set, PostgreSQL (.local/pg, port PG_PORT=5440) unless DATABASE_URL is set,
# then gatewayd with its four client listeners (TCP 127.0.0.1:GATEWAY_PORT, default 7000; TLS
# TLS_PORT 7001; ws:// WS_PORT 7002; wss:// WSS_PORT 7003; a self-signed certificate for
# localhost made with the openssl CLI in .local/tls/ on the first run), lobbyd and two gamed (ephemeral ports),
# logs in .local/logs/. When the registry lists 2 games and 1 lobby, runs the echo bot, then the lobby bot
# scenario against the gateway, prints its result, the registry and the daemon logs' tails.
# With --once, or when stdin is not a terminal, stops everything and exits with the bot's exit
# status; otherwise keeps the cluster running until Ctrl-C. Only what this script started is
# stopped.
# --ha: Redis under Sentinel instead of one server: a master (REDIS_PORT), a replica
# (REDIS_PORT+1, .local/redis-replica) and three Sentinels (SENTINEL_PORT=26390..26392,
# .local/sentinel-N) watching master "cluster"; the daemons get REDIS_SENTINELS and
# REDIS_MASTER_NAME and follow a failover (try: kill the master's pid in .local/redis/redis.pid).
# Environment: REDIS_URL, DATABASE_URL, REDIS_PORT, PG_PORT, GATEWAY_PORT, TLS_PORT, WS_PORT,
# WSS_PORT, TLS_CERT_FILE and TLS_KEY_FILE (default: the .local/tls/ pair), CLUSTER_SECRET
# (random per run if unset), REDIS_PREFIX (local:), LOG_LEVEL (info), BOTS (50),
# BOT_DURATION (5), READY_TIMEOUT (15), GAME_DRAIN_MS (3000: the game daemons' DRAIN_TIMEOUT_MS).
set -euo pipefail
shopt -s extglob

# shellcheck source=scripts/lib/opts.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/opts.sh" # ROOT, the working directory
ONCE=0 BUILD=1 HA=0
parse_opts --once:ONCE=1 --ha:HA=1 --no-build:BUILD=0 -- "$@"
[[ -t 0 ]] || ONCE=1

LOCAL=$ROOT/.local
LOGS=$LOCAL/logs
PIDFILE=$LOCAL/daemons.pids
REDIS_PORT=${REDIS_PORT:-6390}
SENTINEL_PORT=${SENTINEL_PORT:-26390}
PG_PORT=${PG_PORT:-5440}
GATEWAY_PORT=${GATEWAY_PORT:-7000}
REDIS_PREFIX=${REDIS_PREFIX-local:}
LOG_LEVEL=${LOG_LEVEL:-info}
BOTS=${BOTS:-50}
BOT_DURATION=${BOT_DURATION:-5}
READY_TIMEOUT=${READY_TIMEOUT:-15}
GAME_DRAIN_MS=${GAME_DRAIN_MS:-3000}
GATEWAY_ADDR=127.0.0.1:$GATEWAY_PORT
TLS_PORT=${TLS_PORT:-7001}
WS_PORT=${WS_PORT:-7002}
WSS_PORT=${WSS_PORT:-7003}
TLS_CERT_FILE=${TLS_CERT_FILE:-$LOCAL/tls/cert.pem}
TLS_KEY_FILE=${TLS_KEY_FILE:-$LOCAL/tls/key.pem}

GATEWAYD=build/src_gateway/gatewayd
LOBBYD=build/src_lobby/lobbyd
GAMED=build/src_game/gamed
BOT=build/src_bot/bot

say() { printf 'up.sh: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------- teardown
STARTED_REDIS=0 STARTED_PG=0 STARTED_HA=0 CLEANED=0
PIDS=() DNAMES=()

alive() { # PID: running and not a zombie
  local st
  kill -0 "$1" 2>/dev/null || return 1
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || echo Z)
  [[ $st != Z ]]
}

stop_pids() { # PID...: SIGTERM, up to 10 s (a game daemon drains for GAME_DRAIN_MS), then SIGKILL
  local pid i left
  (($#)) || return 0
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for i in $(seq 1 100); do
    left=0
    for pid in "$@"; do alive "$pid" && left=1; done
    ((left)) || break
    sleep 0.1
  done
  for pid in "$@"; do
    if alive "$pid"; then
      say "pid $pid did not stop in 10 s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  wait "$@" 2>/dev/null || true
}

cleanup() {
  ((CLEANED)) && return 0
  CLEANED=1
  trap '' INT TERM
  if ((${#PIDS[@]})); then
    say "stopping daemons (${DNAMES[*]})"
    stop_pids "${PIDS[@]}"
    rm -f "$PIDFILE"
  fi
  if ((STARTED_HA)); then
    for n in 1 2 3; do bash scripts/redis.sh stop "$LOCAL/sentinel-$n" || true; done
    bash scripts/redis.sh stop "$LOCAL/redis-replica" || true
  fi
  if ((STARTED_REDIS)); then bash scripts/redis.sh stop "$LOCAL/redis" || true; fi
  if ((STARTED_PG)); then bash scripts/pg.sh stop "$LOCAL/pg" || true; fi
}
trap cleanup EXIT
trap 'say interrupted; exit 130' INT
trap 'say terminated; exit 143' TERM

# Daemons left by an earlier run that was killed hard (pid + binary recorded in $PIDFILE).
stop_stale() {
  local pid exe stale=()
  [[ -f $PIDFILE ]] || return 0
  while read -r pid exe; do
    [[ -n $pid && -n $exe ]] || continue
    # /proc/PID/exe reads "PATH (deleted)" once the binary has been rebuilt
    if alive "$pid" && [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == "$exe"?(" (deleted)") ]]; then
      stale+=("$pid")
    fi
  done <"$PIDFILE"
  if ((${#stale[@]})); then
    say "stopping daemons left by an earlier run: ${stale[*]}"
    for pid in "${stale[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    sleep 2
    for pid in "${stale[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  fi
  rm -f "$PIDFILE"
}

# ---------------------------------------------------------------- deps + build
mkdir -p "$LOGS"
bash scripts/deps.sh
if ((BUILD)); then
  say "building build/ (RelWithDebInfo)"
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2 || die "cmake configure failed"
  cmake --build build -j"$(nproc)" >&2 || die "build failed"
fi
for b in "$GATEWAYD" "$LOBBYD" "$GAMED" "$BOT"; do
  [[ -x $b ]] || die "$b was not built"
done
stop_stale

# ---------------------------------------------------------------- Redis + PostgreSQL
if [[ -z ${REDIS_URL:-} ]]; then
  bash scripts/redis.sh stop "$LOCAL/redis" >/dev/null 2>&1 || true  # always a fresh registry
  STARTED_REDIS=1
  REDIS_URL=$(REDIS_AOF=1 bash scripts/redis.sh start "$LOCAL/redis" "$REDIS_PORT")
  say "Redis: $REDIS_URL (started, data in .local/redis)"
else
  say "Redis: $REDIS_URL (given)"
fi
if ((HA)); then
  ((STARTED_REDIS)) || die "--ha starts its own Redis master: leave REDIS_URL unset"
  # A replica and three Sentinels (quorum 2) for the master; the daemons ask the Sentinels.
  master_port=$(rcli_port=${REDIS_URL##*:}; echo "${rcli_port%%/*}")
  for n in 1 2 3; do bash scripts/redis.sh stop "$LOCAL/sentinel-$n" >/dev/null 2>&1 || true; done
  bash scripts/redis.sh stop "$LOCAL/redis-replica" >/dev/null 2>&1 || true
  STARTED_HA=1
  replica_url=$(bash scripts/redis.sh start-replica "$LOCAL/redis-replica" $((REDIS_PORT + 1)) "$master_port")
  REDIS_SENTINELS=
  for n in 1 2 3; do
    addr=$(bash scripts/redis.sh start-sentinel "$LOCAL/sentinel-$n" $((SENTINEL_PORT + n - 1)) "$master_port" cluster)
    REDIS_SENTINELS=${REDIS_SENTINELS:+$REDIS_SENTINELS,}$addr
  done
  REDIS_MASTER_NAME=cluster
  export REDIS_SENTINELS REDIS_MASTER_NAME
  say "Redis HA: master $REDIS_URL, replica $replica_url, Sentinels $REDIS_SENTINELS (master name cluster)"
  for i in $(seq 1 100); do # the Sentinels see the replica and each other (hello every 2 s)
    info=$(timeout 2 redis-cli -p "$SENTINEL_PORT" SENTINEL master cluster 2>/dev/null | tr '\n' ' ')
    [[ $info =~ num-slaves\ 1\ .*num-other-sentinels\ 2 ]] && break
    ((i == 100)) && die "the Sentinels did not see the replica and each other in 20 s"
    sleep 0.2
  done
fi
if [[ -z ${DATABASE_URL:-} ]]; then
  STARTED_PG=1
  DATABASE_URL=$(bash scripts/pg.sh start "$LOCAL/pg" "$PG_PORT")
  say "PostgreSQL: $DATABASE_URL (started, data in .local/pg)"
else
  say "PostgreSQL: $DATABASE_URL (given)"
fi

rcli() { timeout 5 redis-cli --no-auth-warning -u "$REDIS_URL" --raw "$@"; }
rcli PING >/dev/null || die "Redis at $REDIS_URL does not answer"

# ---------------------------------------------------------------- daemons
CLUSTER_SECRET=${CLUSTER_SECRET:-$(head -c 24 /dev/urandom | base64)}
ADVERTISE_ADDR=${ADVERTISE_ADDR:-127.0.0.1}
export REDIS_URL DATABASE_URL CLUSTER_SECRET REDIS_PREFIX LOG_LEVEL ADVERTISE_ADDR

start_daemon() { # NAME BINARY LISTEN_ADDR [VAR=VALUE...]
  local name=$1 bin=$2 listen=$3 pid
  shift 3
  # own session: Ctrl-C reaches only this script, which then stops everything in order
  env LISTEN_ADDR="$listen" "$@" setsid "$bin" >"$LOGS/$name.log" 2>&1 </dev/null &
  pid=$!
  PIDS+=("$pid"); DNAMES+=("$name")
  echo "$pid $(readlink -f "$bin")" >>"$PIDFILE"
  say "started $name (pid $pid, LISTEN_ADDR=$listen, log .local/logs/$name.log)"
}

# A self-signed certificate for local TLS and wss, made once (clients must trust it or skip
# verification: .local/tls/cert.pem is its own CA).
if [[ ! -s $TLS_CERT_FILE || ! -s $TLS_KEY_FILE ]]; then
  [[ $TLS_CERT_FILE == "$LOCAL/tls/cert.pem" && $TLS_KEY_FILE == "$LOCAL/tls/key.pem" ]] \
    || die "TLS_CERT_FILE/TLS_KEY_FILE: $TLS_CERT_FILE or $TLS_KEY_FILE is missing"
  scripts/make-cert.sh "$LOCAL/tls" || die "openssl could not make a certificate in .local/tls"
fi

: >"$PIDFILE"
start_daemon gatewayd "$GATEWAYD" "$GATEWAY_ADDR" TLS_LISTEN_ADDR="127.0.0.1:$TLS_PORT" \
  WS_LISTEN_ADDR="127.0.0.1:$WS_PORT" WSS_LISTEN_ADDR="127.0.0.1:$WSS_PORT" \
  TLS_CERT_FILE="$TLS_CERT_FILE" TLS_KEY_FILE="$TLS_KEY_FILE"
start_daemon lobbyd "$LOBBYD" 127.0.0.1:0
# Matches still running at the stop are aborted and recorded after GAME_DRAIN_MS (the daemon's
# own default, 30 s, lets them play on; here the bots are gone by then).
start_daemon gamed-1 "$GAMED" 127.0.0.1:0 DRAIN_TIMEOUT_MS="$GAME_DRAIN_MS"
start_daemon gamed-2 "$GAMED" 127.0.0.1:0 DRAIN_TIMEOUT_MS="$GAME_DRAIN_MS"

dead_daemons() { # prints the names of daemons that are no longer running
  local i
  for i in "${!PIDS[@]}"; do
    alive "${PIDS[i]}" || echo "${DNAMES[i]}"
  done
}

live_ids() { # TYPE: ids in the Server:TYPE list whose hash still exists
  local type=$1 id
  for id in $(rcli LRANGE "${REDIS_PREFIX}Server:$type" 0 -1 2>/dev/null); do
    [[ $(rcli EXISTS "${REDIS_PREFIX}Server:$type:$id" 2>/dev/null) == 1 ]] && echo "$id"
  done
  return 0
}

gateway_accepts() {
  (exec 3<>"/dev/tcp/127.0.0.1/$GATEWAY_PORT") 2>/dev/null
}

show_logs() { # LINES
  local name
  for name in "${DNAMES[@]}"; do
    echo "---- .local/logs/$name.log (last $1 lines)"
    tail -n "$1" "$LOGS/$name.log" 2>/dev/null || true
  done
}

say "waiting for the registry: 2 game daemons, 1 lobby daemon, gateway on $GATEWAY_ADDR (max ${READY_TIMEOUT}s)"
deadline=$((SECONDS + READY_TIMEOUT))
games=0 lobbies=0 gw=0
while :; do
  dead=$(dead_daemons)
  if [[ -n $dead ]]; then
    show_logs 20
    die "daemon(s) exited during start-up: $(echo "$dead" | tr '\n' ' ')"
  fi
  games=$(live_ids Game | wc -l)
  lobbies=$(live_ids Lobby | wc -l)
  gw=0; gateway_accepts && gw=1
  if ((games >= 2 && lobbies >= 1 && gw)); then break; fi
  if ((SECONDS >= deadline)); then
    show_logs 20
    die "cluster not ready after ${READY_TIMEOUT}s (games=$games lobbies=$lobbies gateway_accepting=$gw)"
  fi
  sleep 0.25
done
say "cluster ready: $games game, $lobbies lobby daemon(s); gateway accepting on $GATEWAY_ADDR"
print_addresses() {
  say "client addresses: tcp 127.0.0.1:$GATEWAY_PORT   tls 127.0.0.1:$TLS_PORT   ws://127.0.0.1:$WS_PORT/   wss://127.0.0.1:$WSS_PORT/   (certificate: $TLS_CERT_FILE, self-signed)"
}
print_addresses
sleep 1  # let the gateway finish its links to the backends it just discovered

# ---------------------------------------------------------------- browser client, cluster page
WEB_PORT=${WEB_PORT:-8080}
CONSOLE_PORT=${CONSOLE_PORT:-8090}
record_exec() { # web.sh execs node or clusterctl: record that binary for stop_stale
  local pid=${PIDS[-1]} exe="" i
  for i in {1..20}; do
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 0
    case $exe in */bash | */env | */setsid) sleep 0.1 ;; *) break ;; esac
  done
  sed -i "s#^$pid .*#$pid $exe#" "$PIDFILE"
}
if command -v npm >/dev/null && scripts/web.sh --build >"$LOGS/web-build.log" 2>&1; then
  start_daemon web-game scripts/web.sh "127.0.0.1:$WEB_PORT" WEB_SERVE=game && record_exec
  start_daemon web-console scripts/web.sh "127.0.0.1:$CONSOLE_PORT" WEB_SERVE=console && record_exec
  WEB_URLS="game: http://127.0.0.1:$WEB_PORT/?gw=ws://127.0.0.1:$WS_PORT/   cluster page: http://127.0.0.1:$CONSOLE_PORT/"
else
  WEB_URLS="(browser client and cluster page not built: see .local/logs/web-build.log)"
fi
say "$WEB_URLS"

# ---------------------------------------------------------------- bot
rm -f "$LOCAL/bot.json"
say "bot: --scenario echo --bots $BOTS --duration $BOT_DURATION"
BOT_RC=0
"$BOT" --scenario echo --gateway "$GATEWAY_ADDR" --bots "$BOTS" --duration "$BOT_DURATION" \
  --json "$LOCAL/bot.json" </dev/null 2>&1 | tee "$LOGS/bot.log" || BOT_RC=${PIPESTATUS[0]}
say "bot exited with status $BOT_RC"
if [[ -s $LOCAL/bot.json ]]; then
  echo "---- .local/bot.json"
  cat "$LOCAL/bot.json"; echo
fi
# The lobby path too: accounts in PostgreSQL (argon2id), sessions and rooms in Redis, starts
# placed on the game daemons.
LOBBY_BOTS=${LOBBY_BOTS:-10}
say "bot: --scenario lobby --bots $LOBBY_BOTS --duration 8 (register, log in, rooms, ready, start, chat, leave)"
LOBBY_RC=0
"$BOT" --scenario lobby --gateway "$GATEWAY_ADDR" --bots "$LOBBY_BOTS" --duration 8 \
  --json "$LOCAL/bot-lobby.json" </dev/null 2>&1 | tee "$LOGS/bot-lobby.log" || LOBBY_RC=${PIPESTATUS[0]}
say "lobby bot exited with status $LOBBY_RC"
[[ $BOT_RC -ne 0 ]] || BOT_RC=$LOBBY_RC

# ---------------------------------------------------------------- registry + logs
print_registry() {
  local type key id now field value
  local -A h
  now=$(date +%s%3N)
  for type in Gateway Lobby Game; do
    key=${REDIS_PREFIX}Server:$type
    echo "---- $key: $(rcli LRANGE "$key" 0 -1 2>/dev/null | tr '\n' ' ')"
    for id in $(rcli LRANGE "$key" 0 -1 2>/dev/null); do
      h=()
      while IFS= read -r field && IFS= read -r value; do
        h[$field]=$value
      done < <(rcli HGETALL "$key:$id" 2>/dev/null)
      if ((${#h[@]} == 0)); then
        echo "  $type:$id  (hash expired)"
        continue
      fi
      printf '  %s:%s  address=%s port=%s status=%s players=%s games=%s heartbeat=%s (%s ms ago)\n' \
        "$type" "$id" "${h[address]:-?}" "${h[port]:-?}" "${h[status]:-?}" "${h[players]:-?}" \
        "${h[games]:-?}" "${h[heartbeat]:-?}" \
        "$([[ ${h[heartbeat]:-} =~ ^[0-9]+$ ]] && echo $((now - h[heartbeat])) || echo '?')"
    done
  done
}
echo "==== registry (prefix '${REDIS_PREFIX}')"
print_registry
echo "==== daemon logs"
show_logs 10

dead=$(dead_daemons)
if [[ -n $dead ]]; then
  say "daemon(s) no longer running: $(echo "$dead" | tr '\n' ' ')"
  ((BOT_RC != 0)) || BOT_RC=1
fi

if ((ONCE)); then
  say "stopping (--once or no terminal)"
  exit "$BOT_RC"
fi

echo
echo "cluster running; Ctrl-C stops everything"
echo "  gateway tcp $GATEWAY_ADDR   tls 127.0.0.1:$TLS_PORT   ws://127.0.0.1:$WS_PORT/   wss://127.0.0.1:$WSS_PORT/"
echo "  TLS certificate (self-signed, trust it or skip verification): $TLS_CERT_FILE"
echo "  REDIS_URL=$REDIS_URL   DATABASE_URL='$DATABASE_URL'   REDIS_PREFIX=$REDIS_PREFIX"
((HA)) && echo "  REDIS_SENTINELS=$REDIS_SENTINELS REDIS_MASTER_NAME=cluster (clusterctl reads them too); kill -9 \$(cat .local/redis/redis.pid) fails over"
echo "  $WEB_URLS"
echo "  logs: .local/logs/   bot again: $BOT --scenario echo --gateway $GATEWAY_ADDR --bots 50 --duration 5"
while :; do
  wait -n "${PIDS[@]}" || true
  dead=$(dead_daemons)
  if [[ -n $dead ]]; then
    show_logs 20
    die "daemon(s) exited: $(echo "$dead" | tr '\n' ' ')"
  fi
done
