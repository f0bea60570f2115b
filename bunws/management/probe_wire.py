"""The wire side of ``bunws_probe``: an HTTP/1.1 request and response head over a plain socket,
and the few RFC 6455 frames a probe sends and reads, so every byte can be shown as it is."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct
from dataclasses import dataclass

from django.core.management.base import CommandError

# RFC 6455 1.3: the GUID the server appends to the key before hashing it.
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_HEAD = 64 * 1024


class ProbeFailed(CommandError):
    """The probe found a problem; the message says which."""


@dataclass
class Head:
    """A response's status line and headers (repeated names joined with ``", "``), and the
    bytes read past the head."""

    status_line: str
    lines: list[str]
    headers: dict[str, str]
    rest: bytes

    @property
    def status(self) -> int:
        """The status code; ``ProbeFailed`` when the status line is not HTTP's."""
        parts = self.status_line.split(" ", 2)
        try:
            return int(parts[1])
        except (IndexError, ValueError):
            raise ProbeFailed(f"not an HTTP response: {self.status_line!r}") from None


def request_lines(host: str, target: str, origin: str | None, headers: list[str]) -> list[str]:
    """A GET request's first lines: ``Host``, ``Origin`` if given, the ``Name: value`` headers."""
    lines = [f"GET {target} HTTP/1.1", f"Host: {host}"]
    if origin:
        lines.append(f"Origin: {origin}")
    for header in headers:
        name, sep, value = header.partition(":")
        if not sep:
            raise ProbeFailed(f"--header {header!r} is not 'Name: value'.")
        lines.append(f"{name.strip()}: {value.strip()}")
    return lines


def read_head(sock: socket.socket) -> Head:
    """Read a response head, at most ``MAX_HEAD`` bytes of it."""
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            raise ProbeFailed("the server sent no complete response in time") from None
        if not chunk:
            raise ProbeFailed(f"the server closed the connection; got {data[:200]!r}")
        data += chunk
        if len(data) > MAX_HEAD:
            raise ProbeFailed("the response head is larger than 64 KiB")
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(":")
        key = name.strip().lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    return Head(status_line, lines, headers, rest)


def read_body(sock: socket.socket, head: Head) -> bytes:
    """The response body after ``head`` (``Content-Length`` of it, at most ``MAX_HEAD``)."""
    length = int(head.headers.get("content-length", "0") or 0)
    body = head.rest
    while len(body) < min(length, MAX_HEAD):
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            break
        if not chunk:
            break
        body += chunk
    return body[:MAX_HEAD]


def accept_for(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` value a server must answer to ``key`` (RFC 6455 4.2.2)."""
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def parse_frame(buffer: bytes) -> tuple[int, bytes, bytes] | None:
    """``(opcode, payload, rest)`` of the first whole server frame in ``buffer``, else None
    (RFC 6455 5.2; a server's frames are not masked)."""
    if len(buffer) < 2:
        return None
    opcode, length, offset = buffer[0] & 0x0F, buffer[1] & 0x7F, 2
    if length == 126:
        if len(buffer) < 4:
            return None
        length, offset = struct.unpack("!H", buffer[2:4])[0], 4
    elif length == 127:
        if len(buffer) < 10:
            return None
        length, offset = struct.unpack("!Q", buffer[2:10])[0], 10
    if len(buffer) < offset + length:
        return None
    return opcode, buffer[offset : offset + length], buffer[offset + length :]


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked, final client frame (RFC 6455 5.2: clients must mask)."""
    mask = os.urandom(4)
    length = len(payload)
    if length < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def shown_message(opcode: int, payload: bytes) -> str:
    """A received message as the probe prints it."""
    if opcode == 0x1:
        return f"text {payload.decode('utf-8', 'replace')!r}"
    return f"binary {payload!r}"


def next_message(
    sock: socket.socket, buffer: bytes, wait: float | None
) -> tuple[tuple[int, bytes] | None, bytes]:
    """The next text or binary message and what is left of ``buffer``; None once ``wait``
    seconds pass with nothing arriving (``wait=None``: the timeout fails the probe)."""
    while True:
        parsed = parse_frame(buffer)
        if parsed is None:
            chunk = _recv(sock, wait if not buffer else None)
            if chunk is None:
                return None, buffer
            buffer += chunk
            continue
        opcode, payload, buffer = parsed
        if opcode in (0x9, 0xA):  # RFC 6455 5.5.2-3: a ping or pong; daphne pings on its own
            continue
        if opcode == 0x8:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            raise ProbeFailed(f"the server closed the socket with {code} {payload[2:]!r}")
        return (opcode, payload), buffer


def _recv(sock: socket.socket, wait: float | None) -> bytes | None:
    timeout = sock.gettimeout()
    if wait is not None:
        sock.settimeout(wait)
    try:
        chunk = sock.recv(65536)
    except TimeoutError:
        if wait is not None:
            return None
        raise ProbeFailed(
            "no message arrived in time after --send (this endpoint may not answer it)"
        ) from None
    finally:
        sock.settimeout(timeout)
    if not chunk:
        raise ProbeFailed("the server dropped the connection after the handshake")
    return chunk
