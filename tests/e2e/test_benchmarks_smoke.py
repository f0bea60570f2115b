"""The benchmark harness works (CI runs it in --quick mode; speed is never asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.servers import ROOT


def test_quick_benchmark_runs_every_server_row_and_prints_ratio_tables(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--quick",
            "--strict",
            "--only",
            "echo,fanout,upgrade,deflate,presence,recovery",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "vs bare ASGI" in result.stdout
    assert "bunws" in result.stdout and "Channels" in result.stdout
    data = json.loads(out.read_text())
    assert data, "the JSON report is empty"
