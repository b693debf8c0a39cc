#!/usr/bin/env bash
# Runs every libFuzzer target of build-fuzz/ for FUZZ_SECONDS each on its committed corpus
# (fuzz/corpus/<target>, read only) plus a working corpus in build-fuzz/corpus/<target> where new
# inputs go. A crash leaves its input in build-fuzz/artifacts/ and fails the run; to keep it as a
# regression test, fix the bug and copy the input into fuzz/corpus/<target>/.
set -uo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-build-fuzz}
SECONDS_PER_TARGET=${2:-60}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p "$DIR/artifacts" "$DIR/fuzz-logs"
failed=0
printf '%-16s %12s %10s %8s\n' target executions exec/s cov
# FUZZ_TARGETS="utf8 sotw_state" limits the run to those targets.
TARGETS=${FUZZ_TARGETS:-$(for src in fuzz/*_fuzz.cc; do basename "$src" _fuzz.cc; done)}
for t in $TARGETS; do
  mkdir -p "$DIR/corpus/$t"
  log="$DIR/fuzz-logs/$t.log"
  "$DIR/fuzz/fuzz_$t" -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$DIR/artifacts/$t-" "$DIR/corpus/$t" "fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  printf '%-16s %12s %10s %8s' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}"
  if [ $rc -ne 0 ]; then
    failed=1
    echo "   FAILED (exit $rc, log $log)"
    grep -m5 -E 'ERROR|invariant broken|runtime error' "$log" | sed 's/^/      /'
  else
    echo
  fi
done
exit $failed
