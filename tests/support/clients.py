"""WebSocket client helpers for the end-to-end tests: connect, receive with a timeout."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from tests.support.servers import Server

TIMEOUT = 5.0


async def connect(server: Server, path: str, **kwargs: Any) -> ClientConnection:
    """Open a WebSocket to ``path`` with a timeout."""
    return await asyncio.wait_for(websockets.connect(server.url(path), **kwargs), TIMEOUT)


async def recv(ws: ClientConnection, timeout: float = TIMEOUT) -> str | bytes:
    """Receive one message or fail the test with a clear message."""
    try:
        return await asyncio.wait_for(ws.recv(), timeout)
    except TimeoutError:
        raise AssertionError(f"no message within {timeout} s") from None


async def recv_json(ws: ClientConnection, timeout: float = TIMEOUT) -> Any:
    message = await recv(ws, timeout)
    return json.loads(message)


async def expect_silence(ws: ClientConnection, wait: float = 0.3) -> None:
    """Assert that nothing arrives within ``wait`` seconds."""
    try:
        message = await asyncio.wait_for(ws.recv(), wait)
    except TimeoutError:
        return
    raise AssertionError(f"expected no message, got {message!r}")


def run(coro: Any) -> Any:
    """Run a coroutine with an overall time limit, from a sync test (an ``async def`` test needs
    none of this: pytest-asyncio runs it; ``pytest.mark.timeout`` bounds it)."""
    return asyncio.run(asyncio.wait_for(coro, 30))


async def refusal_status(server: Server, path: str, **kwargs: Any) -> int:
    """The HTTP status with which the server refuses a handshake to ``path`` (fails if it
    accepts)."""
    try:
        ws = await connect(server, path, **kwargs)
    except websockets.InvalidStatus as refusal:
        return int(refusal.response.status_code)
    await ws.close()
    raise AssertionError(f"the handshake to {path} was accepted")


async def next_event(watch: ClientConnection, event: str, endpoint: str) -> dict[str, Any]:
    """The next report of ``event`` from ``endpoint`` on a watcher (others are skipped)."""
    deadline = time.monotonic() + TIMEOUT * 2
    while time.monotonic() < deadline:
        report = await recv_json(watch, max(0.1, deadline - time.monotonic()))
        if report.get("event") == event and report.get("endpoint") == endpoint:
            return dict(report)
    raise AssertionError(f"no {event!r} report from {endpoint!r}")
