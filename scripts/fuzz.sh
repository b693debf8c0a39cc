#!/usr/bin/env bash
# Runs every libFuzzer target of build-fuzz/ for FUZZ_SECONDS each on its committed corpus
# (fuzz/corpus/<target>, read only) plus a working corpus in build-fuzz/corpus/<target> where new
# inputs go. A crash leaves its input in build-fuzz/artifacts/ and fails the run; to keep it as a
# regression test, fix the bug and copy the input into fuzz/corpus/<target>/.
#
#   FUZZ_TARGETS="utf8 sotw_state"  only those targets
#   FUZZ_RUNS=N                     also stop a target after N executions (whichever of time and
#                                   runs comes first): `FUZZ_RUNS=10000000 bash scripts/fuzz.sh
#                                   build-fuzz 3600` is the long run docs/reliability.md records
#   FUZZ_JOBS=N                     N targets at a time (one core each; default 1)
set -uo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-build-fuzz}
SECONDS_PER_TARGET=${2:-60}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# One target: runs it and prints its row of the table; exits non-zero on a finding.
if [ "${3:-}" = --one ]; then
  t=$4
  mkdir -p "$DIR/corpus/$t"
  log="$DIR/fuzz-logs/$t.log"
  runs=()
  if [ -n "${FUZZ_RUNS:-}" ]; then runs=(-runs="$FUZZ_RUNS"); fi
  start=$(date +%s)
  "$DIR/fuzz/fuzz_$t" -max_total_time="$SECONDS_PER_TARGET" "${runs[@]}" -print_final_stats=1 -timeout=10 \
      -rss_limit_mb=2048 -artifact_prefix="$DIR/artifacts/$t-" "$DIR/corpus/$t" "fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  took=$(( $(date +%s) - start ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  row=$(printf '%-18s %12s %10s %8s %8s' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "$took")
  if [ $rc -ne 0 ]; then
    printf '%s   FAILED (exit %s, log %s)\n' "$row" "$rc" "$log"
    grep -m5 -E 'ERROR|invariant broken|runtime error' "$log" | sed 's/^/      /'
    exit 1
  fi
  echo "$row"
  exit 0
fi

mkdir -p "$DIR/artifacts" "$DIR/fuzz-logs"
printf '%-18s %12s %10s %8s %8s\n' target executions exec/s cov seconds
TARGETS=${FUZZ_TARGETS:-$(for src in fuzz/*_fuzz.cc; do basename "$src" _fuzz.cc; done)}
# xargs exits 123 when any run failed; every target still runs.
printf '%s\n' $TARGETS | xargs -P "${FUZZ_JOBS:-1}" -I{} bash "$0" "$DIR" "$SECONDS_PER_TARGET" --one {}
