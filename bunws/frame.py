"""An outgoing message built once and delivered to any number of sockets.

Publishing to a topic encodes the payload once; each transport then asks the frame for the
form it writes (an ASGI ``websocket.send`` dict, or autobahn's pre-framed bytes on daphne) and
the frame caches it, so the per-subscriber cost is a call or two.
"""

from __future__ import annotations

from typing import Any


class Frame:
    """One text (``str``) or binary (bytes-like) WebSocket message."""

    __slots__ = ("_asgi", "_prepared", "_prepared_for", "binary", "data", "payload", "size")

    def __init__(self, data: str | bytes | bytearray | memoryview) -> None:
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
        self._prepared: Any = None
        self._prepared_for: object = None

    def asgi_message(self) -> dict[str, Any]:
        """The ASGI ``websocket.send`` event for this frame (shared, do not mutate)."""
        if self._asgi is None:
            key = "bytes" if self.binary else "text"
            self._asgi = {"type": "websocket.send", key: self.data}
        return self._asgi

    def prepared(self, factory: Any) -> Any:
        """autobahn's pre-framed message for ``factory``, built on first use."""
        if self._prepared_for is not factory:
            self._prepared = factory.prepareMessage(self.payload, self.binary)
            self._prepared_for = factory
        return self._prepared
