"""Endpoints the limits tests drive through a real daphne (payload size, idle, backpressure, cork).

What the client cannot see (close codes, send return codes, drain) is published as JSON to the
``limits-events`` topic, watched through ``t/watch/limits-events/``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, TypeVar

import bunws
from bunws import ServerWebSocket

EVENTS = "limits-events"
MiB = 1024 * 1024
T = TypeVar("T")


def report(event: str, **fields: Any) -> None:
    bunws.publish(EVENTS, json.dumps({"event": event, **fields}))


def report_close(ws: ServerWebSocket, code: int, reason: str) -> None:
    report("close", endpoint=ws.endpoint.name, code=code, reason=reason)


async def echo(ws: ServerWebSocket, message: str | bytes) -> None:
    ws.send(message)


async def measure(ws: ServerWebSocket, message: str | bytes) -> None:
    ws.send(f"len={len(message)}")


bunws.serve(
    "t/lim/small/",
    websocket={"message": echo, "close": report_close, "max_payload_length": 1024},
    name="t-lim-small",
)
bunws.serve(
    "t/lim/default/", websocket={"message": measure, "close": report_close}, name="t-lim-default"
)
bunws.serve(
    "t/lim/idle/",
    websocket={"message": echo, "close": report_close, "idle_timeout": 1, "send_pings": False},
    name="t-lim-idle",
)
bunws.serve(
    "t/lim/idle-ping/",
    websocket={"message": echo, "close": report_close, "idle_timeout": 1, "send_pings": True},
    name="t-lim-idle-ping",
)


async def flood(ws: ServerWebSocket, message: str | bytes) -> None:
    """``flood TOTAL CHUNK``: send TOTAL bytes in CHUNK-byte binary messages, yielding to the
    loop between sends, and report the run-length encoded send return codes."""
    if not isinstance(message, str) or not message.startswith("flood "):
        return
    _, total, chunk = message.split()
    payload = b"x" * int(chunk)
    runs: list[list[int]] = []
    accepted = 0
    for _ in range(int(total) // len(payload)):
        code = ws.send(payload)
        if code:
            accepted += len(payload)
        kind = -1 if code < 0 else (1 if code > 0 else 0)
        if runs and runs[-1][0] == kind:
            runs[-1][1] += 1
        else:
            runs.append([kind, 1])
        if ws.ready_state != 1:
            break
        await asyncio.sleep(0)
    report(
        "flooded",
        endpoint=ws.endpoint.name,
        runs=runs,
        accepted=accepted,
        buffered=ws.buffered_amount,
    )


def flood_drain(ws: ServerWebSocket) -> None:
    report("drain", endpoint=ws.endpoint.name, after=ws.send("after-drain"))


flood_handlers = {"message": flood, "drain": flood_drain, "close": report_close}
bunws.serve(
    "t/lim/flood/",
    websocket={**flood_handlers, "backpressure_limit": MiB},
    name="t-lim-flood",
)
bunws.serve(
    "t/lim/flood-close/",
    websocket={**flood_handlers, "backpressure_limit": MiB, "close_on_backpressure_limit": True},
    name="t-lim-flood-close",
)
bunws.serve(
    "t/lim/flood-unbounded/",
    websocket={**flood_handlers, "backpressure_limit": 0},
    name="t-lim-flood-unbounded",
)


def count_writes(ws: ServerWebSocket, fn: Callable[[], T]) -> tuple[T, int]:
    """Run ``fn``, flush this iteration's writes, and count how often bytes reached daphne's
    TCP transport: direct ``send()``s plus buffered writes (test-only probe)."""
    transport = ws._transport  # type: ignore[attr-defined]
    tcp = transport.protocol.transport
    calls = 0

    def counting(original: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
        def count(data: bytes) -> Any:
            nonlocal calls
            calls += 1
            return original(data)

        return count

    tcp.write = counting(tcp.write)
    tcp.writeSomeData = counting(tcp.writeSomeData)
    try:
        result = fn()
        transport.flush()  # what the end of this loop iteration would do
    finally:
        del tcp.write, tcp.writeSomeData
    return result, calls


async def cork_message(ws: ServerWebSocket, message: str | bytes) -> None:
    """``cork N`` / ``nocork N``: send N messages, then a JSON summary; ``producer``: name
    the push producer registered on the connection's transport."""
    if message == "producer":
        producer = ws._transport.protocol.transport.producer  # type: ignore[attr-defined]
        ws.send(f"{type(producer).__module__}.{type(producer).__name__}")
        return
    if not isinstance(message, str):
        return
    kind, count = message.split()

    def burst(sock: ServerWebSocket) -> list[int]:
        return [sock.send(f"m{i}") for i in range(int(count))]

    if kind == "cork":
        (result, codes), writes = count_writes(ws, lambda: ("done", ws.cork(burst)))
    else:
        (result, codes), writes = count_writes(ws, lambda: ("done", burst(ws)))
    ws.send(json.dumps({"writes": writes, "codes": codes, "result": result}))


bunws.serve("t/lim/cork/", websocket={"message": cork_message}, name="t-lim-cork")
