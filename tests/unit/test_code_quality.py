"""bunws stays ruff-clean, formatted and ``mypy --strict`` clean (run by the test command)."""

from __future__ import annotations

import subprocess
import sys

from tests.support.servers import ROOT


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_bunws_passes_ruff_lint_and_format() -> None:
    lint = _run("ruff", "check", "bunws", "tests", "project", "benchmarks")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = _run("ruff", "format", "--check", "bunws")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_bunws_is_mypy_strict_clean() -> None:
    result = _run("mypy", "bunws")
    assert result.returncode == 0, result.stdout + result.stderr
