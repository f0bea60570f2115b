"""The permessage-deflate client: ``python -m benchmarks.client zchat|zidle ...``.

picows does not negotiate permessage-deflate, so this client speaks RFC 6455 on plain asyncio
protocols: a hand-made handshake that offers the extension or not (``--deflate``), a frame
parser that counts deliveries and the bytes that carried them, and (once per client, to prove
the payload is intact) an inflate of the first compressed message. Both modes run the very same
code, so the compressed and plain rows differ only in what the server sends.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import time
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

OFFER = "permessage-deflate; client_max_window_bits"
TAIL = b"\x00\x00\xff\xff"
_WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "lazy",
    "dogs",
    "while",
    "a",
    "chat",
    "room",
    "hums",
    "along",
    "with",
    "messages",
    "about",
    "lunch",
    "plans",
    "weekend",
    "trips",
    "code",
    "reviews",
    "and",
    "the",
    "weather",
    "in",
    "several",
    "cities",
]


def payload(size: int, seed: int) -> bytes:
    """A JSON chat message of exactly ``size`` bytes, like a real app's (not all zeros)."""
    words = " ".join(_WORDS[(seed + i * 7) % len(_WORDS)] for i in range(size // 4))
    head = {"type": "message", "room": "lobby", "user": f"user{seed % 97}", "seq": seed, "text": ""}
    fixed = len(json.dumps(head).encode())
    head["text"] = words[: max(0, size - fixed)]
    data = json.dumps(head).encode()
    return data + b" " * (size - len(data))


def text_frame(data: bytes) -> bytes:
    """A masked client text frame; the zero mask leaves the payload as is (RFC 6455 5.3)."""
    size = len(data)
    if size < 126:
        return bytes((0x81, 0x80 | size)) + b"\0\0\0\0" + data
    return bytes((0x81, 0xFE)) + size.to_bytes(2, "big") + b"\0\0\0\0" + data


class Counter(asyncio.Protocol):
    """Counts complete data messages and wire bytes; checks one compressed message."""

    def __init__(self, tally: Tally) -> None:
        self.tally = tally
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.checked = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        tally = self.tally
        tally.wire += len(data)
        buffer = self.buffer
        buffer += data
        offset, end = 0, len(buffer)
        while end - offset >= 2:
            first, size = buffer[offset], buffer[offset + 1] & 0x7F
            start = offset + 2
            if size == 126:
                if end - offset < 4:
                    break
                size, start = int.from_bytes(buffer[offset + 2 : offset + 4], "big"), offset + 4
            elif size == 127:
                if end - offset < 10:
                    break
                size, start = int.from_bytes(buffer[offset + 2 : offset + 10], "big"), offset + 10
            if end - start < size:
                break
            if first & 0x0F in (1, 2):
                tally.received += 1
                if first & 0x40:
                    tally.compressed += 1
                    if not self.checked:  # RFC 7692 7.2.2: append the tail, inflate
                        self.checked = True
                        inflated = zlib.decompressobj(-15).decompress(
                            bytes(buffer[start : start + size]) + TAIL
                        )
                        tally.inflated_ok += json.loads(inflated)["type"] == "message"
            offset = start + size
        del buffer[:offset]
        if tally.received >= tally.target and tally.waiter is not None:
            waiter, tally.waiter = tally.waiter, None
            if not waiter.done():
                waiter.set_result(None)


class Tally:
    def __init__(self) -> None:
        self.received = self.compressed = self.wire = self.inflated_ok = self.target = 0
        self.waiter: asyncio.Future[None] | None = None


async def open_socket(url: str, origin: str, deflate: bool, tally: Tally) -> Counter:
    """Connect and upgrade; fails unless the server answers the offer as asked."""
    parts = urlsplit(url)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.create_connection(
        lambda: asyncio.StreamReaderProtocol(reader), parts.hostname, parts.port
    )
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {parts.path} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    lines += [f"Origin: {origin}"] if origin else []
    lines += [f"Sec-WebSocket-Extensions: {OFFER}"] if deflate else []
    transport.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"handshake refused: {head[:80]!r}")
    if (b"permessage-deflate" in head.lower()) != deflate:
        raise RuntimeError(f"permessage-deflate {'not ' if deflate else ''}negotiated: {head!r}")
    counter = Counter(tally)
    transport.set_protocol(counter)
    counter.connection_made(transport)
    return counter


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def run_zchat(args: argparse.Namespace) -> dict[str, Any]:
    """Chat fan-out in rounds, with ``--size``-byte JSON messages: unlike ``chat`` a round
    starts as soon as the last one is delivered (no 64 ms floor), so the server sets the rate."""
    from benchmarks.client import CpuMeter, report_progress

    loop, tally = asyncio.get_running_loop(), Tally()
    deflate = args.deflate != "off"
    conns = [await open_socket(args.url, args.origin, deflate, tally) for _ in range(args.clients)]
    await asyncio.sleep(args.settle)
    frames = [
        b"".join(text_frame(payload(args.size, c * 1000 + i)) for i in range(args.burst))
        for c in range(args.clients)
    ]
    per_round = args.clients * args.clients * args.burst
    start = time.perf_counter()
    measure_from, stop_at = start + args.warmup, start + args.warmup + args.duration
    ticker = asyncio.create_task(
        report_progress(args.warmup + args.duration, lambda: tally.received)
    )
    cpu = CpuMeter(measure_from, stop_at)
    rounds = measured = 0
    base: tuple[float, int, int] | None = None
    samples: list[float] = []
    try:
        while True:
            now = time.perf_counter()
            if base is None and now >= measure_from:
                base = (now, tally.received, tally.wire)
            if now >= stop_at and measured:
                break
            tally.target += per_round
            tally.waiter = loop.create_future()
            round_start, received = now, tally.received
            for counter, data in zip(conns, frames, strict=True):
                counter.transport.write(data)  # type: ignore[union-attr]
            await asyncio.wait_for(tally.waiter, args.round_timeout)
            rounds += 1
            if base is not None:
                measured += 1
                samples.append((tally.received - received) / (time.perf_counter() - round_start))
        t0, n0, w0 = base  # type: ignore[misc]
        elapsed, delivered = time.perf_counter() - t0, tally.received - n0
    finally:
        ticker.cancel()
        for counter in conns:
            counter.transport.close()  # type: ignore[union-attr]
    if deflate and (tally.compressed < tally.received or tally.inflated_ok < 1):
        return {"error": f"{tally.received - tally.compressed} deliveries were not compressed"}
    return {
        "deliveries_per_s": delivered / elapsed,
        "median_round_per_s": statistics.median(samples),
        "wire_bytes_per_delivery": (tally.wire - w0) / delivered,
        "rounds": rounds,
        "client_cpu": await cpu.result(),
    }


async def run_zidle(args: argparse.Namespace) -> dict[str, Any]:
    """``--sockets`` sockets that each received one publish, then idle: server RSS per socket."""
    tally = Tally()
    deflate = args.deflate != "off"
    first = await open_socket(args.url, args.origin, deflate, tally)
    await asyncio.sleep(0.3)
    before = rss_kib(args.server_pid)
    conns = [first]
    for _ in range(args.sockets - 1):
        conns.append(await open_socket(args.url, args.origin, deflate, tally))
    await asyncio.sleep(args.settle)
    tally.target = args.sockets
    tally.waiter = asyncio.get_running_loop().create_future()
    first.transport.write(text_frame(payload(args.size, 1)))  # type: ignore[union-attr]
    await asyncio.wait_for(tally.waiter, 20)
    await asyncio.sleep(args.settle)
    after = rss_kib(args.server_pid)
    for counter in conns:
        counter.transport.close()  # type: ignore[union-attr]
    return {"kib_per_socket": (after - before) / (args.sockets - 1), "sockets": args.sockets}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--deflate", default="off", help="zchat/zidle: off, shared, dedicated")
