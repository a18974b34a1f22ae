#!/usr/bin/env python3
"""Layout figures for the firmware tree: files and lines per folder, the largest file,
module import cycles inside each crate (from `use crate::…` / `super::…` paths), and the
lines of source files that have no unit test module (`#[cfg(test)]`).

Usage: python3 .ci/layout-report.py [firmware]
"""
import os
import re
import sys
from collections import defaultdict

root = sys.argv[1] if len(sys.argv) > 1 else "firmware"

files = []
for d, _, names in os.walk(root):
    if "/target" in d:
        continue
    for n in names:
        if n.endswith(".rs"):
            p = os.path.join(d, n)
            with open(p, encoding="utf-8") as f:
                files.append((p, f.read()))

per_folder = defaultdict(lambda: [0, 0])
for p, text in files:
    folder = os.path.dirname(p)
    per_folder[folder][0] += 1
    per_folder[folder][1] += text.count("\n")
print("folder                                         files  lines")
for folder in sorted(per_folder):
    n, lines = per_folder[folder]
    print(f"{folder:<46} {n:>5} {lines:>6}")
largest = max(files, key=lambda f: f[1].count("\n"))
print(f"largest file: {largest[0]} ({largest[1].count(chr(10))} lines)")


def module_of(path):
    """(crate src dir, module path) of a source file."""
    i = path.index("/src/")
    src, rel = path[: i + 5], path[i + 5 :]
    rel = rel[:-3]
    parts = rel.split("/")
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return src, tuple(parts)


edges = defaultdict(set)
modules = defaultdict(set)
for p, text in files:
    if "/src/" not in p:
        continue
    src, me = module_of(p)
    modules[src].add(me)
    # Only the code outside test modules counts.
    body = text.split("#[cfg(test)]")[0]
    body = "\n".join(l for l in body.splitlines() if not l.lstrip().startswith("//"))
    for m in re.finditer(r"\b(crate|super)::([a-z_][a-z0-9_]*(?:::[a-z_][a-z0-9_]*)*)", body):
        base, rest = m.group(1), m.group(2).split("::")
        if base == "crate":
            target = tuple(rest)
        else:
            target = me[:-1] + tuple(rest)
        # the longest prefix that is a module of this crate
        edges[(src, me)].add((src, target))

cycles = set()
for src, mods in modules.items():
    def resolve(t):
        while t and t not in mods:
            t = t[:-1]
        return t

    graph = defaultdict(set)
    for (s, m), targets in edges.items():
        if s != src:
            continue
        for _, t in targets:
            r = resolve(t)
            # a module using its own child or parent is a tree, not a cycle
            if r and r != m and r[: len(m)] != m and m[: len(r)] != r:
                graph[m].add(r)
    for a in graph:
        for b in graph[a]:
            if a in graph.get(b, ()):
                cycles.add((src, tuple(sorted(["::".join(a), "::".join(b)]))))
print(f"import cycles (two modules using each other): {len(cycles)}")
for src, pair in sorted(cycles):
    print(f"  {src}: {pair[0]} <-> {pair[1]}")

untested = [(p, t.count("\n")) for p, t in files if "/src/" in p and "#[cfg(test)]" not in t and not p.endswith("tests.rs") and "_tests.rs" not in p]
total = sum(n for _, n in untested)
print(f"source files with no unit test module: {len(untested)}, {total} lines")
for p, n in sorted(untested, key=lambda x: -x[1])[:12]:
    print(f"  {n:>5} {p}")
