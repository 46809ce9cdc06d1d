#!/bin/bash
# run_long.sh: the long form of the partition/stall fault cases (not in CI): longer cuts and
# more bots than the CTest cases, one table at the end. Needs root (network namespaces) and a
# build (cmake --build build); BUILD=<dir> picks another build folder.
#   tests/faults/run_long.sh
# Columns: fault; players who saw MATCH_ABORTED; finished/started match records lost;
# duplicate records; time to recover in ms (link cut: from restore to the pushed snapshot /
# the link answering again; SIGSTOP: from SIGCONT to the gateway's link up again).
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD:-$here/../../build}
bin=$build/tests/faults
rows=$(mktemp)
failed=0
trap 'rm -f "$rows"' EXIT

# run <case> KEY=VALUE...: runs one case with the environment given; its row| lines are kept.
run() {
  local name=$1
  shift
  local log
  log=$(mktemp "/tmp/run_long.$name.XXXXXX")
  echo "== $name $*" >&2
  if env "$@" "$bin/fault_test_$name" >"$log" 2>&1; then
    echo "   ok (log $log)" >&2
  else
    local rc=$?
    if ((rc == 77)); then
      grep -m1 '^skipped' "$log" >&2
    else
      echo "   FAILED with $rc (log $log)" >&2
      failed=1
    fi
  fi
  grep '^row|' "$log" >>"$rows" || true
}

run netns_partition FAULT_CUT_SHORT_MS=3000 FAULT_CUT_LONG_MS=12000
run netns_partition FAULT_CUT_SHORT_MS=3500 FAULT_CUT_LONG_MS=30000
run netns_lobby
run stale_bind FAULT_BOTS=40 FAULT_STOP_MS=1500
run stale_bind FAULT_BOTS=80 FAULT_STOP_MS=3000
run stale_bind FAULT_BOTS=120 FAULT_STOP_MS=6000

printf '\n| fault | players who saw an abort | records lost | duplicates | time to recover (ms) |\n'
printf '| --- | --- | --- | --- | --- |\n'
while IFS='|' read -r _ fault aborted lost dup recover; do
  printf '| %s | %s | %s | %s | %s |\n' "$fault" "$aborted" "$lost" "$dup" "$recover"
done <"$rows"
exit $failed
