"""Where bunws reaches past ASGI into daphne, to give Bun's semantics on daphne 4.1/4.2.

daphne's ASGI path drops the ``headers`` of ``websocket.accept``, the ``reason`` of
``websocket.close``, and any empty frame, and it writes every send into Twisted's buffer without
telling the application when that buffer is full. daphne's ``Server.create_application`` passes
``send=functools.partial(server.handle_reply, protocol)``; from that protocol (an autobahn
``WebSocketServerProtocol``) this module accepts with headers, closes with a reason and
registers a Twisted push producer for backpressure. Messages are framed once (``Frame.wire``),
corked per loop iteration (``bunws.daphne.cork``) and written with one ``send()`` when Twisted's
buffer is empty, as asyncio's transports do; received messages go through ``bunws.daphne.inbox``.
Everything here runs on daphne's event loop thread, which is also Twisted's reactor thread.
``tests/test_daphne_adapter.py`` pins the attributes used to the supported daphne versions.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from bunws.asgi.transport import HIGH_WATER, ASGIReceive, FlowControl, Receiver
from bunws.core.frame import Frame
from bunws.daphne.cork import Flusher, flusher
from bunws.daphne.inbox import Inbox

logger = logging.getLogger("bunws")

try:  # daphne is a dependency, but bunws also runs on other ASGI servers.
    from daphne.ws_protocol import WebSocketProtocol as _DaphneProtocol
except ImportError:  # pragma: no cover - daphne is installed with bunws
    _DaphneProtocol = None

_TCP_TYPES: tuple[type, ...] = ()
try:  # what daphne serves on; looked up once, not per flush
    from twisted.internet.tcp import Connection

    _TCP_TYPES = (Connection,)
except ImportError:  # pragma: no cover - daphne installs Twisted
    pass

#: Key under which ``bunws.asgi.routing.OriginCheck`` stores the server's own ``send`` callable.
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


def _debug_logging_off(protocol: Any) -> bool:
    """Whether autobahn's per-read debug line is discarded (txaio's no-op logger method)."""
    return getattr(getattr(protocol.log, "debug", None), "__name__", "") == "_no_op"


def _connection_details(protocol: Any) -> dict[str, Any] | None:
    """daphne's record of this connection in ``Server.connections``, if it has one."""
    connections = getattr(getattr(protocol, "server", None), "connections", None)
    details = connections.get(protocol) if isinstance(connections, dict) else None
    return details if isinstance(details, dict) else None


def _gone(protocol: Any) -> bool:
    """Whether daphne already saw this connection close (its ``onClose`` ran)."""
    details = _connection_details(protocol)
    transport = getattr(protocol, "transport", None)
    return (details is not None and "disconnected" in details) or not getattr(
        transport, "connected", True
    )


def _plain_tcp(transport: Any) -> bool:
    """A Twisted TCP connection without TLS: the only kind bunws writes to directly."""
    return isinstance(transport, _TCP_TYPES) and not getattr(transport, "TLS", True)


class DaphneTransport:
    """Writes to daphne's autobahn protocol, corked per loop iteration (on the loop's thread)."""

    __slots__ = ("_flusher", "_inbox", "_out", "_out_size", "_send_close_frame", "protocol")

    full_fidelity = True

    def __init__(self, protocol: Any, max_payload_length: int | None = None) -> None:
        self.protocol = protocol
        self._inbox: Inbox | None = None
        self._flusher: Flusher | None = None
        self._out: list[bytes] = []
        self._out_size = 0
        # RFC 6455 7.1.7/8.1: on invalid UTF-8 or an oversize frame, send the close code
        # (1007, 1009) before dropping, instead of autobahn's default of dropping at once.
        protocol.failByDrop = False
        if max_payload_length is not None:
            # The endpoint's limit replaces daphne's --websocket-max-message-size/-frame-size
            # (autobahn copied them onto this connection; 0 is no limit in both). autobahn
            # checks it as each frame header arrives, before reading the payload.
            protocol.maxMessagePayloadSize = max_payload_length
            protocol.maxFramePayloadSize = max_payload_length

    def __repr__(self) -> str:
        return f"<DaphneTransport {getattr(self.protocol, 'peer', '?')}>"

    async def accept(self, headers: list[tuple[bytes, bytes]]) -> None:
        protocol = self.protocol
        deferred = getattr(protocol, "handshake_deferred", None)
        if deferred is None:  # daphne already rejected it (connect timeout) or it dropped
            raise ConnectionError("the handshake was abandoned before the upgrade completed")
        if _gone(protocol):  # left while fetch ran: daphne's disconnect is already queued
            raise ConnectionError("the client left before the upgrade completed")
        # A list per name: autobahn writes one header line per value, so repeated headers
        # (two Set-Cookie) each reach the client.
        extra: dict[str, list[str]] = {}
        for name, value in headers:
            extra.setdefault(name.decode("latin-1"), []).append(value.decode("latin-1"))
        self._inbox = Inbox(protocol, asyncio.get_running_loop())
        self.start_corking(flusher())
        if _debug_logging_off(protocol):
            # autobahn's dataReceived only formats a debug line (colouring it through click,
            # even when the line is discarded) before calling _dataReceived.
            protocol.dataReceived = protocol._dataReceived
        # autobahn's onConnect contract: a (subprotocol, headers) tuple adds response headers.
        del protocol.handshake_deferred
        deferred.callback((None, extra))

    def start_corking(self, flusher: Flusher) -> None:
        """Queue writes until ``flusher`` ends the loop iteration (accept() calls this)."""
        self._flusher = flusher
        # Every close frame, whoever sends it (bunws, autobahn replying to the client's close,
        # daphne's timeouts), goes out after the messages queued before it.
        self._send_close_frame = self.protocol.sendCloseFrame
        self.protocol.sendCloseFrame = self._flush_then_close

    def _flush_then_close(self, *args: Any, **kwargs: Any) -> None:
        """autobahn's ``sendCloseFrame``, after this iteration's queued messages."""
        self.flush()
        self._send_close_frame(*args, **kwargs)

    def receiver(self, receive: ASGIReceive) -> Receiver:
        if self._inbox is None:  # not accepted through this transport: plain ASGI events
            from bunws.asgi.transport import asgi_receiver

            return asgi_receiver(receive)
        return self._inbox.next_message

    async def reject(self) -> None:
        protocol = self.protocol
        if getattr(protocol, "handshake_deferred", None) is not None:
            protocol.serverReject()

    def run_detached(self, run: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
        """Make ``run`` daphne's application instance for this connection, in place of the ASGI
        call that accepted it, so that call (and the middleware stack around it) can return.

        daphne keeps one task per connection in ``Server.connections``: it logs that task's
        exception, cancels it ``application_close_timeout`` after a disconnect and at shutdown.
        The socket's task takes that place, so all of that still applies to it.
        """
        details = _connection_details(self.protocol)
        if details is None or "application_instance" not in details:
            return None
        task = details["application_instance"] = asyncio.get_running_loop().create_task(run)
        return task

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
        self._queue(frame.wire())

    def write_many(self, frames: list[Frame]) -> None:
        """Write corked frames together (one ``send()`` with the rest of this iteration's)."""
        protocol = self.protocol
        if protocol.state != protocol.STATE_OPEN:
            return
        self._queue(b"".join([frame.wire() for frame in frames]))

    def _queue(self, data: bytes) -> None:
        out = self._out
        if not out:
            if self._flusher is None:  # not accepted here (tests, other paths): no corking
                self.protocol.sendData(data)
                return
            self._flusher.add(self)
        out.append(data)
        self._out_size += len(data)
        if self._out_size >= HIGH_WATER:  # a flood: hand it to Twisted now, so it can push back
            self.flush()

    def flush(self) -> None:
        """Write what this iteration queued: one ``send()``, the rest left to Twisted."""
        out = self._out
        if not out:
            return
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()  # reused: a new list per flush would outlive young GC generations
        self._out_size = 0
        protocol = self.protocol
        if protocol.state != protocol.STATE_OPEN:
            return  # closed since: a message after the close frame would break RFC 6455 5.5.1
        transport = protocol.transport
        if protocol.send_queue or protocol.logOctets or protocol._perMessageCompress is not None:
            protocol.sendData(data)  # autobahn's own queue or options in play: its path
            return
        stats = protocol.trafficStats
        if stats is not None:
            stats.outgoingOctetsWireLevel += len(data)
        if (
            _plain_tcp(transport)
            and not transport._tempDataLen
            and transport.offset == len(transport.dataBuffer)
            and transport.connected
            and not transport.disconnecting
        ):
            # Twisted's buffer is empty, so nothing can be overtaken: send now, as asyncio's
            # transports do, instead of registering for writability and sending next turn.
            sent = transport.writeSomeData(data)
            if isinstance(sent, int) and sent >= 0:
                if sent == len(data):
                    return
                data = data[sent:]
            # A lost connection comes back as an exception: Twisted's write sees it too.
        transport.write(data)

    def close(self, code: int, reason: str) -> None:
        protocol = self.protocol
        if protocol.state == protocol.STATE_OPEN:
            # sendClose() refuses the 1xxx codes a server legitimately sends (1001, 1008,
            # 1009, 1011); sendCloseFrame() is the lower-level call daphne itself uses.
            protocol.sendCloseFrame(code=code, reasonUtf8=encode_reason(reason))

    def abort(self) -> None:
        self._out = []
        self._out_size = 0
        protocol = self.protocol
        if protocol.state != protocol.STATE_CLOSED:
            protocol.dropConnection(abort=True)

    def ping(self, data: bytes) -> bool:
        protocol = self.protocol
        if protocol.state != protocol.STATE_OPEN:
            return False
        self.flush()
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


def daphne_transport(
    scope: dict[str, Any], send: Any, max_payload_length: int | None = None
) -> DaphneTransport | None:
    """A ``DaphneTransport`` when the connection is served by daphne, else None; with
    ``max_payload_length``, that (not daphne's flags) limits the messages it receives."""
    protocol = find_protocol(scope.get(RAW_SEND_KEY) or send)
    if protocol is None:
        return None
    return DaphneTransport(protocol, max_payload_length)
