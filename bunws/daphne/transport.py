"""Where bunws reaches past ASGI into daphne, to give Bun's semantics on daphne 4.1/4.2.

daphne's ASGI path drops the ``headers`` of ``websocket.accept``, the ``reason`` of
``websocket.close``, and any empty frame, and it writes every send into Twisted's buffer without
telling the application when that buffer is full. daphne's ``Server.create_application`` passes
``send=functools.partial(server.handle_reply, protocol)``; from that protocol (an autobahn
``WebSocketServerProtocol``) this module accepts with headers, closes with a reason and
registers a Twisted push producer for backpressure (``bunws.daphne.connection`` finds and reads
these objects). Messages are framed once (``Frame.wire``), corked per loop iteration
(``bunws.daphne.cork``) and written with one ``send()`` when Twisted's buffer is empty, as
asyncio's transports do; received messages go through ``bunws.daphne.inbox``.
Everything here runs on daphne's event loop thread, which is also Twisted's reactor thread.
``tests/unit/test_daphne_pins.py`` pins the attributes used to the supported daphne versions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from bunws.asgi.transport import RAW_SEND_KEY, asgi_receiver
from bunws.core.deflate import DeflateConfig
from bunws.core.frame import Frame
from bunws.core.transport import HIGH_WATER, ASGIReceive, FlowControl, Receiver
from bunws.daphne.connection import (
    connection_details,
    debug_logging_off,
    find_protocol,
    gone,
    plain_tcp,
    register_producer,
)
from bunws.daphne.control import ControlSide
from bunws.daphne.cork import Flusher, flusher
from bunws.daphne.deflate import Compressor, accept_offers, negotiated_compressor
from bunws.daphne.inbox import Inbox

# RFC 6455 5.5.1: a close frame's body is at most 125 bytes, 2 of them the code.
_MAX_REASON = 123


def encode_reason(reason: str) -> bytes:
    """UTF-8 encode a close reason, truncated on a character boundary to fit a close frame."""
    raw = reason.encode("utf-8")
    if len(raw) <= _MAX_REASON:
        return raw
    return raw[:_MAX_REASON].decode("utf-8", "ignore").encode("utf-8")


class DaphneTransport(ControlSide):
    """Writes to daphne's autobahn protocol, corked per loop iteration (on the loop's thread);
    pings, pongs and paused reads come from ``ControlSide``."""

    __slots__ = (
        "_compress",
        "_deflate",
        "_flusher",
        "_inbox",
        "_out",
        "_out_size",
        "_send_close_frame",
        "protocol",
    )

    full_fidelity = True

    def __init__(
        self,
        protocol: Any,
        max_payload_length: int | None = None,
        deflate: DeflateConfig | None = None,
    ) -> None:
        self.protocol = protocol
        self._deflate = deflate  # the endpoint's per_message_deflate, negotiated in accept()
        self._compress: Compressor | None = None  # how compress=True frames are written
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

    async def accept(
        self, headers: list[tuple[bytes, bytes]], subprotocol: str | None = None
    ) -> None:
        protocol = self.protocol
        deferred = getattr(protocol, "handshake_deferred", None)
        if deferred is None:  # daphne already rejected it (connect timeout) or it dropped
            raise ConnectionError("the handshake was abandoned before the upgrade completed")
        if gone(protocol):  # left while fetch ran: daphne's disconnect is already queued
            raise ConnectionError("the client left before the upgrade completed")
        if subprotocol is not None and subprotocol not in protocol.websocket_protocols:
            # autobahn would raise inside the deferred's callback and leave the client hanging.
            raise ValueError(f"subprotocol {subprotocol!r} was not offered by the client")
        # A list per name: autobahn writes one header line per value, so repeated headers
        # (two Set-Cookie) each reach the client.
        extra: dict[str, list[str]] = {}
        for name, value in headers:
            extra.setdefault(name.decode("latin-1"), []).append(value.decode("latin-1"))
        self._inbox = Inbox(protocol, asyncio.get_running_loop())
        self.start_corking(flusher())
        if debug_logging_off(protocol):
            # autobahn's dataReceived only formats a debug line (colouring it through click,
            # even when the line is discarded) before calling _dataReceived.
            protocol.dataReceived = protocol._dataReceived
        # autobahn's onConnect contract: a (subprotocol, headers) tuple adds response headers.
        del protocol.handshake_deferred
        if self._deflate is not None:
            accept_offers(protocol, self._deflate)  # autobahn negotiates in the callback below
        deferred.callback((subprotocol, extra))
        if self._deflate is not None:
            self._compress = negotiated_compressor(protocol, self._deflate)

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
        details = connection_details(self.protocol)
        if details is None or "application_instance" not in details:
            return None
        task = details["application_instance"] = asyncio.get_running_loop().create_task(run)
        return task

    def set_flow_control(self, flow: FlowControl) -> None:
        register_producer(self.protocol, flow)

    def write(self, frame: Frame) -> None:
        protocol = self.protocol
        if protocol.state != protocol.STATE_OPEN:
            return
        compress = self._compress
        if compress is not None and frame.compress:
            self._queue(compress(frame))
            return
        self._queue(frame.wire())

    def write_many(self, frames: list[Frame]) -> None:
        """Write corked frames together (one ``send()`` with the rest of this iteration's)."""
        protocol = self.protocol
        if protocol.state != protocol.STATE_OPEN:
            return
        compress = self._compress
        if compress is None:
            self._queue(b"".join([frame.wire() for frame in frames]))
            return
        self._queue(b"".join([compress(f) if f.compress else f.wire() for f in frames]))

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
        if protocol.send_queue or protocol.logOctets:
            protocol.sendData(data)  # autobahn's own queue or options in play: its path
            return
        stats = protocol.trafficStats
        if stats is not None:
            stats.outgoingOctetsWireLevel += len(data)
        if (
            plain_tcp(transport)
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

    def remote_close(self) -> tuple[int | None, str | None]:
        return (
            getattr(self.protocol, "remoteCloseCode", None),
            getattr(self.protocol, "remoteCloseReason", None),
        )

    @property
    def closed(self) -> bool:
        """Whether autobahn finished the closing handshake or saw the connection drop."""
        protocol = self.protocol
        return bool(protocol.state == protocol.STATE_CLOSED)

    async def aclose(self) -> None:
        """Nothing to release: daphne and autobahn own the connection and close it."""


def daphne_transport(
    scope: dict[str, Any],
    send: Any,
    max_payload_length: int | None = None,
    deflate: DeflateConfig | None = None,
) -> DaphneTransport | None:
    """A ``DaphneTransport`` when the connection is served by daphne, else None; with
    ``max_payload_length``, that (not daphne's flags) limits the messages it receives (after
    inflating them), and ``deflate`` is the permessage-deflate it negotiates."""
    protocol = find_protocol(scope.get(RAW_SEND_KEY) or send)
    if protocol is None:
        return None
    return DaphneTransport(protocol, max_payload_length, deflate)
