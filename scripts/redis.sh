#!/usr/bin/env bash
# A private Redis server in a data folder of our own, on 127.0.0.1:PORT.
#
#   scripts/redis.sh start DATADIR PORT   start (daemonized, no persistence), wait for PONG;
#                                         prints the REDIS_URL on stdout: redis://127.0.0.1:PORT
#   scripts/redis.sh stop DATADIR         SHUTDOWN NOSAVE, else kill by pidfile; fine if not running
#   scripts/redis.sh start-replica DATADIR PORT MASTER_PORT
#                                         a replica of 127.0.0.1:MASTER_PORT; prints its URL
#   scripts/redis.sh start-sentinel DATADIR PORT MASTER_PORT NAME
#                                         a Sentinel (redis-sentinel, config in
#                                         DATADIR/sentinel.conf) watching master NAME at
#                                         127.0.0.1:MASTER_PORT: quorum 2, down after 2 s;
#                                         prints 127.0.0.1:PORT
#
# REDIS_PASSWORD (optional): the server and its replica get requirepass (and masterauth), a
# Sentinel `sentinel auth-pass`, and the printed URL carries it: redis://default:PASSWORD@127.0.0.1:PORT
# (letters, digits, - and _ only: it goes into a URL). docs/operations.md, "Protecting the
# registry".
#
# Only the URL goes to stdout; progress goes to stderr.
set -euo pipefail

log() { echo "redis.sh: $*" >&2; }
die() { log "$*"; exit 1; }
usage() { die "usage: $0 start DATADIR PORT | start-replica DATADIR PORT MASTER_PORT | start-sentinel DATADIR PORT MASTER_PORT NAME | stop DATADIR"; }

command -v redis-server >/dev/null 2>&1 || die "redis-server not found (run scripts/deps.sh)"
command -v redis-cli >/dev/null 2>&1 || die "redis-cli not found (run scripts/deps.sh)"

alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }

PW=${REDIS_PASSWORD:-}
if [[ -n $PW ]]; then
  [[ $PW =~ ^[A-Za-z0-9_-]+$ ]] || die "REDIS_PASSWORD: letters, digits, - and _ only (it goes into REDIS_URL)"
  export REDISCLI_AUTH=$PW # every redis-cli below authenticates
fi
# "default:" (Redis's default user): redis-cli -u and the daemons both read it
url() { if [[ -n $PW ]]; then echo "redis://default:$PW@127.0.0.1:$1"; else echo "redis://127.0.0.1:$1"; fi; }

# The pid of the redis-server answering on PORT (empty if none answers).
answering_pid() {
  timeout 2 redis-cli -h 127.0.0.1 -p "$1" INFO server 2>/dev/null | tr -d '\r' | sed -n 's/^process_id://p'
}

cmd_start() {
  local data port pidfile pid i mode=${MODE:-server} extra=()
  [[ $# -eq 2 ]] || usage
  data=$(realpath -m -- "$1")
  port=$2
  if ! [[ $port =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then die "bad port: $port"; fi
  mkdir -p "$data"
  pidfile=$data/redis.pid

  pid=$(cat "$pidfile" 2>/dev/null || true)
  if alive "$pid"; then
    if [[ $(answering_pid "$port") == "$pid" ]]; then
      log "already running (pid $pid) on 127.0.0.1:$port"
      url "$port"
      return 0
    fi
    die "a redis-server (pid $pid) from $data is running but not on port $port; stop it first"
  fi
  rm -f "$pidfile"
  if [[ -n $(answering_pid "$port") ]]; then
    die "port $port is already served by another Redis (pid $(answering_pid "$port"))"
  fi

  echo "$port" >"$data/redis.port"
  : >"$data/redis.log"
  if [[ $mode == sentinel ]]; then
    # Sentinel rewrites its config file: a fresh one each start, in the data folder.
    printf 'port %s\nbind 127.0.0.1\ndir %s\nsentinel monitor %s 127.0.0.1 %s 2\n' \
      "$port" "$data" "$SENTINEL_MASTER_NAME" "$SENTINEL_MASTER_PORT" >"$data/sentinel.conf"
    printf 'sentinel down-after-milliseconds %s 2000\nsentinel failover-timeout %s 10000\n' \
      "$SENTINEL_MASTER_NAME" "$SENTINEL_MASTER_NAME" >>"$data/sentinel.conf"
    [[ -n $PW ]] && printf 'sentinel auth-pass %s %s\n' "$SENTINEL_MASTER_NAME" "$PW" >>"$data/sentinel.conf"
    unset REDISCLI_AUTH # the Sentinel itself has no password
    echo sentinel >"$data/redis.mode"
    command -v redis-sentinel >/dev/null 2>&1 || die "redis-sentinel not found (run scripts/deps.sh)"
    redis-sentinel "$data/sentinel.conf" --daemonize yes \
      --pidfile "$pidfile" --logfile "$data/redis.log" >&2
  else
    [[ $mode == replica ]] && extra=(--replicaof 127.0.0.1 "$REPLICA_OF")
    # REDIS_AOF=1: the append-only file, fsynced every second: the pending match records (and
    # the rest) survive a Redis restart, losing at most the last second (docs/faults.md). The
    # tests leave it off: they restart Redis empty on purpose.
    local persist=(--appendonly no)
    [[ ${REDIS_AOF:-0} == 1 ]] && persist=(--appendonly yes --appendfsync everysec)
    [[ -n $PW ]] && extra+=(--requirepass "$PW" --masterauth "$PW")
    echo "$mode" >"$data/redis.mode"
    redis-server --port "$port" --bind 127.0.0.1 --daemonize yes \
      --dir "$data" --save '' "${persist[@]}" "${extra[@]}" \
      --pidfile "$pidfile" --logfile "$data/redis.log" >&2
  fi

  for i in $(seq 1 100); do   # 10 s
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if alive "$pid" && [[ $(timeout 2 redis-cli -h 127.0.0.1 -p "$port" PING 2>/dev/null) == PONG ]] \
       && [[ $(answering_pid "$port") == "$pid" ]]; then
      log "started $mode (pid $pid) on 127.0.0.1:$port"
      if [[ $mode == sentinel ]]; then echo "127.0.0.1:$port"; else url "$port"; fi
      return 0
    fi
    if grep -qE 'Could not create server TCP listening socket|Failed listening|FATAL' "$data/redis.log" 2>/dev/null; then
      break
    fi
    sleep 0.1
  done
  log "redis-server did not come up on 127.0.0.1:$port; last lines of $data/redis.log:"
  tail -n 20 "$data/redis.log" >&2 || true
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if alive "$pid"; then kill "$pid" 2>/dev/null || true; fi
  exit 1
}

cmd_stop() {
  local data pidfile pid port i
  [[ $# -eq 1 ]] || usage
  data=$(realpath -m -- "$1")
  pidfile=$data/redis.pid
  pid=$(cat "$pidfile" 2>/dev/null || true)
  port=$(cat "$data/redis.port" 2>/dev/null || true)
  if ! alive "$pid"; then
    rm -f "$pidfile"
    log "not running ($data)"
    return 0
  fi
  # SHUTDOWN only if the server on that port is really ours (and not a Sentinel); else signal
  # our pid.
  if [[ -n $port && $(cat "$data/redis.mode" 2>/dev/null) != sentinel && $(answering_pid "$port") == "$pid" ]]; then
    timeout 5 redis-cli -h 127.0.0.1 -p "$port" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
  else
    kill -TERM "$pid" 2>/dev/null || true
  fi
  for i in $(seq 1 100); do
    alive "$pid" || break
    ((i == 50)) && kill -TERM "$pid" 2>/dev/null
    sleep 0.1
  done
  if alive "$pid"; then
    log "still alive after 10 s: SIGKILL $pid"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
  log "stopped ($data)"
}

[[ $# -ge 1 ]] || usage
action=$1; shift
case $action in
  start) cmd_start "$@" ;;
  start-replica)
    [[ $# -eq 3 ]] || usage
    MODE=replica REPLICA_OF=$3 cmd_start "$1" "$2" ;;
  start-sentinel)
    [[ $# -eq 4 ]] || usage
    MODE=sentinel SENTINEL_MASTER_PORT=$3 SENTINEL_MASTER_NAME=$4 cmd_start "$1" "$2" ;;
  stop) cmd_stop "$@" ;;
  *) usage ;;
esac
