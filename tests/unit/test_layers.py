"""The package's layering rules, read from the source (AST), not by importing it.

- ``bunws/core/`` imports only the standard library and ``bunws.core.*``, counting imports inside
  functions and under ``TYPE_CHECKING``: the core stays strict, so a type it needs lives in core.
- Only ``bunws/daphne/`` imports daphne, Twisted or autobahn.
- No import cycle between bunws modules, counting imports inside functions (imports under
  ``if TYPE_CHECKING:`` never run, so they are left out of this graph only).
- No module over 300 lines (migrations excepted).
- Every third-party package bunws imports is declared in ``pyproject.toml``.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "bunws"
MAX_LINES = 300
SERVER_STACK = {"daphne", "twisted", "autobahn"}
FRAMEWORKS = {"django", "channels", "asgiref", *SERVER_STACK}


@dataclass(frozen=True)
class Import:
    """One imported module name, where it is, and whether only type checkers see it."""

    target: str
    line: int
    type_checking: bool


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    """Every module of the package, by dotted name."""
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


MODULES = all_modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(module: str, node: ast.ImportFrom) -> str:
    """The absolute module an ``from ... import`` names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    is_package = MODULES.get(module, Path()).name == "__init__.py"
    base = module.split(".")
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports_of(module: str) -> Iterator[Import]:
    """Every module ``module`` imports, anywhere in the file.

    ``from a.b import c`` yields ``a.b``, and also ``a.b.c`` when that is a bunws module.
    """
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))

    def visit(node: ast.AST, type_checking: bool) -> Iterator[Import]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(alias.name, node.lineno, type_checking)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, node)
            yield Import(source, node.lineno, type_checking)
            for alias in node.names:
                if f"{source}.{alias.name}" in MODULES:
                    yield Import(f"{source}.{alias.name}", node.lineno, type_checking)
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                yield from visit(child, True)
            for child in node.orelse:
                yield from visit(child, type_checking)
            return
        for child in ast.iter_child_nodes(node):
            yield from visit(child, type_checking)

    yield from visit(tree, False)


def top(name: str) -> str:
    return name.split(".")[0]


def where(module: str, found: Import) -> str:
    path = MODULES[module].relative_to(ROOT)
    hint = " (under TYPE_CHECKING)" if found.type_checking else ""
    return f"{path}:{found.line} imports {found.target}{hint}"


def test_core_imports_only_the_standard_library_and_core() -> None:
    offenders = [
        where(module, found)
        for module in MODULES
        if module.startswith("bunws.core")
        for found in imports_of(module)
        if not (
            top(found.target) in sys.stdlib_module_names
            or found.target == "bunws.core"
            or found.target.startswith("bunws.core.")
        )
    ]
    assert not offenders, (
        "bunws/core/ may import only the standard library and bunws.core.* (no Django, "
        "Channels, asgiref, daphne, Twisted, autobahn, nor other bunws modules, not even for "
        "types; move a needed Protocol into core):\n  " + "\n  ".join(offenders)
    )


def test_importing_core_loads_no_framework() -> None:
    core = sorted(name for name in MODULES if name.startswith("bunws.core"))
    script = (
        "import importlib, sys\n"
        f"for name in {core!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {sorted(FRAMEWORKS)!r}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "", "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, f"importing bunws.core failed:\n{result.stderr}"
    assert result.stdout.strip() == "[]", (
        f"importing every bunws.core module loaded these framework modules: {result.stdout}"
    )


def test_only_the_daphne_layer_imports_daphne_twisted_or_autobahn() -> None:
    offenders = [
        where(module, found)
        for module in MODULES
        if not (module == "bunws.daphne" or module.startswith("bunws.daphne."))
        for found in imports_of(module)
        if top(found.target) in SERVER_STACK
    ]
    assert not offenders, (
        "only bunws/daphne/ may import daphne, twisted or autobahn; move these into a "
        "bunws.daphne module:\n  " + "\n  ".join(offenders)
    )


def import_graph() -> dict[str, set[str]]:
    """bunws module -> the bunws modules it imports at run time (function level included)."""
    graph: dict[str, set[str]] = {}
    for module in MODULES:
        graph[module] = {
            found.target
            for found in imports_of(module)
            if not found.type_checking and found.target in MODULES and found.target != module
        }
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """A shortest cycle through each strongly connected component of more than one module
    (Tarjan), as a path back to its start; ``components`` gives every module of the knot."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [_cycle_within(graph, set(component)) for component in components]


def _cycle_within(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest cycle through the component's first module, as a path back to itself."""
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node] & component):
                if nxt == start:
                    return [*paths[node], start]
                if nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"no cycle in component {sorted(component)}")  # pragma: no cover


def components(graph: dict[str, set[str]], start: str) -> set[str]:
    """The modules both reachable from ``start`` and reaching back to it."""

    def reach(edges: dict[str, set[str]]) -> set[str]:
        seen, todo = {start}, [start]
        while todo:
            for nxt in edges.get(todo.pop(), set()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    reverse: dict[str, set[str]] = {}
    for node, targets in graph.items():
        for target in targets:
            reverse.setdefault(target, set()).add(node)
    return reach(graph) & reach(reverse)


def test_find_cycles_reports_the_path() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_bunws_modules() -> None:
    graph = import_graph()
    cycles = find_cycles(graph)
    lines = []
    for cycle in cycles:
        lines.append(" -> ".join(cycle))
        others = components(graph, cycle[0]) - set(cycle)
        if others:
            lines.append("  and in the same knot: " + ", ".join(sorted(others)))
    assert not cycles, (
        f"{len(cycles)} import cycle(s) between bunws modules (imports inside functions "
        "count; break each by moving the shared piece into a module both can import):\n  "
        + "\n  ".join(lines)
    )


def test_no_module_is_over_300_lines() -> None:
    sizes = [
        (len(path.read_text(encoding="utf-8").splitlines()), path.relative_to(ROOT))
        for module, path in MODULES.items()
        if ".migrations" not in module
    ]
    offenders = [f"{path}: {lines} lines" for lines, path in sorted(sizes, reverse=True)]
    offenders = offenders[: sum(lines > MAX_LINES for lines, _ in sizes)]
    assert not offenders, (
        f"modules over {MAX_LINES} lines (split each by concept):\n  " + "\n  ".join(offenders)
    )


def test_every_third_party_package_bunws_imports_is_a_declared_dependency() -> None:
    """asgiref, Twisted and autobahn came in through daphne and Channels; bunws imports them
    itself, so pyproject.toml names them (and their bounds) too."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        project = tomllib.load(file)["project"]
    # A runtime extra (bunws[metrics]) declares what only its module imports; "test" does not.
    extras = [
        requirement
        for extra, requirements in project.get("optional-dependencies", {}).items()
        if extra != "test"
        for requirement in requirements
    ]
    declared = {
        canonical(re.split(r"[\s;<>=!~\[]", requirement, maxsplit=1)[0])
        for requirement in [*project["dependencies"], *extras]
    }
    distributions = packages_distributions()
    missing = {}
    for module in MODULES:
        for found in imports_of(module):
            name = top(found.target)
            if name in sys.stdlib_module_names or name == "bunws" or found.type_checking:
                continue
            # The distribution named like the import (twisted -> Twisted), else any that ships it.
            options = [canonical(dist) for dist in distributions.get(name, [name])]
            own = [dist for dist in options if dist == canonical(name)] or options
            if not declared.intersection(own):
                missing.setdefault(name, where(module, found))
    assert not missing, (
        "bunws imports packages pyproject.toml does not declare in [project] dependencies:\n  "
        + "\n  ".join(f"{name} (first: {place})" for name, place in sorted(missing.items()))
    )


def canonical(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()
