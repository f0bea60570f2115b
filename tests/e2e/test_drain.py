"""The drain on SIGTERM through a real daphne: 1,000 sockets closed with 1012 in batches.

One client process (this test's event loop) holds the sockets; the server's ``r/life/`` close
handler appends one line per close to ``BUNWS_TEST_CLOSE_LOG``, so the test counts the handlers
after the server has exited.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from tests.support.clients import connect, recv
from tests.support.http import failed_upgrade_rows, http_get
from tests.support.servers import Server, daphne_server

SOCKETS = 1000
DRAIN = 2.0
WINDOW = 0.2  # no window this long may hold more than MAX_SHARE of the closes
MAX_SHARE = 0.25

pytestmark = pytest.mark.timeout(90, func_only=True)


async def open_many(server: Server, count: int, prefix: str) -> list[ClientConnection]:
    gate = asyncio.Semaphore(100)

    async def one(i: int) -> ClientConnection:
        async with gate:
            return await connect(server, f"r/life/{prefix}{i}/", ping_interval=None)

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def closed_at(ws: ClientConnection, within: float) -> tuple[float, int | None]:
    """When the client saw the connection closed, and the code of the server's close frame."""
    await asyncio.wait_for(ws.wait_closed(), within)
    return time.monotonic(), ws.close_code


def close_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_sigterm_drains_1000_sockets_with_1012_in_batches_over_the_drain_period(
    tmp_path: Path,
) -> None:
    close_log = tmp_path / "closes.jsonl"
    env = {
        "BUNWS_TEST_CLOSE_LOG": str(close_log),
        "BUNWS_DRAIN_SECONDS": str(DRAIN),
        "BUNWS_FAILED_UPGRADE_FLUSH_INTERVAL": "60",
    }
    with daphne_server(tmp_path, **env) as server:
        clients = await open_many(server, SOCKETS, "d")
        for ws in (clients[0], clients[-1]):  # open and served
            await ws.send("ping")
            assert await recv(ws) == "ping"
        # A repeat failed upgrade waits in memory (flush interval 60 s): shutdown must write it.
        assert http_get(server, "r/life/plain/").status == 426
        assert http_get(server, "r/life/plain/").status == 426
        watchers = [asyncio.create_task(closed_at(ws, DRAIN + 15)) for ws in clients]
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        await asyncio.sleep(DRAIN / 4)
        try:
            late = await connect(server, "r/life/late/")
        except websockets.InvalidStatus as refusal:
            response = refusal.response
        else:
            await late.close()
            raise AssertionError("a handshake during the drain was accepted")
        closes = await asyncio.gather(*watchers)
        exit_code = await asyncio.to_thread(server.process.wait, 15)
        exited = time.monotonic() - started
        log = server.log()

    assert response.status_code == 503, log
    assert 1 <= int(response.headers["Retry-After"]) <= DRAIN + 1
    assert b"restarting" in response.body
    codes = [code for _, code in closes]
    assert codes == [1012] * SOCKETS, {code: codes.count(code) for code in set(codes)}
    handlers = close_lines(close_log)
    assert len(handlers) == SOCKETS  # every close handler ran, once each
    assert {h["tag"] for h in handlers} == {f"d{i}" for i in range(SOCKETS)}
    assert {(h["code"], h["reason"]) for h in handlers} == {(1012, "server restarting")}
    times = sorted(at - started for at, _ in closes)
    assert times[-1] - times[0] >= DRAIN / 2, (times[0], times[-1])
    busiest = max(sum(1 for t in times[i:] if t < start + WINDOW) for i, start in enumerate(times))
    assert busiest <= MAX_SHARE * SOCKETS, f"{busiest} closes within {WINDOW} s"
    assert exit_code == 0, log
    assert exited < DRAIN + 6, exited
    assert "draining 1000 open socket(s) with 1012" in log
    rows = failed_upgrade_rows(server, "path = ?", "/r/life/plain/")
    assert [row["count"] for row in rows] == [2], rows


async def test_a_drain_longer_than_daphnes_application_close_timeout_is_cut_to_it(
    tmp_path: Path,
) -> None:
    close_log = tmp_path / "closes.jsonl"
    env = {"BUNWS_TEST_CLOSE_LOG": str(close_log), "BUNWS_DRAIN_SECONDS": "60"}
    args = ("--application-close-timeout", "1")
    with daphne_server(tmp_path, args=args, **env) as server:
        clients = await open_many(server, 50, "c")
        watchers = [asyncio.create_task(closed_at(ws, 10)) for ws in clients]
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        closes = await asyncio.gather(*watchers)
        exit_code = await asyncio.to_thread(server.process.wait, 15)
        exited = time.monotonic() - started
        log = server.log()
    assert [code for _, code in closes] == [1012] * 50
    assert max(at for at, _ in closes) - started < 2.5
    assert exit_code == 0, log
    assert exited < 5, exited
    assert "exceeds daphne's --application-close-timeout (1 s)" in log
    assert len(close_lines(close_log)) == 50
