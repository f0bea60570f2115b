"""The interface between a socket and its connection: what ``ServerWebSocket`` calls to write,
close and learn of backpressure, and what a transport's receiver hands the endpoint's loop.

Server-neutral and standard library only, so the core socket can be typed against it;
``bunws.asgi.transport.AsgiTransport`` (any ASGI server) and
``bunws.daphne.transport.DaphneTransport`` implement it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from bunws.core.frame import Frame

__all__ = [
    "HIGH_WATER",
    "ASGIReceive",
    "Disconnected",
    "FlowControl",
    "Receiver",
    "Transport",
]

#: The ASGI ``receive`` callable a transport's receiver may read from.
ASGIReceive = Callable[[], Awaitable[dict[str, Any]]]


class Disconnected:
    """What a receiver returns once the connection is gone, with the close code it saw."""

    __slots__ = ("code",)

    def __init__(self, code: int | None) -> None:
        self.code = code

    def __repr__(self) -> str:
        return f"Disconnected({self.code!r})"


#: The next message of a connection: its text or bytes, or ``Disconnected`` when it is gone.
Receiver = Callable[[], Awaitable["str | bytes | Disconnected"]]


#: Bytes queued before a transport reports backpressure (Twisted's own write buffer size).
HIGH_WATER = 64 * 1024


class FlowControl(Protocol):
    """What a transport tells its socket about the connection's write buffer."""

    def pause_writing(self) -> None: ...

    def resume_writing(self) -> None: ...


class Transport(Protocol):
    """The I/O half of a socket; every method but ``accept``/``reject``/``aclose`` is
    synchronous."""

    #: True when ``close`` delivers the reason and ``accept`` the extra headers to the client.
    full_fidelity: bool

    async def accept(self, headers: list[tuple[bytes, bytes]]) -> None: ...

    async def reject(self) -> None: ...

    def receiver(self, receive: ASGIReceive) -> Receiver:
        """How the socket's loop awaits its next message (``receive`` is the ASGI callable)."""
        ...

    def run_detached(self, run: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
        """Run the socket's loop as its own task, apart from the ASGI call that accepted it,
        if the server allows; None means the caller awaits ``run`` itself."""
        ...

    def write(self, frame: Frame) -> None: ...

    def write_many(self, frames: list[Frame]) -> None:
        """Write several frames at once (``ws.cork``)."""
        ...

    def close(self, code: int, reason: str) -> None: ...

    def abort(self) -> None: ...

    def ping(self, data: bytes) -> bool:
        """Send a ping frame; False when this transport cannot."""
        ...

    def on_pong(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` for every pong the peer sends, if the server lets us see them."""
        ...

    def remote_close(self) -> tuple[int | None, str | None]: ...

    def set_flow_control(self, flow: FlowControl) -> None: ...

    @property
    def closed(self) -> bool:
        """Whether the connection is over: its closing handshake finished or it dropped."""
        ...

    async def aclose(self) -> None:
        """Release the connection once the socket's loop has ended (called for every transport)."""
        ...
