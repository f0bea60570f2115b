"""Command line: ``python -m benchmarks [--quick] [--only echo,fanout] [--json P] [--png P]``."""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
import tempfile
import time
import traceback
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.progress import Progress
from benchmarks.registry import WORKLOADS
from benchmarks.report import Table, write_json, write_png
from benchmarks.servers import SERVER_CPU, pin
from benchmarks.workloads import Context, Params

RUNNER_CPU = 1


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark bunws against bare ASGI and Channels on real daphne servers.",
    )
    parser.add_argument("--quick", action="store_true", help="~1 s per measurement (CI smoke run)")
    parser.add_argument(
        "--only",
        default="",
        help=f"comma-separated workloads, from: {', '.join(WORKLOADS)} (default: all)",
    )
    parser.add_argument("--json", type=Path, help="write results as JSON to this path")
    parser.add_argument("--png", type=Path, help="write a bar chart of ratios (needs matplotlib)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin server/client to CPUs")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir with server logs")
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when any row failed (default: only crashes)"
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(WORKLOADS)
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}")
    args.names = names
    return args


def meta(args: argparse.Namespace, params: Params) -> dict[str, Any]:
    versions = {}
    for name in ("django", "channels", "daphne", "picows", "twisted", "bunws"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "pinned": None if args.no_pin else {"server": SERVER_CPU, "client": RUNNER_CPU},
        "quick": args.quick,
        "params": params.__dict__,
        "versions": versions,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    params = Params.quick(pin=not args.no_pin) if args.quick else Params(pin=not args.no_pin)
    if params.pin:
        pin(os.getpid(), RUNNER_CPU)  # the runner mostly sleeps; keep it off the server's CPU
    progress = Progress()
    tables: list[Table] = []
    crashed: list[str] = []
    began = time.monotonic()
    workdir: contextlib.AbstractContextManager[str] = (
        contextlib.nullcontext(tempfile.mkdtemp(prefix="bunws-bench-"))
        if args.keep
        else tempfile.TemporaryDirectory(prefix="bunws-bench-")
    )
    with workdir as tmp:
        ctx = Context(params, Path(tmp), progress)
        if args.keep:
            progress.note(f"server logs in {tmp}")
        for name in args.names:
            try:
                produced = WORKLOADS[name](ctx)
            except Exception:  # a crashed workload fails the run, but the others still run
                progress.clear()
                crashed.append(name)
                print(f"== workload {name} crashed:\n{traceback.format_exc()}", flush=True)
                continue
            progress.clear()
            for table in produced:
                print(table.render() + "\n", flush=True)
            tables.extend(produced)
    progress.note(f"done in {time.monotonic() - began:.0f} s")
    print(summary(tables, crashed), flush=True)
    if args.json:
        write_json(args.json, tables, meta(args, params))
    if args.png:
        write_png(args.png, tables)
    failed_rows = sum(row.values is None for table in tables for row in table.rows)
    return 1 if crashed or (args.strict and failed_rows) else 0


def summary(tables: list[Table], crashed: list[str]) -> str:
    """Every target's status in one place, then failed rows and crashed workloads."""
    lines = ["== targets (issue 4)"]
    for table in tables:
        lines += [f"[{table.key}] {target.status(table)}" for target in table.targets]
    failed = [f"{t.key}/{r.label}" for t in tables for r in t.rows if r.values is None]
    if failed:
        lines.append(f"rows that failed ({len(failed)}): {', '.join(failed)}")
    if crashed:
        lines.append(f"workloads that crashed: {', '.join(crashed)}")
    return "\n".join(lines)


def run_only(name: str, argv: list[str]) -> int:
    """Entry point for the thin per-workload scripts."""
    return main(["--only", name, *argv])


if __name__ == "__main__":
    sys.exit(main())
