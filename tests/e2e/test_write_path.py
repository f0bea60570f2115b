"""bunws's own I/O on daphne, through a real daphne: the inbox that replaces daphne's queue,
per-iteration corking and direct ``send()``. What must hold is what a client can observe:
frames well formed at every length boundary, order kept, nothing lost, close frames last."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket

import pytest
import websockets

from tests.support.clients import connect, next_event, recv
from tests.support.frames import CLOSE, TEXT, FrameReader, client_frame, raw_connect, raw_send_text
from tests.support.servers import Server

pytestmark = pytest.mark.timeout(30, func_only=True)


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 200_000])
async def test_frames_at_every_length_boundary_reach_the_client_intact(
    server: Server, size: int
) -> None:
    """RFC 6455 5.2's three length encodings (7-bit, 16-bit, 64-bit), checked by websockets."""
    text = "é" * (size // 2) + "x" * (size % 2)
    data = os.urandom(size)

    async with await connect(server, "t/echo/", max_size=None) as ws:
        await ws.send(text)  # size 0: an empty message is echoed too, as Bun does
        assert await recv(ws) == text
        await ws.send(data + b"!")
        assert await recv(ws) == data + b"!"


async def test_a_burst_is_delivered_complete_and_in_order(server: Server) -> None:
    """Many frames read and written per loop iteration: corking must keep every one, in order."""

    async with await connect(server, "t/echo/") as ws:
        sent = [f"message {i} " + "x" * (i % 300) for i in range(2000)]
        for message in sent:
            await ws.send(message)
        assert [await recv(ws) for _ in sent] == sent


async def test_messages_sent_before_close_arrive_before_the_close_frame(server: Server) -> None:
    ws = await connect(server, "t/close/")
    await ws.send("say-then-close")
    assert [await recv(ws) for _ in range(3)] == [f"last words {i}" for i in range(3)]
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await recv(ws)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4003, "said it")


async def test_a_client_that_stops_reading_gets_everything_in_order_once_it_reads(
    server: Server,
) -> None:
    """Direct sends stop when the kernel's buffer is full and Twisted buffers the rest; the
    client, reading late through a small receive window, still gets every byte in order."""

    sock = await raw_connect(server, "t/burst/", rcvbuf=4096)
    try:
        await raw_send_text(sock, "60 60000")  # 3.6 MB, far more than the kernel buffers
        await asyncio.sleep(0.5)
        reader = FrameReader(sock)
        for i in range(60):
            opcode, payload = await reader.frame()
            assert opcode == TEXT and len(payload) == 60_000
            assert payload.startswith(f"{i:05d}".encode()), (i, payload[:8])
    finally:
        sock.close()


async def test_daphne_tracks_the_sockets_own_task_as_the_connections_application(
    server: Server,
) -> None:
    """The ASGI call that accepted the socket returns (freeing the middleware stack); daphne
    then logs, times out and cancels at shutdown the task that runs the handlers instead."""

    async with await connect(server, "t/tracked/") as ws:
        await ws.send("?")
        assert await recv(ws) == '{"tracked": true}'


@pytest.mark.parametrize(
    "payload",
    [b"ok \xc3\x28 not utf-8", b"\xed\xa0\x80 a surrogate", b"cut short \xe2\x82"],
)
async def test_invalid_utf8_text_fails_the_connection_with_1007(
    server: Server, payload: bytes
) -> None:
    """autobahn's incremental validator is off; the decode into str validates instead."""

    sock = await raw_connect(server, "t/echo/")
    try:
        await asyncio.get_running_loop().sock_sendall(sock, client_frame(TEXT, payload))
        opcode, body = await FrameReader(sock).frame()
        assert opcode == CLOSE
        assert int.from_bytes(body[:2], "big") == 1007
        assert b"invalid UTF-8" in body[2:]
    finally:
        sock.close()


async def test_a_character_split_across_fragments_is_valid_text(server: Server) -> None:
    """A fragmented message is UTF-8 checked incrementally, so a code point may span two
    frames (the bad-fragment cases are in tests/e2e/test_protocol_fixes.py)."""
    euro = "€".encode()  # 3 bytes

    sock = await raw_connect(server, "t/echo/")
    try:
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(sock, client_frame(TEXT, b"price " + euro[:2], fin=False))
        await loop.sock_sendall(sock, client_frame(0x0, euro[2:] + b" 5"))
        assert await FrameReader(sock).frame() == (TEXT, "price € 5".encode())
    finally:
        sock.close()


async def test_a_client_that_leaves_while_fetch_runs_never_reaches_open(server: Server) -> None:
    """daphne queues its disconnect where bunws no longer reads; accept() must notice it."""

    async with await connect(server, "t/watch/events/") as watch:
        loop = asyncio.get_running_loop()
        sock = socket.socket()
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", server.port))
        key = base64.b64encode(os.urandom(16)).decode()
        await loop.sock_sendall(
            sock,
            (
                f"GET /t/slowfetch/ HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode(),
        )
        await asyncio.sleep(0.2)  # fetch is running (it takes 0.6 s)
        sock.close()
        deadline = loop.time() + 1.5  # past the end of fetch
        while (left := deadline - loop.time()) > 0:
            try:
                report = json.loads(await asyncio.wait_for(watch.recv(), left))
            except TimeoutError:
                break
            assert (report.get("event"), report.get("endpoint")) != ("open", "t-slowfetch")
        # The endpoint still upgrades a client that waits.
        async with await connect(server, "t/slowfetch/") as ws:
            assert (await next_event(watch, "open", "t-slowfetch"))["event"] == "open"
            await ws.send("still here")
            assert await recv(ws) == "still here"


async def test_bunws_producer_replaces_the_stale_http_channel_on_a_live_connection(
    server: Server,
) -> None:
    async with await connect(server, "t/lim/cork/") as ws:
        await ws.send("producer")
        assert await recv(ws) == "bunws.daphne.connection._Producer"
