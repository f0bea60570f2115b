"""The one stand-in for autobahn's protocol (as daphne subclasses it) and Twisted's TCP transport,
for unit tests of ``bunws.daphne`` without a server. It has what bunws reaches for: the states,
autobahn's send path (recorded in ``data``), the TCP writes and close frames (``wire``), pings,
pongs, and the callbacks the inbox replaces."""

from __future__ import annotations

from typing import Any


class FakeTcp:
    """Twisted's TCP transport as the adapter sees it (not plain TCP: no direct send())."""

    _tempDataLen = 0
    offset = 0
    dataBuffer = b""
    connected = True
    disconnecting = False
    TLS = False

    def __init__(self, log: list[bytes]) -> None:
        self.log = log

    def write(self, data: bytes) -> None:
        self.log.append(data)


class FakeProtocol:
    """Records what bunws writes, like autobahn's protocol would receive it."""

    STATE_OPEN, STATE_CLOSING, STATE_CLOSED = 3, 2, 0
    muted = False
    send_queue = ()
    logOctets = False
    _perMessageCompress = None
    trafficStats = None
    last_ping = 0.0

    def __init__(self) -> None:
        self.state = self.STATE_OPEN
        self.data: list[bytes] = []  # through autobahn's sendData / sendPreparedMessage
        self.wire: list[bytes] = []  # written to Twisted's transport, and close frames
        self.transport = FakeTcp(self.wire)
        self.pings: list[Any] = []
        self.pongs: list[bytes] = []
        self.invalid: list[str] = []
        self.daphne_closes: list[Any] = []

    def sendData(self, data: bytes) -> None:
        self.data.append(data)

    def sendPreparedMessage(self, prepared: Any) -> None:
        self.data.append(prepared.payloadHybi)

    def sendPing(self, payload: Any = None) -> None:
        self.pings.append(payload)

    def onPong(self, payload: bytes) -> None:
        self.pongs.append(payload)

    def sendCloseFrame(self, code: int, reasonUtf8: bytes = b"", isReply: bool = False) -> None:
        self.wire.append(b"CLOSE %d" % code)
        self.state = self.STATE_CLOSING

    def onClose(self, was_clean: bool, code: int | None, reason: str | None) -> None:
        self.daphne_closes.append(code)

    def _invalid_payload(self, reason: str) -> bool:
        self.invalid.append(reason)
        return False

    def dropConnection(self, abort: bool = False) -> None:
        self.state = self.STATE_CLOSED


def handshaken_protocol(**options: Any) -> tuple[Any, Any]:
    """autobahn's real server protocol past its handshake over Twisted's ``StringTransport``
    (``options`` are the factory's protocol options); returns the protocol and the transport."""
    import base64
    import os

    from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
    from twisted.internet.testing import StringTransport

    factory: Any = WebSocketServerFactory()  # type: ignore[no-untyped-call]
    factory.protocol = WebSocketServerProtocol
    if options:
        factory.setProtocolOptions(**options)
    protocol = factory.buildProtocol(None)
    wire = StringTransport()
    protocol.makeConnection(wire)
    key = base64.b64encode(os.urandom(16)).decode()
    protocol.dataReceived(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: " + key.encode() + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    if not wire.value().startswith(b"HTTP/1.1 101 "):
        raise AssertionError(f"autobahn refused the test handshake: {wire.value()[:200]!r}")
    wire.clear()
    protocol.muted = False  # daphne's attribute, read by the inbox
    return protocol, wire
