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

from bunws.core.close import CLOSED, CLOSING, OPEN, check_close_code
from bunws.core.control import ConnectionControl
from bunws.core.frame import Frame
from bunws.core.hub import Hub, PublishHook, check_topic, local_publisher
from bunws.core.presence import Present, Tracker
from bunws.core.redact import scope_client
from bunws.core.stats import EndpointStats

if TYPE_CHECKING:
    from bunws.core.options import SocketConfig
    from bunws.core.transport import Transport

T = TypeVar("T")


class ServerWebSocket(ConnectionControl, Present):
    """One open WebSocket connection (Bun's ``ServerWebSocket``)."""

    __slots__ = (
        "__weakref__",
        "_close_code",
        "_close_reason",
        "_config",
        "_hub",
        "_presence",
        "_publish",
        "data",
        "endpoint",
        "last_received",
        "pinged_at",
        "protocol",
        "ready_state",
        "remote_address",
        "scope",
        "subscriptions_set",
    )

    #: Recovery (docs/recovery.md): whether this connection resumed a session, the topics
    #: whose missed messages were not all replayed, and the session id; only ``bunws.v1``
    #: sockets of endpoints with ``recovery=`` set them.
    recovered: bool = False
    gaps: tuple[str, ...] = ()
    session: str | None = None

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
        protocol: str = "",
        presence: Tracker | None = None,
        stats: EndpointStats | None = None,
    ) -> None:
        super().__init__(transport, on_drain)
        if stats is not None:
            self._stats = stats
        self._config = config
        self._hub = hub
        self.data: Any = {} if data is None else data
        #: The subprotocol selected in the handshake; "" for none, as a browser's ws.protocol.
        self.protocol = protocol
        self.scope: dict[str, Any] = scope or {}
        self.endpoint = endpoint
        self.remote_address: str | None = scope_client(self.scope)
        self.ready_state = OPEN
        self.subscriptions_set: dict[str, None] = {}
        self.last_received = time.monotonic()
        self.pinged_at = 0.0
        self._close_code: int | None = None
        self._close_reason = ""
        self._publish: PublishHook = publish or local_publisher(hub)
        self._presence = presence
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
        valid message (RFC 6455): it is sent, and its byte count is 0 too. ``compress=True``
        deflates the message when the endpoint's ``per_message_deflate`` was negotiated with
        this client, as in Bun (otherwise it goes uncompressed); the byte count is uncompressed.
        """
        if self.ready_state != OPEN:
            return 0
        frame = Frame(data, compress)
        sent = self.deliver(frame)
        if sent or not frame.size:  # 0 for a non-empty message: dropped at the limit
            stats = self._stats
            stats.messages_sent += 1
            stats.bytes_sent += frame.size
        return sent

    def send_text(self, data: str, compress: bool = False) -> int:
        """Send ``data`` as a text frame (see ``send`` for the return value)."""
        if not isinstance(data, str):
            raise TypeError(f"send_text takes a str, got {type(data).__name__}; use send_binary.")
        return self.send(data, compress)

    def send_binary(self, data: bytes | bytearray | memoryview, compress: bool = False) -> int:
        """Send ``data`` as a binary frame (see ``send`` for the return value)."""
        if isinstance(data, str):
            raise TypeError("send_binary takes bytes; use send_text (or send) for a str.")
        return self.send(data, compress)

    # -- topics ---------------------------------------------------------------------------

    def subscribe(self, topic: str) -> None:
        """Receive every message published to ``topic`` (any string)."""
        check_topic(topic)
        if self.ready_state != OPEN:
            return None
        if topic not in self.subscriptions_set:
            self.subscriptions_set[topic] = None
            self._hub.subscribe(self, topic)
        return None

    def unsubscribe(self, topic: str) -> None:
        """Stop receiving ``topic``."""
        check_topic(topic)
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
        endpoint sets ``publish_to_self``. Returns Bun's ``server.publish`` value: the message
        size (0 for an empty message, which is still sent), -1 when a subscriber is backed up,
        0 if dropped: nobody to receive it, or this socket is not open, which includes the
        ``close`` handler (use ``endpoint.publish`` there, as in Bun). ``compress`` as in
        ``send``: deflated once for all subscribers that negotiated the shared mode.
        """
        check_topic(topic)
        if self.ready_state != OPEN:
            return 0
        skip = None if self._config.publish_to_self else self
        return self._publish(topic, Frame(data, compress), skip)

    def publish_text(self, topic: str, data: str, compress: bool = False) -> int:
        """``publish`` a text message (Bun's ``publishText``)."""
        if not isinstance(data, str):
            raise TypeError(f"publish_text takes a str, got {type(data).__name__}.")
        return self.publish(topic, data, compress)

    def publish_binary(
        self, topic: str, data: bytes | bytearray | memoryview, compress: bool = False
    ) -> int:
        """``publish`` a binary message (Bun's ``publishBinary``)."""
        if isinstance(data, str):
            raise TypeError("publish_binary takes bytes; use publish_text for a str.")
        return self.publish(topic, data, compress)

    # -- closing --------------------------------------------------------------------------

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake with ``code`` and ``reason`` (truncated to 123 bytes)."""
        check_close_code(code)
        if self.ready_state != OPEN:
            return None
        self.ready_state = CLOSING
        self._close_code, self._close_reason = code, reason
        self._drop_subscriptions()
        if self._reading_paused:  # read again, or the client's close frame is never seen
            self.resume()
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
        self._reading_paused = False
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

    def closed_by_server(self) -> tuple[int, str] | None:
        """The code and reason this side closed with, or None if the peer closed first."""
        if self._close_code is None:
            return None
        return self._close_code, self._close_reason

    def mark_closed(self) -> None:
        """The connection is gone: drop subscriptions and refuse further sends."""
        self.ready_state = CLOSED
        self._reading_paused = False
        self._drop_subscriptions()

    def _drop_subscriptions(self) -> None:
        topics, self.subscriptions_set = self.subscriptions_set, {}
        for topic in topics:
            self._hub.unsubscribe(self, topic)
        presence = self._presence
        if presence is not None and presence.is_tracking(self):
            presence.drop(self)  # a closed socket leaves every presence it joined
