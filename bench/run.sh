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
# Idle time after the initial sync before memory and idle CPU are read: steady state, i.e. after
# tern's memory trimmer (2 s of quiet) has run.
IDLE_MS="${BENCH_IDLE_MS:-6000}"
ONLY="${BENCH_ONLY:-}"                    # e.g. "flip-consul-sotw sync": run only these scenarios

want() { [[ -z "$ONLY" || " $ONLY " == *" $1 "* ]]; }

needs() {
  local bin
  for bin in "$@"; do
    [[ -x "$BUILD/$bin" ]] || { echo "bench: $BUILD/$bin is missing (make build)" >&2; exit 1; }
  done
}
needs tern tern-loadgen tern-worldgen
# The restart storm alone needs no baseline server and no microbenchmarks.
[[ "$ONLY" == "restart-storm" ]] || needs tern-bare-xds tern-micro-bench tern-vhds-bench

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

# start_tern DIR [SOURCE-YAML]: tern serve on DIR/services.yaml (or on the source given, e.g.
# a consul: block); sets TERN_PID and TERN_PORT.
start_tern() {
  local dir="$1" source="${2:-files: [ \"services.yaml\" ]}" admin
  TERN_PORT="$(free_port)"
  admin="$(free_port)"
  cat > "$dir/tern.yaml" <<YAML
xds: { address: "127.0.0.1:$TERN_PORT" }
admin: { address: "127.0.0.1:$admin" }
$source
log: { level: ${BENCH_TERN_LOG:-warn} }
YAML
  "$BUILD/tern" serve --config "$dir/tern.yaml" > "$dir/tern.log" 2>&1 &
  TERN_PID=$!
  TERN_ADMIN="$admin"
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
  # Let the start-up settle (tern's memory trimmer runs after 2 s of quiet) so that the RSS the
  # load generator reads before its streams connect is tern's steady state, not its start-up peak.
  sleep 4
  set +e
  "$BUILD/tern-loadgen" --target "127.0.0.1:$TERN_PORT" --streams "$streams" --gateways "$gateways" --idle-ms "$IDLE_MS" $mode \
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
  "$BUILD/tern-loadgen" --target "127.0.0.1:$BARE_PORT" --streams "$streams" --gateways "$gateways" --idle-ms "$IDLE_MS" $mode \
    --server-pid "$BARE_PID" --changes "$changes" --inject-signal "$BARE_PID" \
    --json "$dir/bare.json" > /dev/null 2> "$dir/loadgen-bare.log"
  set -e
  stop_pid "$BARE_PID"
  tail -1 "$dir/loadgen-bare.log"
}

# start_consul DIR [default]: a real Consul (`consul agent -dev`, Debian bullseye's 1.8.7 from make
# setup) on free loopback ports; sets CONSUL_PID and CONSUL_PORT. In per-service watch mode tern
# holds one connection per blocking query (about two per service), so the per-client connection
# limit (default 200) is raised; with "default" Consul keeps its default limits (aggregate mode).
start_consul() {
  local dir="$1" limits="${2:-raised}" bin="$BUILD/third_party/consul/usr/bin/consul"
  [[ -x "$bin" ]] || { echo "bench: $bin is missing (make setup)" >&2; exit 1; }
  CONSUL_PORT="$(free_port)"
  local hcl=()
  [[ "$limits" == default ]] || hcl=(-hcl 'limits { http_max_conns_per_client = 10000 }')
  "$bin" agent -dev -bind 127.0.0.1 -client 127.0.0.1 -http-port "$CONSUL_PORT" -dns-port -1 \
    -serf-lan-port "$(free_port)" -serf-wan-port "$(free_port)" -server-port "$(free_port)" -grpc-port -1 \
    "${hcl[@]}" > "$dir/consul.log" 2>&1 &
  CONSUL_PID=$!
  PIDS+=("$CONSUL_PID")
  for _ in $(seq 1 300); do
    if curl -sf "http://127.0.0.1:$CONSUL_PORT/v1/status/leader" 2>/dev/null | grep -q 127.0.0.1; then return 0; fi
    kill -0 "$CONSUL_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "bench: consul did not start; log: $dir/consul.log" >&2
  exit 1
}

# consul_scenario NAME SERVICES INSTANCES GATEWAYS EXPOSED STREAMS CHANGES [--delta]
# The same flip, made the way production makes it: a catalog write to a real Consul (the check
# of one instance goes critical / passing), which tern sees through its blocking queries.
# CONSUL_WATCH=per-service|aggregate picks tern's watch mode (docs/consul.md "Connections");
# aggregate runs against Consul's default limits.
consul_scenario() {
  local name="$1" services="$2" instances="$3" gateways="$4" exposed="$5" streams="$6" changes="$7" mode="${8:-}"
  local dir="$OUT/$name" watch="${CONSUL_WATCH:-per-service}"
  mkdir -p "$dir"
  echo "== $name: $streams ${mode:---sotw} streams, Consul ($watch watching) with $services services x $instances instances, $gateways gateways x $exposed exposed, $changes changes"
  if [[ "$watch" == aggregate ]]; then start_consul "$dir" default; else start_consul "$dir"; fi
  python3 "$ROOT/bench/consul_world.py" --consul "127.0.0.1:$CONSUL_PORT" --out "$dir" --services "$services" \
    --instances "$instances" --gateways "$gateways" --exposed "$exposed" --flips "$(( (changes + 1) / 2 ))"
  local files="" k
  for ((k = 0; k < (changes + 1) / 2; k++)); do files+="$dir/flip-$k.json,$dir/restore-$k.json,"; done

  start_tern "$dir" "consul: { address: \"127.0.0.1:$CONSUL_PORT\", watch: $watch }"
  # tern is ready after its first full read; its 2,000 blocking queries (and their connections,
  # ~29 MB here) start right after. Let them settle so that the memory the load generator
  # attributes to its streams is the streams' own.
  sleep 6
  set +e
  "$BUILD/tern-loadgen" --target "127.0.0.1:$TERN_PORT" --streams "$streams" --gateways "$gateways" --idle-ms "$IDLE_MS" $mode \
    --server-pid "$TERN_PID" --changes "$changes" --inject-http "127.0.0.1:$CONSUL_PORT/v1/catalog/register" \
    --inject-files "$files" --record "$dir/recording.bin" --json "$dir/tern.json" > /dev/null 2> "$dir/loadgen-tern.log"
  set -e
  stop_pid "$TERN_PID"
  stop_pid "$CONSUL_PID"
  tail -3 "$dir/loadgen-tern.log"

  start_bare "$dir/recording.bin" "$dir/bare.log"
  set +e
  "$BUILD/tern-loadgen" --target "127.0.0.1:$BARE_PORT" --streams "$streams" --gateways "$gateways" --idle-ms "$IDLE_MS" $mode \
    --server-pid "$BARE_PID" --changes "$changes" --inject-signal "$BARE_PID" \
    --json "$dir/bare.json" > /dev/null 2> "$dir/loadgen-bare.log"
  set -e
  stop_pid "$BARE_PID"
  tail -1 "$dir/loadgen-bare.log"
}

# consul_sync NAME SERVICES INSTANCES: tern's first full read of a large catalog from a Consul with
# its default limits (aggregate watching): time from start to ready, connections held afterwards,
# tern's RSS and Consul's CPU during tern's start. Writes NAME/sync.json.
consul_sync() {
  local name="$1" services="$2" instances="$3"
  local dir="$OUT/$name"
  mkdir -p "$dir"
  echo "== $name: tern's start against Consul (default limits) with $services services x $instances instances"
  start_consul "$dir" default
  python3 "$ROOT/bench/consul_world.py" --consul "127.0.0.1:$CONSUL_PORT" --out "$dir" --services "$services" \
    --instances "$instances" --gateways 1 --exposed 100 --flips 0
  local consul_ticks_before t0 t1 consul_ticks_after
  consul_ticks_before=$(awk '{print $14 + $15}' "/proc/$CONSUL_PID/stat")
  t0=$(date +%s.%N)
  start_tern "$dir" "consul: { address: \"127.0.0.1:$CONSUL_PORT\" }"
  t1=$(date +%s.%N)
  consul_ticks_after=$(awk '{print $14 + $15}' "/proc/$CONSUL_PID/stat")
  sleep 3
  python3 - "$TERN_PID" "$CONSUL_PORT" "$services" "$instances" "$t0" "$t1" "$consul_ticks_before" \
    "$consul_ticks_after" > "$dir/sync.json" <<'PY'
import json, os, sys
pid, port, services, instances, t0, t1, cb, ca = sys.argv[1:]
inodes = set()
for fd in os.listdir(f"/proc/{pid}/fd"):
    try:
        t = os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        continue
    if t.startswith("socket:["):
        inodes.add(t[8:-1])
conns = 0
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    with open(table) as f:
        next(f)
        for line in f:
            p = line.split()
            if p[2].endswith(":%04X" % int(port)) and p[3] == "01" and p[9] in inodes:
                conns += 1
rss = 0
with open(f"/proc/{pid}/status") as f:
    for line in f:
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
ticks = os.sysconf("SC_CLK_TCK")
print(json.dumps({"services": int(services), "instances": int(instances), "ready_s": float(t1) - float(t0),
                  "connections": conns, "tern_rss_mb": rss, "consul_cpu_s": (int(ca) - int(cb)) / ticks}))
PY
  cat "$dir/sync.json"
  stop_pid "$TERN_PID"
  stop_pid "$CONSUL_PID"
}

# restart_storm NAME STREAMS CLUSTERS: STREAMS SotW proxies (10 gateways, CLUSTERS clusters each) in
# sync with tern (file source); then tern is killed (SIGKILL) and started again on the same ports
# and files, and every proxy reconnects at once (tern-loadgen --restart-cmd: fresh streams, no
# versions held, gRPC reconnect backoff 500 ms..5 s). Reports the time until all are in sync again
# and the new tern's peak RSS, next to the first tern's initial sync and peak RSS.
restart_storm() {
  local name="$1" streams="$2" clusters="$3"
  local dir="$OUT/$name"
  mkdir -p "$dir"
  echo "== $name: $streams SotW streams x $clusters clusters; tern killed and restarted, all reconnecting at once"
  "$BUILD/tern-worldgen" --out "$dir" --services 1000 --instances 10 --gateways 10 \
    --exposed "$clusters" --stride 0 --flips 0 > /dev/null
  start_tern "$dir"
  sleep 4
  # Run by the load generator once its streams are in sync: kill tern, start it again on the same
  # tern.yaml (same ports), wait for /readyz, print the new PID (stopped by PID below).
  cat > "$dir/restart.sh" <<SH
#!/usr/bin/env bash
kill -KILL $TERN_PID
sleep 0.05
for attempt in 1 2 3 4 5; do
  "$BUILD/tern" serve --config "$dir/tern.yaml" >> "$dir/tern-restarted.log" 2>&1 &
  pid=\$!
  echo \$pid > "$dir/restarted.pid"
  for _ in \$(seq 1 600); do
    if curl -sf "http://127.0.0.1:$TERN_ADMIN/readyz" > /dev/null 2>&1; then echo \$pid; exit 0; fi
    [[ "\$(awk '{print \$3}' /proc/\$pid/stat 2>/dev/null)" =~ ^[RSD]\$ ]] || break  # exited (or a zombie)
    sleep 0.02
  done
  sleep 0.2   # the port was not free yet: try again
done
exit 1
SH
  set +e
  "$BUILD/tern-loadgen" --target "127.0.0.1:$TERN_PORT" --streams "$streams" --gateways 10 --idle-ms "$IDLE_MS" \
    --server-pid "$TERN_PID" --changes 0 --sync-timeout-s 300 --restart-cmd "bash $dir/restart.sh" \
    --json "$dir/tern.json" > /dev/null 2> "$dir/loadgen-tern.log"
  set -e
  stop_pid "$TERN_PID"   # reaps the killed one
  if [[ -f "$dir/restarted.pid" ]]; then
    local pid
    pid="$(cat "$dir/restarted.pid")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" =~ ^[RSD]$ ]] || break; sleep 0.1; done
  fi
  tail -2 "$dir/loadgen-tern.log"
}

START=$(date +%s)
# 1. One instance health flip, N SotW streams subscribed to that cluster (and memory per idle stream).
want flip-sotw && scenario flip-sotw 1000 10 10 100 "$STREAMS" "$CHANGES"
# 2. The same with delta streams (reported as unsupported while the server has no delta).
want flip-delta && scenario flip-delta 1000 10 10 100 "$DELTA_STREAMS" "$CHANGES" --delta
# 1c, 2c. The same two through a real Consul (the production source).
want flip-consul-sotw && CONSUL_WATCH=per-service consul_scenario flip-consul-sotw 1000 10 10 100 "$STREAMS" "$CHANGES"
want flip-consul-sotw-aggregate && CONSUL_WATCH=aggregate consul_scenario flip-consul-sotw-aggregate 1000 10 10 100 "$STREAMS" "$CHANGES"
want flip-consul-delta && consul_scenario flip-consul-delta 1000 10 10 100 "$DELTA_STREAMS" "$CHANGES" --delta
# 2d. tern's start against a 5,000-service Consul with default limits.
want consul-sync && consul_sync consul-sync "${BENCH_CONSUL_SYNC_SERVICES:-5000}" 2
# 2e. One host added to a 5,000-host gateway: bytes sent, VHDS vs inline RDS (tern serve, raw delta client).
if want vhds; then
  echo "== vhds: one host added to a 5,000-host gateway, inline RDS vs VHDS"
  "$BUILD/tern-vhds-bench" --hosts 5000 > "$OUT/vhds.jsonl" 2> "$OUT/vhds.log" || echo "bench: tern-vhds-bench failed (see $OUT/vhds.log)" >&2
  cat "$OUT/vhds.jsonl"
fi
# 3. Initial sync, N streams x C clusters each.
want sync && scenario sync 1000 10 10 "$SYNC_CLUSTERS" "$SYNC_STREAMS" 0
# 3b. Restart storm: 5,000 SotW proxies reconnecting at once to a restarted tern.
want restart-storm && restart_storm restart-storm "${BENCH_RESTART_STREAMS:-5000}" "${BENCH_RESTART_CLUSTERS:-100}"
# 4. Microbenchmarks (translate, build, rebuild after one change, YAML decode).
if [[ "$SKIP_MICRO" != 1 ]] && want micro; then
  echo "== micro"
  "$BUILD/tern-micro-bench" --benchmark_format=json --benchmark_out="$OUT/micro.json" \
    --benchmark_out_format=json > "$OUT/micro.txt" 2>&1 || echo "bench: tern-micro-bench failed (see $OUT/micro.txt)" >&2
fi
END=$(date +%s)

python3 "$ROOT/bench/report.py" --out "$OUT" --doc "$ROOT/docs/performance.md" --seconds "$((END - START))" \
  --notes "$ROOT/bench/performance_notes.md" --before "$ROOT/bench/before-issue-8.json"
echo "bench: results in $OUT; wrote docs/performance.md"
