"""The ``scale`` load: hold many idle sockets, weigh the server, then echo at a fixed rate.

Phases, each bounded by count and time:

1. connect ``--sockets`` sockets, ``--concurrency`` handshakes at a time; the first ``--warm``
   sockets are opened (and echo once) before the server's VmRSS is read, so lazily imported code
   and first-use caches are not charged to the idle sockets;
2. read the server's VmRSS again once all are open and the server has settled: the difference
   divided by the sockets opened since is the resident memory per idle socket;
3. open-loop echo at ``--rate`` messages/s, round-robin over all sockets: each message's latency
   is measured from the instant it was *scheduled* (not sent), so a stalled server cannot hide
   its stall by slowing the sender (no coordinated omission).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from array import array
from collections import deque
from typing import Any

from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from benchmarks.servers import raise_nofile

GRACE = 10.0


def vm_rss_kib(pid: int) -> int:
    """The resident set of ``pid`` in KiB, from /proc/PID/status."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


class ScaleListener(WSListener):  # type: ignore[misc]
    """Matches each echo to the scheduled time of the oldest message in flight on this socket."""

    latencies: array[int]
    measure_from_ns: int

    def __init__(self) -> None:
        self.in_flight: deque[int] = deque()
        self.first: asyncio.Future[None] | None = None
        self.closed = False

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.CLOSE:
            transport.disconnect()
        elif frame.fin and frame.msg_type in (WSMsgType.TEXT, WSMsgType.BINARY):
            if self.first is not None and not self.first.done():
                self.first.set_result(None)
            if self.in_flight:
                scheduled = self.in_flight.popleft()
                if scheduled >= self.measure_from_ns:
                    self.latencies.append(time.perf_counter_ns() - scheduled)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.closed = True


def percentile(ordered: list[int], q: float) -> float:
    if not ordered:
        return float("nan")
    return float(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))])


async def run_scale(args: argparse.Namespace) -> dict[str, Any]:
    nofile = raise_nofile()
    if args.sockets + 64 > nofile:
        return {"error": f"the client may open only {nofile} files; {args.sockets} sockets asked"}
    latencies: array[int] = array("q")
    ScaleListener.latencies = latencies
    ScaleListener.measure_from_ns = 2**62  # nothing counts until the echo phase says so
    extra = {"Origin": args.origin} if args.origin else {}
    conns: list[tuple[WSTransport, ScaleListener]] = []
    failed: dict[str, int] = {}
    payload = b"x" * args.size

    async def open_some(count: int, deadline: float) -> None:
        remaining = [count]

        async def worker() -> None:
            while remaining[0] > 0 and time.perf_counter() < deadline:
                remaining[0] -= 1
                try:
                    conns.append(await ws_connect(ScaleListener, args.url, extra_headers=extra))
                except Exception as exc:  # a refused handshake is a result, not a crash
                    name = type(exc).__name__
                    failed[name] = failed.get(name, 0) + 1
                    if sum(failed.values()) > 100:
                        raise RuntimeError(f"too many failed handshakes: {failed}") from exc

        await asyncio.gather(*(worker() for _ in range(args.concurrency)))

    async def echo_once(batch: list[tuple[WSTransport, ScaleListener]]) -> None:
        loop = asyncio.get_running_loop()
        for transport, listener in batch:
            listener.first = loop.create_future()
            transport.send(WSMsgType.TEXT, payload)
        await asyncio.wait_for(asyncio.gather(*(lst.first for _, lst in batch)), GRACE)

    began = time.perf_counter()
    try:
        warm = min(args.warm, args.sockets)
        await open_some(warm, began + args.connect_timeout)
        await echo_once(conns)
        await asyncio.sleep(args.settle / 2)
        rss_before = vm_rss_kib(args.server_pid)
        t0 = time.perf_counter()
        await open_some(args.sockets - warm, t0 + args.connect_timeout)
        connect_s = time.perf_counter() - t0
        opened = len(conns) - warm
        await asyncio.sleep(args.settle)
        rss_after = vm_rss_kib(args.server_pid)
        held = sum(not lst.closed for _, lst in conns)
        if held <= warm:
            return {"error": f"held {held} of {args.sockets} sockets (failed: {failed or 'none'})"}
        # Fewer than asked (the connect phase timed out): measure what is held, and say so.
        conns = [(t, lst) for t, lst in conns if not lst.closed]

        # Open-loop echo: message i is due at start + i / rate, on socket i mod N.
        start_ns = time.perf_counter_ns() + 50_000_000
        ScaleListener.measure_from_ns = start_ns + int(args.warmup * 1e9)
        total = int(args.rate * (args.warmup + args.duration))
        interval_ns = 1e9 / args.rate
        sent = 0
        while sent < total:
            now = time.perf_counter_ns()
            due = min(total, int((now - start_ns) / interval_ns) + 1) if now >= start_ns else 0
            while sent < due:
                transport, listener = conns[sent % len(conns)]
                listener.in_flight.append(start_ns + int(sent * interval_ns))
                transport.send(WSMsgType.TEXT, payload)
                sent += 1
            await asyncio.sleep(0.0005)
        expected = total - math.ceil(args.rate * args.warmup)
        wait_until = time.perf_counter() + GRACE
        while len(latencies) < expected and time.perf_counter() < wait_until:
            await asyncio.sleep(0.01)
    finally:
        for transport, _ in conns:
            transport.disconnect()
    ordered = sorted(latencies)
    return {
        "sockets": len(conns),
        "connects_per_s": opened / connect_s if connect_s else float("nan"),
        "connect_s": connect_s,
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_after,
        "kib_per_socket": (rss_after - rss_before) / opened if opened else float("nan"),
        "echo_rate": args.rate,
        "echoes": len(ordered),
        "lost": expected - len(ordered),
        "p50_ms": percentile(ordered, 0.50) / 1e6,
        "p99_ms": percentile(ordered, 0.99) / 1e6,
        "max_ms": (ordered[-1] / 1e6) if ordered else float("nan"),
        "client_nofile": nofile,
        "failed": failed,
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sockets", type=int, default=500)
    parser.add_argument("--warm", type=int, default=50)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--server-pid", type=int, default=0)
    parser.add_argument("--connect-timeout", type=float, default=45.0)
