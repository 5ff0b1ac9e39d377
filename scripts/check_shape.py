#!/usr/bin/env python3
"""Guard the shape (issue 13): no component includes a header of a component above it.

The allowed edges are the CMake target graph: src/<c>/CMakeLists.txt declares
`vv_add_library(<c> DEPS vv_a vv_b ...)`, and a file under src/<c>/ may include "x/..." only
when x is <c> itself or a (transitive) vv_ dependency of vv_<c>. An include of any other
component is an upward (or sideways) arrow and fails the check, naming file, line and edge.
Also fails when the declared graph has a cycle. Run by CTest (label `shape`):
    python3 scripts/check_shape.py <source-dir>
"""
import os
import re
import sys


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    src = os.path.join(root, "src")
    comps = sorted(d for d in os.listdir(src) if os.path.isfile(os.path.join(src, d, "CMakeLists.txt")))
    deps = {}
    for c in comps:
        text = open(os.path.join(src, c, "CMakeLists.txt")).read()
        m = re.search(r"vv_add_library\(\s*(\w+)(.*?)\)", text, re.S)
        if not m:
            continue
        deps[m.group(1)] = set(re.findall(r"\bvv_(\w+)", m.group(2))) & set(comps)

    closure = {}

    def reach(c, stack):
        if c in closure:
            return closure[c]
        if c in stack:
            raise SystemExit("shape: dependency cycle in the CMake graph: " + " -> ".join(stack + [c]))
        out = set()
        for d in deps.get(c, ()):
            out |= {d} | reach(d, stack + [c])
        closure[c] = out
        return out

    for c in deps:
        reach(c, [])

    include = re.compile(r'^\s*#\s*include\s*"([a-z0-9_]+)/')
    bad = []
    for c in comps:
        allowed = {c} | closure.get(c, set())
        for dirpath, _, files in os.walk(os.path.join(src, c)):
            for f in sorted(files):
                if not f.endswith((".h", ".cc", ".hpp", ".cpp")):
                    continue
                path = os.path.join(dirpath, f)
                for n, line in enumerate(open(path, errors="replace"), 1):
                    m = include.match(line)
                    if m and m.group(1) in comps and m.group(1) not in allowed:
                        bad.append(f"{os.path.relpath(path, root)}:{n}: {c} -> {m.group(1)} "
                                   f"(not a dependency of vv_{c} in src/{c}/CMakeLists.txt)")
    if bad:
        print("shape: includes against the layering:\n  " + "\n  ".join(bad))
        return 1
    print(f"shape: OK ({len(comps)} components, every include follows the CMake target graph)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
