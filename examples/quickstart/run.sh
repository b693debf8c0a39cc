#!/usr/bin/env bash
# The quickstart: five test backends, tern serving examples/quickstart/services.yaml, and a real
# proxyless gRPC client showing the greeter canary split. Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
CONFIG=examples/quickstart/tern.yaml
ADMIN=127.0.0.1:19000
XDS=127.0.0.1:18000

for bin in tern tern-test-backend tern-xds-probe; do
  if [ ! -x "$BUILD/$bin" ]; then
    echo "run.sh: $BUILD/$bin is missing; build first (make build)" >&2
    exit 1
  fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tern-quickstart-XXXXXX")
PIDS=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo; echo "stopping..."; exit 0' INT TERM

# wait_for DESCRIPTION TIMEOUT_S COMMAND...: polls COMMAND until it succeeds.
wait_for() {
  local what=$1 timeout=$2; shift 2
  local deadline=$(( $(date +%s) + timeout ))
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "run.sh: timed out waiting for $what" >&2
      return 1
    fi
    sleep 0.1
  done
}

# start_backend NAME GRPC_PORT [HTTP_PORT]
start_backend() {
  local name=$1 grpc=$2 http=${3:-}
  local args=(--name "$name" --grpc-port "$grpc")
  [ -n "$http" ] && args+=(--http-port "$http")
  "$BUILD/tern-test-backend" "${args[@]}" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  if ! wait_for "backend $name" 10 grep -qx READY "$WORK/$name.log"; then
    echo "--- $name log:" >&2; cat "$WORK/$name.log" >&2
    exit 1
  fi
  if [ -n "$http" ]; then echo "backend $name: http://127.0.0.1:$http"; else echo "backend $name: grpc 127.0.0.1:$grpc"; fi
}

echo "== starting backends"
start_backend web-v1 0 9001
start_backend web-v2 0 9002
start_backend api 0 9003
start_backend greeter-v1 50061
start_backend greeter-v2 50062

echo "== starting tern (xDS $XDS, admin http://$ADMIN)"
"$BUILD/tern" serve --config "$CONFIG" &
TERN_PID=$!
PIDS+=("$TERN_PID")
if ! wait_for "tern /readyz" 30 curl -fsS "http://$ADMIN/readyz"; then
  curl -sS "http://$ADMIN/readyz" >&2 || true
  exit 1
fi
echo "tern is ready"

echo
echo "== a proxyless gRPC client (gRPC C++, xds:///greeter), 200 calls:"
cat >"$WORK/xds_bootstrap.json" <<JSON
{
  "xds_servers": [{"server_uri": "$XDS", "channel_creds": [{"type": "insecure"}],
                   "server_features": ["xds_v3"]}],
  "node": {"id": "quickstart-probe", "cluster": "quickstart", "locality": {}}
}
JSON
GRPC_XDS_BOOTSTRAP="$WORK/xds_bootstrap.json" "$BUILD/tern-xds-probe" \
  --target xds:///greeter --calls 200 --wait-ready-ms 15000 || true
echo "(greeter is split 90/10 between greeter-v1 and greeter-v2 in examples/quickstart/services.yaml)"

cat <<HELP

== look around (tern keeps running; Ctrl-C stops it and the backends)
  curl http://$ADMIN/readyz
  curl http://$ADMIN/metrics
  curl http://$ADMIN/debug/sources
  curl http://$ADMIN/debug/proxies
  curl 'http://$ADMIN/debug/resources?node_cluster=edge&type=route'
  $BUILD/tern render --config $CONFIG --node-cluster edge
  $BUILD/tern render --config $CONFIG --node-cluster quickstart --type listener
  GRPC_XDS_BOOTSTRAP=$WORK/xds_bootstrap.json $BUILD/tern-xds-probe --target xds:///greeter --calls 200
  curl http://127.0.0.1:9001/hello    # a backend directly (Envoy for the edge gateway is not started here)

Edit examples/quickstart/services.yaml (e.g. greeter weights 50/50), save, run the probe again.

HELP

wait "$TERN_PID"
