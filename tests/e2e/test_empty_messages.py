"""Empty messages (issue 10, item 4): RFC 6455 allows an empty text or binary message, Bun echoes
them, and the protocol suite's cases 1.1.1, 1.2.1, 6.1.1, 6.1.2, 9.7.1 and 9.8.1 send them. They
must travel both ways and on publish; as in Bun, sending one returns its byte count, 0."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from bunws.cluster import publish as pubsub
from bunws.core.frame import Frame, encode_frame
from bunws.core.hub import Hub
from bunws.testing import AsyncSocketClient
from tests.support.clients import connect, expect_silence, recv, run
from tests.support.fakes import make_socket
from tests.support.servers import Server


async def command(ws: ClientConnection, via: str, data: str, binary: bool = False) -> Any:
    """Ask a ``t/hs/pub*`` socket to send or publish ``data``; the call's return value."""
    await ws.send(json.dumps({"via": via, "data": data, "binary": binary}))
    while True:
        message = await recv(ws)
        if isinstance(message, str) and message.startswith('{"returned"'):
            return json.loads(message)["returned"]


# -- without a server -----------------------------------------------------------------------


def test_an_empty_frame_is_two_header_bytes() -> None:
    """RFC 6455 5.2: FIN + opcode, then a zero payload length and no payload."""
    assert encode_frame(b"", binary=False) == b"\x81\x00"
    assert Frame(b"").wire() == b"\x82\x00"
    assert Frame("").asgi_message() == {"type": "websocket.send", "text": ""}


def test_send_of_an_empty_payload_writes_it_and_returns_zero_as_bun() -> None:
    ws, transport = make_socket()
    assert ws.send("") == 0
    assert ws.send(b"") == 0
    assert ws.send_text("") == 0
    assert ws.send_binary(bytearray()) == 0
    assert transport.texts() == ["", b"", "", b""]
    assert [frame.binary for batch in transport.writes for frame in batch] == [
        False,
        True,
        False,
        True,
    ]


def test_publish_of_an_empty_payload_reaches_the_other_subscribers() -> None:
    hub = Hub()
    sender, _ = make_socket(hub)
    other, transport = make_socket(hub)
    sender.subscribe("room")
    other.subscribe("room")
    original = pubsub.hub
    pubsub.hub = hub  # type: ignore[misc]
    try:
        assert sender.publish("room", "") == 0
        assert sender.publish("room", b"") == 0
    finally:
        pubsub.hub = original  # type: ignore[misc]
    assert transport.texts() == ["", b""]


def test_empty_messages_cross_the_asgi_transport_in_process() -> None:
    """Off daphne (``bunws.testing``, any ASGI server) the ASGI ``websocket.send`` carries them."""

    async def scenario() -> None:
        async with AsyncSocketClient("t/echo/") as ws:
            await ws.send("")
            assert await ws.receive(timeout=5) == ""
            await ws.send(b"")
            assert await ws.receive(timeout=5) == b""

    # Its own short-lived loop: the sync client's shared loop would stay bound as this
    # process's socket loop and change where later tests' publishes go.
    asyncio.run(scenario())


# -- through daphne -------------------------------------------------------------------------


def test_empty_text_and_binary_messages_are_echoed_with_their_type(server: Server) -> None:
    """Cases 1.1.1 and 1.2.1: the handler receives ``""`` / ``b""`` and its echo arrives."""

    async def scenario() -> None:
        async with await connect(server, "t/echo/") as ws:
            await ws.send("")
            assert await recv(ws) == ""
            await ws.send(b"")
            assert await recv(ws) == b""
            await ws.send("after")
            assert await recv(ws) == "after"

    run(scenario())


@pytest.mark.parametrize("path", ["t/hs/pub/{}/", "t/hs/pub-sync/{}/"])
def test_empty_send_arrives_and_returns_zero_from_async_and_sync_handlers(
    server: Server, path: str
) -> None:
    async def scenario() -> None:
        async with await connect(server, path.format("empty-send")) as ws:
            await ws.send(json.dumps({"via": "send", "data": ""}))
            assert await recv(ws) == ""
            assert json.loads(await recv(ws)) == {"returned": 0}
            await ws.send(json.dumps({"via": "send", "data": "", "binary": True}))
            assert await recv(ws) == b""
            assert json.loads(await recv(ws)) == {"returned": 0}

    run(scenario())


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
def test_empty_publish_reaches_another_subscriber(server: Server, path: str, via: str) -> None:
    room = f"empty-{via}-{'sync' if 'sync' in path else 'async'}"

    async def scenario() -> None:
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

    run(scenario())
