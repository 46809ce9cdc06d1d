#!/usr/bin/env bash
# npm ci when needed, then npm test, in the package folder given ($1). Used by CTest.
set -euo pipefail
cd "$1"
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
fi
exec npm test
