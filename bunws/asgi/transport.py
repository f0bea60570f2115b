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

from bunws.asgi.fallback import note_fallback
from bunws.core.deflate import DeflateConfig
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


def _note_no_control_frames() -> None:
    note_fallback(
        "sending a ping or pong (ws.ping, ws.pong)",
        "nothing is sent and they return 0; an idle socket is closed after idle_timeout "
        "without a ping first",
    )


class AsgiTransport:
    """Writes through the ASGI ``send`` callable from a single writer task."""

    full_fidelity = True

    def __init__(self, send: ASGISend, deflate: DeflateConfig | None = None) -> None:
        self._send = send
        if deflate is not None:  # the endpoint's per_message_deflate: ASGI cannot negotiate it
            note_fallback(
                "per_message_deflate",
                "the extension is not negotiated and every message is sent uncompressed "
                "(compress=True is ignored)",
            )
        self._queue: collections.deque[tuple[dict[str, Any], int]] = collections.deque()
        self._buffered = 0
        self._wakeup = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._flow: FlowControl | None = None
        self._paused = False
        self._closing = False  # a close is queued: later writes are dropped
        self._over = False  # the close was sent, the server refused a send, or aclose() ran

    async def accept(
        self, headers: list[tuple[bytes, bytes]], subprotocol: str | None = None
    ) -> None:
        message: dict[str, Any] = {"type": "websocket.accept", "headers": headers}
        if subprotocol is not None:
            message["subprotocol"] = subprotocol  # the server writes Sec-WebSocket-Protocol
        await self._send(message)
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
        """ASGI has no ping event; keep-alive pings are left to the server (said once)."""
        _note_no_control_frames()
        return False

    def pong(self, data: bytes) -> bool:
        """ASGI has no pong event either (said once)."""
        _note_no_control_frames()
        return False

    def on_pong(self, callback: Callable[[], None]) -> None:
        """ASGI never shows pongs to the application: only messages reset the idle clock."""

    def receive_control(self, pings: bool, pongs: bool) -> bool:
        """ASGI never shows ping or pong frames: the handlers cannot run (said once)."""
        note_fallback(
            "a ping or pong handler",
            "the server answers pings itself and the handlers are never called",
        )
        return False

    def pause_reading(self) -> bool:
        """ASGI cannot stop the server reading: ``ws.pause()`` does nothing (said once)."""
        note_fallback("ws.pause()", "reading goes on and ws.is_paused stays False")
        return False

    def resume_reading(self) -> None:
        """Never paused (``pause_reading`` cannot)."""

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
