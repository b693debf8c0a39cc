#!/usr/bin/env bash
# clang's thread-safety analysis (-Wthread-safety, as errors) over every source of tern: the
# ABSL_GUARDED_BY / ABSL_EXCLUSIVE_LOCKS_REQUIRED annotations are checked, not just comments.
# The analysis runs in clang's front end, so each file is only parsed (-fsyntax-only): about
# 1.5 min on 2 cores, cheap enough for `make test`. The flags come from build-tsa/ (configured
# with clang 14 and TERN_THREAD_SAFETY=ON, reusing the main build's generated Envoy API).
# `make check-thread-safety` builds the whole binary that way instead.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
if [ ! -f build-tsa/build.ninja ]; then
  cmake -S . -B build-tsa -G Ninja -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
    -DTERN_THREAD_SAFETY=ON -DTERN_WERROR=OFF -DTERN_PREBUILT_ENVOY_API="$PWD/$BUILD" >/dev/null
fi
list=$(mktemp)
trap 'rm -f "$list"' EXIT
python3 - "$list" <<'PY'
import json, shlex, sys
out = []
for e in json.load(open("build-tsa/compile_commands.json")):
    if "/src/" not in e["file"] or "proto_gen" in e["file"]:
        continue
    args, skip = [], False
    for a in shlex.split(e["command"]):
        if skip:
            skip = False
            continue
        if a in ("-o", "-MT", "-MF"):
            skip = True
            continue
        if a == "-MD":
            continue
        args.append(a)
    args.insert(1, "-fsyntax-only")
    out.append("cd " + shlex.quote(e["directory"]) + " && " + " ".join(shlex.quote(a) for a in args))
open(sys.argv[1], "w").write("\n".join(out) + "\n")
PY
n=$(wc -l < "$list")
# Each line runs as one command; only what the analysis reports is shown.
if ! tr '\n' '\0' < "$list" | xargs -0 -P "$(nproc)" -n 1 bash -c 'eval "$1" 2>&1 | grep -A3 "error:"; exit ${PIPESTATUS[0]}' _; then
  echo "check_thread_safety: the analysis failed (above)" >&2
  exit 1
fi
echo "check_thread_safety: $n sources analysed, no finding"
