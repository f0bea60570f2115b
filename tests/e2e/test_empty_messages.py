"""Empty messages (issue 10, item 4) through a real daphne: RFC 6455 allows an empty text or binary
message, Bun echoes them, and the protocol suite's cases 1.1.1, 1.2.1, 6.1.1, 6.1.2, 9.7.1 and
9.8.1 send them. They must travel both ways and on publish; as in Bun, sending one returns its
byte count, 0. (Without a server: ``tests/unit/test_empty_messages_unit.py``.)"""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from tests.support.clients import connect, expect_silence, recv
from tests.support.servers import Server

pytestmark = pytest.mark.timeout(30, func_only=True)


async def command(ws: ClientConnection, via: str, data: str, binary: bool = False) -> Any:
    """Ask a ``t/hs/pub*`` socket to send or publish ``data``; the call's return value."""
    await ws.send(json.dumps({"via": via, "data": data, "binary": binary}))
    while True:
        message = await recv(ws)
        if isinstance(message, str) and message.startswith('{"returned"'):
            return json.loads(message)["returned"]


async def test_empty_text_and_binary_messages_are_echoed_with_their_type(server: Server) -> None:
    """Cases 1.1.1 and 1.2.1: the handler receives ``""`` / ``b""`` and its echo arrives."""

    async with await connect(server, "t/echo/") as ws:
        await ws.send("")
        assert await recv(ws) == ""
        await ws.send(b"")
        assert await recv(ws) == b""
        await ws.send("after")
        assert await recv(ws) == "after"


@pytest.mark.parametrize("path", ["t/hs/pub/{}/", "t/hs/pub-sync/{}/"])
async def test_empty_send_arrives_and_returns_zero_from_async_and_sync_handlers(
    server: Server, path: str
) -> None:
    async with await connect(server, path.format("empty-send")) as ws:
        await ws.send(json.dumps({"via": "send", "data": ""}))
        assert await recv(ws) == ""
        assert json.loads(await recv(ws)) == {"returned": 0}
        await ws.send(json.dumps({"via": "send", "data": "", "binary": True}))
        assert await recv(ws) == b""
        assert json.loads(await recv(ws)) == {"returned": 0}


@pytest.mark.parametrize(
    ("path", "via"),
    [
        ("t/hs/pub/{}/", "ws"),
        ("t/hs/pub/{}/", "endpoint"),
        ("t/hs/pub/{}/", "bunws"),
        ("t/hs/pub/{}/", "apublish"),
        ("t/hs/pub-sync/{}/", "ws"),
        ("t/hs/pub-sync/{}/", "endpoint"),
        ("t/hs/pub-sync/{}/", "bunws"),
    ],
)
async def test_empty_publish_reaches_another_subscriber(
    server: Server, path: str, via: str
) -> None:
    room = f"empty-{via}-{'sync' if 'sync' in path else 'async'}"

    async with (
        await connect(server, path.format(room)) as sender,
        await connect(server, path.format(room)) as other,
    ):
        # The sender's reply proves its own open ran; ask the other the same before publishing.
        assert await command(other, "send", "ready") == 5
        assert await command(sender, via, "") == 0  # Bun: the byte count, 0 for empty
        assert await recv(other) == ""
        assert await command(sender, via, "", binary=True) == 0
        assert await recv(other) == b""
        await sender.send(json.dumps({"via": via, "data": "fence"}))
        assert await recv(other) == "fence"  # nothing else came before it
        await expect_silence(other, 0.1)
