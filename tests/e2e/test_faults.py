"""Hostile clients and faulty handlers against a real daphne: the server answers per RFC 6455,
each ``close`` handler runs once, subscriptions are cleaned, and other sockets keep working.

Raw frames go over a plain TCP socket after a hand-made handshake, so the tests can send what
no well-behaved client library would.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
import time
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from tests.support.clients import connect, expect_silence, recv, recv_json
from tests.support.frames import client_frame
from tests.support.servers import Server

pytestmark = pytest.mark.timeout(30, func_only=True)

# -- a minimal hand-made client ----------------------------------------------------------------


def raw_handshake(
    server: Server, path: str, *, key: str | None = None, version: str = "13"
) -> tuple[socket.socket, bytes]:
    """Send a WebSocket handshake over plain TCP; return the socket and the response head."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    key = key if key is not None else base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /{path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: {version}\r\n\r\n"
        ).encode()
    )
    head = b""
    deadline = time.monotonic() + 5
    while b"\r\n\r\n" not in head and time.monotonic() < deadline:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    return sock, head


def read_close(sock: socket.socket, timeout: float = 5) -> int | None:
    """The code of the close frame the server sends, or None if it drops the connection."""
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass
    except TimeoutError:
        raise AssertionError(f"the server neither closed nor dropped within {timeout} s") from None
    # Server frames are unmasked; the first frame here is the close frame if there is one.
    if len(data) >= 4 and data[0] & 0x0F == 0x8:
        return int(struct.unpack("!H", data[2:4])[0])
    return None


def reset(sock: socket.socket) -> None:
    """Close with a TCP RST instead of a FIN (SO_LINGER with a zero timeout)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


async def closes_for(watch: ClientConnection, tag: str, wait: float = 0.5) -> list[dict[str, Any]]:
    """Every close event reported for ``tag``: the first within the timeout, then any repeat."""
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            event = json.loads(await asyncio.wait_for(watch.recv(), wait if events else 5))
        except TimeoutError:
            break
        if event.get("tag") == tag:
            events.append(event)
    return events


async def subscribers(server: Server, topic: str) -> int:
    async with await connect(server, "r/probe/") as probe:
        await probe.send(f"count:{topic}")
        return int(await recv(probe))


# -- malformed and hostile clients --------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "frame"),
    [
        ("badutf8", client_frame(0x1, b"ok \xc3\x28 not utf-8")),
        ("toolarge", client_frame(0x2, b"x" * (1024 * 1024 + 1))),  # over the endpoint's limit
        ("midreset", client_frame(0x2, b"0123456789", length=1000)),
    ],
)
async def test_hostile_frame_fails_the_connection_and_close_runs_once_with_subscriptions_cleaned(
    server: Server, tag: str, frame: bytes
) -> None:
    """RFC 6455 7.1.7 / 8.1: invalid UTF-8 and an over-limit frame fail the connection; daphne
    (autobahn's failByDrop) drops it rather than sending 1007/1009. A client that resets
    mid-frame leaves a half-read message. In every case the app sees 1006 exactly once."""

    async with await connect(server, "t/watch/rel-events/") as watch:
        sock, head = raw_handshake(server, f"r/life/{tag}/")
        assert head.startswith(b"HTTP/1.1 101 "), head
        assert await subscribers(server, f"life-{tag}") == 1
        sock.sendall(frame)
        if tag == "midreset":
            reset(sock)
        else:
            code = read_close(sock)
            sock.close()
            assert code in (None, 1007 if tag == "badutf8" else 1009)
        events = await closes_for(watch, tag)
        assert len(events) == 1, events
        assert events[0]["code"] == 1006
        assert events[0]["subscriptions"] == []
        assert await subscribers(server, f"life-{tag}") == 0


async def test_message_over_max_payload_length_is_closed_with_1009_by_bunws(server: Server) -> None:
    async with await connect(server, "t/watch/rel-events/") as watch:
        ws = await connect(server, "r/life/big/")
        await ws.send("x" * 4096)  # exactly the endpoint's max_payload_length: fine
        assert await recv(ws) == "x" * 4096
        await ws.send("x" * 4097)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await recv(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        [event] = await closes_for(watch, "big")
        assert event["code"] == 1009
        assert await subscribers(server, "life-big") == 0


@pytest.mark.parametrize(
    ("key", "version", "status"),
    [
        ("short", "13", b"HTTP/1.1 400 bad Sec-WebSocket-Key"),
        (None, "12", b"HTTP/1.1 400 WebSocket version 12 not supported"),
    ],
)
async def test_bad_handshake_is_answered_400_by_daphne_before_any_app_code(
    server: Server, key: str | None, version: str, status: bytes
) -> None:
    async with await connect(server, "t/watch/rel-events/") as watch:
        sock, head = raw_handshake(server, "r/life/badhs/", key=key, version=version)
        sock.close()
        assert head.startswith(status), head
        if version == "12":  # RFC 6455 4.4: name the versions the server speaks
            assert b"Sec-WebSocket-Version: 13" in head
        await expect_silence(watch, 0.5)  # no close handler: the app never saw it
        assert await subscribers(server, "life-badhs") == 0


async def test_silent_clients_do_not_hold_up_others(server: Server) -> None:
    """Open TCP connections that send nothing and open sockets that never speak cost nothing
    but a file descriptor; everyone else is served at once."""

    silent_tcp = [socket.create_connection(("127.0.0.1", server.port), 5) for _ in range(20)]
    silent_ws = [await connect(server, f"r/life/silent{i}/") for i in range(20)]
    try:
        async with await connect(server, "t/echo/") as ws:
            started = time.monotonic()
            for i in range(20):
                await ws.send(f"m{i}")
                assert await recv(ws, 2) == f"m{i}"
            assert time.monotonic() - started < 2
        for quiet in silent_ws:  # still open and still served after their silence
            await quiet.send("late")
            assert await recv(quiet) == "late"
    finally:
        for sock in silent_tcp:
            sock.close()
        for quiet in silent_ws:
            await quiet.close()


# -- handler faults ------------------------------------------------------------------------------


async def test_blocking_sync_handler_holds_up_only_its_own_socket(server: Server) -> None:
    sleeper = await connect(server, "r/slow/")
    neighbour = await connect(server, "r/slow/")
    other = await connect(server, "t/echo/")
    started = time.monotonic()
    await sleeper.send("sleep:2")
    await asyncio.sleep(0.1)  # the sleeper's handler is now blocking its worker thread
    for ws in (neighbour, other):
        await ws.send("quick")
        assert await recv(ws, 1) == "quick"
    assert time.monotonic() - started < 1.0
    assert await recv(sleeper, 5) == "woke"
    assert time.monotonic() - started >= 2.0
    for ws in (sleeper, neighbour, other):
        await ws.close()


async def test_handler_publishing_to_thousands_of_topics_delivers_and_stays_responsive(
    server: Server,
) -> None:
    listener = await connect(server, "r/fanout/")
    await listener.send("sub:fan-4999")
    assert await recv(listener) == "subscribed"
    publisher = await connect(server, "r/fanout/")
    await publisher.send("fanout:5000")
    report = await recv_json(publisher, 10)
    assert report["done"] == 5000
    assert report["delivered"] == 1  # only fan-4999 has a subscriber
    assert report["seconds"] < 5
    assert await recv(listener) == "m4999"
    async with await connect(server, "t/echo/") as echo:
        await echo.send("after")
        assert await recv(echo, 2) == "after"
    await listener.close()
    await publisher.close()
