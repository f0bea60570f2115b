"""What a socket does to its connection besides messages: ``ws.ping``/``ws.pong`` (payload
checked against RFC 6455 5.5 before anything reaches the connection) and Bun 1.4's
``ws.pause``/``ws.resume``/``ws.is_paused`` (reading stops; the idle sweeper skips the socket).

``ConnectionControl`` extends the socket's ``Outgoing`` half (whose backpressure a ping reports)
and ``ServerWebSocket`` extends it in turn. Loop-thread only, like the socket.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bunws.core.close import OPEN
from bunws.core.outgoing import Outgoing

if TYPE_CHECKING:
    from bunws.core.transport import Transport

#: RFC 6455 5.5: a control frame (ping, pong, close) carries at most 125 bytes.
MAX_CONTROL_PAYLOAD = 125

Payload = str | bytes | bytearray | memoryview


def control_payload(kind: str, data: object) -> bytes:
    """``data`` as the bytes of a ``kind`` ("ping" or "pong") frame: bytes-like as it is, a
    str as UTF-8; ``TypeError`` or ``ValueError`` naming the problem otherwise."""
    if isinstance(data, str):
        raw = data.encode("utf-8")
    elif isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
    else:
        raise TypeError(f"ws.{kind}() takes bytes or a str, got {type(data).__name__}.")
    if len(raw) > MAX_CONTROL_PAYLOAD:
        raise ValueError(
            f"ws.{kind}() payload is {len(raw)} bytes, over the {MAX_CONTROL_PAYLOAD}-byte "
            f"limit of a {kind} frame (RFC 6455 5.5): send larger data as a message."
        )
    return raw


class ConnectionControl(Outgoing):
    """Pings, pongs and paused reading of one socket (Bun's ``ServerWebSocket`` members)."""

    __slots__ = ("_reading_paused",)

    def __init__(self, transport: Transport, on_drain: Callable[[Any], None] | None) -> None:
        super().__init__(transport, on_drain)
        self._reading_paused = False

    def _touch(self) -> None:
        raise NotImplementedError  # ServerWebSocket's: restart the idle clock

    def ping(self, data: Payload = b"") -> int:
        """Send a ping frame of bytes, or a str as UTF-8, at most 125 bytes (else ValueError).
        Its pong reaches the ``pong`` handler and resets the idle clock.

        Returns Bun's send status: the payload size (0 if empty), -1 when the connection is
        backed up, 0 when the socket is not open or the server cannot ping.
        """
        return self._control(True, data)

    def pong(self, data: Payload = b"") -> int:
        """Send a pong frame, unsolicited (RFC 6455 5.5.3: a one-way heartbeat); the payload
        and the return value are as for ``ping``."""
        return self._control(False, data)

    def _control(self, is_ping: bool, data: Payload) -> int:
        payload = control_payload("ping" if is_ping else "pong", data)
        if self.ready_state != OPEN:
            return 0
        transport = self._transport
        if not (transport.ping(payload) if is_ping else transport.pong(payload)):
            return 0
        return -1 if self._paused else len(payload)

    def pause(self) -> None:
        """Stop reading from the connection (Bun 1.4): the client's sends back up in TCP.
        Messages already read are still delivered, sending still works, and the idle timeout
        waits. A no-op when the socket is not open or the server cannot pause (logged once)."""
        if self.ready_state == OPEN and not self._reading_paused:
            self._reading_paused = self._transport.pause_reading()
        return None

    def resume(self) -> None:
        """Read from the connection again; the idle timeout starts afresh."""
        if self._reading_paused:
            self._reading_paused = False
            self._touch()
            self._transport.resume_reading()
        return None

    @property
    def is_paused(self) -> bool:
        """Whether ``pause`` stopped reading (False once the socket closes)."""
        return self._reading_paused
