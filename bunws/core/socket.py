"""``ServerWebSocket``: the ``ws`` object handlers receive, mirroring Bun's ServerWebSocket.

It holds the per-connection state (ready state, subscriptions, backpressure accounting, close
bookkeeping), writes through a ``Transport`` and publishes through an injected hook, so it
imports nothing from Django, Channels or daphne. It is used on its event loop's thread only:
calls from other threads (sync handlers) are handed to the loop by the ASGI layer's subclass,
``bunws.asgi.threads.ThreadSafeWebSocket``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from bunws.core.frame import Frame
from bunws.core.hub import Hub, Subscriber

if TYPE_CHECKING:
    from bunws.asgi.transport import Transport
    from bunws.core.options import SocketConfig

T = TypeVar("T")

#: How a socket publishes: ``(topic, frame, skip) -> int`` (Bun's return value).
PublishHook = Callable[[str, Frame, Subscriber | None], int]

CONNECTING, OPEN, CLOSING, CLOSED = 0, 1, 2, 3

# RFC 6455 7.4.1 and IANA: codes an endpoint may put in a close frame.
_SENDABLE_CODES = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014}


def check_close_code(code: int) -> int:
    """Return ``code`` if a server may send it in a close frame, else raise ValueError."""
    if isinstance(code, bool) or not isinstance(code, int):
        raise TypeError(f"close code must be an int, got {type(code).__name__} {code!r}.")
    if code in _SENDABLE_CODES or 3000 <= code <= 4999:
        return code
    raise ValueError(
        f"close code {code} cannot be sent in a close frame (RFC 6455 7.4): use 1000 for a "
        f"normal close, 1001-1014 for protocol reasons or 3000-4999 for your own codes."
    )


class ServerWebSocket:
    """One open WebSocket connection (Bun's ``ServerWebSocket``)."""

    __slots__ = (
        "__weakref__",
        "_buffered",
        "_close_code",
        "_close_reason",
        "_config",
        "_corked",
        "_hub",
        "_on_drain",
        "_paused",
        "_publish",
        "_transport",
        "data",
        "endpoint",
        "last_received",
        "pinged_at",
        "ready_state",
        "remote_address",
        "scope",
        "subscriptions_set",
    )

    def __init__(
        self,
        *,
        transport: Transport,
        config: SocketConfig,
        hub: Hub,
        data: Any = None,
        scope: dict[str, Any] | None = None,
        endpoint: Any = None,
        on_drain: Callable[[ServerWebSocket], None] | None = None,
        publish: PublishHook | None = None,
    ) -> None:
        self._transport = transport
        self._config = config
        self._hub = hub
        self.data: Any = {} if data is None else data
        self.scope: dict[str, Any] = scope or {}
        self.endpoint = endpoint
        client = self.scope.get("client")
        self.remote_address: str | None = str(client[0]) if client else None
        self.ready_state = OPEN
        self.subscriptions_set: dict[str, None] = {}
        self.last_received = time.monotonic()
        self.pinged_at = 0.0
        self._buffered = 0
        self._paused = False
        self._corked: list[Frame] | None = None
        self._close_code: int | None = None
        self._close_reason = ""
        self._on_drain = on_drain
        self._publish: PublishHook = publish or _local_publisher(hub)
        transport.set_flow_control(self)
        if config.send_pings and config.idle_timeout:
            transport.on_pong(self._touch)

    def __repr__(self) -> str:
        name = getattr(self.endpoint, "name", "?")
        return f"<ServerWebSocket {name} {self.remote_address} state={self.ready_state}>"

    # -- sending --------------------------------------------------------------------------

    def send(self, data: str | bytes | bytearray | memoryview, compress: bool = False) -> int:
        """Send a text (``str``) or binary (bytes-like) message.

        Returns, as Bun does, the byte count, -1 when queued behind backpressure, 0 when
        dropped (socket not open, or the backpressure limit reached). An empty payload is a
        valid message (RFC 6455): it is sent, and its byte count is 0 too. ``compress`` is
        accepted for Bun compatibility and ignored: daphne does not negotiate compression.
        """
        if self.ready_state != OPEN:
            return 0
        return self.deliver(Frame(data))

    def send_text(self, data: str, compress: bool = False) -> int:
        """Send ``data`` as a text frame (see ``send`` for the return value)."""
        if not isinstance(data, str):
            raise TypeError(f"send_text takes a str, got {type(data).__name__}; use send_binary.")
        return self.send(data)

    def send_binary(self, data: bytes | bytearray | memoryview, compress: bool = False) -> int:
        """Send ``data`` as a binary frame (see ``send`` for the return value)."""
        if isinstance(data, str):
            raise TypeError("send_binary takes bytes; use send_text (or send) for a str.")
        return self.send(data)

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

    def cork(self, callback: Callable[[ServerWebSocket], T]) -> T:
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

    # -- topics ---------------------------------------------------------------------------

    def subscribe(self, topic: str) -> None:
        """Receive every message published to ``topic`` (any string)."""
        _check_topic(topic)
        if self.ready_state != OPEN:
            return None
        if topic not in self.subscriptions_set:
            self.subscriptions_set[topic] = None
            self._hub.subscribe(self, topic)
        return None

    def unsubscribe(self, topic: str) -> None:
        """Stop receiving ``topic``."""
        _check_topic(topic)
        if self.subscriptions_set.pop(topic, 0) is None:
            self._hub.unsubscribe(self, topic)
        return None

    def is_subscribed(self, topic: str) -> bool:
        """Whether this socket is subscribed to ``topic``."""
        return topic in self.subscriptions_set

    @property
    def subscriptions(self) -> list[str]:
        """The topics this socket is subscribed to, in subscription order."""
        return list(self.subscriptions_set)

    def publish(
        self, topic: str, data: str | bytes | bytearray | memoryview, compress: bool = False
    ) -> int:
        """Send ``data`` to every subscriber of ``topic``; skips this socket unless the
        endpoint sets ``publish_to_self``. Returns the message size (0 for an empty message,
        which is still sent), or 0 if dropped: nobody to receive it, or this socket is not
        open, which includes the ``close`` handler (use ``endpoint.publish`` there, as in Bun).
        """
        _check_topic(topic)
        if self.ready_state != OPEN:
            return 0
        skip = None if self._config.publish_to_self else self
        return self._publish(topic, Frame(data), skip)

    # -- closing --------------------------------------------------------------------------

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake with ``code`` and ``reason`` (truncated to 123 bytes)."""
        check_close_code(code)
        if self.ready_state != OPEN:
            return None
        self.ready_state = CLOSING
        self._close_code, self._close_reason = code, reason
        self._drop_subscriptions()
        corked = self._corked
        if corked:  # closing inside ws.cork: what the callback sent goes before the close frame
            self._corked = []
            self._transport.write_many(corked)
        self._transport.close(code, reason)
        return None

    def terminate(self) -> None:
        """Drop the connection at once, without a closing handshake (the client sees 1006)."""
        self._abort("terminated by the server")
        return None

    def _abort(self, reason: str) -> None:
        if self.ready_state == CLOSED:
            return
        self.ready_state = CLOSING
        # RFC 6455 7.1.5: 1006 = closed without a close frame.
        self._close_code, self._close_reason = 1006, reason
        self._drop_subscriptions()
        self._transport.abort()

    def _touch(self) -> None:
        """A pong arrived: the peer is alive, which resets the idle clock like a message."""
        self.last_received = time.monotonic()

    @property
    def idle_timeout(self) -> int:
        """Seconds without a received message (or pong) before the socket is closed."""
        return self._config.idle_timeout

    @property
    def sends_pings(self) -> bool:
        """Whether an idle socket is pinged before ``idle_timeout`` closes it."""
        return self._config.send_pings

    def ping(self, data: bytes = b"") -> int:
        """Send a ping frame; its pong resets the idle clock when ``send_pings`` is on.

        Returns the frame's size, or 0 when the socket is not open or the transport cannot
        ping (ASGI has no ping event; only daphne's adapter can).
        """
        if self.ready_state != OPEN:
            return 0
        if not self._transport.ping(bytes(data)):
            return 0
        return len(data) + 2

    def closed_by_server(self) -> tuple[int, str] | None:
        """The code and reason this side closed with, or None if the peer closed first."""
        if self._close_code is None:
            return None
        return self._close_code, self._close_reason

    def mark_closed(self) -> None:
        """The connection is gone: drop subscriptions and refuse further sends."""
        self.ready_state = CLOSED
        self._drop_subscriptions()

    def _drop_subscriptions(self) -> None:
        topics, self.subscriptions_set = self.subscriptions_set, {}
        for topic in topics:
            self._hub.unsubscribe(self, topic)


def _check_topic(topic: object) -> None:
    if not isinstance(topic, str):
        raise TypeError(f"a topic is a str, got {type(topic).__name__} {topic!r}.")


def _local_publisher(hub: Hub) -> PublishHook:
    """Publish to this process's subscribers only (a socket built without a cluster hook)."""

    def publish(topic: str, frame: Frame, skip: Subscriber | None) -> int:
        return frame.size if hub.publish(topic, frame, skip) else 0

    return publish
