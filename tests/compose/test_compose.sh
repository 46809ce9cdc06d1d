#!/usr/bin/env bash
# The container files, checked without a Docker engine (CTest: compose_config).
#
#   bash tests/compose/test_compose.sh SRC_DIR GATEWAYD LOBBYD GAMED [BOT]
#
# Validates docker-compose.yml with Debian's docker-compose (`config` needs no engine), checks
# that each service's environment names only variables its daemon reads (their --help), that
# the game service scales with `--scale game=N` alone, that the Dockerfile parses, installs
# packages that exist and the libraries the binaries link, and builds with the same cmake
# commands as scripts/up.sh, scripts/test.sh and docs/operations.md. The checks themselves are in
# check_compose.py (its docstring lists them); this wrapper checks the tools first.
set -euo pipefail

if (($# < 4)); then
  echo "usage: $0 SRC_DIR GATEWAYD LOBBYD GAMED [BOT]" >&2
  exit 2
fi

fail() { echo "test_compose: FAIL: $*" >&2; echo "0 passed, 1 failed"; exit 1; }

command -v docker-compose >/dev/null 2>&1 ||
  fail "docker-compose is not installed: the compose file cannot be validated." \
       "Install Debian's package (apt-get install docker-compose; scripts/deps.sh lists it)."
docker-compose version >/dev/null 2>&1 || fail "docker-compose is installed but does not run: $(docker-compose version 2>&1 | tail -1)"
python3 -c 'import yaml' 2>/dev/null ||
  fail "python3 with PyYAML is needed (Debian's python3-yaml, a dependency of docker-compose)"
for t in readelf ldd dpkg dpkg-query apt-cache; do
  command -v "$t" >/dev/null 2>&1 || fail "$t is not installed"
done
for f in Dockerfile .dockerignore docker-compose.yml .env.example; do
  [[ -f $1/$f ]] || fail "$1/$f is missing"
done

exec python3 "$(dirname "${BASH_SOURCE[0]}")/check_compose.py" "$@"
