#!/usr/bin/env python3
"""The layering check: a file under src/<layer>/ may include only its own layer and the layers its
library links (directly or through them), as src/CMakeLists.txt declares them with tern_layer().

    scripts/check_layers.py [SRC_DIR]          check the tree (default: src next to this script)
    scripts/check_layers.py --self-test        show that a lower layer including a higher one fails

Exit 0 when every include respects the layers; 1 with one line per violation (file:line: what it
includes, which layer that is, which layers it may include) otherwise. Run by `make test`
(ctest `layering` and `layering.self_test`).
"""
import os
import re
import shutil
import sys
import tempfile

LAYER_CALL = re.compile(r"tern_layer\(\s*tern_(\w+)\s+(\w+)([^)]*)\)", re.S)
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def read_layers(src):
    """layer dir -> set of layer dirs it may include (itself included)."""
    text = open(os.path.join(src, "CMakeLists.txt"), encoding="utf-8").read()
    direct = {}
    for _lib, directory, args in LAYER_CALL.findall(text):
        deps = set(re.findall(r"\btern_(\w+)\b", args))
        direct[directory] = deps
    if not direct:
        raise SystemExit("check_layers: no tern_layer() calls found in %s/CMakeLists.txt" % src)
    allowed = {}
    for layer in direct:
        seen, todo = {layer}, list(direct[layer])
        while todo:
            d = todo.pop()
            if d in seen:
                continue
            seen.add(d)
            todo.extend(direct.get(d, ()))
        allowed[layer] = seen
    return allowed


def check(src):
    allowed = read_layers(src)
    problems = []
    for layer in sorted(allowed):
        root = os.path.join(src, layer)
        for dirpath, _dirs, files in os.walk(root):
            for name in sorted(files):
                if not name.endswith((".h", ".cc")):
                    continue
                path = os.path.join(dirpath, name)
                with open(path, encoding="utf-8", errors="replace") as f:
                    for lineno, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        target = m.group(1).split("/", 1)[0]
                        if target not in allowed or "/" not in m.group(1):
                            continue  # not a tern layer (generated protos, third-party)
                        if target not in allowed[layer]:
                            rel = os.path.relpath(path, os.path.dirname(src))
                            problems.append(
                                "%s:%d: the %s layer includes \"%s\" (layer %s); it may include only: %s"
                                % (rel, lineno, layer, m.group(1), target, ", ".join(sorted(allowed[layer]))))
    return problems


def self_test(src):
    """Copies the tree's CMakeLists and one lower-layer file, adds an upward include, and checks
    that it is reported; the untouched copy must pass."""
    tmp = tempfile.mkdtemp(prefix="tern-layers-")
    try:
        fake = os.path.join(tmp, "src")
        os.makedirs(os.path.join(fake, "model"))
        os.makedirs(os.path.join(fake, "server"))
        shutil.copy(os.path.join(src, "CMakeLists.txt"), fake)
        with open(os.path.join(fake, "server", "ok.h"), "w") as f:
            f.write('#include "model/world.h"\n')
        with open(os.path.join(fake, "model", "bad.h"), "w") as f:
            f.write('#pragma once\n#include "model/model.h"\n#include "server/reconciler.h"\n')
        problems = check(fake)
        if len(problems) != 1 or "model/bad.h:3" not in problems[0] or "server/reconciler.h" not in problems[0]:
            print("self-test: expected exactly the upward include model/bad.h:3 to be reported, got:", problems)
            return 1
        print("self-test: an upward include is reported:\n  " + problems[0])
        os.remove(os.path.join(fake, "model", "bad.h"))
        if check(fake):
            print("self-test: a tree without upward includes was reported")
            return 1
        return 0
    finally:
        shutil.rmtree(tmp)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    src = os.path.join(os.path.dirname(here), "src")
    args = sys.argv[1:]
    if args and args[0] == "--self-test":
        return self_test(args[1] if len(args) > 1 else src)
    if args:
        src = args[0]
    problems = check(src)
    for p in problems:
        print(p)
    if problems:
        print("check_layers: %d include(s) break the layering of src/CMakeLists.txt" % len(problems))
        return 1
    print("check_layers: every include respects the layers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
