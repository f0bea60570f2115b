"""Ping and pong handlers, ``ws.ping``/``ws.pong`` and paused reading through a real daphne.

The ``websockets`` client sends pings and pongs and answers the server's pings; a raw client
(``tests.support.frames``) sees the server's pong frames and, with a small send buffer and
non-blocking sends, the TCP backpressure of a paused socket. A paused socket reads nothing, so
the tests look at it through a second socket (``t/ctl/admin/``) on the same server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import struct
import time
import uuid
from typing import Any

from tests.support.clients import TIMEOUT, connect, recv
from tests.support.frames import (
    BINARY,
    CLOSE,
    TEXT,
    FrameReader,
    client_frame,
    closed_with,
    raw_connect,
    raw_send_text,
)
from tests.support.servers import Server

PONG = 0xA
CHUNK = 64 * 1024
COUNT = 64  # 4 MiB in 64 KiB messages


def masked(opcode: int, payload: bytes) -> bytes:
    """A masked client frame (RFC 6455 5.3), masked with big-integer XOR: fast for 64 KiB."""
    size, mask = len(payload), os.urandom(4)
    key = int.from_bytes((mask * (size // 4 + 1))[:size], "big")
    body = (int.from_bytes(payload, "big") ^ key).to_bytes(size, "big")
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
    return head + mask + body


async def send_until_stalled(sock: socket.socket, data: bytes, stall: float = 0.5) -> int:
    """Send ``data`` without blocking until it is all sent or nothing more goes out for
    ``stall`` seconds (the peer stopped reading and both TCP buffers are full); bytes sent."""
    view, sent, progress = memoryview(data), 0, time.monotonic()
    while sent < len(data):
        try:
            sent += sock.send(view[sent : sent + CHUNK])
            progress = time.monotonic()
        except BlockingIOError:
            if time.monotonic() - progress > stall:
                break
            await asyncio.sleep(0.02)
    return sent


async def admin(server: Server, command: str) -> dict[str, Any]:
    """Run ``command`` (``look KEY``, ``resume KEY``, ``close KEY``) on the admin endpoint."""
    async with await connect(server, "t/ctl/admin/") as ws:
        await ws.send(command)
        answer: dict[str, Any] = json.loads(await recv(ws))
        return answer


async def paused_socket(server: Server, endpoint: str) -> tuple[str, socket.socket, FrameReader]:
    """A raw socket on ``endpoint`` whose server side has paused reading."""
    key = uuid.uuid4().hex
    sock = await raw_connect(server, f"{endpoint}/{key}/")
    reader = FrameReader(sock)
    await raw_send_text(sock, "pause")
    assert await reader.frame() == (TEXT, b"paused:True")
    return key, sock, reader


# -- ping and pong --------------------------------------------------------------------------


async def test_a_client_ping_reaches_the_ping_handler_and_is_still_answered(
    server: Server,
) -> None:
    async with await connect(server, "t/ctl/pingpong/") as ws:
        pong = await ws.ping(b"hello")
        await asyncio.wait_for(pong, TIMEOUT)  # autobahn answered it, as Bun does
        assert await recv(ws) == "ping:" + b"hello".hex()
        await asyncio.wait_for(await ws.ping(b""), TIMEOUT)
        assert await recv(ws) == "ping:"


async def test_an_unsolicited_client_pong_reaches_the_sync_pong_handler(server: Server) -> None:
    async with await connect(server, "t/ctl/pingpong/") as ws:
        await ws.pong(b"\x00unsolicited")
        assert await recv(ws) == "pong:" + b"\x00unsolicited".hex()


async def test_a_server_ping_is_answered_and_its_pong_reaches_the_pong_handler(
    server: Server,
) -> None:
    async with await connect(server, "t/ctl/pingpong/") as ws:
        await ws.send("ping 78")  # ws.ping(b"x"): Bun's status is the payload's size
        assert await recv(ws) == "ping-status:1"
        assert await recv(ws) == "pong:78"  # the websockets client answered the ping
        await ws.send("text-ping é")  # a str is sent as UTF-8
        assert await recv(ws) == "ping-status:2"
        assert await recv(ws) == "pong:" + "é".encode().hex()


async def test_a_server_pong_reaches_the_client_as_a_pong_frame(server: Server) -> None:
    sock = await raw_connect(server, "t/ctl/pingpong/")
    try:
        reader = FrameReader(sock)
        await raw_send_text(sock, "pong 79")  # ws.pong(b"y")
        frames = {await reader.frame(), await reader.frame()}
        assert frames == {(PONG, b"y"), (TEXT, b"pong-status:1")}
    finally:
        sock.close()


async def test_a_ping_over_125_bytes_is_refused_with_its_size_and_the_limit(
    server: Server,
) -> None:
    async with await connect(server, "t/ctl/pingpong/") as ws:
        await ws.send("big")
        answer = str(await recv(ws))
        assert answer.startswith("refused:ws.ping() payload is 126 bytes, over the 125-byte")
        assert "RFC 6455 5.5" in answer


async def test_a_raising_ping_handler_runs_the_error_handler_and_closes_with_1011(
    server: Server,
) -> None:
    async with await connect(server, "t/ctl/pingpong/") as ws:
        await ws.ping(b"boom")
        assert await recv(ws) == "error:ping handler exploded"
        assert await closed_with(ws) == (1011, "internal error")


# -- pause and resume -----------------------------------------------------------------------


async def test_pause_stops_reading_and_resume_delivers_everything_in_order(
    server: Server,
) -> None:
    key, sock, reader = await paused_socket(server, "t/ctl/pause")
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32 * 1024)
        numbered = (i.to_bytes(4, "big") + bytes(CHUNK - 4) for i in range(COUNT))
        data = b"".join(masked(BINARY, payload) for payload in numbered)
        sent = await send_until_stalled(sock, data)
        # The client's writes stall: TCP pushes back once both kernel buffers are full.
        assert sent < len(data) // 4, f"{sent} of {len(data)} bytes went out to a paused socket"
        first = await admin(server, f"look {key}")
        await asyncio.sleep(0.3)
        assert await send_until_stalled(sock, data[sent:], stall=0.2) == 0
        second = await admin(server, f"look {key}")
        assert first["count"] == second["count"] == 0  # nothing beyond what was already read
        assert second["is_paused"] is True and second["ready_state"] == 1
        assert (await admin(server, f"resume {key}"))["is_paused"] is False
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)  # full speed
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(loop.sock_sendall(sock, data[sent:]), TIMEOUT)
        await raw_send_text(sock, "done")
        opcode, payload = await reader.frame()
        assert (opcode, json.loads(payload)) == (
            TEXT,
            {"count": COUNT, "in_order": True, "bytes": COUNT * CHUNK},
        )
    finally:
        sock.close()


async def test_a_paused_socket_outlives_its_idle_timeout_and_resume_restarts_the_clock(
    server: Server,
) -> None:
    key, sock, reader = await paused_socket(server, "t/ctl/pause-idle")  # idle_timeout=1
    try:
        await asyncio.sleep(1.6)  # without the pause, the sweeper closes it after 1-1.25 s
        state = await admin(server, f"resume {key}")
        resumed = time.monotonic()
        assert state["ready_state"] == 1 and state["closed"] is None
        opcode, payload = await reader.frame(timeout=3)  # the first frame since "paused"
        idle = time.monotonic() - resumed
        assert opcode == CLOSE and payload == struct.pack("!H", 1001) + b"idle timeout"
        assert 0.7 < idle < 2.5, f"closed {idle:.2f} s after resume, idle_timeout is 1 s"
    finally:
        sock.close()


async def test_closing_a_paused_socket_reads_again_and_is_paused_is_false(
    server: Server,
) -> None:
    key, sock, reader = await paused_socket(server, "t/ctl/pause")
    try:
        state = await admin(server, f"close {key}")
        assert state["is_paused"] is False and state["ready_state"] == 2  # CLOSING
        assert await reader.frame() == (CLOSE, struct.pack("!H", 4000) + b"closed while paused")
        # The server reads our close reply at once (it resumed reading) and drops the TCP
        # connection (autobahn aborts it: a reset), not after its close-handshake timeout.
        sent_at = time.monotonic()
        sock.sendall(client_frame(CLOSE, struct.pack("!H", 4000)))
        loop = asyncio.get_running_loop()
        with contextlib.suppress(ConnectionResetError):
            assert await asyncio.wait_for(loop.sock_recv(sock, 1), TIMEOUT) == b""
        assert time.monotonic() - sent_at < 0.5
        for _ in range(50):
            closed = (await admin(server, f"look {key}"))["closed"]
            if closed is not None:
                break
            await asyncio.sleep(0.05)
        assert closed == {"code": 4000, "reason": "closed while paused", "is_paused": False}
    finally:
        sock.close()
