"""Load and soak against one real daphne on loopback; both stop by themselves.

Load: ``--sockets`` clients (default 2,000) join rooms of ``--room-size``; for ``--seconds``
(default 60) each publishes ``--rate`` messages a second to its room and receives the others'.
Reports messages sent, expected, delivered, lost (must be 0: every subscriber stays connected),
p50/p99 latency, and the server's memory at the end.

Soak: ``--soak N`` runs N connect/subscribe/publish/receive/disconnect cycles, then checks that
no socket, subscription or task is left behind and reports the server's RSS growth.

    python -m benchmarks.load --sockets 2000 --seconds 60
    python -m benchmarks.load --soak 20000

The script raises its open-file limit to the hard limit (daphne inherits it) and prints both.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import struct
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from tests.support.servers import Server, daphne_server

_STAMP = struct.Struct("!d")


def raise_open_file_limit(wanted: int) -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE towards ``wanted`` (at most the hard limit); return both."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def rss_kb(pid: int) -> int:
    """Resident memory of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _open(server: Server, path: str) -> ClientConnection:
    return await asyncio.wait_for(
        websockets.connect(server.url(path), max_queue=None, ping_interval=None), 30
    )


async def server_stats(server: Server) -> dict[str, Any]:
    """The server's own view (tests/e2eapp/reliability_sockets.py ``r/probe/``)."""
    async with await _open(server, "r/probe/") as probe:
        await probe.send("stats")
        stats: dict[str, Any] = json.loads(await asyncio.wait_for(probe.recv(), 10))
        return stats


# -- soak ----------------------------------------------------------------------------------------


async def _cycle(server: Server, tag: str, n: int) -> None:
    ws = await _open(server, f"r/soak/{tag}/")
    try:
        message = f"{tag}:{n}"
        await ws.send(message)  # the endpoint publishes it to the tag, publish_to_self=True
        reply = await asyncio.wait_for(ws.recv(), 10)
        if reply != message:
            raise AssertionError(f"cycle {n}: expected {message!r}, got {reply!r}")
    finally:
        await ws.close()


async def soak(
    server: Server, cycles: int, *, concurrency: int = 16, time_limit: float = 600.0
) -> dict[str, Any]:
    """Run ``cycles`` cycles on ``concurrency`` lanes; report leftovers and memory growth."""
    warmup = min(500, cycles // 5)
    counter = iter(range(cycles))
    deadline = time.monotonic() + time_limit

    async def lane(index: int, limit: int) -> int:
        done = 0
        for n in counter:
            if n >= limit or time.monotonic() > deadline:
                break
            await _cycle(server, f"soak{index}", n)
            done += 1
        return done

    started = time.monotonic()
    done = sum(await asyncio.gather(*(lane(i, warmup) for i in range(concurrency))))
    await asyncio.sleep(0.5)  # let the last close handlers finish
    before = await server_stats(server)
    rss_start = rss_kb(server.process.pid)
    samples = [(done, rss_start)]
    step = max(1000, (cycles - warmup) // 10)
    for limit in range(warmup + step, cycles + step, step):
        counter = iter(range(done, min(limit, cycles)))
        done += sum(await asyncio.gather(*(lane(i, cycles) for i in range(concurrency))))
        samples.append((done, rss_kb(server.process.pid)))
        if time.monotonic() > deadline:
            break
    elapsed = time.monotonic() - started
    await asyncio.sleep(0.5)
    after = await server_stats(server)
    rss_end = rss_kb(server.process.pid)
    return {
        "cycles": done,
        "seconds": round(elapsed, 1),
        "cycles_per_second": round(done / elapsed, 1),
        "closes": after["closes"],
        "before": before,
        "after": after,
        "rss_start_kb": rss_start,
        "rss_end_kb": rss_end,
        "rss_growth_kb": rss_end - rss_start,
        "rss_samples_kb": samples,
    }


# -- load ----------------------------------------------------------------------------------------


@dataclass
class Tally:
    sent: int = 0
    expected: int = 0
    delivered: int = 0
    dropped_connections: int = 0
    latencies: list[float] = field(default_factory=list)


async def _receiver(ws: ClientConnection, tally: Tally) -> None:
    try:
        async for message in ws:
            if isinstance(message, bytes) and len(message) >= _STAMP.size:
                tally.delivered += 1
                tally.latencies.append(time.monotonic() - _STAMP.unpack_from(message)[0])
    except websockets.ConnectionClosed:
        pass


async def load(
    server: Server,
    sockets: int,
    seconds: float,
    *,
    room_size: int = 5,
    rate: float = 0.5,
    payload: int = 64,
) -> dict[str, Any]:
    """Publish and receive on ``sockets`` sockets for ``seconds``; count every delivery."""
    tally = Tally()
    clients: list[tuple[ClientConnection, int]] = []
    connect_started = time.monotonic()
    for batch in range(0, sockets, 100):
        opened = await asyncio.gather(
            *(
                _open(server, f"t/room/load{i // room_size}/")
                for i in range(batch, min(batch + 100, sockets))
            )
        )
        clients.extend((ws, (batch + j) // room_size) for j, ws in enumerate(opened))
    connect_seconds = time.monotonic() - connect_started
    members = [0] * ((sockets + room_size - 1) // room_size)
    for _, room in clients:
        members[room] += 1
    receivers = [asyncio.create_task(_receiver(ws, tally)) for ws, _ in clients]
    padding = b"x" * max(0, payload - _STAMP.size)
    stop = time.monotonic() + seconds

    async def publisher(ws: ClientConnection, room: int, offset: float) -> None:
        await asyncio.sleep(offset)
        interval = 1.0 / rate
        next_at = time.monotonic()
        while time.monotonic() < stop:
            try:
                await ws.send(_STAMP.pack(time.monotonic()) + padding)
            except websockets.ConnectionClosed:
                tally.dropped_connections += 1
                return
            tally.sent += 1
            tally.expected += members[room] - 1
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    await asyncio.gather(
        *(publisher(ws, room, (i % 97) / 97 / rate) for i, (ws, room) in enumerate(clients))
    )
    drain_deadline = time.monotonic() + 15
    while tally.delivered < tally.expected and time.monotonic() < drain_deadline:
        await asyncio.sleep(0.1)
    stats = await server_stats(server)
    memory = rss_kb(server.process.pid)
    for ws, _ in clients:
        await ws.close()
    await asyncio.gather(*receivers, return_exceptions=True)
    latencies = sorted(tally.latencies) or [0.0]
    return {
        "sockets": len(clients),
        "connect_seconds": round(connect_seconds, 1),
        "seconds": seconds,
        "sent": tally.sent,
        "expected": tally.expected,
        "delivered": tally.delivered,
        "lost": tally.expected - tally.delivered,
        "dropped_connections": tally.dropped_connections,
        "deliveries_per_second": round(tally.delivered / seconds, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(
            latencies[int(len(latencies) * 0.99) - 1 if len(latencies) > 1 else 0] * 1000, 2
        ),
        "server_open_sockets": stats["open_sockets"],
        "server_rss_kb": memory,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--room-size", type=int, default=5)
    parser.add_argument("--rate", type=float, default=0.5, help="messages per socket per second")
    parser.add_argument("--soak", type=int, default=0, help="run N soak cycles instead of load")
    args = parser.parse_args(argv)
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    soft, hard = raise_open_file_limit(max(4096, args.sockets * 2 + 256))
    print(f"open files: soft {before[0]} -> {soft} (hard limit {hard})", flush=True)
    with tempfile.TemporaryDirectory() as tmp, daphne_server(Path(tmp)) as server:
        if args.soak:
            result = asyncio.run(soak(server, args.soak))
        else:
            result = asyncio.run(
                load(server, args.sockets, args.seconds, room_size=args.room_size, rate=args.rate)
            )
    print(json.dumps(result, indent=2))
    if args.soak:
        leftovers = result["after"]["open_sockets"] - 1 or result["after"]["topics"]
        return 1 if leftovers else 0
    return 1 if result["lost"] else 0


if __name__ == "__main__":
    sys.exit(main())
