#!/usr/bin/env python3
"""Import circles between the files of a crate.

For each `.rs` file under a crate's `src/`, collects the modules it names through
`crate::…` and `super::…` paths (in `use` lines and inline paths; comments and doc
links are skipped; an item re-exported by lib.rs counts as its defining module), then
reports every strongly connected component of more than one file. A file's
`#[cfg(test)] mod tests` is counted apart, as `<file>#tests`: tests may use what they
test from anywhere without making the code itself circular.

Usage: scripts/check-import-cycles.py [CRATE_SRC_DIR ...]   (default: engine/src schema-infer/src)
Exits 1 if a circle is found.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def modules(src):
    """Module path (tuple) -> file, for every .rs file under src."""
    mods = {}
    for dirpath, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, f), src)
            parts = rel[:-3].split(os.sep)
            if parts[-1] in ("lib", "main", "mod"):
                parts = parts[:-1]
            mods[tuple(parts)] = os.path.join(dirpath, f)
    return mods


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line for line in text.split("\n") if not line.lstrip().startswith("//"))


def split_tests(text):
    """(code, tests): a trailing `#[cfg(test)] mod tests { … }` goes apart."""
    m = re.search(r"#\[cfg\(test\)\]\s*mod tests\s*\{", text)
    return (text, "") if not m else (text[: m.start()], text[m.start():])


def paths(text):
    """Every `crate::…` / `super::…` path, with `{a, b::c}` groups expanded."""
    out = []
    for m in re.finditer(r"\b(crate|super)((?:::(?:super|\w+))*)(::\{)?", text):
        head = [m.group(1)] + [p for p in m.group(2).split("::") if p]
        if m.group(3):  # a group: read to the matching brace
            depth, i = 1, m.end()
            while depth and i < len(text):
                depth += {"{": 1, "}": -1}.get(text[i], 0)
                i += 1
            inner = text[m.end(): i - 1]
            for item in re.split(r",", re.sub(r"\{[^{}]*\}", "", inner)):
                item = item.strip().split(" as ")[0]
                if item and item != "self":
                    out.append(head + item.split("::"))
                elif item == "self":
                    out.append(head)
        else:
            out.append(head)
    return out


def reexports(lib_text):
    """Item name -> module path, from lib.rs's `pub use a::b::{X, Y}` lines."""
    names = {}
    for m in re.finditer(r"pub use ([\w:]+?)(?:::\{([^}]*)\}|::(\w+));", lib_text):
        mod = tuple(m.group(1).split("::"))
        items = m.group(2).split(",") if m.group(2) else [m.group(3)]
        for it in items:
            it = it.strip()
            if it:
                names[it] = mod
    return names


def resolve(path, here, mods, names, in_tests):
    """The module (tuple) a path names, from module `here`."""
    if path[0] == "crate":
        cur, rest = (), path[1:]
    else:  # super: from a test module, `super` is the file itself
        cur, rest = here if in_tests else here[:-1], path[1:]
        while rest and rest[0] == "super":
            cur, rest = cur[:-1], rest[1:]
    best = cur
    for i, p in enumerate(rest):
        if cur + tuple(rest[: i + 1]) in mods:
            best = cur + tuple(rest[: i + 1])
        else:
            break
    if best == () and rest and rest[0] in names:  # crate::Item re-exported by lib.rs
        best = names[rest[0]]
        while best not in mods and best:
            best = best[:-1]
    return best


def sccs(graph):
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)

    sys.setrecursionlimit(10000)
    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def check(src):
    mods = modules(src)
    lib = mods.get(())
    names = reexports(open(lib).read()) if lib else {}
    name = lambda m: "::".join(m) or "lib"
    graph, edges = {}, 0
    for mod, f in sorted(mods.items()):
        code, tests = split_tests(strip_comments(open(f).read()))
        for part, in_tests in ((code, False), (tests, True)):
            node = name(mod) + ("#tests" if in_tests else "")
            graph.setdefault(node, set())
            for p in paths(part):
                target = resolve(p, mod, mods, names, in_tests)
                if target != mod and target != () and target in mods:
                    graph[node].add(name(target))
                    edges += 1
    # lib.rs and a folder's mod.rs only declare and re-export: their `pub use` lines are not
    # dependencies of the code (every module reaches them through `crate::`), so lib is left out.
    graph.pop("lib", None)
    for v in graph:
        graph[v].discard("lib")
    bad = [sorted(c) for c in sccs(graph) if len(c) > 1]
    files = sum(1 for v in graph if not v.endswith("#tests"))
    rel = os.path.relpath(src, ROOT)
    print(f"{rel}: {files} files, {sum(len(s) for s in graph.values())} module dependencies")
    for c in bad:
        print(f"  CIRCLE: {' <-> '.join(c)}")
        for v in c:
            print(f"    {v} -> {', '.join(sorted(w for w in graph[v] if w in c))}")
    if not bad:
        print("  no import circles")
    return not bad


def main():
    dirs = sys.argv[1:] or [os.path.join(ROOT, "engine/src"), os.path.join(ROOT, "schema-infer/src")]
    ok = all([check(os.path.abspath(d)) for d in dirs])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
