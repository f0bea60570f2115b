"""The outgoing side of a socket: Bun's send return codes, backpressure accounting, corking.

``Outgoing`` is the half of ``ServerWebSocket`` that the transport talks to (``pause_writing``
and ``resume_writing``) and the hub writes through (``deliver``); the socket adds topics, closing
and the public ``send`` calls on top. Loop-thread only, like the socket.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from bunws.core.close import OPEN
from bunws.core.frame import Frame
from bunws.core.stats import UNCOUNTED, EndpointStats

if TYPE_CHECKING:
    from bunws.core.options import SocketConfig
    from bunws.core.transport import Transport

T = TypeVar("T")


class Outgoing:
    """What one connection has written, and whether its write buffer is backed up."""

    __slots__ = ("_buffered", "_corked", "_on_drain", "_paused", "_stats", "_transport")

    # Set by ServerWebSocket, which holds them for its own use too.
    ready_state: int
    _config: SocketConfig

    def __init__(self, transport: Transport, on_drain: Callable[[Any], None] | None) -> None:
        self._transport = transport
        self._on_drain = on_drain
        self._buffered = 0
        self._paused = False
        self._corked: list[Frame] | None = None
        #: The endpoint's counters (bunws.core.stats); the socket sets its endpoint's. Sends
        #: are counted by ``send`` and publish deliveries by the hub, once per publish, so
        #: ``deliver`` (the per-subscriber path) counts only the rare backpressure events.
        self._stats: EndpointStats = UNCOUNTED

    def _abort(self, reason: str) -> None:
        raise NotImplementedError

    def deliver(self, frame: Frame) -> int:
        """Write a prepared frame; the hub's per-subscriber path (loop thread only).

        Bun's return codes: the size when written with no backpressure, -1 when written but
        the connection is backed up (or becomes so with this write), 0 when dropped.
        """
        if self.ready_state != OPEN:
            return 0
        if self._paused:
            return self._deliver_backed_up(frame)
        corked = self._corked
        if corked is not None:
            corked.append(frame)
            return frame.size
        self._transport.write(frame)
        if self._paused:  # this write filled the buffer: the transport paused us just now
            self._buffered += frame.size
            return -1
        return frame.size

    def _deliver_backed_up(self, frame: Frame) -> int:
        limit = self._config.backpressure_limit
        if limit and self._buffered + frame.size > limit:
            self._stats.backpressure_drops += 1
            if self._config.close_on_backpressure_limit:
                # A close frame would queue behind the backlog: drop the connection instead.
                self._abort("backpressure limit exceeded")
            return 0
        self._buffered += frame.size
        corked = self._corked
        if corked is not None:
            corked.append(frame)
        else:
            self._transport.write(frame)
        return -1

    def cork(self, callback: Callable[[Any], T]) -> T:
        """Run ``callback(ws)`` and write what it sent in one batch; returns its result."""
        if not self._begin_cork():  # already corked: nest transparently
            return callback(self)
        try:
            return callback(self)
        finally:
            self._end_cork()

    def _begin_cork(self) -> bool:
        """Start collecting sends; False if a cork is already open (the outer one writes)."""
        if self._corked is not None:
            return False
        self._corked = []
        return True

    def _end_cork(self) -> None:
        """Write what was collected since ``_begin_cork`` as one batch."""
        frames, self._corked = self._corked, None
        if frames and self.ready_state == OPEN:
            self._transport.write_many(frames)

    # -- flow control (called by the transport) -------------------------------------------

    def pause_writing(self) -> None:
        """The connection's write buffer is full: further sends report backpressure."""
        if not self._paused:
            self._stats.backpressure_events += 1
        self._paused = True

    def resume_writing(self) -> None:
        """The buffer drained: reset the accounting and run the ``drain`` handler."""
        was_paused = self._paused
        self._paused = False
        self._buffered = 0
        if was_paused and self.ready_state == OPEN and self._on_drain is not None:
            self._on_drain(self)

    @property
    def buffered_amount(self) -> int:
        """Bytes written while the connection reported backpressure (0 when flowing)."""
        return self._buffered
