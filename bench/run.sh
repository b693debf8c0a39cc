#!/usr/bin/env bash
# `make bench`: runs the issue-5 scenarios at sizes a 2-core machine holds, tern and the bare
# baseline in one run, then regenerates docs/performance.md (bench/report.py).
#
# Sizes can be overridden from the environment, e.g. BENCH_STREAMS=200 make bench.
# Everything started here listens on free loopback ports and is stopped by PID on exit.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${BUILD:-$ROOT/build}"
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
OUT="${BENCH_OUT:-$(mktemp -d /tmp/tern-bench.XXXXXX)}"
mkdir -p "$OUT"

STREAMS="${BENCH_STREAMS:-1000}"          # SotW flip scenario
DELTA_STREAMS="${BENCH_DELTA_STREAMS:-5000}"
SYNC_STREAMS="${BENCH_SYNC_STREAMS:-1000}"
SYNC_CLUSTERS="${BENCH_SYNC_CLUSTERS:-1000}"
CHANGES="${BENCH_CHANGES:-10}"
SKIP_MICRO="${BENCH_SKIP_MICRO:-0}"

for bin in tern tern-loadgen tern-bare-xds tern-worldgen tern-micro-bench; do
  [[ -x "$BUILD/$bin" ]] || { echo "bench: $BUILD/$bin is missing (make build)" >&2; exit 1; }
done

PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]:-}"; do
    [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]:-}"; do
    [[ -n "$pid" ]] && wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

stop_pid() {
  local pid="$1"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# start_tern DIR: tern serve on DIR/services.yaml; sets TERN_PID and TERN_PORT.
start_tern() {
  local dir="$1" admin
  TERN_PORT="$(free_port)"
  admin="$(free_port)"
  cat > "$dir/tern.yaml" <<YAML
xds: { address: "127.0.0.1:$TERN_PORT" }
admin: { address: "127.0.0.1:$admin" }
files: [ "services.yaml" ]
log: { level: warn }
YAML
  "$BUILD/tern" serve --config "$dir/tern.yaml" > "$dir/tern.log" 2>&1 &
  TERN_PID=$!
  PIDS+=("$TERN_PID")
  for _ in $(seq 1 600); do
    if curl -sf "http://127.0.0.1:$admin/readyz" > /dev/null 2>&1; then return 0; fi
    kill -0 "$TERN_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "bench: tern did not become ready; log: $dir/tern.log" >&2
  tail -20 "$dir/tern.log" >&2
  exit 1
}

# start_bare RECORDING LOG: sets BARE_PID and BARE_PORT.
start_bare() {
  BARE_PORT="$(free_port)"
  "$BUILD/tern-bare-xds" --address "127.0.0.1:$BARE_PORT" --recording "$1" > "$2" 2>&1 &
  BARE_PID=$!
  PIDS+=("$BARE_PID")
  for _ in $(seq 1 100); do
    grep -q READY "$2" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "bench: tern-bare-xds did not start; log: $2" >&2
  exit 1
}

# scenario NAME SERVICES INSTANCES GATEWAYS EXPOSED STREAMS CHANGES [--delta]
# Every gateway exposes the same EXPOSED services (stride 0), so each flip reaches every stream.
scenario() {
  local name="$1" services="$2" instances="$3" gateways="$4" exposed="$5" streams="$6" changes="$7" mode="${8:-}"
  local dir="$OUT/$name"
  mkdir -p "$dir"
  echo "== $name: $streams ${mode:---sotw} streams, $services services x $instances instances, $gateways gateways x $exposed exposed, $changes changes"
  "$BUILD/tern-worldgen" --out "$dir" --services "$services" --instances "$instances" --gateways "$gateways" \
    --exposed "$exposed" --stride 0 --flips "$(( (changes + 1) / 2 ))" > /dev/null
  local files="" k
  for ((k = 0; k < (changes + 1) / 2; k++)); do files+="$dir/flip-$k.yaml,$dir/base.yaml,"; done
  [[ -n "$files" ]] || files="$dir/base.yaml"

  start_tern "$dir"
  set +e
  "$BUILD/tern-loadgen" --target "127.0.0.1:$TERN_PORT" --streams "$streams" --gateways "$gateways" $mode \
    --server-pid "$TERN_PID" --changes "$changes" --inject-target "$dir/services.yaml" --inject-files "$files" \
    --record "$dir/recording.bin" --json "$dir/tern.json" > /dev/null 2> "$dir/loadgen-tern.log"
  local rc=$?
  set -e
  stop_pid "$TERN_PID"
  tail -3 "$dir/loadgen-tern.log"
  if [[ $rc -eq 3 ]]; then
    echo "   tern answered UNIMPLEMENTED: ${mode:-sotw} unsupported; no baseline run"
    return 0
  fi

  start_bare "$dir/recording.bin" "$dir/bare.log"
  set +e
  "$BUILD/tern-loadgen" --target "127.0.0.1:$BARE_PORT" --streams "$streams" --gateways "$gateways" $mode \
    --server-pid "$BARE_PID" --changes "$changes" --inject-signal "$BARE_PID" \
    --json "$dir/bare.json" > /dev/null 2> "$dir/loadgen-bare.log"
  set -e
  stop_pid "$BARE_PID"
  tail -1 "$dir/loadgen-bare.log"
}

START=$(date +%s)
# 1. One instance health flip, N SotW streams subscribed to that cluster (and memory per idle stream).
scenario flip-sotw 1000 10 10 100 "$STREAMS" "$CHANGES"
# 2. The same with delta streams (reported as unsupported while the server has no delta).
scenario flip-delta 1000 10 10 100 "$DELTA_STREAMS" "$CHANGES" --delta
# 3. Initial sync, N streams x C clusters each.
scenario sync 1000 10 10 "$SYNC_CLUSTERS" "$SYNC_STREAMS" 0
# 4. Microbenchmarks (translate, build, rebuild after one change, YAML decode).
if [[ "$SKIP_MICRO" != 1 ]]; then
  echo "== micro"
  "$BUILD/tern-micro-bench" --benchmark_format=json --benchmark_out="$OUT/micro.json" \
    --benchmark_out_format=json > "$OUT/micro.txt" 2>&1 || echo "bench: tern-micro-bench failed (see $OUT/micro.txt)" >&2
fi
END=$(date +%s)

python3 "$ROOT/bench/report.py" --out "$OUT" --doc "$ROOT/docs/performance.md" --seconds "$((END - START))" \
  --notes "$ROOT/bench/performance_notes.md"
echo "bench: results in $OUT; wrote docs/performance.md"
