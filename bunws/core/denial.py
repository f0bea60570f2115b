"""A refused handshake answered with fetch's own response (a 401 with ``WWW-Authenticate``, a
429 with ``Retry-After``, a JSON 403), as Bun sends the Response its fetch returns: the status,
headers and body, and the HTTP/1.1 bytes a server that owns the connection writes for it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Denial", "http_response"]

# Framing headers the writer sets itself (RFC 9112 6, 9.6); hop-by-hop ones (RFC 9110 7.6.1).
_OWN = frozenset(
    {b"content-length", b"transfer-encoding", b"connection", b"keep-alive", b"upgrade"}
)


@dataclass(frozen=True)
class Denial:
    """The HTTP response that refuses a handshake instead of the usual bare 403."""

    status: int
    reason: str
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes

    def asgi_headers(self) -> list[tuple[bytes, bytes]]:
        """The headers for ASGI's ``websocket.http.response.start`` (the server frames it)."""
        return [(name, value) for name, value in self.headers if name.lower() not in _OWN]


def _clean(value: bytes) -> bytes:
    # A header value or reason phrase never carries a line break (response splitting).
    return value.replace(b"\r", b" ").replace(b"\n", b" ")


def http_response(denial: Denial) -> bytes:
    """The whole HTTP/1.1 response: status line with its reason phrase, the headers (each
    ``Set-Cookie`` on its own line), ``Content-Length``, ``Connection: close``, the body."""
    reason = _clean(denial.reason.encode("latin-1", "replace"))
    lines = [b"HTTP/1.1 %d %s" % (denial.status, reason)]
    for name, value in denial.asgi_headers():
        lines.append(_clean(name) + b": " + _clean(value))
    lines.append(b"Content-Length: %d" % len(denial.body))
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + denial.body
