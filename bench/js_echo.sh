#!/usr/bin/env bash
# ECHO round trip p50/p99 of the JS client library in Node over ws, wss and tcp vs the C bot
# over TCP, in the same run against one real cluster (redis-server, PostgreSQL, gatewayd with
# WS and WSS listeners, lobbyd, gamed on free loopback ports).
#   bench/js_echo.sh [--no-build]     ECHO_COUNT (5000) requests per client, ROUNDS (2) rounds
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ${1:-} != --no-build ]]; then
  scripts/deps.sh >/dev/null
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null && cmake --build build -j2 >/dev/null
fi
if [[ ! -d clients/js/node_modules || clients/js/package-lock.json -nt clients/js/node_modules/.package-lock.json ]]; then
  (cd clients/js && npm ci --no-audit --no-fund --loglevel=error)
fi
(cd clients/js && npm run --silent proto)
tmp=$(mktemp -d /tmp/js-echo-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
scripts/make-cert.sh "$tmp" >/dev/null 2>&1
CERT=$tmp/cert.pem KEY=$tmp/key.pem node bench/js_echo.mjs
