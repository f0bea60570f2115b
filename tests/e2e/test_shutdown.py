"""Graceful shutdown: SIGTERM to a real daphne closes every socket with 1012 and runs its close."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path

import websockets

from tests.support.clients import connect, recv
from tests.support.servers import daphne_server

SOCKETS = 5


async def test_sigterm_closes_every_socket_with_1012_and_runs_every_close_handler(
    tmp_path: Path,
) -> None:
    close_log = tmp_path / "closes.jsonl"
    with daphne_server(tmp_path, BUNWS_TEST_CLOSE_LOG=str(close_log)) as server:
        async with asyncio.timeout(30):
            clients = [await connect(server, f"r/life/down{i}/") for i in range(SOCKETS)]
            for ws in clients:  # every socket is fully open and served
                await ws.send("ping")
                assert await recv(ws) == "ping"
            started = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            codes = []
            for ws in clients:
                try:
                    message = await asyncio.wait_for(ws.recv(), 10)
                    raise AssertionError(f"expected a close, got {message!r}")
                except websockets.ConnectionClosed as closed:
                    codes.append(closed.rcvd.code if closed.rcvd else None)
            assert time.monotonic() - started < 10
        exit_code = server.process.wait(15)
        log = server.log()
    assert codes == [1012] * SOCKETS, log  # the drain's "service restart" (tests/e2e/test_drain.py)
    assert exit_code == 0, log
    closes = [json.loads(line) for line in close_log.read_text().splitlines()]
    assert sorted(c["tag"] for c in closes) == [f"down{i}" for i in range(SOCKETS)]
    assert {(c["code"], c["reason"]) for c in closes} == {(1012, "server restarting")}
