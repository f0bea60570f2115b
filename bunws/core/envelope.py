"""The ``bunws.v1`` wire format (docs/recovery.md): what a recovering client receives.

Every server message starts with one kind character (text) or byte (binary): ``m`` a direct
send, ``p`` a published message with its ``[topic, offset]`` header and a newline, ``c`` a JSON
control object. ``StampedFrame`` is a published message with its topic and offset: plain
subscribers write its raw payload like any ``Frame``; ``bunws.v1`` sockets write its envelope,
built once per publish for all of them. Standard library only.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from bunws.core.frame import Frame

__all__ = [
    "RESUME_PREFIX",
    "SUBPROTOCOL",
    "StampedFrame",
    "control",
    "decode",
    "direct",
    "new_session_id",
    "published",
    "resume_offer",
]

#: The subprotocol a client offers to get envelopes and sessions.
SUBPROTOCOL = "bunws.v1"
#: Offered as ``bunws.resume.<session id>`` to resume a session.
RESUME_PREFIX = "bunws.resume."
DIRECT, PUBLISHED, CONTROL = "m", "p", "c"
_SESSION = re.compile(r"[A-Za-z0-9_-]{16,64}")


def new_session_id() -> str:
    """A session id: 144 random bits, URL-safe, a legal subprotocol token."""
    return secrets.token_urlsafe(18)


def resume_offer(offered: tuple[str, ...] | list[str]) -> str | None:
    """The session id a client offered as ``bunws.resume.<id>``, if well-formed."""
    for name in offered:
        if name.startswith(RESUME_PREFIX):
            session = name[len(RESUME_PREFIX) :]
            if _SESSION.fullmatch(session):
                return session
    return None


def _header(topic: str, offset: int | None) -> str:
    # ensure_ascii (the default) escapes every line break, so the first "\n" ends the header.
    return json.dumps([topic, offset], separators=(",", ":"))


def published(topic: str, offset: int | None, data: str | bytes) -> str | bytes:
    """A published message's envelope: ``p[topic,offset]\\n`` + payload, same frame type."""
    header = _header(topic, offset)
    if isinstance(data, str):
        return f"p{header}\n{data}"
    return b"p" + header.encode("ascii") + b"\n" + data


def direct(data: str | bytes | bytearray | memoryview) -> str | bytes:
    """A ``ws.send()`` message: ``m`` + payload, same frame type."""
    if isinstance(data, str):
        return "m" + data
    if isinstance(data, bytes | bytearray | memoryview):
        return b"m" + bytes(data)
    raise TypeError(
        f"a WebSocket message is str (text frame) or bytes-like (binary frame), "
        f"got {type(data).__name__}; encode it first, e.g. json.dumps(value)."
    )


def control(kind: str, **fields: Any) -> str:
    """A control message: ``c`` + a JSON object with ``type``."""
    return "c" + json.dumps({"type": kind, **fields}, separators=(",", ":"))


def decode(message: str | bytes) -> tuple[str, Any, str | bytes]:
    """``(kind, header, payload)`` of a server message: header is ``[topic, offset]`` for
    ``p``, the control object for ``c`` (payload empty), None for ``m``. ValueError if it is
    not a ``bunws.v1`` message."""
    if not message:
        raise ValueError("an empty message is not a bunws.v1 envelope")
    if isinstance(message, str):
        kind, rest_text = message[0], message[1:]
        if kind == DIRECT:
            return kind, None, rest_text
        if kind == CONTROL:
            return kind, json.loads(rest_text), ""
        if kind == PUBLISHED:
            head, sep, payload = rest_text.partition("\n")
            if sep:
                return kind, json.loads(head), payload
        raise ValueError(f"not a bunws.v1 text message: {message[:40]!r}")
    kind_byte, rest = message[:1], message[1:]
    if kind_byte == b"m":
        return DIRECT, None, rest
    if kind_byte == b"p":
        head_bytes, sep_bytes, data = rest.partition(b"\n")
        if sep_bytes:
            return PUBLISHED, json.loads(head_bytes), data
    raise ValueError(f"not a bunws.v1 binary message: {message[:40]!r}")


class StampedFrame(Frame):
    """A published message with its topic and offset (None: not recorded).

    Plain sockets write it as the raw payload; ``bunws.v1`` sockets write ``enveloped()``,
    built on first use and shared by all of them.
    """

    __slots__ = ("_enveloped", "offset", "topic")

    def __init__(self, data: str | bytes, compress: bool, topic: str, offset: int | None) -> None:
        super().__init__(data, compress)
        self.topic = topic
        self.offset = offset
        self._enveloped: Frame | None = None

    def enveloped(self) -> Frame:
        """The ``p`` envelope of this message as a frame (compressed like the message)."""
        frame = self._enveloped
        if frame is None:
            frame = self._enveloped = Frame(
                published(self.topic, self.offset, self.data), self.compress
            )
        return frame
