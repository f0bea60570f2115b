"""Workload ``metrics``: echo and fan-out with bunws's metrics on vs off (issue 15, >= 0.97x).

*on* is the library under test with ``prometheus_client`` installed (the collector registered in
the default registry) and ``/metrics`` scraped once a second while the client measures. *off* is
bunws as it was before the counters existed: the tree of ``$BUNWS_BENCH_METRICS_REF`` (default: the parent
of the commit that added ``bunws/core/stats.py``, or ``HEAD`` while that file is uncommitted),
extracted with ``git archive`` and put first on the server's ``PYTHONPATH``. Everything else
(settings, endpoints, client) is the same. The rows alternate, ``rounds`` times each, and each
row reports its median round, so a slow spell on the shared cores hits both alike.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tarfile
import threading
import urllib.request
from io import BytesIO
from pathlib import Path
from typing import Any

from benchmarks.report import Column, Table, Target
from benchmarks.servers import BUNWS, REPO_ROOT, ServerError, ServerSpec
from benchmarks.workloads import (
    CLIENT_CPU,
    SERVER_CPU,
    SERVER_US,
    ClientError,
    Context,
    one_line,
)

OFF, ON = "metrics off (bunws before metrics)", "metrics on (scraped every 1 s)"


def reference_commit() -> str:
    """The commit whose bunws has no counters: before the one that added core/stats.py."""
    added = subprocess.run(
        ["git", "log", "--diff-filter=A", "--format=%H", "--", "bunws/core/stats.py"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return f"{added[-1]}^" if added else "HEAD"


def extract(ref: str, into: os.PathLike[str]) -> None:
    """``bunws/`` as of ``ref`` (read from the object store; the work tree is not touched)."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref, "bunws"], cwd=REPO_ROOT, capture_output=True
    )
    if archive.returncode:
        raise ServerError(f"git archive {ref}: {archive.stderr.decode().strip()}")
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")


class Scraper(threading.Thread):
    """GETs ``/metrics`` once a second until stopped, as Prometheus would."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.url = f"http://127.0.0.1:{port}/metrics"
        self.stopped = threading.Event()
        self.scrapes = 0
        self.error = ""

    def run(self) -> None:
        while not self.stopped.wait(1.0):
            try:
                with urllib.request.urlopen(self.url, timeout=5) as response:
                    if b"bunws_messages_received_total" in response.read():
                        self.scrapes += 1
            except OSError as exc:
                self.error = one_line(exc)


def metrics(ctx: Context) -> list[Table]:
    p = ctx.params
    rounds = 1 if p.quick_mode else 3
    ref = os.environ.get("BUNWS_BENCH_METRICS_REF") or reference_commit()
    common = [CLIENT_CPU, SERVER_CPU, SERVER_US, Column("scrapes", "scrapes", "{:d}")]
    note = f"off = bunws of {ref}; median of {rounds} alternating round(s) per row"
    echo = Table(
        "metrics-echo",
        f"metrics on vs off, echo 64 B: {p.echo_clients} clients, closed loop",
        [Column("round_trips_per_s", "round trips/s"), *common],
        metric="round_trips_per_s",
        baseline=OFF,
        notes=[note],
        targets=[
            Target("metrics on >= 0.97x off (echo)", ON, 0.97, OFF),
            Target("(CPU view) off server us/op / on's >= 0.97", OFF, 0.97, ON, "server_us_per_op"),
        ],
    )
    fanout = Table(
        "metrics-fanout",
        f"metrics on vs off, fan-out: {p.chat_clients} clients, bursts of {p.chat_burst}",
        [Column("messages_per_s", "msgs received/s (median 1 s)"), *common],
        metric="messages_per_s",
        baseline=OFF,
        notes=[note],
        targets=[
            Target("metrics on >= 0.97x off (fan-out)", ON, 0.97, OFF),
            Target("(CPU view) off server us/op / on's >= 0.97", OFF, 0.97, ON, "server_us_per_op"),
        ],
    )
    reference = ctx.workdir / "bunws-metrics-off"
    if os.environ.get("BUNWS_BENCH_METRICS_OFF_DIR"):  # a prepared tree holding bunws/
        reference = Path(os.environ["BUNWS_BENCH_METRICS_OFF_DIR"])
        ref = str(reference)
        note = f"off = bunws of {ref}; median of {rounds} alternating round(s) per row"
        for table in (echo, fanout):
            table.notes[:] = [note]
    try:
        if ref != str(reference):
            extract(ref, reference)
    except (ServerError, OSError, tarfile.TarError) as exc:
        for table in (echo, fanout):
            for label in (OFF, ON):
                table.add(label, error=one_line(exc))
        return [echo, fanout]
    path = os.pathsep.join([str(reference), str(REPO_ROOT)])
    # PYTHONSAFEPATH: `python -m daphne` would otherwise put the repo (today's bunws) first.
    env = (("PYTHONPATH", path), ("PYTHONSAFEPATH", "1"))
    specs = {OFF: ServerSpec("bunws", BUNWS.target, baseline=False, env=env)}
    specs[ON] = BUNWS
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    errors: dict[tuple[str, str], str] = {}
    for _ in range(rounds):
        for label, spec in specs.items():
            try:
                with ctx.server(spec) as server:
                    for name, measured in one_round(ctx, server, label, scrape=label == ON):
                        if isinstance(measured, str):
                            errors[label, name] = measured
                        else:
                            results.setdefault((label, name), []).append(measured)
            except (ServerError, OSError) as exc:
                errors[label, "echo"] = errors[label, "fanout"] = one_line(exc)
    for table, name, metric in ((echo, "echo", echo.metric), (fanout, "fanout", fanout.metric)):
        for label in specs:
            runs = results.get((label, name))
            if runs:
                table.add(label, median_run(runs, metric))
            else:
                table.add(label, error=errors.get((label, name), "no result"))
    return [echo, fanout]


def one_round(
    ctx: Context, server: Any, label: str, scrape: bool
) -> list[tuple[str, dict[str, Any] | str]]:
    p = ctx.params
    shapes = {
        "echo": (
            "echo",
            ("--url", server.url("echo/"), "--origin", server.origin),
            ("--clients", str(p.echo_clients), "--size", "64"),
            p.duration,
        ),
        "fanout": (
            "chat",
            ("--url", server.url("chat/"), "--origin", server.origin),
            ("--clients", str(p.chat_clients), "--burst", str(p.chat_burst)),
            p.fanout_duration,
        ),
    }
    out: list[tuple[str, dict[str, Any] | str]] = []
    for name, (workload, where, shape, duration) in shapes.items():
        scraper = Scraper(server.port) if scrape else None
        if scraper is not None:
            scraper.start()
        try:
            result = ctx.client(
                f"metrics {name} / {label}",
                workload,
                *where,
                *shape,
                duration=duration,
                server_pid=server.pid,
            )
            result["scrapes"] = scraper.scrapes if scraper is not None else 0
            if scraper is not None and scraper.error and not scraper.scrapes:
                raise ClientError(f"/metrics not scraped: {scraper.error}")
            out.append((name, result))
        except ClientError as exc:
            out.append((name, one_line(exc)))
        finally:
            if scraper is not None:
                scraper.stopped.set()
                scraper.join(5)
    return out


def median_run(runs: list[dict[str, Any]], metric: str) -> dict[str, Any]:
    """The run with the median ``metric`` (the lower middle one for an even count)."""
    ordered = sorted(runs, key=lambda run: float(run[metric]))
    middle = statistics.median_low(range(len(ordered)))
    return ordered[middle]
