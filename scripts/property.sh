#!/usr/bin/env bash
# The incremental-build property test (test/server/incremental_build_test.cc) over many random
# walks: `make fuzz` runs it after the fuzz targets; `make test` runs one walk of 1,200 steps.
#   scripts/property.sh BUILD_DIR [SEEDS]   seeds 1..SEEDS (default 50), 1,200 steps each
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
SEEDS=${2:-50}
bin="$BUILD/test/incremental_build_test"
[ -x "$bin" ] || { echo "property: $bin is missing (make build)" >&2; exit 1; }
failed=0
for seed in $(seq 1 "$SEEDS"); do
  if ! TERN_PROPERTY_SEED=$seed "$bin" --gtest_filter='*RandomChanges*' > "$BUILD/property-$seed.log" 2>&1; then
    echo "property: seed $seed FAILED (log $BUILD/property-$seed.log)"
    grep -m3 -A6 'Failure' "$BUILD/property-$seed.log" | grep -v '^\[20' | sed 's/^/    /'
    failed=1
  else
    rm -f "$BUILD/property-$seed.log"
  fi
done
[ $failed -eq 0 ] && echo "property: $SEEDS random walks of 1,200 steps, every step byte-identical to a fresh build"
exit $failed
