"""Each limit through a real daphne and a real client: 1009, idle close, backpressure with the
server's memory bounded, drain, cork, and the per-client limits of BUNWS settings.

Backpressure and ping tests use a raw TCP client (hand-made handshake) so they can stop reading,
shrink the receive buffer and see ping frames; the others use the ``websockets`` client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.support.clients import TIMEOUT, connect, next_event, recv
from tests.support.frames import (
    BINARY,
    CLOSE,
    PING,
    TEXT,
    FrameReader,
    closed_with,
    raw_connect,
    raw_send_text,
)
from tests.support.servers import ROOT, Server, daphne_server

pytestmark = pytest.mark.timeout(30, func_only=True)

MiB = 1024 * 1024
EVENTS = "t/watch/limits-events/"


def rss(pid: int) -> int:
    """Resident memory of process ``pid`` in bytes (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for process {pid}")


# -- max_payload_length ---------------------------------------------------------------------


async def test_message_over_max_payload_length_closes_with_1009(server: Server) -> None:
    async with await connect(server, EVENTS) as watch:
        async with await connect(server, "t/lim/small/") as ws:
            await ws.send("x" * 1024)  # exactly the limit passes
            assert await recv(ws) == "x" * 1024
            await ws.send("é" * 400)  # 800 bytes of UTF-8
            assert await recv(ws) == "é" * 400
            await ws.send("é" * 600)  # 600 characters but 1200 bytes: too big
            code, reason = await closed_with(ws)
        assert (code, reason) == (1009, "message of 1200 bytes exceeds 1024")
        report = await next_event(watch, "close", "t-lim-small")
        assert (report["code"], report["reason"]) == (1009, reason)


async def test_max_payload_length_not_daphnes_message_size_limits_an_endpoint(
    server: Server,
) -> None:
    """daphne's default --websocket-max-message-size/-frame-size (1 MiB) no longer apply to a
    bunws socket: a 2 MiB message, text or binary, reaches an endpoint with the default
    max_payload_length (16 MiB, Bun's)."""

    async with await connect(server, "t/lim/default/", max_size=None) as ws:
        await ws.send(b"x" * (2 * MiB))
        assert await recv(ws) == f"len={2 * MiB}"
        await ws.send("é" * MiB)  # 2 MiB of UTF-8 text, in one frame
        assert await recv(ws) == f"len={MiB}"


# -- idle_timeout and send_pings ------------------------------------------------------------


async def test_silent_socket_is_closed_with_1001_after_idle_timeout(server: Server) -> None:
    async with await connect(server, EVENTS) as watch:
        ws = await connect(server, "t/lim/idle/", ping_interval=None)
        started = time.monotonic()
        code, reason = await closed_with(ws, timeout=4)
        elapsed = time.monotonic() - started
        assert (code, reason) == (1001, "idle timeout")
        assert 0.9 <= elapsed <= 2.0, f"closed after {elapsed:.2f} s, idle_timeout=1"
        report = await next_event(watch, "close", "t-lim-idle")
        assert (report["code"], report["reason"]) == (1001, "idle timeout")


async def test_messages_keep_a_socket_open_past_idle_timeout(server: Server) -> None:
    async with await connect(server, "t/lim/idle/", ping_interval=None) as ws:
        for i in range(6):  # 2.4 s of traffic against idle_timeout=1, send_pings=False
            await ws.send(f"beat {i}")
            assert await recv(ws) == f"beat {i}"
            await asyncio.sleep(0.4)


async def test_pongs_keep_a_silent_socket_open_when_send_pings(server: Server) -> None:
    """The websockets client answers pings by itself: its pongs reset the idle clock."""

    async with await connect(server, "t/lim/idle-ping/", ping_interval=None) as ws:
        await asyncio.sleep(3)  # three idle_timeouts of silence from the application
        await ws.send("still here")
        assert await recv(ws) == "still here"


async def test_unanswered_ping_is_followed_by_the_idle_close(server: Server) -> None:
    sock = await raw_connect(server, "t/lim/idle-ping/")
    started = time.monotonic()
    with sock:
        reader = FrameReader(sock)
        opcode, _ = await reader.frame(timeout=3)
        pinged = time.monotonic() - started
        assert opcode == PING
        assert 0.4 <= pinged <= 1.0, f"pinged after {pinged:.2f} s, idle_timeout=1"
        opcode, payload = await reader.frame(timeout=3)
        assert opcode == CLOSE
        assert struct.unpack("!H", payload[:2])[0] == 1001
        assert payload[2:] == b"idle timeout"
        assert time.monotonic() - started >= 0.9


# -- backpressure -----------------------------------------------------------------------------


async def flood_stalled_client(
    server: Server, path: str, total: int, chunk: int = 32 * 1024
) -> tuple[socket.socket, ClientConnection, dict[str, Any], int]:
    """Have ``path`` send ``total`` bytes to a client that reads nothing; return the raw
    socket, the watcher, the flood report and the server's RSS growth sampled meanwhile."""
    watch = await connect(server, EVENTS)
    sock = await raw_connect(server, path, rcvbuf=4096)
    pid = server.process.pid
    baseline = peak = rss(pid)
    await raw_send_text(sock, f"flood {total} {chunk}")
    endpoint = "t-lim-" + path.rstrip("/").rsplit("/", 1)[-1]
    flooded = asyncio.ensure_future(next_event(watch, "flooded", endpoint))
    deadline = time.monotonic() + 20
    while not flooded.done() and time.monotonic() < deadline:
        peak = max(peak, rss(pid))
        await asyncio.sleep(0.005)
    report = await asyncio.wait_for(flooded, 1)
    peak = max(peak, rss(pid))
    return sock, watch, report, peak - baseline


async def test_stalled_client_gets_minus_one_then_zero_and_server_memory_stays_bounded(
    server: Server,
) -> None:
    """200 MiB sent to a client that stops reading: send returns -1 once the buffer is full,
    then 0 past backpressure_limit (1 MiB); RSS grows by a few MiB, not 200. When the client
    reads again, drain fires, everything accepted arrives, then what drain sent."""

    sock, watch, report, growth = await flood_stalled_client(
        server, "t/lim/flood/", total=200 * MiB
    )
    async with watch:
        with sock:
            await check_stall_and_drain(sock, watch, report, growth)


async def check_stall_and_drain(
    sock: socket.socket, watch: ClientConnection, report: dict[str, Any], growth: int
) -> None:
    runs = report["runs"]
    kinds = [kind for kind, _ in runs]
    assert kinds[-2:] == [-1, 0], runs  # queued behind backpressure, then dropped
    # While the kernel still takes data, a burst over Twisted's 64 KiB buffer pauses and
    # resumes within one loop turn (N, -1, N, ...); the final stall is bounded by the limit.
    assert runs[-2][1] * 32 * 1024 <= MiB, f"{runs[-2][1]} sends queued past 1 MiB"
    assert report["accepted"] < 16 * MiB, report  # kernel buffers + limit, not 200 MiB
    assert growth < 8 * MiB, f"server RSS grew by {growth / MiB:.1f} MiB"
    print(f"\nflood 200 MiB, limit 1 MiB: RSS +{growth / MiB:.1f} MiB, {report}")
    reader = FrameReader(sock)
    received = 0
    while received < report["accepted"]:
        opcode, payload = await reader.frame()
        if opcode == TEXT:  # sent by drain after a ramp-up pause
            assert payload == b"after-drain"
            continue
        assert opcode == BINARY
        received += len(payload)
    assert received == report["accepted"]  # nothing accepted (N or -1) was lost
    assert await reader.frame() == (TEXT, b"after-drain")
    drained = await next_event(watch, "drain", "t-lim-flood")
    assert drained["after"] == len("after-drain")


async def test_backpressure_limit_zero_queues_everything(server: Server) -> None:
    """The control for the test above: with no limit the same flood grows the server's memory,
    so the RSS measurement there can fail."""

    sock, watch, report, growth = await flood_stalled_client(
        server, "t/lim/flood-unbounded/", total=48 * MiB
    )
    async with watch:
        sock.close()
        assert report["runs"][-1][0] == -1, report["runs"]  # never dropped
        assert report["accepted"] == 48 * MiB
        assert growth > 24 * MiB, f"server RSS grew by only {growth / MiB:.1f} MiB"


async def test_close_on_backpressure_limit_drops_the_connection(server: Server) -> None:
    sock, watch, report, growth = await flood_stalled_client(
        server, "t/lim/flood-close/", total=200 * MiB
    )
    async with watch:
        with sock:
            assert report["runs"][-1] == [0, 1], report["runs"]  # the send over the limit
            closed = await next_event(watch, "close", "t-lim-flood-close")
            assert (closed["code"], closed["reason"]) == (1006, "backpressure limit exceeded")
            assert growth < 8 * MiB
            reader = FrameReader(sock)
            with pytest.raises(ConnectionError):
                for _ in range(10_000):
                    await reader.frame()


# -- cork -----------------------------------------------------------------------------------


async def test_sends_of_one_handler_call_leave_in_one_write_corked_or_not(server: Server) -> None:
    """``ws.cork`` batches explicitly; bunws also corks every loop iteration, as uWS does."""

    async with await connect(server, "t/lim/cork/") as ws:
        for kind, writes in (("cork", 1), ("nocork", 1)):
            await ws.send(f"{kind} 50")
            assert [await recv(ws) for _ in range(50)] == [f"m{i}" for i in range(50)]
            summary = json.loads(await recv(ws))
            assert summary["writes"] == writes, (kind, summary)
            assert summary["result"] == "done"
            assert summary["codes"] == [len(f"m{i}") for i in range(50)]


# -- BUNWS per-client limits, on a daphne with its own settings and a larger message size -------


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("limited")
    (tmp / "limited_settings.py").write_text(
        "from tests.settings import *  # noqa: F403\n"
        "BUNWS = {'MAX_MESSAGES_PER_SECOND': 50, 'MAX_SOCKETS_PER_CLIENT': 4}\n"
    )
    pythonpath = os.pathsep.join([str(tmp), str(ROOT), os.environ.get("PYTHONPATH", "")])
    big = str(32 * MiB)
    args = ("--websocket-max-message-size", big, "--websocket-max-frame-size", big)
    with daphne_server(
        tmp, args=args, DJANGO_SETTINGS_MODULE="limited_settings", PYTHONPATH=pythonpath
    ) as running:
        yield running


async def test_raised_daphne_limit_lets_max_payload_length_decide(limited: Server) -> None:
    async with await connect(limited, "t/lim/default/", max_size=None) as ws:
        await ws.send(b"x" * (2 * MiB))  # over daphne's default, under bunws's 16 MiB
        assert await recv(ws) == f"len={2 * MiB}"
        await ws.send(b"x" * (16 * MiB + 1))
        code, reason = await closed_with(ws)
    assert (code, reason) == (1009, f"message of {16 * MiB + 1} bytes exceeds {16 * MiB}")


async def test_more_messages_per_second_than_allowed_closes_with_1008(limited: Server) -> None:
    async with await connect(limited, "t/echo/") as ws:
        for i in range(40):  # under the limit of 50 per second
            await ws.send(f"m{i}")
        assert [await recv(ws) for _ in range(40)] == [f"m{i}" for i in range(40)]
        await asyncio.sleep(1.05)  # a new one-second window
        for i in range(80):
            await ws.send(f"n{i}")
        echoed = 0
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.wait_for(ws.recv(), TIMEOUT)
                echoed += 1
        assert (ws.close_code, ws.close_reason) == (1008, "too many messages per second")
        assert echoed == 50
    assert "more than 50 messages in one second" in limited.log()


async def test_sockets_per_client_address_are_capped(limited: Server) -> None:
    sockets = [await connect(limited, "t/echo/") for _ in range(4)]
    with pytest.raises(InvalidStatus) as refused:
        await connect(limited, "t/echo/")
    assert refused.value.response.status_code == 403
    assert "MAX_SOCKETS_PER_CLIENT" in limited.log()
    await sockets.pop().close()
    deadline = time.monotonic() + TIMEOUT
    while True:  # the server frees the slot once it has processed the close
        try:
            fifth = await connect(limited, "t/echo/")
            break
        except InvalidStatus:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)
    await fifth.send("ok")
    assert await recv(fifth) == "ok"
    for ws in [*sockets, fifth]:
        await ws.close()
