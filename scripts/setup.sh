#!/usr/bin/env bash
# Installs everything a fresh Debian bookworm machine lacks to build and test tern.
# Idempotent: each step checks before it acts. Touches no system apt sources.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

DEB_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  libgrpc++-dev protobuf-compiler-grpc protobuf-compiler libprotobuf-dev libabsl-dev libre2-dev
  prometheus-cpp-dev libcivetweb-dev libcurl4-openssl-dev nlohmann-json3-dev libsimdjson-dev
  libyaml-cpp-dev libcli11-dev libspdlog-dev libssl-dev openssl
  libgtest-dev libgmock-dev libbenchmark-dev nodejs npm curl ca-certificates
  chromium    # the status page browser test
  prometheus  # promtool and the server, for the metrics and alerting-rule tests
  clang-14 libclang-rt-14-dev  # make fuzz: libFuzzer and the sanitizer runtimes for clang
  faketime    # libfaketime: the clock-jump test (test/integration/clock_jump_test.cc)
)

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
done
# node/npm may come from another source (nodesource); accept binaries on PATH.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
filtered=(); for p in "${missing[@]}"; do [ -n "$p" ] && filtered+=("$p"); done
if [ ${#filtered[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${filtered[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${filtered[@]}"
fi

# Node packages (Envoy protos + grpc-js-xds client), pinned by package-lock.json.
if [ ! -f node_modules/.tern-installed ] || [ package-lock.json -nt node_modules/.tern-installed ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules/.tern-installed
fi

# Consul 1.8.7 from Debian bullseye, unpacked into build/third_party (system sources untouched).
CONSUL_DIR=$ROOT/build/third_party/consul
if [ ! -x "$CONSUL_DIR/usr/bin/consul" ]; then
  echo "setup: fetching consul from Debian bullseye"
  APTDIR=$ROOT/build/third_party/apt
  mkdir -p "$APTDIR"/{lists/partial,cache/archives/partial,etc} "$CONSUL_DIR"
  echo "deb http://deb.debian.org/debian bullseye main" > "$APTDIR/etc/sources.list"
  APT_OPTS=(-o Dir::Etc::SourceList="$APTDIR/etc/sources.list" -o Dir::Etc::SourceParts=/dev/null
            -o Dir::State::Lists="$APTDIR/lists" -o Dir::Cache="$APTDIR/cache"
            -o APT::Get::List-Cleanup=0 -o Debug::NoLocking=1)
  apt-get "${APT_OPTS[@]}" update -qq
  (cd "$APTDIR" && apt-get "${APT_OPTS[@]}" download consul)
  dpkg -x "$APTDIR"/consul_*.deb "$CONSUL_DIR"
  # (no pipe into head: with pipefail, SIGPIPE would fail the setup)
  version_text=$("$CONSUL_DIR/usr/bin/consul" version)
  echo "${version_text%%$'\n'*}"
fi
echo "setup: ok"
