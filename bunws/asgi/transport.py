"""How a socket writes to its connection on any ASGI server, and the scope key that lets a
server-specific transport find the connection behind the server's ``send``.

``AsgiTransport`` implements ``bunws.core.transport.Transport``: sends are queued and a writer
task awaits the server's ``send``, so ``ws.send()`` stays a plain, non-blocking call. On daphne
bunws uses ``bunws.daphne.transport.DaphneTransport`` instead, which writes straight to the
connection.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from bunws.core.frame import Frame
from bunws.core.transport import HIGH_WATER, ASGIReceive, Disconnected, FlowControl, Receiver

logger = logging.getLogger("bunws")

ASGISend = Callable[[dict[str, Any]], Awaitable[None]]

#: Scope key of the server's own ``send``, before any middleware wrapped it: ``OriginCheck``
#: stores it so a server-specific transport can find the connection behind it.
RAW_SEND_KEY = "bunws.server_send"


def asgi_receiver(receive: ASGIReceive) -> Receiver:
    """Turn ASGI ``websocket.receive``/``websocket.disconnect`` events into a ``Receiver``."""

    async def next_message() -> str | bytes | Disconnected:
        while True:
            event = await receive()
            kind = event["type"]
            if kind == "websocket.receive":
                text: str | None = event.get("text")
                if text is not None:
                    return text
                data: bytes | None = event.get("bytes")
                return b"" if data is None else data
            if kind == "websocket.disconnect":
                code: int | None = event.get("code", 1005)
                return Disconnected(code)

    return next_message


class AsgiTransport:
    """Writes through the ASGI ``send`` callable from a single writer task."""

    full_fidelity = True

    def __init__(self, send: ASGISend) -> None:
        self._send = send
        self._queue: collections.deque[tuple[dict[str, Any], int]] = collections.deque()
        self._buffered = 0
        self._wakeup = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._flow: FlowControl | None = None
        self._paused = False
        self._closing = False  # a close is queued: later writes are dropped
        self._over = False  # the close was sent, the server refused a send, or aclose() ran

    async def accept(self, headers: list[tuple[bytes, bytes]]) -> None:
        await self._send({"type": "websocket.accept", "headers": headers})
        self._writer = asyncio.get_running_loop().create_task(self._write_loop())

    async def reject(self) -> None:
        await self._send({"type": "websocket.close", "code": 1000})

    def set_flow_control(self, flow: FlowControl) -> None:
        self._flow = flow

    def receiver(self, receive: ASGIReceive) -> Receiver:
        return asgi_receiver(receive)

    def run_detached(self, run: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
        """ASGI ends the connection when the application returns: the loop stays in it."""
        return None

    def write(self, frame: Frame) -> None:
        if self._closing:
            return
        self._queue.append((frame.asgi_message(), frame.size))
        self._buffered += frame.size
        self._wakeup.set()
        if not self._paused and self._buffered > HIGH_WATER and self._flow is not None:
            self._paused = True
            self._flow.pause_writing()

    def write_many(self, frames: list[Frame]) -> None:
        # One wake-up of the writer task for the whole batch.
        for frame in frames:
            self.write(frame)

    def close(self, code: int, reason: str) -> None:
        if self._closing:
            return
        self._queue.append(({"type": "websocket.close", "code": code, "reason": reason}, 0))
        self._closing = True
        self._wakeup.set()

    def abort(self) -> None:
        self.close(1006, "")

    def ping(self, data: bytes) -> bool:
        """ASGI has no ping event; keep-alive pings are left to the server."""
        return False

    def on_pong(self, callback: Callable[[], None]) -> None:
        """ASGI never shows pongs to the application: only messages reset the idle clock."""

    def remote_close(self) -> tuple[int | None, str | None]:
        return None, None

    async def _write_loop(self) -> None:
        queue = self._queue
        try:
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                while queue:
                    message, size = queue.popleft()
                    if message["type"] == "websocket.close" and message["code"] == 1006:
                        # ASGI cannot abort a connection; the nearest is closing it.
                        message = {"type": "websocket.close", "code": 1011}
                    await self._send(message)
                    self._buffered -= size
                    if message["type"] == "websocket.close":
                        self._over = True
                        return
                if self._paused and self._flow is not None:
                    self._paused = False
                    self._flow.resume_writing()
        except (OSError, RuntimeError) as exc:  # the server refused: the connection is gone
            self._over = True
            logger.debug("bunws: ASGI send failed: %s", exc)

    @property
    def closed(self) -> bool:
        """ASGI shows no closing handshake: over once the close is sent or the socket ended."""
        return self._over

    async def aclose(self) -> None:
        """Stop the writer task (the connection is gone)."""
        self._closing = self._over = True
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
