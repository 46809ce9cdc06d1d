#!/usr/bin/env bash
# Serves the browser client or the cluster page on LISTEN_ADDR (host:port), for scripts/up.sh:
#   WEB_SERVE=game    LISTEN_ADDR=127.0.0.1:8080 scripts/web.sh   clients/web/dist (node)
#   WEB_SERVE=console LISTEN_ADDR=127.0.0.1:8090 scripts/web.sh   clusterctl web (REDIS_URL, REDIS_PREFIX)
#   scripts/web.sh --build    npm ci where needed, then bundle clients/web and clients/console
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [[ ${1:-} == --build ]]; then
  for d in clients/js clients/web clients/console; do
    if [[ ! -d $ROOT/$d/node_modules || $ROOT/$d/package-lock.json -nt $ROOT/$d/node_modules/.package-lock.json ]]; then
      (cd "$ROOT/$d" && npm ci --no-audit --no-fund --loglevel=error)
    fi
  done
  (cd "$ROOT/clients/web" && npm run --silent build) && (cd "$ROOT/clients/console" && npm run --silent build)
  exit
fi
host=${LISTEN_ADDR%:*} port=${LISTEN_ADDR##*:}
case ${WEB_SERVE:-} in
  game) exec node "$ROOT/clients/web/serve.mjs" "$port" "$host" ;;
  console) exec "$ROOT/build/src_ctl/clusterctl" web --listen "$LISTEN_ADDR" --static "$ROOT/clients/console/dist" ;;
  *) echo "web.sh: WEB_SERVE=game or console" >&2; exit 2 ;;
esac
