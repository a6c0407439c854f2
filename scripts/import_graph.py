"""The import graph between the project's own modules: cycles, and imports made inside
function bodies. Prints JSON.

Usage: python scripts/import_graph.py
"""
import ast
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("scendcore", "contacts", "sequences", "agents", "approvals", "messaging")
SKIP_PARTS = {"migrations", "tests", "management"}


def module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules():
    found = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if SKIP_PARTS & set(path.relative_to(ROOT).parts):
                continue
            found[module_name(path)] = path
    return found


def resolve(current, is_package, node, known):
    """Project modules named by one import statement."""
    names = []
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        if node.level:
            base = current.split(".")
            if not is_package:
                base = base[:-1]
            base = base[: len(base) - (node.level - 1)]
            prefix = ".".join(base + ([node.module] if node.module else []))
        else:
            prefix = node.module or ""
        # `from package import submodule` depends on the submodule; `from module import
        # name` on the module.
        submodules = [f"{prefix}.{alias.name}" for alias in node.names if f"{prefix}.{alias.name}" in known]
        names = submodules if len(submodules) == len(node.names) else submodules + [prefix]
    targets = set()
    for name in names:
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name and name != current:
            targets.add(name)
    return targets


def graph():
    known = modules()
    edges, inner = {}, []
    for name, path in known.items():
        tree = ast.parse(path.read_text())
        is_package = path.name == "__init__.py"
        edges[name] = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                targets = resolve(name, is_package, node, known)
                edges[name] |= targets
        for func in ast.walk(tree):
            if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(func):
                    if isinstance(node, (ast.Import, ast.ImportFrom)):
                        for target in resolve(name, is_package, node, known):
                            inner.append((name, target))
    return edges, inner


def cycles(edges):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10_000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    return out


def app_of(module):
    return module.split(".")[0]


if __name__ == "__main__":
    edges, inner = graph()
    found = cycles(edges)
    print(json.dumps({
        "modules": len(edges),
        "cycles": len(found),
        "largest_cycle": max((len(c) for c in found), default=0),
        "modules_in_cycles": sum(len(c) for c in found),
        "cycles_across_apps": sum(1 for c in found if len({app_of(m) for m in c}) > 1),
        "in_function_imports": len(inner),
        "in_function_imports_across_apps": sum(1 for a, b in inner if app_of(a) != app_of(b)),
        "cycle_members": found,
    }, indent=1))
