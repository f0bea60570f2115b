"""Raw WebSocket frames for tests that must control the wire: a hand-made handshake, masked
client frames (even malformed ones), a reader of server frames, and the close a client saw."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import struct

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from tests.support.clients import TIMEOUT
from tests.support.servers import Server

CONTINUATION, TEXT, BINARY, CLOSE, PING = 0x0, 0x1, 0x2, 0x8, 0x9


def client_frame(opcode: int, payload: bytes, fin: bool = True, length: int | None = None) -> bytes:
    """A masked client frame (RFC 6455 5.2, 5.3); ``length`` may announce more than is sent."""
    size = len(payload) if length is None else length
    first = (0x80 if fin else 0) | opcode
    if size < 126:
        head = struct.pack("!BB", first, 0x80 | size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", first, 0x80 | 126, size)
    else:
        head = struct.pack("!BBQ", first, 0x80 | 127, size)
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def raw_connect(server: Server, path: str, rcvbuf: int | None = None) -> socket.socket:
    """A TCP socket upgraded to a WebSocket at ``path`` by a hand-made handshake."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:  # before connect, so the advertised TCP window stays small
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await asyncio.wait_for(loop.sock_connect(sock, ("127.0.0.1", server.port)), TIMEOUT)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /{path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    await loop.sock_sendall(sock, request.encode())
    head = b""
    while b"\r\n\r\n" not in head:  # byte by byte: never read past the 101 response
        chunk = await asyncio.wait_for(loop.sock_recv(sock, 1), TIMEOUT)
        if not chunk:
            raise AssertionError(f"connection closed during the handshake: {head!r}")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise AssertionError(f"handshake refused: {head!r}")
    return sock


async def raw_send_text(sock: socket.socket, text: str) -> None:
    """Send one masked text frame (RFC 6455 5.3: clients mask every frame)."""
    payload = text.encode()
    if len(payload) >= 126:
        raise ValueError("raw_send_text sends short control messages only")
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    frame = struct.pack("!BB", 0x80 | TEXT, 0x80 | len(payload)) + mask + masked
    await asyncio.get_running_loop().sock_sendall(sock, frame)


class FrameReader:
    """Reads the server's (unmasked) frames from a raw socket, each read with a deadline."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    async def _fill(self, need: int, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        while len(self.buffer) < need:
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"no complete frame before the deadline (need {need} bytes)")
            chunk = await asyncio.wait_for(loop.sock_recv(self.sock, 1 << 20), left)
            if not chunk:
                raise ConnectionResetError("the server closed the TCP connection")
            self.buffer += chunk

    async def frame(self, timeout: float = TIMEOUT) -> tuple[int, bytes]:
        """The next frame's opcode and payload."""
        deadline = asyncio.get_running_loop().time() + timeout
        await self._fill(2, deadline)
        opcode, length, start = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F, 2
        if length == 126:
            await self._fill(4, deadline)
            (length,), start = struct.unpack("!H", self.buffer[2:4]), 4
        elif length == 127:
            await self._fill(10, deadline)
            (length,), start = struct.unpack("!Q", self.buffer[2:10]), 10
        await self._fill(start + length, deadline)
        payload = bytes(self.buffer[start : start + length])
        del self.buffer[: start + length]
        return opcode, payload


async def closed_with(ws: ClientConnection, timeout: float = TIMEOUT) -> tuple[int, str]:
    """Wait for the server to close ``ws``; return the close code and reason it sent."""
    with contextlib.suppress(ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    if ws.close_code is None:
        raise AssertionError("closed without a close frame")
    return ws.close_code, ws.close_reason or ""
