"""An outgoing message built once and delivered to any number of sockets.

Publishing to a topic encodes the payload once; each transport then asks the frame for the
form it writes (an ASGI ``websocket.send`` dict, or the RFC 6455 wire bytes on daphne) and the
frame caches it, so the per-subscriber cost is a call or two. A frame sent with ``compress=True``
is also deflated once for every subscriber that negotiated the shared mode (``deflated_wire``).
"""

from __future__ import annotations

import struct
from typing import Any

from bunws.core.deflate import MAX_WINDOW_BITS, deflate_payload

_TEXT, _BINARY = 0x81, 0x82  # RFC 6455 5.2: FIN set, opcode 1 (text) or 2 (binary)
_RSV1 = 0x40  # RFC 7692 6: the "Per-Message Compressed" bit of a message's first frame


def encode_frame(payload: bytes, binary: bool, compressed: bool = False) -> bytes:
    """The unmasked, unfragmented server frame carrying ``payload`` (RFC 6455 5.2), with RSV1
    set when ``payload`` is deflated (RFC 7692 6.1)."""
    first = _BINARY if binary else _TEXT
    if compressed:
        first |= _RSV1
    size = len(payload)
    if size < 126:
        header = bytes((first, size))
    elif size < 65536:
        header = struct.pack("!BBH", first, 126, size)
    else:
        header = struct.pack("!BBQ", first, 127, size)
    return header + payload


class Frame:
    """One text (``str``) or binary (bytes-like) WebSocket message."""

    __slots__ = ("_asgi", "_deflated", "_wire", "binary", "compress", "data", "payload", "size")

    def __init__(self, data: str | bytes | bytearray | memoryview, compress: bool = False) -> None:
        if isinstance(data, str):
            self.binary = False
            self.data: str | bytes = data
            self.payload = data.encode("utf-8")
        elif isinstance(data, bytes | bytearray | memoryview):
            self.binary = True
            self.payload = bytes(data)
            self.data = self.payload
        else:
            raise TypeError(
                f"a WebSocket message is str (text frame) or bytes-like (binary frame), "
                f"got {type(data).__name__}; encode it first, e.g. json.dumps(value)."
            )
        self.size = len(self.payload)
        self._asgi: dict[str, Any] | None = None
        self._wire: bytes | None = None
        #: Whether the sender asked for compression (Bun's ``compress``), where negotiated.
        self.compress = compress
        self._deflated: dict[int, bytes] | None = None

    def asgi_message(self) -> dict[str, Any]:
        """The ASGI ``websocket.send`` event for this frame (shared, do not mutate)."""
        if self._asgi is None:
            key = "bytes" if self.binary else "text"
            self._asgi = {"type": "websocket.send", key: self.data}
        return self._asgi

    def wire(self) -> bytes:
        """The frame as written to the connection (header + payload), built on first use."""
        wire = self._wire
        if wire is None:
            wire = self._wire = encode_frame(self.payload, self.binary)
        return wire

    def deflated_wire(self, window_bits: int = MAX_WINDOW_BITS) -> bytes:
        """The frame deflated with no context takeover (RFC 7692 7.1.1.1), for every socket that
        negotiated the shared mode with this window: deflated on first use, then reused. When
        deflating does not make the message smaller it goes uncompressed (RSV1 clear), which
        RFC 7692 allows per message and which spares the client an inflate."""
        deflated = self._deflated
        if deflated is None:
            deflated = self._deflated = {}
        wire = deflated.get(window_bits)
        if wire is None:
            payload = deflate_payload(self.payload, window_bits) if self.size else b""
            if 0 < len(payload) < self.size:
                wire = encode_frame(payload, self.binary, compressed=True)
            else:
                wire = self.wire()
            deflated[window_bits] = wire
        return wire
