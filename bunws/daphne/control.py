"""The control side of a daphne connection: ping and pong frames both ways, and pausing reads.

``DaphneTransport`` inherits these methods (``ControlSide`` holds no state of its own): sending
a ping or pong through autobahn after the messages queued before it, wrapping autobahn's
``onPing``/``onPong`` (daphne defines neither) so the idle clock and the ``ping``/``pong``
handlers hear of them while autobahn still answers pings itself, and stopping and restarting
reads on the Twisted transport for ``ws.pause()``/``ws.resume()``. Reactor thread only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bunws.daphne.connection import pause_reading, resume_reading

if TYPE_CHECKING:
    from bunws.daphne.inbox import Inbox


class ControlSide:
    """Pings, pongs and paused reads of a connection served by autobahn's ``protocol``."""

    __slots__ = ()

    # Provided by DaphneTransport.
    protocol: Any
    _inbox: Inbox | None

    def flush(self) -> None:
        raise NotImplementedError

    def ping(self, data: bytes) -> bool:
        return self._send_control(9, data)

    def pong(self, data: bytes) -> bool:
        return self._send_control(10, data)

    def _send_control(self, opcode: int, data: bytes) -> bool:
        protocol = self.protocol
        if protocol.state != protocol.STATE_OPEN:
            return False
        self.flush()  # after the messages queued before it
        # RFC 6455 5.5.2/5.5.3; autobahn checks the 125-byte limit (the socket did already).
        if opcode == 9:
            protocol.sendPing(data or None)
        else:
            protocol.sendPong(data or None)
        return True

    def on_pong(self, callback: Callable[[], None]) -> None:
        """autobahn calls ``onPong`` for every pong; daphne defines none, so wrap the base."""
        protocol = self.protocol
        inherited = protocol.onPong

        def on_pong(payload: bytes) -> None:
            callback()
            inherited(payload)

        protocol.onPong = on_pong

    def receive_control(self, pings: bool, pongs: bool) -> bool:
        if self._inbox is None:  # not accepted through this transport: no inbox to queue on
            return False
        self._inbox.receive_control(pings, pongs)
        return True

    def pause_reading(self) -> bool:
        protocol = self.protocol
        if protocol.state != protocol.STATE_OPEN:
            return False
        return pause_reading(protocol)

    def resume_reading(self) -> None:
        resume_reading(self.protocol)
