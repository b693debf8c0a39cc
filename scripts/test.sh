#!/usr/bin/env bash
# Runs every test (unit, protocol, integration with real clients and a real Consul) in parallel.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export TERN_CONSUL_BIN=${TERN_CONSUL_BIN:-$PWD/build/third_party/consul/usr/bin/consul}
export TERN_NODE_MODULES=$PWD/node_modules
ctest --test-dir "$BUILD" -j "$(nproc)" --output-on-failure --timeout 300 "$@" | tee "$BUILD/test-summary.txt"
