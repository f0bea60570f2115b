"""fetch's own response to a handshake it declines, through a real daphne and real clients.

As Bun sends the Response its fetch returns, the client gets fetch's status, headers (cookies
included) and body instead of daphne's bare 403; a decline without a response still gets 403.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sqlite3
import time
from typing import Any

import pytest
import websockets
from websockets.http11 import Response

from tests.support.clients import TIMEOUT, connect, recv_json, run
from tests.support.servers import Server
from tests.support.sqlite import sqlite_db


async def refused(server: Server, path: str) -> Response:
    """The HTTP response a ``websockets`` client got for a refused handshake to ``path``."""
    with pytest.raises(websockets.InvalidStatus) as refusal:
        await connect(server, path)
    return refusal.value.response


def rows(server: Server, path: str) -> list[dict[str, Any]]:
    with sqlite_db(server.db_path) as db:
        db.row_factory = sqlite3.Row
        cursor = db.execute("SELECT * FROM bunws_failedupgrade WHERE path = ?", (path,))
        return [dict(row) for row in cursor]


async def raw_exchange(server: Server, path: str) -> bytes:
    """A hand-made handshake to ``path``; everything the server sends until it closes."""
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", server.port), TIMEOUT
    )
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET /{path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    try:
        return await asyncio.wait_for(reader.read(), TIMEOUT)  # until the server closes
    finally:
        writer.close()


def test_a_401_with_www_authenticate_and_cookies_reaches_the_client(server: Server) -> None:
    response = run(refused(server, "t/answer/auth/"))
    assert (response.status_code, response.reason_phrase) == (401, "Unauthorized")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="chat"'
    cookies = response.headers.get_all("Set-Cookie")
    assert [cookie.split(";")[0] for cookie in cookies] == ["seen=1", 'next="/chat/"']
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.body == b"Log in first."


def test_a_429_with_retry_after_reaches_the_client(server: Server) -> None:
    response = run(refused(server, "t/answer/slow/"))
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "30"
    assert response.body == b"Too many connections; retry in 30 s."


def test_a_403_json_body_arrives_intact(server: Server) -> None:
    response = run(refused(server, "t/answer/json/"))
    assert response.status_code == 403
    assert response.headers["Content-Type"] == "application/json"
    assert json.loads(response.body) == {
        "error": "forbidden",
        "detail": "members only: é ✓",
        "items": list(range(50)),
    }


def test_a_redirect_from_fetch_reaches_the_client(server: Server) -> None:
    """Read raw: the ``websockets`` client would follow it."""
    head = run(raw_exchange(server, "t/answer/redirect/")).split(b"\r\n\r\n")[0]
    assert head.startswith(b"HTTP/1.1 302 Found\r\n")
    assert b"\r\nLocation: /login/\r\n" in head


def test_the_response_is_framed_and_the_connection_closed(server: Server) -> None:
    """Status line with its reason phrase, Content-Length, Connection: close, then EOF."""
    data = run(raw_exchange(server, "t/answer/slow/"))
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 429 Too Many Requests"
    assert b"Content-Length: %d" % len(body) in lines
    assert b"Connection: close" in lines
    assert body == b"Too many connections; retry in 30 s."


def test_a_decline_without_a_response_still_gets_403(server: Server) -> None:
    response = run(refused(server, "t/answer/none/"))
    assert response.status_code == 403
    [row] = rows(server, "/t/answer/none/")
    assert (row["reason"], row["status"]) == ("fetch_declined", 403)


def test_the_failed_upgrade_row_records_fetchs_status(server: Server) -> None:
    run(refused(server, "t/answer/auth/"))
    [row] = rows(server, "/t/answer/auth/")
    assert (row["reason"], row["status"], row["endpoint"]) == ("fetch_declined", 401, "t-answer")
    assert "HTTP 401" in row["diagnosis"]
    assert "reason=fetch_declined status=401 endpoint=t-answer" in server.log()


@pytest.mark.parametrize(
    ("kind", "logged"),
    [
        ("stream", "returned a streaming response (StreamingHttpResponse)"),
        ("switch", "returned status 101 to a WebSocket handshake"),
    ],
)
def test_a_response_bunws_cannot_send_falls_back_to_403_with_a_log_line(
    server: Server, kind: str, logged: str
) -> None:
    assert run(refused(server, f"t/answer/{kind}/")).status_code == 403
    assert logged in server.log()
    [row] = rows(server, f"/t/answer/{kind}/")
    assert row["status"] == 403


def test_daphne_forgets_refused_connections_and_logs_them(server: Server) -> None:
    """daphne's bookkeeping is that of its own rejection: no record left behind in
    ``Server.connections`` once its checker runs, and a ``WSREJECT`` access-log line."""

    async def scenario() -> tuple[int, int]:
        async with await connect(server, "t/answer/ok/") as ws:
            assert await recv_json(ws) == {"protocol": ""}
            await ws.send("count")
            before = int((await recv_json(ws))["connections"])
            for _ in range(5):
                await refused(server, "t/answer/auth/")
            deadline = time.monotonic() + 5  # daphne reaps closed connections every second
            while True:
                await ws.send("count")
                now = int((await recv_json(ws))["connections"])
                if now <= before or time.monotonic() > deadline:
                    return before, now
                await asyncio.sleep(0.1)

    before, after = run(scenario())
    assert after <= before, f"daphne still records {after - before} refused connections"
    assert "WSREJECT /t/answer/auth/" in server.log()
