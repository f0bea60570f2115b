"""The one place bunws reaches past ASGI into daphne, to give Bun's semantics on daphne 4.1/4.2.

daphne's ASGI path drops the ``headers`` of ``websocket.accept``, the ``reason`` of
``websocket.close``, and any empty frame, and it writes every send into Twisted's buffer without
telling the application when that buffer is full. daphne's ``Server.create_application`` passes
``send=functools.partial(server.handle_reply, protocol)``; from that protocol (an autobahn
``WebSocketServerProtocol``) this module accepts with headers, closes with a reason, writes
pre-framed messages and registers a Twisted push producer for backpressure. Everything here
runs on daphne's event loop thread, which is also Twisted's reactor thread.
``tests/test_daphne_adapter.py`` pins the attributes used to the supported daphne versions.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from bunws.frame import Frame
from bunws.transport import FlowControl

logger = logging.getLogger("bunws")

try:  # daphne is a dependency, but bunws also runs on other ASGI servers.
    from daphne.ws_protocol import WebSocketProtocol as _DaphneProtocol
except ImportError:  # pragma: no cover - daphne is installed with bunws
    _DaphneProtocol = None

#: Key under which ``bunws.routing.OriginCheck`` stores the server's own ``send`` callable.
RAW_SEND_KEY = "bunws.server_send"

# RFC 6455 5.5.1: a close frame's body is at most 125 bytes, 2 of them the code.
_MAX_REASON = 123


def find_protocol(send: Any) -> Any | None:
    """Return daphne's protocol behind ``send``, unwrapping Channels' session wrapper."""
    if _DaphneProtocol is None:
        return None
    for _ in range(8):  # a few known wrappers deep, never a loop
        if isinstance(send, functools.partial):
            if send.args and isinstance(send.args[0], _DaphneProtocol):
                return send.args[0]
            return None
        owner = getattr(send, "__self__", None)
        inner = getattr(owner, "real_send", None)  # channels.sessions.InstanceSessionWrapper
        if inner is None:
            return None
        send = inner
    return None


def encode_reason(reason: str) -> bytes:
    """UTF-8 encode a close reason, truncated on a character boundary to fit a close frame."""
    raw = reason.encode("utf-8")
    if len(raw) <= _MAX_REASON:
        return raw
    return raw[:_MAX_REASON].decode("utf-8", "ignore").encode("utf-8")


class _Producer:
    """A Twisted push producer: the transport pauses it when its write buffer fills."""

    def __init__(self, flow: FlowControl) -> None:
        self._flow = flow

    def pauseProducing(self) -> None:
        self._flow.pause_writing()

    def resumeProducing(self) -> None:
        self._flow.resume_writing()

    def stopProducing(self) -> None:
        """The connection is gone; the socket learns it from ``websocket.disconnect``."""


class DaphneTransport:
    """Writes straight to daphne's autobahn protocol (same thread as the event loop)."""

    full_fidelity = True

    def __init__(self, protocol: Any) -> None:
        self.protocol = protocol
        self._factory = protocol.factory
        # RFC 6455 7.1.7/8.1: on invalid UTF-8 or an oversize frame, send the close code
        # (1007, 1009) before dropping, instead of autobahn's default of dropping at once.
        protocol.failByDrop = False

    async def accept(self, headers: list[tuple[bytes, bytes]]) -> None:
        protocol = self.protocol
        deferred = getattr(protocol, "handshake_deferred", None)
        if deferred is None:  # daphne already rejected it (connect timeout) or it dropped
            raise ConnectionError("the handshake was abandoned before the upgrade completed")
        extra = {name.decode("latin-1"): value.decode("latin-1") for name, value in headers}
        # autobahn's onConnect contract: a (subprotocol, headers) tuple adds response headers.
        del protocol.handshake_deferred
        deferred.callback((None, extra))

    async def reject(self) -> None:
        protocol = self.protocol
        if getattr(protocol, "handshake_deferred", None) is not None:
            protocol.serverReject()

    def set_flow_control(self, flow: FlowControl) -> None:
        from twisted.web.http import HTTPChannel  # daphne serves on Twisted

        transport = self.protocol.transport
        if transport is None:
            return
        current = getattr(transport, "producer", None)
        if current is not None and not isinstance(current, HTTPChannel):
            logger.debug("bunws: %r already has producer %r; no backpressure", transport, current)
            return
        if current is not None:
            # twisted.web's HTTPChannel registered itself when the connection opened and
            # daphne never unregisters it after the upgrade; left there, a full write buffer
            # pauses a request that no longer exists and bunws never learns of it.
            transport.unregisterProducer()
        transport.registerProducer(_Producer(flow), True)

    def write(self, frame: Frame) -> None:
        protocol = self.protocol
        if protocol.state != protocol.STATE_OPEN:
            return
        protocol.sendPreparedMessage(frame.prepared(self._factory))

    def write_many(self, frames: list[Frame]) -> None:
        """Write corked frames with one transport write (autobahn's pre-framed bytes)."""
        protocol = self.protocol
        if protocol.state != protocol.STATE_OPEN:
            return
        factory = self._factory
        protocol.sendData(b"".join([frame.prepared(factory).payloadHybi for frame in frames]))

    def close(self, code: int, reason: str) -> None:
        protocol = self.protocol
        if protocol.state == protocol.STATE_OPEN:
            # sendClose() refuses the 1xxx codes a server legitimately sends (1001, 1008,
            # 1009, 1011); sendCloseFrame() is the lower-level call daphne itself uses.
            protocol.sendCloseFrame(code=code, reasonUtf8=encode_reason(reason))

    def abort(self) -> None:
        protocol = self.protocol
        if protocol.state != protocol.STATE_CLOSED:
            protocol.dropConnection(abort=True)

    def ping(self, data: bytes) -> bool:
        protocol = self.protocol
        if protocol.state != protocol.STATE_OPEN:
            return False
        protocol.sendPing(data or None)
        return True

    def on_pong(self, callback: Callable[[], None]) -> None:
        """autobahn calls ``onPong`` for every pong; daphne defines none, so wrap the base."""
        protocol = self.protocol
        inherited = protocol.onPong

        def on_pong(payload: bytes) -> None:
            callback()
            inherited(payload)

        protocol.onPong = on_pong

    def remote_close(self) -> tuple[int | None, str | None]:
        return (
            getattr(self.protocol, "remoteCloseCode", None),
            getattr(self.protocol, "remoteCloseReason", None),
        )


def daphne_transport(scope: dict[str, Any], send: Any) -> DaphneTransport | None:
    """A ``DaphneTransport`` when the connection is served by daphne, else None."""
    protocol = find_protocol(scope.get(RAW_SEND_KEY) or send)
    if protocol is None:
        return None
    return DaphneTransport(protocol)
