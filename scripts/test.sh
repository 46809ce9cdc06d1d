#!/usr/bin/env bash
# THE test command (README, .ci/run). Needs no running service: tests start their own
# redis-server / postgres processes.
#
#   scripts/test.sh [--quick] [--no-asan] [--no-fuzz]
#
# Stages: deps; normal build (build/, RelWithDebInfo) + ctest; sanitizer build (build-asan/,
# -DSANITIZE=ON: ASan+UBSan, Debug so assert() stays on) + ctest; fuzz build (build-fuzz/, the fuzz targets only,
# clang, -DFUZZ=ON) + every build-fuzz/fuzz/fuzz_* run for FUZZ_SECONDS (default 10), seeded from
# a copy of tests/fuzz/corpus/<name> (or fuzz/corpus/<name>; <name> with or without fuzz_).
#   --quick     normal build + ctest only
#   --no-asan   skip the sanitizer build
#   --no-fuzz   skip the fuzz build
# Environment: FUZZ_SECONDS (10), JOBS (nproc), CTEST_JOBS (2), CTEST_TIMEOUT (300).
# Exit status is non-zero if any stage failed; the last line reads "N passed, N failed".
set -euo pipefail

# shellcheck source=scripts/lib/opts.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/opts.sh" # ROOT, the working directory
QUICK=0 ASAN=1 FUZZ=1
parse_opts --quick:QUICK=1 --no-asan:ASAN=0 --no-fuzz:FUZZ=0 -- "$@"
if ((QUICK)); then ASAN=0 FUZZ=0; fi

FUZZ_SECONDS=${FUZZ_SECONDS:-10}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
CTEST_JOBS=${CTEST_JOBS:-2}
CTEST_TIMEOUT=${CTEST_TIMEOUT:-300}

TMPDIRS=()
cleanup() {
  local d
  for d in "${TMPDIRS[@]+"${TMPDIRS[@]}"}"; do rm -rf -- "$d"; done
}
trap cleanup EXIT
trap 'echo "test.sh: interrupted" >&2; exit 130' INT TERM

# ---------------------------------------------------------------- stage bookkeeping
NAMES=() RESULTS=() TIMES=()
PASSED=0 FAILED=0 SKIPPED=0
T_START=$SECONDS

banner() { printf '\n==== %s ====\n' "$*"; }

# stage NAME CMD...: run CMD, record PASS/FAIL with the time it took. Returns CMD's status.
# (CMD must fail by its exit status: set -e does not apply inside a tested function, so the
# helpers below chain their steps with && / || return.)
stage() {
  local name=$1 t0=$SECONDS rc=0
  shift
  banner "$name"
  "$@" || rc=$?
  NAMES+=("$name"); TIMES+=($((SECONDS - t0)))
  if ((rc == 0)); then
    RESULTS+=(PASS); PASSED=$((PASSED + 1))
  else
    RESULTS+=("FAIL (exit $rc)"); FAILED=$((FAILED + 1))
    echo "test.sh: stage '$name' FAILED (exit $rc)" >&2
  fi
  return "$rc"
}

skip() {
  NAMES+=("$1"); RESULTS+=("SKIP ($2)"); TIMES+=(0); SKIPPED=$((SKIPPED + 1))
}

summary() {
  local i
  banner "summary ($((SECONDS - T_START)) s)"
  for i in "${!NAMES[@]}"; do
    printf '  %-34s %-26s %4ss\n' "${NAMES[i]}" "${RESULTS[i]}" "${TIMES[i]}"
  done
  for i in "${FAILED_TESTS[@]+"${FAILED_TESTS[@]}"}"; do
    printf '  failed test: %s\n' "$i"
  done
  ((SKIPPED == 0)) || echo "  ($SKIPPED stage(s) skipped)"
  echo "$PASSED passed, $FAILED failed"
}

# ---------------------------------------------------------------- helpers
build() { # DIR CMAKE-ARGS...
  local dir=$1
  shift
  cmake -S . -B "$dir" "$@" && cmake --build "$dir" -j"$JOBS"
}

# run_ctest DIR: the failing tests' names are kept for the summary (CI shows only the tail of
# the output, and a sanitizer report scrolls far above it).
FAILED_TESTS=()
run_ctest() { # DIR
  local rc=0 t
  ctest --test-dir "$1" --output-on-failure --no-tests=error -j"$CTEST_JOBS" --timeout "$CTEST_TIMEOUT" || rc=$?
  if ((rc != 0)) && [[ -f $1/Testing/Temporary/LastTestsFailed.log ]]; then
    while IFS= read -r t; do FAILED_TESTS+=("$1: ${t#*:}"); done <"$1/Testing/Temporary/LastTestsFailed.log"
  fi
  return "$rc"
}

# Does LeakSanitizer work here? (It doesn't under ptrace or in some locked-down containers.)
lsan_works() {
  local d rc=0
  d=$(mktemp -d); TMPDIRS+=("$d")
  printf '#include <stdlib.h>\nint main(void){void *volatile p = malloc(7); p = 0; (void)p; return 0;}\n' >"$d/l.c"
  cc -fsanitize=address -g "$d/l.c" -o "$d/l" >/dev/null 2>&1 || return 0 # let the real build say why
  ASAN_OPTIONS=detect_leaks=1:exitcode=23 "$d/l" >/dev/null 2>"$d/err" || rc=$?
  ((rc == 23)) && grep -q 'detected memory leaks' "$d/err"
}

build_fuzz() { # the fuzz targets only: the daemons and tests were built and run by the stages before
  local targets=() f
  for f in fuzz/fuzz_*.c; do
    f=${f##*/}
    targets+=(--target "${f%.c}")
  done
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
    -DFUZZ=ON && cmake --build build-fuzz -j"$JOBS" "${targets[@]}"
}

asan_ctest() {
  ASAN_OPTIONS="detect_leaks=$LEAKS:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1" \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    run_ctest build-asan
}

fuzz_one() { # EXE
  ASAN_OPTIONS=abort_on_error=1:detect_leaks=$LEAKS UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    run_fuzzer "$1"
}

no_fuzzers() {
  echo "no executable build-fuzz/fuzz/fuzz_* after the fuzz build" >&2
  return 1
}

run_fuzzer() { # EXE
  local exe=$1 name corpus_src corpus dict args
  name=$(basename "$exe")
  corpus=$(mktemp -d); TMPDIRS+=("$corpus")
  for corpus_src in "tests/fuzz/corpus/$name" "tests/fuzz/corpus/${name#fuzz_}" \
                    "fuzz/corpus/$name" "fuzz/corpus/${name#fuzz_}"; do
    if [[ -d $corpus_src ]]; then
      cp -R "$corpus_src/." "$corpus/"
      echo "corpus: $corpus_src ($(find "$corpus" -type f | wc -l) files)"
      break
    fi
  done
  mkdir -p build-fuzz/artifacts
  args=(-max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$ROOT/build-fuzz/artifacts/$name-")
  for dict in "tests/fuzz/$name.dict" "tests/fuzz/${name#fuzz_}.dict" "fuzz/$name.dict" "fuzz/${name#fuzz_}.dict"; do
    if [[ -f $dict ]]; then args+=(-dict="$dict"); break; fi
  done
  # libFuzzer prints a progress line every few thousand runs: thousands of lines that push the
  # summary out of CI's view. They go to a log; a failure shows its tail, a pass its final stats.
  local log="$ROOT/build-fuzz/logs/$name.log" rc=0
  mkdir -p "$ROOT/build-fuzz/logs"
  "$exe" "${args[@]}" "$corpus" >"$log" 2>&1 || rc=$?
  if ((rc != 0)); then
    tail -n 80 "$log"
    echo "$name: exit $rc (whole log: $log)"
    return "$rc"
  fi
  grep -E '^(stat::|Done |INFO: Seed)' "$log" || true
}

# ---------------------------------------------------------------- stages
stage "deps" bash scripts/deps.sh || true

if stage "build (RelWithDebInfo)" build build -DCMAKE_BUILD_TYPE=RelWithDebInfo; then
  stage "ctest" run_ctest build || true
else
  skip "ctest" "build failed"
fi

LEAKS=1
if ((ASAN || FUZZ)); then
  if ! lsan_works; then
    LEAKS=0
    echo "test.sh: WARNING: LeakSanitizer does not work on this machine; running without leak checks" >&2
  fi
fi

if ((ASAN)); then
  if stage "asan build (ASan+UBSan, Debug)" build build-asan -DCMAKE_BUILD_TYPE=Debug -DSANITIZE=ON; then
    stage "asan ctest" asan_ctest || true
  else
    skip "asan ctest" "asan build failed"
  fi
else
  skip "asan" "disabled"
fi

if ((FUZZ)); then
  if stage "fuzz build (clang, libFuzzer)" build_fuzz; then
    fuzzers=()
    for f in build-fuzz/fuzz/fuzz_*; do
      [[ -f $f && -x $f ]] && fuzzers+=("$f")
    done
    if ((${#fuzzers[@]} == 0)); then
      stage "fuzz targets" no_fuzzers || true
    fi
    for f in "${fuzzers[@]+"${fuzzers[@]}"}"; do
      stage "fuzz $(basename "$f") (${FUZZ_SECONDS}s)" fuzz_one "$f" || true
    done
  else
    skip "fuzz runs" "fuzz build failed"
  fi
else
  skip "fuzz" "disabled"
fi

summary
((FAILED == 0))
