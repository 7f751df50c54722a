"""The repository's import graph from the source (AST), with every import counted: module level, under
``if TYPE_CHECKING:`` and inside functions. A cycle hidden from the interpreter still couples the modules."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

Graph = dict[str, set[str]]


def module_name(path: Path, base: Path) -> str:
    parts = path.relative_to(base).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, known: set[str]) -> set[str]:
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    if node.level:  # relative: resolved against the importing module's package
        package = module.split(".") if is_package else module.split(".")[:-1]
        anchor = package[: len(package) - node.level + 1]
        source = ".".join([*anchor, node.module] if node.module else anchor)
    else:
        source = node.module or ""
    # ``from pkg import name`` imports the module pkg.name when there is one, else a name defined in pkg.
    return {f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else source for alias in node.names}


def import_graph(roots: Iterable[Path], base: Path) -> Graph:
    """Edges between the modules under ``roots`` (directories below ``base``); imports of anything else are dropped."""
    files = {module_name(path, base): path for root in roots for path in sorted(root.rglob("*.py"))}
    known = set(files)
    graph: Graph = {}
    for module, path in files.items():
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):  # every import, at any depth
            if isinstance(node, ast.Import | ast.ImportFrom):
                edges |= _imported(node, module, path.name == "__init__.py", known)
        graph[module] = {target for target in edges if target in known and target != module}
    return graph


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted, in a stable order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def reachable(graph: Mapping[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    pending = [start]
    while pending:
        for target in graph.get(pending.pop(), ()):
            if target not in seen:
                seen.add(target)
                pending.append(target)
    return seen


def crossings(graph: Mapping[str, set[str]], package: str, forbidden: str) -> list[tuple[str, str]]:
    """(module in ``package``, module in ``forbidden`` it reaches, directly or through others)."""

    def inside(module: str, prefix: str) -> bool:
        return module == prefix or module.startswith(prefix + ".")

    return sorted(
        (module, target)
        for module in graph
        if inside(module, package)
        for target in reachable(graph, module)
        if inside(target, forbidden)
    )
