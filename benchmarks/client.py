"""The load generator: ``python -m benchmarks.client WORKLOAD ...`` prints one JSON object.

It runs in its own process (pinned to CPU 1 where possible) so it never shares an event loop
or a GIL with the server. Progress goes to stderr as ``PROGRESS {json}`` lines for the runner's
live line; the result, or ``{"error": ...}``, goes to stdout. Every loop is bounded by a deadline
and a count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from array import array
from collections.abc import Awaitable, Callable
from typing import Any

from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from benchmarks import deflate_client, scale_client

CLIENT_CPU = 1
PROGRESS_EVERY = 0.25
#: Extra seconds past warmup + duration before the client gives up on a stuck server.
GRACE = 10.0
#: Hard caps that bound every loop by count as well as by time.
MAX_ROUND_TRIPS = 50_000_000
MAX_ROUNDS = 100_000
MAX_HANDSHAKES = 200_000
MAX_REQUESTS = 2_000_000


def pin(cpu: int) -> None:
    """Pin this process to one CPU when the OS allows it and there are at least two."""
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > cpu:
        os.sched_setaffinity(0, {cpu})


def progress(elapsed: float, total: float, done: int) -> None:
    payload = {"t": round(elapsed, 2), "total": total, "done": done}
    sys.stderr.write("PROGRESS " + json.dumps(payload) + "\n")
    sys.stderr.flush()


def mark(name: str) -> None:
    """Tell the runner the measured interval starts or stops (it reads the server's CPU then)."""
    sys.stderr.write(f"MARK {name}\n")
    sys.stderr.flush()


async def report_progress(total: float, done: Callable[[], int]) -> None:
    start = time.perf_counter()
    while True:
        await asyncio.sleep(PROGRESS_EVERY)
        progress(time.perf_counter() - start, total, done())


class CpuMeter:
    """This process's CPU use between two instants: near 1.0 means the client is the limit."""

    def __init__(self, start: float, stop: float) -> None:
        self.fraction = float("nan")
        self.task = asyncio.create_task(self._measure(start, stop))

    async def _measure(self, start: float, stop: float) -> None:
        await asyncio.sleep(max(0.0, start - time.perf_counter()))
        mark("start")
        wall, cpu = time.perf_counter(), time.process_time()
        await asyncio.sleep(max(0.0, stop - time.perf_counter()))
        mark("stop")
        self.fraction = (time.process_time() - cpu) / (time.perf_counter() - wall)

    async def result(self) -> float:
        """Wait for the stop instant (already past when the load loop ends normally)."""
        await self.task
        return round(self.fraction, 3)


def percentile(sorted_values: list[int], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1)))
    return float(sorted_values[index])


# --- echo ------------------------------------------------------------------------------------


class EchoListener(WSListener):  # type: ignore[misc]
    """Wakes the worker when a whole reply has arrived."""

    def __init__(self) -> None:
        self.waiter: asyncio.Future[None] | None = None

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.CLOSE:
            transport.disconnect()
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_exception(ConnectionError("server closed the socket"))
        elif frame.fin and self.waiter is not None:
            waiter, self.waiter = self.waiter, None
            if not waiter.done():
                waiter.set_result(None)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("disconnected mid round trip"))


async def run_echo(args: argparse.Namespace) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    payload = b"x" * args.size
    conns = [
        await ws_connect(EchoListener, args.url, extra_headers=headers(args))
        for _ in range(args.clients)
    ]
    start = time.perf_counter()
    measure_from = start + args.warmup
    stop_at = measure_from + args.duration
    latencies = array("q")
    counted = [0]
    cpu = CpuMeter(measure_from, stop_at)

    async def worker(transport: WSTransport, listener: EchoListener) -> None:
        for _ in range(MAX_ROUND_TRIPS):
            sent_ns = time.perf_counter_ns()
            sent = sent_ns / 1e9
            if sent >= stop_at:
                return
            listener.waiter = loop.create_future()
            transport.send(WSMsgType.TEXT, payload)
            await listener.waiter
            if sent >= measure_from:
                latencies.append(time.perf_counter_ns() - sent_ns)
                counted[0] += 1

    ticker = asyncio.create_task(report_progress(args.warmup + args.duration, lambda: counted[0]))
    try:
        await asyncio.wait_for(
            asyncio.gather(*(worker(t, lst) for t, lst in conns)),
            args.warmup + args.duration + GRACE,
        )
    finally:
        ticker.cancel()
        for transport, _ in conns:
            transport.disconnect()
    elapsed = min(time.perf_counter(), stop_at + GRACE) - measure_from
    ordered = sorted(latencies)
    return {
        "round_trips_per_s": len(ordered) / elapsed,
        "p50_ms": percentile(ordered, 0.50) / 1e6,
        "p99_ms": percentile(ordered, 0.99) / 1e6,
        "round_trips": len(ordered),
        "client_cpu": await cpu.result(),
        "clients": args.clients,
        "size": args.size,
    }


# --- chat ------------------------------------------------------------------------------------


class Tally:
    """Deliveries counted across all chat clients, with a wake-up at a target count."""

    def __init__(self) -> None:
        self.received = 0
        self.target = 0
        self.waiter: asyncio.Future[None] | None = None


class ChatListener(WSListener):  # type: ignore[misc]
    tally: Tally

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.CLOSE:
            transport.disconnect()
            return
        if not frame.fin or frame.msg_type in (WSMsgType.PING, WSMsgType.PONG):
            return
        tally = self.tally
        tally.received += 1
        if tally.received >= tally.target and tally.waiter is not None:
            waiter, tally.waiter = tally.waiter, None
            if not waiter.done():
                waiter.set_result(None)


async def run_chat(args: argparse.Namespace) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    tally = Tally()

    def factory() -> ChatListener:
        listener = ChatListener()
        listener.tally = tally
        return listener

    # Clients alternate between --url and each --also-url (the Redis workload's second server).
    urls = [args.url, *args.also_url]
    conns = [
        await ws_connect(factory, urls[i % len(urls)], extra_headers=headers(args))
        for i in range(args.clients)
    ]
    # Let the server finish its open handlers (subscriptions) before the first burst.
    await asyncio.sleep(args.settle)
    message = b"hello from a chat client"
    per_round = args.clients * args.clients * args.burst
    samples: list[float] = []
    counts: list[int] = []
    start = time.perf_counter()
    measure_from = start + args.warmup
    stop_at = measure_from + args.duration

    async def sampler() -> None:
        await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
        last_t, last_n = time.perf_counter(), tally.received
        counts.append(last_n)
        while True:
            await asyncio.sleep(1.0)
            now, n = time.perf_counter(), tally.received
            samples.append((n - last_n) / (now - last_t))
            counts.append(n)
            last_t, last_n = now, n

    ticker = asyncio.create_task(
        report_progress(args.warmup + args.duration, lambda: tally.received)
    )
    sampling = asyncio.create_task(sampler())
    cpu = CpuMeter(measure_from, stop_at)
    rounds = 0
    try:
        for _ in range(MAX_ROUNDS):
            round_start = time.perf_counter()
            # Stop once the time is up and at least one one-second sample exists.
            if round_start >= stop_at and (samples or round_start >= stop_at + GRACE):
                break
            tally.target += per_round
            tally.waiter = loop.create_future()
            for transport, _ in conns:
                for _ in range(args.burst):
                    transport.send(WSMsgType.TEXT, message)
            try:
                await asyncio.wait_for(tally.waiter, args.round_timeout)
            except TimeoutError:
                missing = tally.target - tally.received
                return {"error": f"round {rounds} lost {missing} of {per_round} deliveries"}
            rounds += 1
            rest = 0.064 - (time.perf_counter() - round_start)
            if rest > 0:
                await asyncio.sleep(rest)
    finally:
        ticker.cancel()
        sampling.cancel()
        for transport, _ in conns:
            transport.disconnect()
    overall = (counts[-1] - counts[0]) / len(samples) if samples else 0.0
    return {
        "messages_per_s": statistics.median(samples) if samples else overall,
        "mean_messages_per_s": overall,
        "samples": [round(s) for s in samples],
        "rounds": rounds,
        "client_cpu": await cpu.result(),
        "per_round": per_round,
        "clients": args.clients,
        "burst": args.burst,
    }


# --- connect ---------------------------------------------------------------------------------


class QuietListener(WSListener):  # type: ignore[misc]
    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.CLOSE:
            transport.disconnect()


async def run_connect(args: argparse.Namespace) -> dict[str, Any]:
    start = time.perf_counter()
    measure_from = start + args.warmup
    stop_at = measure_from + args.duration
    done = [0]
    failed: dict[str, int] = {}
    extra = headers(args)

    async def worker() -> None:
        while time.perf_counter() < stop_at and done[0] < MAX_HANDSHAKES:
            began = time.perf_counter()
            try:
                transport, _ = await ws_connect(QuietListener, args.url, extra_headers=extra)
                transport.send_close(WSCloseCode.OK)
                await asyncio.wait_for(transport.wait_disconnected(), 5)
            except Exception as exc:  # a failed handshake is a result, not a crash
                name = type(exc).__name__
                failed[name] = failed.get(name, 0) + 1
                if sum(failed.values()) > 100:
                    raise RuntimeError(f"too many failed handshakes: {failed}") from exc
                continue
            if began >= measure_from:
                done[0] += 1

    ticker = asyncio.create_task(report_progress(args.warmup + args.duration, lambda: done[0]))
    cpu = CpuMeter(measure_from, stop_at)
    try:
        await asyncio.wait_for(
            asyncio.gather(*(worker() for _ in range(args.concurrency))),
            args.warmup + args.duration + GRACE,
        )
    finally:
        ticker.cancel()
    elapsed = time.perf_counter() - measure_from
    return {
        "handshakes_per_s": done[0] / elapsed,
        "handshakes": done[0],
        "client_cpu": await cpu.result(),
        "failed": failed,
        "concurrency": args.concurrency,
    }


# --- plain HTTP ------------------------------------------------------------------------------


async def read_chunked(reader: asyncio.StreamReader) -> None:
    """Skip one chunked body (RFC 9112 7.1), trailers included."""
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass
            return
        await reader.readexactly(size + 2)


async def run_http(args: argparse.Namespace) -> dict[str, Any]:
    start = time.perf_counter()
    measure_from = start + args.warmup
    stop_at = measure_from + args.duration
    done = [0]
    statuses: dict[str, int] = {}
    reconnects = [0]
    request = (
        f"GET {args.path} HTTP/1.1\r\nHost: {args.host}:{args.port}\r\n"
        "User-Agent: bunws-bench\r\n\r\n"
    ).encode()

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(args.host, args.port)
        try:
            while time.perf_counter() < stop_at and done[0] < MAX_REQUESTS:
                began = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                status = lines[0].split(" ", 2)[1]
                fields = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (line.partition(":") for line in lines[1:] if line)
                }
                if fields.get("transfer-encoding", "").lower() == "chunked":
                    await read_chunked(reader)
                else:
                    await reader.readexactly(int(fields.get("content-length", "0")))
                if began >= measure_from:
                    done[0] += 1
                    statuses[status] = statuses.get(status, 0) + 1
                if fields.get("connection", "").lower() == "close":
                    writer.close()
                    reconnects[0] += 1
                    reader, writer = await asyncio.open_connection(args.host, args.port)
        finally:
            writer.close()

    ticker = asyncio.create_task(report_progress(args.warmup + args.duration, lambda: done[0]))
    cpu = CpuMeter(measure_from, stop_at)
    try:
        await asyncio.wait_for(
            asyncio.gather(*(worker() for _ in range(args.concurrency))),
            args.warmup + args.duration + GRACE,
        )
    finally:
        ticker.cancel()
    elapsed = time.perf_counter() - measure_from
    return {
        "requests_per_s": done[0] / elapsed,
        "requests": done[0],
        "client_cpu": await cpu.result(),
        "statuses": statuses,
        "reconnects": reconnects[0],
        "concurrency": args.concurrency,
    }


# --- entry point -----------------------------------------------------------------------------


def headers(args: argparse.Namespace) -> dict[str, str]:
    extra = dict(header.split(": ", 1) for header in args.header)  # --header "Name: value"
    return {"Origin": args.origin, **extra} if args.origin else extra


RUNNERS: dict[str, Callable[[argparse.Namespace], Awaitable[dict[str, Any]]]] = {
    "echo": run_echo,
    "chat": run_chat,
    "connect": run_connect,
    "http": run_http,
    "scale": scale_client.run_scale,
    "zchat": deflate_client.run_zchat,
    "zidle": deflate_client.run_zidle,
}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.client")
    parser.add_argument("workload", choices=sorted(RUNNERS))
    parser.add_argument("--url", default="", help="ws:// URL (echo, chat, connect)")
    parser.add_argument("--origin", default="", help="Origin header for the handshake")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--path", default="/")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--burst", type=int, default=8)
    parser.add_argument("--round-timeout", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--no-pin", action="store_true")
    parser.add_argument("--settle", type=float, default=0.1, help="chat: pause before round 1")
    parser.add_argument("--also-url", action="append", default=[], help="chat: more servers")
    parser.add_argument("--header", action="append", default=[], help="'Name: value' to add")
    scale_client.add_arguments(parser)
    deflate_client.add_arguments(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if not args.no_pin:
        pin(CLIENT_CPU)
    try:
        result = asyncio.run(RUNNERS[args.workload](args))
    except Exception as exc:
        result = {"error": f"{type(exc).__name__}: {exc}".strip().rstrip(":")}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
