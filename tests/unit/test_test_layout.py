"""The suite's own layout: a test file sits in the layer its tests need (``tests/unit/``: no
server, database or Redis; ``tests/inprocess/``: nothing outside the test process), and no test
module imports another: what tests share lives in ``tests/support/``."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.servers import ROOT

TESTS = ROOT / "tests"
LAYERS = ("unit", "inprocess", "e2e")

#: Fixtures that start or reach a server or a database (pytest-django's and tests/conftest.py's).
DATABASE_FIXTURES = {
    "db",
    "transactional_db",
    "django_db_setup",
    "client",
    "async_client",
    "admin_client",
    "admin_user",
    "django_user_model",
    "live_server",
}
SERVER_FIXTURES = {"server"}
#: What only an end-to-end test needs: a running server, Redis, PostgreSQL, a browser.
OUTSIDE = {
    "tests.support.clients",
    "tests.support.http",
    "tests.support.services",
    "redis",
    "psycopg",
    "playwright",
    "websockets",
}
OUTSIDE_NAMES = {("tests.support.servers", "daphne_server"), ("tests.support.servers", "migrate")}


def modules(layer: str) -> list[Path]:
    return sorted((TESTS / layer).glob("test_*.py"))


def imported(tree: ast.Module) -> Iterator[tuple[str, str | None]]:
    """Every imported module, with each name taken from it (``None`` for ``import x``)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                yield "." * node.level + (node.module or ""), None
            for alias in node.names:
                yield node.module or "", alias.name


def parametrized(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """The argument names ``@pytest.mark.parametrize`` gives ``function`` (not fixtures)."""
    names: set[str] = set()
    for decorator in function.decorator_list:
        if not (isinstance(decorator, ast.Call) and decorator.args):
            continue
        if getattr(decorator.func, "attr", None) != "parametrize":
            continue
        first = decorator.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            names.update(name.strip() for name in first.value.split(","))
        elif isinstance(first, ast.Tuple | ast.List):
            names.update(e.value for e in first.elts if isinstance(e, ast.Constant))
    return names


def requested_fixtures(tree: ast.Module) -> set[str]:
    """The fixtures the module's tests and fixtures request (their parameters, less the
    parametrized ones); nested functions (handlers, helpers) are not pytest's."""
    names: set[str] = set()
    functions = [node for node in tree.body if isinstance(node, ast.ClassDef)]
    for node in [*tree.body, *(item for cls in functions for item in cls.body)]:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            arguments = {arg.arg for arg in node.args.args + node.args.kwonlyargs}
            names.update(arguments - parametrized(node) - {"self", "cls"})
    return names


def uses_django_db_mark(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.Attribute) and node.attr == "django_db" for node in ast.walk(tree)
    )


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), str(path))


def where(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_no_test_module_imports_another() -> None:
    test_packages = {("tests", layer) for layer in LAYERS}
    offenders = sorted(
        {
            f"{where(path)} imports {module}"
            for layer in LAYERS
            for path in modules(layer)
            for module, _ in imported(parse(path))
            if module.startswith(".") or tuple(module.split(".")[:2]) in test_packages
        }
    )
    assert not offenders, (
        "test modules import helpers from other test modules; move what they share to "
        "tests/support/:\n  " + "\n  ".join(offenders)
    )


@pytest.mark.parametrize("layer", ["unit", "inprocess"])
def test_unit_and_inprocess_tests_start_no_server_and_reach_no_outside_service(layer: str) -> None:
    offenders = []
    for path in modules(layer):
        tree = parse(path)
        for module, name in imported(tree):
            if (
                module.split(".")[0] in OUTSIDE
                or module in OUTSIDE
                or (module, name) in OUTSIDE_NAMES
            ):
                offenders.append(f"{where(path)} imports {module}{'.' + name if name else ''}")
        for fixture in sorted(requested_fixtures(tree) & SERVER_FIXTURES):
            offenders.append(f"{where(path)} requests the fixture {fixture!r}")
        if layer == "inprocess" and any(m == "subprocess" for m, _ in imported(tree)):
            offenders.append(f"{where(path)} starts a subprocess")
    assert not offenders, (
        f"tests/{layer}/ runs without a server or anything outside the test process; move "
        "these tests to tests/e2e/:\n  " + "\n  ".join(offenders)
    )


def test_unit_tests_use_no_database() -> None:
    offenders = []
    for path in modules("unit"):
        tree = parse(path)
        for fixture in sorted(requested_fixtures(tree) & DATABASE_FIXTURES):
            offenders.append(f"{where(path)} requests the fixture {fixture!r}")
        if uses_django_db_mark(tree):
            offenders.append(f"{where(path)} uses pytest.mark.django_db")
    assert not offenders, (
        "tests/unit/ runs without a database; move these tests to tests/inprocess/:\n  "
        + "\n  ".join(offenders)
    )


def django_db_marks(nodes: list[ast.expr]) -> list[ast.expr]:
    """The ``pytest.mark.django_db`` marks (bare or called) among ``nodes``."""
    found = []
    for node in nodes:
        for mark in node.elts if isinstance(node, ast.List | ast.Tuple) else [node]:
            target = mark.func if isinstance(mark, ast.Call) else mark
            if isinstance(target, ast.Attribute) and target.attr == "django_db":
                found.append(mark)
    return found


def transactional(mark: ast.expr) -> bool:
    return isinstance(mark, ast.Call) and any(
        keyword.arg == "transaction"
        and isinstance(keyword.value, ast.Constant)
        and keyword.value.value is True
        for keyword in mark.keywords
    )


def test_async_tests_reach_the_database_only_in_transactional_tests() -> None:
    """An ``async def`` test runs its ORM calls (``sync_to_async``) in asgiref's executor thread,
    on another connection than the test's transaction: what it writes would outlive the test and
    show up in later ones. So such a test is ``django_db(transaction=True)`` (or sync, with
    ``async_to_sync``, which runs the ORM back in the test's thread)."""
    offenders = []
    for layer in LAYERS:
        for path in modules(layer):
            tree = parse(path)
            module_marks = django_db_marks(
                [
                    node.value
                    for node in tree.body
                    if isinstance(node, ast.Assign)
                    and any(getattr(t, "id", None) == "pytestmark" for t in node.targets)
                ]
            )
            for node in tree.body:
                if not (isinstance(node, ast.AsyncFunctionDef) and node.name.startswith("test_")):
                    continue
                marks = django_db_marks(node.decorator_list) or module_marks
                fixtures = {arg.arg for arg in node.args.args} & {"db", "client", "admin_client"}
                if (marks and not all(transactional(mark) for mark in marks)) or fixtures:
                    offenders.append(f"{where(path)}::{node.name}")
    assert not offenders, (
        "async tests on the test database without transaction=True:\n  " + "\n  ".join(offenders)
    )
