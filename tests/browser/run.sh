#!/usr/bin/env bash
# The browser test outside CI (and from CTest): builds what it needs, then plays the browser
# client in headless Chromium against a real cluster. Screenshots stay in
# tests/browser/artifacts (or ARTIFACTS_DIR) for a person to look at.
#   tests/browser/run.sh [BUILD_DIR]     (default: build; the daemons and clusterctl must be built)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
export CLUSTER_BUILD_DIR=${1:-${CLUSTER_BUILD_DIR:-$repo/build}}
need_ci() { [[ ! -d $1/node_modules || $1/package-lock.json -nt $1/node_modules/.package-lock.json ]]; }
for d in clients/js clients/web clients/console tests/browser; do
  if need_ci "$repo/$d"; then (cd "$repo/$d" && npm ci --no-audit --no-fund); fi
done
(cd "$repo/clients/js" && npm run --silent proto)
(cd "$repo/clients/web" && npm run --silent build)
(cd "$repo/clients/console" && npm run --silent build)
[[ -x /usr/bin/chromium || -n ${CHROME_PATH:-} ]] || { echo "no chromium (scripts/deps.sh installs it)" >&2; exit 1; }
cd "$repo/tests/browser" && exec node browser.test.mjs
