"""Where daphne is not the server (here Channels' communicator), pings, pongs and pause fall back
cleanly: the ping and pong handlers never run, ``ws.pause()`` does nothing, ``ws.ping()`` and
``ws.pong()`` send nothing and return 0, messages flow on, and each is said once in the log."""

from __future__ import annotations

import json
import logging

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.urls import path

from bunws.asgi import fallback
from bunws.asgi.app import EndpointApp
from bunws.core.socket import ServerWebSocket
from bunws.endpoint import Endpoint

pings: list[bytes] = []


async def on_ping(ws: ServerWebSocket, data: bytes) -> None:
    pings.append(data)


async def on_message(ws: ServerWebSocket, message: str | bytes) -> None:
    ws.pause()
    status = {"paused": ws.is_paused, "ping": ws.ping(b"x"), "pong": ws.pong(b"y")}
    ws.send(json.dumps({"echo": message, **status}))


async def test_pings_pongs_and_pause_fall_back_and_say_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fallback.reset()
    ep = Endpoint(
        "ctl-fallback/",
        websocket={"message": on_message, "ping": on_ping, "pong": on_ping},
        name="ctl-fallback",
    )
    application = URLRouter([path(ep.route, EndpointApp(ep))])  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="bunws"):
        communicator = WebsocketCommunicator(application, "/ctl-fallback/")
        assert (await communicator.connect(2))[0] is True
        for text in ("one", "two"):  # paused, yet the second message still arrives
            await communicator.send_to(text_data=text)
            answer = json.loads(await communicator.receive_from(2))
            assert answer == {"echo": text, "paused": False, "ping": 0, "pong": 0}
        await communicator.disconnect()
        await communicator.wait(2)
    lines = [r.getMessage() for r in caplog.records if "needs daphne" in r.getMessage()]
    assert lines == [
        "bunws: a ping or pong handler needs daphne, and this socket is not served by daphne: "
        "the server answers pings itself and the handlers are never called",
        "bunws: ws.pause() needs daphne, and this socket is not served by daphne: reading goes "
        "on and ws.is_paused stays False",
        "bunws: sending a ping or pong (ws.ping, ws.pong) needs daphne, and this socket is not "
        "served by daphne: nothing is sent and they return 0; an idle socket is closed after "
        "idle_timeout without a ping first",
    ]
    assert pings == []
    fallback.reset()
