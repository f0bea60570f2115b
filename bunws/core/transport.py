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
    "Control",
    "Disconnected",
    "Event",
    "FlowControl",
    "Receiver",
    "Transport",
]

#: The ASGI ``receive`` callable a transport's receiver may read from.
ASGIReceive = Callable[[], Awaitable[dict[str, Any]]]


class Event:
    """What a receiver hands the handler loop that is not a message (one ``isinstance`` tells
    them apart, so the message path pays nothing for the others)."""

    __slots__ = ()


class Disconnected(Event):
    """What a receiver returns once the connection is gone, with the close code it saw."""

    __slots__ = ("code",)

    def __init__(self, code: int | None) -> None:
        self.code = code

    def __repr__(self) -> str:
        return f"Disconnected({self.code!r})"


class Control(Event):
    """A ping (RFC 6455 5.5.2) or pong (5.5.3) the peer sent, for the ``ping``/``pong``
    handler; delivered in order with the messages around it."""

    __slots__ = ("data", "is_ping")

    def __init__(self, is_ping: bool, data: bytes) -> None:
        self.is_ping = is_ping
        self.data = data

    def __repr__(self) -> str:
        return f"Control({'ping' if self.is_ping else 'pong'}, {self.data!r})"


#: The next item of a connection: a message's text or bytes, a ``Control`` frame, or
#: ``Disconnected`` once the connection is gone.
Receiver = Callable[[], Awaitable["str | bytes | Disconnected | Control"]]


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

    async def accept(
        self, headers: list[tuple[bytes, bytes]], subprotocol: str | None = None
    ) -> None:
        """Complete the handshake with ``headers`` and ``subprotocol`` (RFC 6455 4.2.2)."""
        ...

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

    def pong(self, data: bytes) -> bool:
        """Send a pong frame (RFC 6455 5.5.3: unsolicited is allowed); False when it cannot."""
        ...

    def on_pong(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` for every pong the peer sends, if the server lets us see them."""
        ...

    def receive_control(self, pings: bool, pongs: bool) -> bool:
        """Hand the peer's pings and/or pongs to the receiver as ``Control`` items, in order
        with its messages (the server still answers pings itself); False when it cannot."""
        ...

    def pause_reading(self) -> bool:
        """Stop reading from the connection, so the peer's sends back up in TCP; False when
        this transport cannot (nothing changed)."""
        ...

    def resume_reading(self) -> None:
        """Read from the connection again after ``pause_reading``."""
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
