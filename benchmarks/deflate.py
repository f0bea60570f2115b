"""Workload ``deflate``: chat fan-out with 1 KiB JSON messages, plain vs permessage-deflate.

One bunws daphne, one endpoint whose handler publishes with ``compress=True``; the rows differ
only in what the client negotiates: nothing (plain frames), the shared mode (one deflate per
publish, the same compressed frame written to every subscriber) or the dedicated mode (a
compressor per socket, so one deflate per delivery). Then the server memory per idle socket
that has received one message, in each mode.
"""

from __future__ import annotations

from benchmarks.report import Column, Table, Target
from benchmarks.servers import BUNWS, ServerError
from benchmarks.workloads import CLIENT_CPU, SERVER_CPU, SERVER_US, Context, attempt, one_line

PLAIN, SHARED, DEDICATED = "plain", "deflate shared", "deflate dedicated"
#: Row label -> (endpoint path, what the client offers).
ROWS = {
    PLAIN: ("zchat/", "off"),
    SHARED: ("zchat/", "shared"),
    DEDICATED: ("zchat-dedicated/", "dedicated"),
}
SIZE = 1024


def deflate(ctx: Context) -> list[Table]:
    p = ctx.params
    clients, burst = p.chat_clients, max(4, p.chat_burst // 2)
    idle_sockets = 200 if p.quick_mode else 1000
    fanout = Table(
        "deflate",
        f"permessage-deflate fan-out: {clients} clients in one room, bursts of {burst}, "
        f"{SIZE} B JSON messages, publish(..., compress=True)",
        [
            Column("deliveries_per_s", "deliveries/s"),
            Column("wire_bytes_per_delivery", "wire B/delivery", "{:.0f}"),
            Column("rounds", "rounds", "{:d}"),
            CLIENT_CPU,
            SERVER_CPU,
            SERVER_US,
        ],
        metric="deliveries_per_s",
        baseline=PLAIN,
        notes=[
            "same server and endpoint for every row; the client offers permessage-deflate "
            "(shared or dedicated endpoint) or not (plain frames)",
        ],
        targets=[
            Target("deflate shared >= 0.8x plain deliveries/s", SHARED, 0.8, PLAIN),
            Target(
                "(CPU view) plain server us/op / shared's >= 0.8",
                PLAIN,
                0.8,
                SHARED,
                metric="server_us_per_op",
            ),
        ],
    )
    memory = Table(
        "deflate-idle",
        f"memory per idle socket: {idle_sockets} sockets, each sent one compressed publish",
        [Column("kib_per_socket", "KiB/idle socket", "{:.1f}")],
        metric="kib_per_socket",
        baseline=PLAIN,
        notes=["server VmRSS growth / sockets, after every socket received one message"],
    )
    try:
        with ctx.server(BUNWS) as server:
            for label, (path, mode) in ROWS.items():
                url = server.url(path)
                common = ("--url", url, "--origin", server.origin, "--deflate", mode)
                result = attempt(
                    lambda label=label, common=common: ctx.client(
                        f"deflate / {label}",
                        "zchat",
                        *common,
                        *("--clients", str(clients), "--burst", str(burst), "--size", str(SIZE)),
                        duration=p.fanout_duration,
                        server_pid=server.pid,
                    )
                )
                if isinstance(result, Exception):
                    fanout.add(label, error=one_line(result))
                else:
                    fanout.add(label, result)
                idle = attempt(
                    lambda label=label, common=common: ctx.client(
                        f"deflate idle / {label}",
                        "zidle",
                        *common,
                        *("--sockets", str(idle_sockets), "--size", str(SIZE)),
                        *("--server-pid", str(server.pid), "--settle", "0.5"),
                        duration=0.0,
                    )
                )
                if isinstance(idle, Exception):
                    memory.add(label, error=one_line(idle))
                else:
                    memory.add(label, idle)
    except (ServerError, OSError) as exc:
        for table in (fanout, memory):
            for label in ROWS:
                if not any(row.label == label for row in table.rows):
                    table.add(label, error=one_line(exc))
    return [fanout, memory]
