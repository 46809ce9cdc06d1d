#!/usr/bin/env bash
# Compares two builds on every benchmark of bench/README.md in one session: the baseline
# commit's binaries (--base REV, default 36f96b3) against the current build (build/, the
# new side), each benchmark run with the one and with the other, alternated
# (base, new, base, new, ...: --rounds N rounds). Prints one table: benchmark, figure, base
# (median of the rounds), new (median), new/base. It reports; it does not judge: exit 0 once
# it prints the table (failed runs are listed under it), non-zero only if a build fails.
#
#   bench/compare.sh [--base REV] [--rounds N] [--select "hop,login"] [--no-build] [--tiny]
#
# Base: REV is checked out in a temporary git worktree (git worktree add --detach) and built
# there (cmake RelWithDebInfo, only the targets the benchmarks run: gatewayd, lobbyd, gamed,
# bot, echo_server, failover_probe); the worktree is removed on exit, Ctrl-C included.
# New: build/ (BUILD_DIR), brought up to date for the same targets (unless --no-build: then
# it must be built already). The new side is the working tree as built, not just HEAD.
#
# The same load generator drives both sides: each side runs from a folder of its own with
# copies of its servers (gatewayd, lobbyd, gamed, echo_server) and of the NEW side's clients
# (bot, failover_probe), passed to the benchmark scripts as BUILD_DIR (hop.sh also BOT_BIN,
# js_echo.sh CLUSTER_BUILD_DIR). Copies: a rebuild of build/ during the run can't swap a
# binary under it. The benchmark scripts themselves are the current tree's for both sides.
#
# Settings (about 20 minutes at the defaults on 2 cores, the base build included; a run takes
# about 15 to 65 s, each runs 2 x --rounds times):
#   hop            --paths ours --clients "1 100 1000" --reps 1 --duration 5 --no-perf --no-handshakes
#   game_capacity  --mode arena --steps "2000 6000 10000" --no-perf
#   connections    --steps 10000 --xport-conns 0, WINDOW=20 (one PING interval)
#   failover       --reps 8 (4 kill -9, 4 kill -STOP), MATCH_LINK_GRACE_MS=0 (below)
#   login          --rounds 1, WINDOW=10, VARIANTS=0 (the shipped hashing pool only)
#   js_echo        ECHO_COUNT=5000, ROUNDS=1
# --tiny: the smallest settings (seconds per run), to check that the command works, not to
# measure anything.
#
# Figures (each parsed from the script's own table on its stdout; every run's stdout and
# stderr are kept in the temp dir with KEEP_TMP=1):
#   hop            req/s and p99 ms of the "ours" rows, per clients x in flight
#   game_capacity  the "capacity:" line (players at 20 Hz with tick p99 < 10 ms; at most the
#                  largest step), and tick p50 and p99 ms per step
#   connections    the gateway's RSS and heap bytes per idle connection
#   failover       last player told, median and max ms, per signal (KILL, STOP), and last echo
#                  error median and max ms (the echo clients are told too)
#   login          logins/s, echo p50 and p99 ms during the storm (the "shipped:" line)
#   js_echo        p50 and p99 ms of the JS client over ws and wss
# A figure a run did not print ("-") counts as missing; the median is over the runs that have it.
# A run that exits non-zero is run once more (both tries are listed in the run times).
#
# failover runs with MATCH_LINK_GRACE_MS=0 on both sides: the links merge (541d91d, after
# 36f96b3) keeps a lost game link's sessions bound for 5 s by default, longer than the
# script's 3 s watch after kill -STOP, so the new side's players would never count as told
# there; 0 ("abort at once") is the base's behaviour (the base gateway ignores the variable).
#
# Environment: BUILD_DIR (build: the new side), KEEP_TMP=1 (keep the temp dir: every run's
# output, the base worktree is still removed).

# shellcheck disable=SC2317 # run_*, parse_* and on_cleanup are called indirectly
set -euo pipefail
# shellcheck source=scripts/lib/opts.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/opts.sh"

BASE_REV=36f96b3 CMP_ROUNDS=2 SELECT="" BUILD=1 TINY=0
parse_opts --base=BASE_REV --rounds=CMP_ROUNDS --select=SELECT --no-build:BUILD=0 --tiny:TINY=1 -- "$@"
opts_count "$CMP_ROUNDS" --rounds
NEW_BUILD=${BUILD_DIR:-build}

ALL_BENCHES="hop game_capacity connections failover login js_echo"
BENCHES=()
for b in ${SELECT//,/ }; do
  [[ " $ALL_BENCHES " == *" $b "* ]] || opts_fail "--select: unknown benchmark $b (one of: $ALL_BENCHES)"
  BENCHES+=("$b")
done
if ((${#BENCHES[@]} == 0)); then read -ra BENCHES <<<"$ALL_BENCHES"; fi

BENCH_NAME=compare
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

SERVERS=(src_gateway/gatewayd src_lobby/lobbyd src_game/gamed bench/echo_server)
CLIENTS=(src_bot/bot bench/failover_probe)
TARGETS=(gatewayd lobbyd gamed bot echo_server failover_probe)
WT=""

on_cleanup() {
  if [[ -n $WT ]]; then
    git -C "$ROOT" worktree remove --force "$WT" >/dev/null 2>&1 || true
    git -C "$ROOT" worktree prune >/dev/null 2>&1 || true
  fi
}

make_tmp compare
LOAD_BEFORE=$(loadavg)
BASE_SHA=$(git rev-parse --verify --quiet "$BASE_REV^{commit}") || die "--base: no commit $BASE_REV"
NEW_SHA=$(git rev-parse HEAD)
NEW_DIRTY=""
# (changes to the benchmark scripts and the docs don't change what is built)
if [[ -n $(git status --porcelain --untracked-files=no -- . ':!*.md' ':!bench/*.sh' ':!bench/*.mjs') ]]; then
  NEW_DIRTY=" (+ uncommitted changes)"
fi

# ---------------------------------------------------------------- the two builds
build_targets() { # SRC BUILDDIR
  cmake -S "$1" -B "$2" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$TMP/cmake-$(basename "$2").log" 2>&1 ||
    { tail -n 20 "$TMP/cmake-$(basename "$2").log" >&2; die "cmake configure of $1 failed"; }
  cmake --build "$2" -j"$NCPU" --target "${TARGETS[@]}" >>"$TMP/cmake-$(basename "$2").log" 2>&1 ||
    { tail -n 30 "$TMP/cmake-$(basename "$2").log" >&2; die "build of $1 failed"; }
}

T_BUILD=$SECONDS
if ((BUILD)); then
  say "building the new side: $NEW_BUILD (${TARGETS[*]})"
  build_targets "$ROOT" "$NEW_BUILD"
fi
WT=$TMP/base-src
say "checking out ${BASE_SHA:0:7} in a temporary worktree ($WT)"
git worktree add --detach "$WT" "$BASE_SHA" >/dev/null 2>&1 || die "git worktree add $WT $BASE_SHA failed"
say "building the base side: ${BASE_SHA:0:7} (${TARGETS[*]})"
build_targets "$WT" "$TMP/base-build"
T_BUILD=$((SECONDS - T_BUILD))

side_dir() { # NAME SERVER_BUILD: TMP/side-NAME with SERVER_BUILD's servers and the new clients
  local d=$TMP/side-$1 f
  for f in "${SERVERS[@]}"; do
    [[ -x $2/$f ]] || die "$2/$f not built"
    mkdir -p "$d/$(dirname "$f")"
    cp "$2/$f" "$d/$f"
  done
  for f in "${CLIENTS[@]}"; do
    [[ -x $NEW_BUILD/$f ]] || die "$NEW_BUILD/$f not built"
    mkdir -p "$d/$(dirname "$f")"
    cp "$NEW_BUILD/$f" "$d/$f"
  done
}
side_dir base "$TMP/base-build"
side_dir new "$NEW_BUILD"
# shellcheck disable=SC2034 # read through ${!dir_var}
DIR_base=$TMP/side-base DIR_new=$TMP/side-new

# ---------------------------------------------------------------- the runs
# run_BENCH DIR: the benchmark against DIR's binaries, its table on stdout
run_hop() {
  local a=(--clients "1 100 1000" --duration 5)
  ((TINY)) && a=(--clients 1 --duration 1)
  BUILD_DIR=$1 BOT_BIN=$1/src_bot/bot bash bench/hop.sh --no-build --no-perf --no-handshakes \
    --reps 1 --paths ours "${a[@]}"
}
run_game_capacity() {
  if ((TINY)); then
    BUILD_DIR=$1 TICK_LINES=1 bash bench/game_capacity.sh --no-build --no-perf --mode arena --steps 250
  else
    BUILD_DIR=$1 bash bench/game_capacity.sh --no-build --no-perf --mode arena --steps "2000 6000 10000"
  fi
}
run_connections() {
  local steps=10000 window=20
  ((TINY)) && steps=1000 window=3
  BUILD_DIR=$1 WINDOW=$window bash bench/connections.sh --no-build --steps "$steps" --xport-conns 0
}
run_failover() { # MATCH_LINK_GRACE_MS=0: see the header
  local reps=8
  ((TINY)) && reps=1
  BUILD_DIR=$1 MATCH_LINK_GRACE_MS=0 bash bench/failover.sh --no-build --reps "$reps"
}
run_login() {
  local window=10
  ((TINY)) && window=3
  BUILD_DIR=$1 WINDOW=$window VARIANTS=0 bash bench/login.sh --no-build --rounds 1
}
run_js_echo() {
  local count=5000
  ((TINY)) && count=300
  BUILD_DIR=$1 CLUSTER_BUILD_DIR=$1 ECHO_COUNT=$count ROUNDS=1 bash bench/js_echo.sh --no-build
}

# parse_BENCH OUT: "figure<TAB>value" lines from a run's stdout ("-": not measured)
mdcols() { sed -n '/^|/p' "$1" | awk -F'|' '{ for (i = 2; i < NF; i++) { gsub(/^ +| +$/, "", $i) } print }' OFS='\t'; }
parse_hop() {
  mdcols "$1" | awk -F'\t' '$4 == "ours" && $2 ~ /^[0-9]+$/ {
    printf "ours %s clients x %s in flight: req/s\t%s\n", $2, $3, $5
    printf "ours %s clients x %s in flight: p99 ms\t%s\n", $2, $3, $7 }'
}
parse_game_capacity() {
  mdcols "$1" | awk -F'\t' 'NF >= 14 && $2 ~ /^[0-9]+$/ {
    printf "tick p50 ms at %s players\t%s\n", $2, $4
    printf "tick p99 ms at %s players\t%s\n", $2, $6 }'
  sed -n 's/^capacity: \([0-9]*\) players.*/capacity (players, tick p99 < 10 ms; capped by the largest step)\t\1/p' "$1"
}
parse_connections() {
  mdcols "$1" | awk -F'\t' 'NF >= 18 && $2 ~ /^[0-9]+$/ {
    printf "gateway RSS bytes per idle connection at %s\t%s\n", $2, $7
    printf "gateway heap bytes per idle connection at %s\t%s\n", $2, $8 }'
}
parse_failover() {
  mdcols "$1" | awk -F'\t' '$2 == "KILL" || $2 == "STOP" {
    printf "%s: last player told, median ms\t%s\n", $2, $8
    printf "%s: last player told, max ms\t%s\n", $2, $9
    printf "%s: last echo error, median ms\t%s\n", $2, $11
    printf "%s: last echo error, max ms\t%s\n", $2, $12 }'
}
parse_login() {
  sed -n 's/^shipped: logins\/s \([0-9.]*\); echo p50 \([0-9.]*\) ms.* p99 \([0-9.]*\) ms.*/storm: logins\/s\t\1\nstorm: echo p50 ms\t\2\nstorm: echo p99 ms\t\3/p' "$1"
}
parse_js_echo() {
  mdcols "$1" | awk -F'\t' '$2 ~ /^JS \(Node\), wss?$/ {
    printf "%s: p50 ms\t%s\n", substr($2, 12), $3
    printf "%s: p99 ms\t%s\n", substr($2, 12), $4 }'
}

FIG=$TMP/figures.tsv RUNS=$TMP/runs.tsv
: >"$FIG"
: >"$RUNS"
FAILED=0 RETRIED=0
say "base ${BASE_SHA:0:7}, new ${NEW_SHA:0:7}$NEW_DIRTY; ${#BENCHES[@]} benchmarks x $CMP_ROUNDS rounds x 2 sides$( ((TINY)) && echo ', --tiny')"
for ((r = 1; r <= CMP_ROUNDS; r++)); do
  for b in "${BENCHES[@]}"; do
    for side in base new; do
      dir_var=DIR_$side
      out=$TMP/$b.$side.$r.out
      say "round $r/$CMP_ROUNDS: $b, $side"
      for try in 1 2; do # a run that fails (a start-up timeout on the shared machine) runs once more
        t0=$SECONDS rc=0
        "run_$b" "${!dir_var}" >"$out" 2>"$TMP/$b.$side.$r.err" </dev/null || rc=$?
        printf '%s\t%s\t%s\t%s\t%s\n' "$b" "$side" "$r" "$rc" "$((SECONDS - t0))" >>"$RUNS"
        ((rc != 0)) || break
        tail -n 5 "$TMP/$b.$side.$r.err" >&2
        cp "$TMP/$b.$side.$r.err" "$TMP/$b.$side.$r.try$try.err"
        if ((try == 1)); then
          RETRIED=$((RETRIED + 1))
          say "$b ($side, round $r) exited $rc: once more"
        else
          FAILED=$((FAILED + 1))
          say "$b ($side, round $r) exited $rc again: its figures are missing from this round"
        fi
      done
      n=$("parse_$b" "$out" | awk -F'\t' -v b="$b" -v s="$side" -v r="$r" -v fig="$FIG" '
        !($1 in v) { order[++n] = $1 } { v[$1] = $2 }
        END { for (i = 1; i <= n; i++) print b "\t" order[i] "\t" s "\t" r "\t" v[order[i]] >>fig; print n + 0 }')
      ((n > 0)) || say "$b ($side, round $r): no figures found in its output ($out)"
    done
  done
done

# ---------------------------------------------------------------- the table
echo
echo "compare: $(machine), builds ${T_BUILD}s, runs $(awk -F'\t' '{ s += $5 } END { print s + 0 }' "$RUNS")s"
echo "base = ${BASE_SHA:0:7} ($(git log -1 --format=%s "$BASE_SHA" | cut -c1-60)), new = ${NEW_SHA:0:7}$NEW_DIRTY ($NEW_BUILD)"
echo "runs alternated base, new per benchmark, $CMP_ROUNDS rounds$( ((TINY)) && echo ' (--tiny: smallest settings, not a measurement)'); the load generators (bot, failover_probe) of both sides are the new build's"
if [[ " ${BENCHES[*]} " == *" failover "* ]]; then echo "failover: MATCH_LINK_GRACE_MS=0 on both sides (the new gateway's 5 s link grace would outlast the 3 s watch after kill -STOP)"; fi
echo "seconds per run, base / new (mean of rounds): $(awk -F'\t' '
  !($1 in seen) { seen[$1] = 1; order[++n] = $1 } { t[$1, $2] += $5; c[$1, $2]++ }
  function m(b, s) { return c[b, s] ? sprintf("%.0f", t[b, s] / c[b, s]) : "-" }
  END { for (i = 1; i <= n; i++) printf "%s%s %s / %s", (i > 1 ? "; " : ""), order[i], m(order[i], "base"), m(order[i], "new") }' "$RUNS")"
echo
awk -F'\t' -v order="${BENCHES[*]}" '
  function median(list,   a, n, i, j, t) {
    n = split(list, a, " ")
    if (n == 0) return ""
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] + 0 : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  function fmt(v) { return v == "" ? "-" : (v == int(v) && v >= 100 ? sprintf("%d", v) : sprintf("%.4g", v)) }
  {
    k = $1 SUBSEP $2
    if (!(k in seen)) { seen[k] = 1; figs[$1] = figs[$1] (figs[$1] == "" ? "" : SUBSEP) $2 }
    if ($5 ~ /^[0-9.]+$/) { vals[k, $3] = vals[k, $3] " " $5; runs[k, $3] = runs[k, $3] (runs[k, $3] == "" ? "" : ", ") fmt($5 + 0) }
  }
  END {
    print "| benchmark | figure | base (median) | new (median) | new/base | base, each round | new, each round |"
    print "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
    nb = split(order, bs, " ")
    for (i = 1; i <= nb; i++) {
      b = bs[i]
      if (figs[b] == "") { printf "| %s | (no figures) | - | - | - | - | - |\n", b; continue }
      nf = split(figs[b], fs, SUBSEP)
      for (j = 1; j <= nf; j++) {
        k = b SUBSEP fs[j]
        mb = median(vals[k, "base"]); mn = median(vals[k, "new"])
        ratio = (mb != "" && mn != "" && mb + 0 != 0) ? sprintf("%.2f", mn / mb) : "-"
        printf "| %s | %s | %s | %s | %s | %s | %s |\n", b, fs[j], fmt(mb), fmt(mn), ratio,
          runs[k, "base"] == "" ? "-" : runs[k, "base"], runs[k, "new"] == "" ? "-" : runs[k, "new"]
      }
    }
  }' "$FIG"
echo
if ((RETRIED)); then echo "note: $RETRIED run(s) failed once and were run again (the failed try's stderr: $TMP/*.try1.err)"; fi
if ((FAILED)); then echo "note: $FAILED run(s) exited non-zero twice (their output is in $TMP/*.err; KEEP_TMP=1 keeps it)"; fi
echo "note: ratios are new/base; for req/s, logins/s and capacity higher is better, for ms and bytes lower is better"
if ((${KEEP_TMP:-0} == 1)); then echo "every run's output: $TMP"; fi
exit 0
