#!/usr/bin/env bash
# A private PostgreSQL server in a data folder of our own, on a port of our own.
#
#   scripts/pg.sh start DATADIR PORT   initdb if needed, start, create database "cluster";
#                                      prints the DATABASE_URL (libpq conninfo) on stdout:
#                                      host=127.0.0.1 port=PORT user=postgres dbname=cluster
#   scripts/pg.sh stop DATADIR         fast shutdown; fine if it isn't running
#   scripts/pg.sh status DATADIR       exit 0 if running
#
# Binaries come from the highest /usr/lib/postgresql/*/bin, not PATH. PostgreSQL refuses to
# run as root: as root, DATADIR is owned by the "postgres" system user and every server
# command runs through runuser. Only the conninfo goes to stdout; progress goes to stderr.
set -euo pipefail

log() { echo "pg.sh: $*" >&2; }
die() { log "$*"; exit 1; }
usage() { die "usage: $0 start DATADIR PORT | stop DATADIR | status DATADIR"; }

find_bindir() {
  local d best=""
  for d in /usr/lib/postgresql/*/bin; do
    [[ -x $d/pg_ctl ]] || continue
    best+="$d"$'\n'
  done
  [[ -n $best ]] || die "no PostgreSQL server found in /usr/lib/postgresql/*/bin (run scripts/deps.sh)"
  printf '%s' "$best" | sort -V | tail -n 1
}

BIN=$(find_bindir)
# Keep the caller's libpq settings from steering our own commands elsewhere.
unset PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGSERVICE PGSERVICEFILE PGOPTIONS PGPASSFILE PGSSLMODE PGDATA

# run_as USER CMD...: run as USER (only switches user when we are root).
run_as() {
  local user=$1; shift
  if ((EUID == 0)) && [[ $user != root ]]; then
    if command -v runuser >/dev/null 2>&1; then
      runuser -u "$user" -- "$@"
    else
      su "$user" -s /bin/sh -c "$(printf '%q ' "$@")"
    fi
  else
    "$@"
  fi
}

# The user who owns the server: postgres when we are root, else ourselves.
server_user() {
  if ((EUID == 0)); then
    if ! id postgres >/dev/null 2>&1; then
      log "creating system user postgres"
      useradd --system --home-dir /var/lib/postgresql --shell /bin/bash --user-group postgres
    fi
    echo postgres
  else
    id -un
  fi
}

# Every ancestor of DATADIR must be traversable by the server user (mktemp -d makes 0700 dirs).
make_traversable() {
  local user=$1 dir=$2
  local chain=() i
  ((EUID == 0)) || return 0
  while [[ $dir != / && -n $dir ]]; do
    chain+=("$dir")
    dir=$(dirname "$dir")
  done
  for ((i = ${#chain[@]} - 1; i >= 0; i--)); do   # top-down
    if ! run_as "$user" test -x "${chain[i]}" 2>/dev/null; then
      log "chmod o+x ${chain[i]} (so $user can reach the data folder)"
      chmod o+x "${chain[i]}"
    fi
  done
}

pgctl_status() { # exit 0 running, 3 not running, 4 no data dir
  local owner=$1 data=$2
  run_as "$owner" "$BIN/pg_ctl" -D "$data" status >/dev/null 2>&1
}

cmd_start() {
  local data port user parent sockdir opts
  [[ $# -eq 2 ]] || usage
  data=$(realpath -m -- "$1")
  port=$2
  if ! [[ $port =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then die "bad port: $port"; fi
  user=$(server_user)

  parent=$(dirname "$data")
  mkdir -p "$parent"
  make_traversable "$user" "$parent"
  if [[ ! -d $data ]]; then
    mkdir -m 700 "$data"
  fi
  if ((EUID == 0)); then
    chown "$user:" "$data"
  fi
  chmod 700 "$data"

  if [[ ! -f $data/PG_VERSION ]]; then
    log "initdb $data ($BIN)"
    if ! run_as "$user" "$BIN/initdb" -D "$data" -A trust -U postgres --no-sync -E UTF8 \
         --locale=C.UTF-8 >"/tmp/pg-initdb.$$.log" 2>&1 \
       && ! run_as "$user" "$BIN/initdb" -D "$data" -A trust -U postgres --no-sync -E UTF8 \
         --locale=C >"/tmp/pg-initdb.$$.log" 2>&1; then
      cat "/tmp/pg-initdb.$$.log" >&2
      rm -f "/tmp/pg-initdb.$$.log"
      die "initdb failed"
    fi
    rm -f "/tmp/pg-initdb.$$.log"
  fi

  if pgctl_status "$user" "$data"; then
    log "already running in $data"
    local running_port
    running_port=$(sed -n 4p "$data/postmaster.pid" 2>/dev/null || true)
    if [[ -n $running_port && $running_port != "$port" ]]; then
      die "server in $data is running on port $running_port, not $port; stop it first"
    fi
  else
    # Unix socket in the data dir, unless its path would be too long for sun_path (108);
    # then TCP only. Single quotes: pg_ctl hands -o to a shell.
    sockdir=$data
    if (( ${#data} + 20 > 100 )); then sockdir=""; fi
    opts="-p $port -k '$sockdir' -c listen_addresses=127.0.0.1 -c fsync=off"
    opts+=" -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    log "starting on 127.0.0.1:$port"
    if ! run_as "$user" "$BIN/pg_ctl" -D "$data" -l "$data/log" -o "$opts" -w -t 60 start >&2; then
      log "start failed; last lines of $data/log:"
      tail -n 20 "$data/log" >&2 || true
      exit 1
    fi
  fi

  local psql=("$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres)
  local ok=0 i
  for i in $(seq 1 50); do
    if "${psql[@]}" -tAc 'SELECT 1' >/dev/null 2>&1; then ok=1; break; fi
    sleep 0.2
  done
  ((ok)) || die "server does not answer on 127.0.0.1:$port"
  if [[ $("${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = 'cluster'") != 1 ]]; then
    "${psql[@]}" -c 'CREATE DATABASE cluster' >/dev/null
    log "created database cluster"
  fi
  echo "host=127.0.0.1 port=$port user=postgres dbname=cluster"
}

# cluster_at DIR: sets the caller's data (DIR made absolute) and owner (the user who owns the
# cluster in it). Returns 1 when DIR holds no cluster.
cluster_at() {
  data=$(realpath -m -- "$1")
  [[ -f $data/PG_VERSION ]] || return 1
  owner=$(stat -c %U "$data")
}

cmd_stop() {
  local data owner
  [[ $# -eq 1 ]] || usage
  if ! cluster_at "$1"; then
    log "no cluster in $data; nothing to stop"
    return 0
  fi
  if ! pgctl_status "$owner" "$data"; then
    log "not running ($data)"
    return 0
  fi
  if ! run_as "$owner" "$BIN/pg_ctl" -D "$data" -m fast -w -t 60 stop >&2; then
    if pgctl_status "$owner" "$data"; then
      die "could not stop the server in $data"
    fi
  fi
  log "stopped ($data)"
}

cmd_status() {
  local data owner
  [[ $# -eq 1 ]] || usage
  cluster_at "$1" || exit 3
  run_as "$owner" "$BIN/pg_ctl" -D "$data" status
}

[[ $# -ge 1 ]] || usage
action=$1; shift
case $action in
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  status) cmd_status "$@" ;;
  *) usage ;;
esac
