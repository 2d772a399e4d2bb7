"""No import cycle between touchline's packages, lazy imports inside functions included.

Nodes are the four card folders (`touchline.schemas`, `.streams`, `.sinks`, `.dashboards`, each
with its subpackages), every subpackage of `touchline/` (`touchline.plan`, `.webhooks`, ...)
and every module directly in `touchline/` (`touchline.settings`, `touchline.cli.main`, ...). An edge
is any `import` of one node from another, read from the source with `ast`, so an import made
only inside a function counts too.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: installed package -> its folder (pyproject `package-dir`)
FOLDERS = {"touchline.schemas": "schemas", "touchline.streams": "streams",
           "touchline.sinks": "sinks", "touchline.dashboards": "dashboards",
           "touchline": "touchline"}
CARDS = ("touchline.schemas", "touchline.streams", "touchline.sinks", "touchline.dashboards")


def node(module: str) -> str:
    """The package (or top-level module of touchline/) a dotted module name belongs to."""
    for card in CARDS:
        if module == card or module.startswith(card + "."):
            return card
    return ".".join(module.split(".")[:2])


def imports_of(path: Path, module: str, is_package: bool) -> set[str]:
    """Every touchline module `path` imports, at any depth of its code."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for n in ast.walk(ast.parse(path.read_text())):
        if isinstance(n, ast.Import):
            found.update(a.name for a in n.names)
        elif isinstance(n, ast.ImportFrom):
            if n.level:
                base = package.split(".")[: len(package.split(".")) - n.level + 1]
                target = ".".join([*base, *([n.module] if n.module else [])])
            else:
                target = n.module or ""
            found.add(target)
            found.update(f"{target}.{a.name}" for a in n.names)
    return {m for m in found if m == "touchline" or m.startswith("touchline.")}


def package_graph() -> dict[str, dict[str, set[str]]]:
    """node -> imported node -> the `file -> module` imports that make the edge."""
    graph: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for package, folder in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = [p for p in path.relative_to(ROOT / folder).with_suffix("").parts
                     if p != "__init__"]
            module = ".".join([package, *parts])
            source = node(module)
            for target in imports_of(path, module, path.name == "__init__.py"):
                if node(target) not in (source, "touchline"):
                    graph[source][node(target)].add(
                        f"{path.relative_to(ROOT)} -> {target}")
    return graph


def cycles(graph: dict[str, dict[str, set[str]]]) -> list[list[str]]:
    """Strongly connected groups of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in list(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_between_packages():
    graph = package_graph()
    report = []
    for group in cycles(graph):
        edges = [f"  {a} -> {b}: {sorted(graph[a][b])[0]}"
                 for a in group for b in group if b in graph[a]]
        report.append(" <-> ".join(group) + "\n" + "\n".join(edges))
    assert not report, "import cycles between packages:\n" + "\n".join(report)


def test_the_check_sees_lazy_imports_and_would_fail_on_a_cycle():
    graph = package_graph()
    # streams imports the settings (lazily, inside functions, in places): an edge it must see
    assert "touchline.settings" in graph["touchline.streams"]
    graph["touchline.settings"]["touchline.streams"].add("a made-up import back")
    assert any({"touchline.settings", "touchline.streams"} <= set(group)
               for group in cycles(graph))
