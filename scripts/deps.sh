#!/usr/bin/env bash
# Install the Debian 12 packages the build, the tests and the local cluster need.
# Idempotent: asks dpkg what is missing and only then runs apt-get (update once + install).
# Never starts a service: while installing, a policy-rc.d that denies service starts is put
# in place (unless one already exists).
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config
  clang libclang-rt-14-dev llvm-14         # libFuzzer + ASan runtimes for clang; llvm-symbolizer
  libuv1-dev libhiredis-dev libprotobuf-c-dev protobuf-c-compiler
  libpq-dev libsodium-dev uthash-dev
  libprotobuf-dev                          # descriptor.proto, for protobuf-c's c_package option
  libmicrohttpd-dev libcurl4-openssl-dev   # admin HTTP endpoint (daemons), clusterctl's HTTP client
  libssl-dev openssl                       # gateway TLS/wss (OpenSSL 3); openssl CLI: up.sh's local certificate, tests' s_client
  libwslay-dev libhttp-parser-dev          # gateway WebSocket: wslay frames, http-parser for the upgrade request
  python3 python3-websocket                # transport tests: independent TLS (ssl) and WebSocket (websocket-client) clients
  docker-compose                           # tests/compose: validates docker-compose.yml (no engine needed)
  redis-server redis-tools postgresql
  redis-sentinel                           # up.sh --ha, tests/faults/test_sentinel.c (Redis Sentinel)
  procps util-linux coreutils
  lua5.4                                   # tests/modules: plays the example game modules stand-alone
  liblua5.4-dev                            # gamed: the game modules' Lua runtime (src_game/modrt.c)
  nodejs                                   # clients/js and clients/web: build, npm test, esbuild
  chromium fonts-dejavu-core               # tests/browser: headless Chromium for puppeteer-core
)

installed() {
  # dpkg -s exits 0 for packages that are only "config-files" too: check the status line.
  dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed'
}

missing=()
for p in "${PKGS[@]}"; do
  installed "$p" || missing+=("$p")
done
# Debian's npm, unless a nodejs that bundles its own npm (NodeSource's "Provides: npm") is here.
command -v npm >/dev/null 2>&1 || missing+=(npm)

if ((${#missing[@]} == 0)); then
  echo "deps: all ${#PKGS[@]} packages already installed"
  exit 0
fi

SUDO=()
if ((EUID != 0)); then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    echo "deps: missing packages (${missing[*]}) and not root (no sudo); install them first" >&2
    exit 1
  fi
fi

POLICY=/usr/sbin/policy-rc.d
made_policy=0
cleanup() {
  if ((made_policy)); then "${SUDO[@]}" rm -f "$POLICY"; fi
}
trap cleanup EXIT
if [[ ! -e $POLICY ]]; then
  # exit 101 = "action forbidden": apt's maintainer scripts won't start redis/postgresql
  printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$POLICY" >/dev/null
  "${SUDO[@]}" chmod 755 "$POLICY"
  made_policy=1
fi

# apt_locked CMD...: runs an apt-get command, waiting (up to 15 minutes) while another install
# holds the package lock instead of failing at once.
apt_locked() {
  local tries=0 err
  err=$(mktemp)
  while :; do
    if "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive "$@" -o DPkg::Lock::Timeout=60 2>"$err"; then
      rm -f "$err"; return 0
    fi
    if grep -qiE 'lock|dpkg was interrupted' "$err" && ((++tries < 15)); then
      echo "deps: the package lock is held by another install; waiting" >&2
      sleep 5; continue
    fi
    cat "$err" >&2; rm -f "$err"; return 1
  done
}

echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt_locked apt-get update -qq
apt_locked apt-get install -y -qq --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" >&2

still=()
for p in "${missing[@]}"; do installed "$p" || still+=("$p"); done
if ((${#still[@]})); then
  echo "deps: FAILED to install: ${still[*]}" >&2
  exit 1
fi
echo "deps: installed ${#missing[@]} package(s): ${missing[*]}"
