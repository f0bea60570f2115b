"""The workloads: which servers each one starts, what the client does, and the table it fills.

A workload is a function ``(Context) -> list[Table]`` registered in ``WORKLOADS``. A server that
fails to start, or a client that reports an error, becomes an ``error: ...`` row, never a crash.
The ``scale`` and ``redis`` workloads live in their own modules; ``registry`` lists them all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.progress import Progress
from benchmarks.report import Column, Table, Target
from benchmarks.servers import (
    BARE,
    BUNWS,
    CHANNELS,
    PICOWS,
    REPO_ROOT,
    STACKED,
    Database,
    Server,
    ServerError,
    ServerSpec,
)

BARE_LABEL = "bare ASGI"
CLIENT_CPU = Column("client_cpu", "client CPU", "{:.0%}")
LABELS = {
    "bare": BARE_LABEL,
    "stacked": "bare ASGI + bunws stack",
    "channels": "Channels",
    "bunws": "bunws",
    "picows": "picows server",
}


class ClientError(RuntimeError):
    """The client process failed or reported ``{"error": ...}``."""


@dataclass(frozen=True)
class Params:
    """Sizes and durations; ``quick()`` is the CI smoke-test shape."""

    duration: float = 5.0
    warmup: float = 1.0
    fanout_duration: float = 7.0
    echo_clients: int = 16
    echo_sizes: tuple[int, ...] = (64, 16 * 1024)
    chat_clients: int = 32
    #: Bun sends 1,600 per client per round; here 32 (32 * 32 * 32 = 32,768 deliveries a round):
    #: ~0.25-0.5 s a round on bunws and bare ASGI, ~6 s on Channels. Smaller bursts make the
    #: 64 ms round floor, not the server, the limit for the fast rows.
    chat_burst: int = 32
    connect_concurrency: int = 8
    http_concurrency: int = 4
    #: scale: sockets held on one daphne, handshakes in flight, echo rate across them.
    scale_sockets: int = 10_000
    scale_concurrency: int = 32
    scale_rate: float = 1000.0
    #: redis: bursts are smaller than the in-process chat's because Channels over Redis is
    #: slower (8 * 32 * 32 = 8,192 deliveries a round: ~1-2 s on Channels).
    redis_burst: int = 8
    redis_url: str = "redis://127.0.0.1:6379/11"
    quick_mode: bool = False
    pin: bool = True

    @classmethod
    def quick(cls, pin: bool = True) -> Params:
        # Shapes chosen so the whole smoke run stays under a minute: one echo size, bursts of 8
        # (Channels' round would take ~5 s at 32), 500 sockets, two Redis rows (see redis_chat).
        return cls(
            duration=0.6,
            warmup=0.2,
            fanout_duration=1.0,
            echo_sizes=(64,),
            chat_burst=8,
            scale_sockets=500,
            redis_burst=4,
            quick_mode=True,
            pin=pin,
        )


@dataclass
class Context:
    params: Params
    workdir: Path
    progress: Progress
    db: Database = field(init=False)
    #: The client's own ceiling per workload, filled by the headroom workload when it runs.
    ceiling: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.db = Database(self.workdir)

    def server(self, spec: ServerSpec) -> Server:
        return Server(spec, self.workdir, self.db, self.params.pin)

    def client(
        self,
        label: str,
        workload: str,
        *args: str,
        duration: float | None = None,
        limit: float = 60.0,
        server_pid: int | None = None,
    ) -> dict[str, Any]:
        """Run ``benchmarks.client`` in its own process; return its JSON or raise ClientError.

        The client is killed ``limit`` seconds after its warmup and duration are over.
        """
        p = self.params
        duration = p.duration if duration is None else duration
        command = [sys.executable, "-m", "benchmarks.client", workload]
        command += ["--duration", str(duration), "--warmup", str(p.warmup), *args]
        if not p.pin:
            command.append("--no-pin")
        limit = p.warmup + duration + limit
        proc = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        timer = threading.Timer(limit, proc.kill)
        timer.start()
        other: list[str] = []
        server_cpu: dict[str, tuple[float, float]] = {}
        try:
            self.progress.start(label)
            assert proc.stderr is not None and proc.stdout is not None  # PIPE above
            for line in proc.stderr:
                if line.startswith("PROGRESS "):
                    tick = json.loads(line[len("PROGRESS ") :])
                    self.progress.tick(label, tick["t"], tick["total"], tick["done"])
                elif line.startswith("MARK "):
                    if server_pid is not None:
                        server_cpu[line.split()[1]] = (time.perf_counter(), cpu_seconds(server_pid))
                else:
                    other.append(line.rstrip())
            out = proc.stdout.read()
            proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if proc.returncode:
            raise ClientError(f"client exited {proc.returncode}: {' | '.join(other[-3:])}")
        try:
            result: dict[str, Any] = json.loads(out)
        except ValueError as exc:
            raise ClientError(f"client printed no result: {' | '.join(other[-3:])}") from exc
        if "error" in result:
            raise ClientError(str(result["error"]))
        if "start" in server_cpu and "stop" in server_cpu:
            (t0, c0), (t1, c1) = server_cpu["start"], server_cpu["stop"]
            result["server_cpu"] = (c1 - c0) / (t1 - t0) if t1 > t0 else float("nan")
        return result


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far, from /proc/PID/stat (nan when unreadable)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


#: Columns every table with a server gets: its CPU use while measuring, and CPU per operation
#: (robust when other processes compete for the CPU: wall-clock rates are not, CPU per op mostly is).
SERVER_CPU = Column("server_cpu", "server CPU", "{:.0%}")
SERVER_US = Column("server_us_per_op", "server us/op", "{:.1f}")


def cpu_target(threshold: float) -> Target:
    """The same target measured as server CPU per operation: bare ASGI's cost / bunws's cost."""
    return Target(
        f"(CPU view) bunws server us/op <= bare ASGI's / {threshold}",
        BARE_LABEL,
        threshold,
        "bunws",
        metric="server_us_per_op",
    )


Result = dict[str, Any] | ClientError


def attempt(call: Callable[[], dict[str, Any]]) -> Result:
    """One measurement; a client failure is returned, so the server's other rows still run."""
    try:
        return call()
    except ClientError as exc:
        return exc


def measure(
    ctx: Context,
    specs: list[ServerSpec],
    tables: list[Table],
    run: Callable[[Server, str], list[Result]],
) -> None:
    """Start each server in turn; ``run`` returns one result per table (same order)."""
    for spec in specs:
        label = LABELS[spec.key]
        try:
            with ctx.server(spec) as server:
                results = run(server, label)
        except (ServerError, ClientError, OSError) as exc:
            for table in tables:
                if not any(row.label == label for row in table.rows):
                    table.add(label, error=one_line(exc))
            continue
        for table, result in zip(tables, results, strict=True):
            if isinstance(result, ClientError):
                table.add(label, error=one_line(result))
            else:
                table.add(label, result)


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def ceiling_note(ctx: Context, key: str, unit: str) -> list[str]:
    if key not in ctx.ceiling:
        return []
    return [f"client ceiling (same client vs a picows server): {ctx.ceiling[key]:,.0f} {unit}"]


# --- headroom --------------------------------------------------------------------------------


def headroom(ctx: Context) -> list[Table]:
    p = ctx.params
    table = Table(
        "headroom",
        "client headroom: the same client against a trivial picows server",
        [
            Column("echo", "echo 64 B rt/s"),
            Column("echo_cpu", "CPU", "{:.0%}"),
            Column("fanout", "fan-out msg/s"),
            Column("fanout_cpu", "CPU", "{:.0%}"),
            Column("connect", "handshakes/s"),
            Column("connect_cpu", "CPU", "{:.0%}"),
        ],
        metric="echo",
        notes=[
            f"fan-out here uses bursts of {p.chat_burst * 4} so the 64 ms round floor cannot "
            "bind. 'client CPU' in each table is the client's CPU use while measuring: near 100% "
            "would mean the client, not the server, sets the number."
        ],
    )

    def run(server: Server, label: str) -> list[Result]:
        echo = ctx.client(
            f"headroom echo / {label}",
            "echo",
            *("--url", server.url("echo/"), "--clients", str(p.echo_clients), "--size", "64"),
        )
        fan = ctx.client(
            f"headroom fan-out / {label}",
            "chat",
            *("--url", server.url("chat/"), "--clients", str(p.chat_clients)),
            *("--burst", str(p.chat_burst * 4)),
        )
        conn = ctx.client(
            f"headroom connect / {label}",
            "connect",
            *("--url", server.url("echo/"), "--concurrency", str(p.connect_concurrency)),
        )
        ctx.ceiling.update(
            echo=echo["round_trips_per_s"],
            fanout=fan["messages_per_s"],
            connect=conn["handshakes_per_s"],
        )
        cpus = {"echo_cpu": echo, "fanout_cpu": fan, "connect_cpu": conn}
        return [{**ctx.ceiling, **{k: r["client_cpu"] for k, r in cpus.items()}}]

    measure(ctx, [PICOWS], [table], run)
    return [table]


# --- echo ------------------------------------------------------------------------------------


def size_name(size: int) -> str:
    return f"{size // 1024} KiB" if size >= 1024 and size % 1024 == 0 else f"{size} B"


def echo(ctx: Context) -> list[Table]:
    p = ctx.params
    tables = [
        Table(
            "echo",
            f"echo {size_name(size)}: {p.echo_clients} clients, closed loop",
            [
                Column("round_trips_per_s", "round trips/s"),
                Column("p50_ms", "p50 ms", "{:.2f}"),
                Column("p99_ms", "p99 ms", "{:.2f}"),
                CLIENT_CPU,
                SERVER_CPU,
                SERVER_US,
            ],
            metric="round_trips_per_s",
            baseline=BARE_LABEL,
            compare=[("bunws", "Channels")],
            notes=ceiling_note(ctx, "echo", "round trips/s at 64 B") if size == 64 else [],
            targets=[
                Target("bunws >= 0.95x bare ASGI", "bunws", 0.95, BARE_LABEL),
                Target("bunws >= 2.5x Channels", "bunws", 2.5, "Channels"),
                cpu_target(0.95),
            ],
        )
        for size in p.echo_sizes
    ]

    def run(server: Server, label: str) -> list[Result]:
        return [
            attempt(
                lambda size=size: ctx.client(
                    f"echo {size_name(size)} / {label}",
                    "echo",
                    *("--url", server.url("echo/"), "--origin", server.origin),
                    *("--clients", str(p.echo_clients), "--size", str(size)),
                    server_pid=server.pid,
                )
            )
            for size in p.echo_sizes
        ]

    measure(ctx, [BARE, CHANNELS, BUNWS], tables, run)
    return tables


# --- fan-out (chat) --------------------------------------------------------------------------


def fanout(ctx: Context) -> list[Table]:
    p = ctx.params
    table = Table(
        "fanout",
        f"fan-out (chat): {p.chat_clients} clients in one room, bursts of {p.chat_burst}, "
        "sender included",
        [
            Column("messages_per_s", "msgs received/s (median 1 s)"),
            Column("mean_messages_per_s", "mean/s"),
            Column("rounds", "rounds", "{:d}"),
            CLIENT_CPU,
            SERVER_CPU,
            SERVER_US,
        ],
        metric="messages_per_s",
        baseline=BARE_LABEL,
        compare=[("bunws", "Channels")],
        notes=ceiling_note(ctx, "fanout", "msgs/s"),
        targets=[
            Target("bunws >= 0.90x bare ASGI", "bunws", 0.90, BARE_LABEL),
            Target("bunws >= 15x Channels", "bunws", 15.0, "Channels"),
            cpu_target(0.90),
        ],
    )

    def run(server: Server, label: str) -> list[Result]:
        result = ctx.client(
            f"fan-out / {label}",
            "chat",
            *("--url", server.url("chat/"), "--origin", server.origin),
            *("--clients", str(p.chat_clients), "--burst", str(p.chat_burst)),
            duration=p.fanout_duration,
            server_pid=server.pid,
        )
        return [result]

    measure(ctx, [BARE, CHANNELS, BUNWS], [table], run)
    return [table]


# --- connect rate ----------------------------------------------------------------------------


def connect(ctx: Context) -> list[Table]:
    p = ctx.params
    table = Table(
        "connect",
        f"connect rate: open + close handshake, {p.connect_concurrency} at a time",
        [
            Column("handshakes_per_s", "handshakes/s"),
            Column("failed", "failed"),
            CLIENT_CPU,
            SERVER_CPU,
            SERVER_US,
        ],
        metric="handshakes_per_s",
        baseline=BARE_LABEL,
        compare=[("bunws", "Channels"), ("bunws", LABELS["stacked"])],
        notes=ceiling_note(ctx, "connect", "handshakes/s"),
        targets=[Target(f"bunws >= 0.8x {LABELS['stacked']}", "bunws", 0.8, LABELS["stacked"])],
    )

    def run(server: Server, label: str) -> list[Result]:
        result = ctx.client(
            f"connect / {label}",
            "connect",
            *("--url", server.url("echo/"), "--origin", server.origin),
            *("--concurrency", str(p.connect_concurrency)),
            server_pid=server.pid,
        )
        return [result]

    measure(ctx, [BARE, STACKED, CHANNELS, BUNWS], [table], run)
    return [table]


# --- failed upgrades (plain GET on a socket path) --------------------------------------------

DJANGO_VIEW = "Django view (200)"
BUNWS_426 = "bunws endpoint (426)"


def upgrade(ctx: Context) -> list[Table]:
    p = ctx.params
    table = Table(
        "upgrade",
        f"failed upgrades: plain keep-alive GETs, {p.http_concurrency} connections",
        [
            Column("requests_per_s", "requests/s"),
            Column("statuses", "statuses"),
            CLIENT_CPU,
            SERVER_CPU,
            SERVER_US,
        ],
        metric="requests_per_s",
        baseline=BARE_LABEL,
        compare=[(BUNWS_426, DJANGO_VIEW)],
        notes=["the Django view and the 426 path are served by the same bunws daphne"],
        targets=[Target(f"426 path >= 0.8x {DJANGO_VIEW}", BUNWS_426, 0.8, DJANGO_VIEW)],
    )

    def get(server: Server, label: str, path: str) -> dict[str, Any]:
        return ctx.client(
            f"upgrade / {label}",
            "http",
            *("--port", str(server.port), "--path", path),
            *("--concurrency", str(p.http_concurrency)),
            server_pid=server.pid,
        )

    # Three rows from two servers: measure() labels rows by server, so run them by hand.
    plan = [
        (BARE, [(BARE_LABEL, "/bench/plain/")]),
        (BUNWS, [(DJANGO_VIEW, "/bench/plain/"), (BUNWS_426, "/echo/")]),
    ]
    for spec, rows in plan:
        try:
            with ctx.server(spec) as server:
                for label, path in rows:
                    result = attempt(lambda label=label, path=path: get(server, label, path))
                    if isinstance(result, ClientError):
                        table.add(label, error=one_line(result))
                    else:
                        table.add(label, result)
        except (ServerError, OSError) as exc:
            for label, _ in rows:
                table.add(label, error=one_line(exc))
    return [table]
