"""The supported Django x Python matrix, one nox session per combination.

    nox -s suite                          # README's test command on the current interpreter
    nox -t matrix                         # the whole suite on every combination
    nox -s tests-3.13-django6.1           # one combination
    nox -t other-versions -- tests/unit tests/inprocess   # what .ci/run adds: the fast layers

Sessions pass their arguments to pytest (default: the whole suite). pyenv's shims answer only for
the active version, so the interpreters are taken from pyenv's ``versions/`` directory when it has
them, else from ``pythonX.Y`` on PATH.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nox

nox.options.sessions = ["suite"]

# (Python, Django): Django 6.x needs Python 3.12 or later.
MATRIX = [
    ("3.11", "5.2"),
    ("3.12", "5.2"),
    ("3.12", "6.0"),
    ("3.12", "6.1"),
    ("3.13", "5.2"),
    ("3.13", "6.0"),
    ("3.13", "6.1"),
]
# The combination .ci/run covers with README's test command (Python 3.11 installs Django 5.2).
README_COMBINATION = ("3.11", "5.2")


def interpreter(version: str) -> str:
    """The newest pyenv build of ``version`` (e.g. 3.12 -> .../versions/3.12.1/bin/python3.12)."""
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    builds = [
        path
        for path in root.glob(f"versions/{version}.*/bin/python{version}")
        if re.fullmatch(rf"{re.escape(version)}\.\d+", path.parent.parent.name)
    ]
    if not builds:
        return version
    newest = max(builds, key=lambda path: int(path.parent.parent.name.rsplit(".", 1)[1]))
    return str(newest)


@nox.session(python=False)
def suite(session: nox.Session) -> None:
    """README's test command, on the interpreter that runs nox (what .ci/run runs first)."""
    session.run("python", "-m", "pip", "install", "-q", "-e", ".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


def _matrix_session(python: str, django: str) -> None:
    def tests(session: nox.Session) -> None:
        # The project's own venv per combination; MYPY_CACHE_DIR keeps mypy's cache with it, so
        # combinations sharing a Python version do not invalidate each other's cache.
        session.env["MYPY_CACHE_DIR"] = str(Path(session.virtualenv.location) / ".mypy_cache")
        session.install("-q", "-e", ".[test]", f"django~={django}.0")
        session.run("python", "-m", "pytest", *session.posargs)

    tags = ["matrix"]
    if (python, django) != README_COMBINATION:
        tags.append("other-versions")
    tests.__doc__ = f"The test suite on Python {python} with Django {django}."
    nox.session(tests, python=interpreter(python), name=f"tests-{python}-django{django}", tags=tags)


for _python, _django in MATRIX:
    _matrix_session(_python, _django)
