"""Workload ``scale``: many idle sockets on one daphne, their memory, then echo at a fixed rate."""

from __future__ import annotations

from benchmarks.report import Column, Table, Target
from benchmarks.servers import BARE, BUNWS, CHANNELS, Server, nofile_of, raise_nofile
from benchmarks.workloads import BARE_LABEL, Context, Result, attempt, measure

#: Seconds the connect phase may take before the client gives up (it reports what it held).
CONNECT_TIMEOUT = 40.0


def scale(ctx: Context) -> list[Table]:
    p = ctx.params
    client_nofile = raise_nofile()
    server_nofile: list[int | None] = []
    table = Table(
        "scale",
        f"scale: {p.scale_sockets:,} sockets on one daphne, then echo at "
        f"{p.scale_rate:,.0f} msgs/s across them",
        [
            Column("sockets", "sockets", "{:,d}"),
            Column("connects_per_s", "connects/s"),
            Column("kib_per_socket", "KiB/idle socket", "{:.1f}"),
            Column("rss_after_kib", "server RSS KiB", "{:,d}"),
            Column("p50_ms", "echo p50 ms", "{:.2f}"),
            Column("p99_ms", "echo p99 ms", "{:.2f}"),
            Column("lost", "lost", "{:d}"),
        ],
        metric="connects_per_s",
        baseline=BARE_LABEL,
        compare=[("bunws", "Channels")],
        targets=[
            Target(
                "bunws idle socket <= bare ASGI + 4 KB (3.9 KiB)",
                "bunws",
                4000 / 1024,
                BARE_LABEL,
                metric="kib_per_socket",
                mode="excess",
                fmt="{:+.1f} KiB",
            ),
            Target(
                f"bunws echo p99 < 50 ms with {p.scale_sockets:,} sockets held",
                "bunws",
                50.0,
                metric="p99_ms",
                mode="at_most",
                fmt="{:.2f} ms",
            ),
        ],
    )

    def run(server: Server, label: str) -> list[Result]:
        server_nofile.append(nofile_of(server.pid))
        return [
            attempt(
                lambda: ctx.client(
                    f"scale / {label}",
                    "scale",
                    *("--url", server.url("echo/"), "--origin", server.origin),
                    *("--sockets", str(p.scale_sockets), "--server-pid", str(server.pid)),
                    *("--concurrency", str(p.scale_concurrency), "--rate", str(p.scale_rate)),
                    *("--connect-timeout", str(CONNECT_TIMEOUT)),
                    *("--settle", "0.4" if p.quick_mode else "1.0"),
                    limit=CONNECT_TIMEOUT + 30,
                )
            )
        ]

    measure(ctx, [BARE, CHANNELS, BUNWS], [table], run)
    short = [r.label for r in table.rows if r.values and r.values["sockets"] < p.scale_sockets]
    if short:
        table.notes.append(
            f"held fewer than {p.scale_sockets:,} sockets when the {CONNECT_TIMEOUT:.0f} s connect "
            f"phase ended: {', '.join(short)} (measured with what was held)"
        )
    if "bunws" in short:
        table.targets[-1] = Target("bunws echo p99 < 50 ms: not all sockets held", "-", 0.0)
    limits = sorted({n for n in server_nofile if n is not None})
    table.notes += [
        "the ratio column compares connects/s (handshakes while the sockets pile up, "
        f"{p.scale_concurrency} in flight); KiB/idle socket = server VmRSS growth / sockets",
        f"open-file limit (soft, after raising it to the hard limit): client {client_nofile:,}, "
        f"server {', '.join(f'{n:,}' for n in limits) or 'unknown'}",
        "echo latency is from each message's scheduled send time (open loop, no coordinated "
        "omission); with round-robin each socket gets at most a few messages",
    ]
    if p.scale_sockets < 10_000:
        table.targets[1:] = [
            Target(
                "bunws echo p99 < 50 ms (10,000 sockets only in a full run)",
                "bunws",
                50.0,
                metric="p99_ms",
                mode="at_most",
                fmt="{:.2f} ms",
            )
        ]
    return [table]
