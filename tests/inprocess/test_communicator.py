"""An endpoint driven in process, without daphne: through Channels' ``WebsocketCommunicator`` (the
server-neutral ``AsgiTransport`` path, with Channels' URLRouter as on a real server) and through
``bunws.testing``'s client."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.test import override_settings
from django.urls import path

from bunws.asgi import app as endpoint_app
from bunws.asgi.app import EndpointApp
from bunws.asgi.transport import AsgiTransport
from bunws.core.socket import ServerWebSocket
from bunws.endpoint import Endpoint
from bunws.testing import AsyncSocketClient

pytestmark = pytest.mark.timeout(15, func_only=True)

Events = list[tuple[str, Any]]


def endpoint(events: Events, **options: Any) -> Endpoint:
    """An echo endpoint recording its close and drain calls in ``events``."""

    async def message(ws: ServerWebSocket, message: str | bytes) -> None:
        if message == "close-me":
            ws.close(4001, "bye")
        elif isinstance(message, str) and message.startswith("burst "):
            codes = [ws.send(b"x" * 40_000) for _ in range(int(message.split()[1]))]
            events.append(("codes", codes))
        else:
            ws.send(message)

    def close(ws: ServerWebSocket, code: int, reason: str) -> None:
        events.append(("close", (code, reason)))

    def drain(ws: ServerWebSocket) -> None:
        events.append(("drain", ws.buffered_amount))

    handlers = {"message": message, "close": close, "drain": drain}
    return Endpoint("c/", websocket={**handlers, **options}, name="communicator")


@contextlib.asynccontextmanager
async def communicating(ep: Endpoint) -> AsyncIterator[WebsocketCommunicator]:
    """A communicator to ``ep`` from client 10.0.0.1, routed by Channels' URLRouter; at the end,
    waits for the endpoint's app to finish."""
    application = URLRouter([path(ep.route, EndpointApp(ep))])  # type: ignore[arg-type]
    communicator = WebsocketCommunicator(application, "/c/")
    communicator.scope["client"] = ["10.0.0.1", 5000]
    try:
        yield communicator
    finally:
        await communicator.wait(2)


async def test_echo_keeps_type_and_client_code_reaches_close() -> None:
    events: Events = []

    async with communicating(endpoint(events)) as c:
        assert await c.connect(2) == (True, None)
        await c.send_to(text_data="héllo")
        assert await c.receive_from(2) == "héllo"
        await c.send_to(bytes_data=b"\x00\x01")
        assert await c.receive_output(2) == {"type": "websocket.send", "bytes": b"\x00\x01"}
        await c.disconnect(4000)
    assert events == [("close", (4000, ""))]


async def test_disconnect_without_a_code_gives_1005() -> None:
    events: Events = []

    async with communicating(endpoint(events)) as c:
        await c.connect(2)
        await c.send_input({"type": "websocket.disconnect"})  # no "code" key at all
    assert events == [("close", (1005, ""))]


async def test_server_close_sends_code_and_reason_through_asgi() -> None:
    events: Events = []

    async with communicating(endpoint(events)) as c:
        await c.connect(2)
        await c.send_to(text_data="close-me")
        assert await c.receive_output(2) == {
            "type": "websocket.close",
            "code": 4001,
            "reason": "bye",
        }
        await c.disconnect(4001)
    assert events == [("close", (4001, "bye"))]


async def test_oversize_message_closes_with_1009() -> None:
    events: Events = []

    async with communicating(endpoint(events, max_payload_length=10)) as c:
        await c.connect(2)
        await c.send_to(bytes_data=b"x" * 11)
        output = await c.receive_output(2)
        assert (output["type"], output["code"]) == ("websocket.close", 1009)
        await c.disconnect(1009)
    assert events == [("close", (1009, "message of 11 bytes exceeds 10"))]


async def test_idle_socket_is_closed_by_the_sweeper_with_1001() -> None:
    events: Events = []

    async with communicating(endpoint(events, idle_timeout=1)) as c:
        await c.connect(2)
        loop = asyncio.get_running_loop()
        started = loop.time()
        output = await c.receive_output(3)
        assert output == {"type": "websocket.close", "code": 1001, "reason": "idle timeout"}
        assert 0.9 <= loop.time() - started <= 1.6
        await c.disconnect(1001)
    assert events == [("close", (1001, "idle timeout"))]


async def test_asgi_transport_reports_backpressure_and_drains() -> None:
    """Without daphne, bunws counts its own queue: past 64 KiB unsent, send returns -1,
    past backpressure_limit 0; drain runs once the writer task emptied the queue."""
    events: Events = []

    async with communicating(endpoint(events, backpressure_limit=150_000)) as c:
        await c.connect(2)
        await c.send_to(text_data="burst 8")
        for _ in range(4):  # 40,000, then three queued behind backpressure (limit 150,000)
            assert len((await c.receive_output(2))["bytes"]) == 40_000
        assert await c.receive_nothing(0.1)
        await c.disconnect()
    assert events[0] == ("codes", [40_000, -1, -1, -1, 0, 0, 0, 0])
    assert events[1] == ("drain", 0)


@override_settings(BUNWS={"MAX_MESSAGES_PER_SECOND": 5})
async def test_message_rate_over_the_setting_closes_with_1008(
    caplog: pytest.LogCaptureFixture,
) -> None:
    events: Events = []

    async with communicating(endpoint(events)) as c:
        await c.connect(2)
        for i in range(6):
            await c.send_to(text_data=f"m{i}")
        assert [await c.receive_from(2) for _ in range(5)] == [f"m{i}" for i in range(5)]
        output = await c.receive_output(2)
        assert (output["code"], output["reason"]) == (1008, "too many messages per second")
        await c.disconnect(1008)
    assert "more than 5 messages in one second" in caplog.text
    assert "10.0.0.1" in caplog.text


@override_settings(BUNWS={"MAX_SOCKETS_PER_CLIENT": 1})
async def test_second_socket_from_one_address_is_refused(caplog: pytest.LogCaptureFixture) -> None:
    events: Events = []
    ep = endpoint(events)

    application = URLRouter([path(ep.route, EndpointApp(ep))])  # type: ignore[arg-type]
    first, second, other = (WebsocketCommunicator(application, "/c/") for _ in range(3))
    first.scope["client"] = second.scope["client"] = ["10.0.0.2", 1]
    other.scope["client"] = ["10.0.0.3", 1]
    assert (await first.connect(2))[0] is True
    assert await second.connect(2) == (False, 1008)  # refused before the handshake
    assert (await other.connect(2))[0] is True
    await first.disconnect()
    await other.disconnect()
    await second.wait(2)
    again = WebsocketCommunicator(application, "/c/")
    again.scope["client"] = ["10.0.0.2", 2]
    assert (await again.connect(2))[0] is True  # the slot was released
    await again.disconnect()
    assert "MAX_SOCKETS_PER_CLIENT" in caplog.text and "10.0.0.2" in caplog.text


async def test_asgi_transport_is_used_off_daphne() -> None:
    seen: list[type] = []

    async def message(ws: ServerWebSocket, message: str | bytes) -> None:
        seen.append(type(ws._transport))
        ws.send("ok")

    ep = Endpoint("c/", websocket={"message": message}, name="communicator-kind")

    async with communicating(ep) as c:
        await c.connect(2)
        await c.send_to(text_data="which")
        assert await c.receive_from(2) == "ok"
        await c.disconnect()
    assert seen == [AsgiTransport]


@pytest.mark.django_db(transaction=True)
async def test_endpoint_enforces_its_own_allowed_origins_without_origin_check() -> None:
    """The endpoint's list is checked by the endpoint itself, however it is routed or wrapped."""
    events: Events = []
    ep = endpoint(events)
    ep.allowed_origins = ("https://good.example",)  # as bunws.serve(..., allowed_origins=...)

    application = URLRouter([path("prefix/", URLRouter([path(ep.route, EndpointApp(ep))]))])  # type: ignore[arg-type]
    for origin, accepted in ((b"http://evil.example", False), (b"https://good.example", True)):
        communicator = WebsocketCommunicator(application, "/prefix/c/", [(b"origin", origin)])
        communicator.scope["client"] = ["10.0.0.1", 5000]
        connected, _ = await communicator.connect(2)
        assert connected is accepted, origin
        if connected:
            await communicator.disconnect()
        await communicator.wait(2)


async def test_empty_messages_cross_the_asgi_transport_in_process() -> None:
    """Off daphne (``bunws.testing``, any ASGI server) the ASGI ``websocket.send`` carries them
    (issue 10, item 4). The test has its own loop, closed afterwards: the sync client's shared
    loop would stay bound as this process's socket loop and change where later tests' publishes
    go."""
    async with AsyncSocketClient("t/echo/") as ws:
        await ws.send("")
        assert await ws.receive(timeout=5) == ""
        await ws.send(b"")
        assert await ws.receive(timeout=5) == b""


class CountingTransport(AsgiTransport):
    """An ``AsgiTransport`` that counts its ``aclose`` calls and reports itself for the app."""

    acloses = 0

    async def aclose(self) -> None:
        type(self).acloses += 1
        await super().aclose()


@pytest.mark.timeout(10, func_only=True)
async def test_the_endpoint_app_acloses_whatever_transport_it_got(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Not only ``AsgiTransport``: the app calls ``aclose()`` on every transport, and registers
    each socket with its transport in ``Endpoint.sockets`` while it is open."""
    seen: list[Any] = []

    async def message(ws: ServerWebSocket, data: str | bytes) -> None:
        seen.extend(ws.endpoint.sockets.values())
        ws.send("ok")

    ep = Endpoint("iface/", websocket={"message": message}, name="transport-interface")
    monkeypatch.setattr(
        endpoint_app, "daphne_transport", lambda scope, send, *_: CountingTransport(send)
    )

    application = URLRouter([path(ep.route, endpoint_app.EndpointApp(ep))])  # type: ignore[arg-type]
    communicator = WebsocketCommunicator(application, "/iface/")
    assert (await communicator.connect(2))[0] is True
    await communicator.send_to(text_data="which")
    assert await communicator.receive_from(2) == "ok"
    await communicator.disconnect()
    await communicator.wait(2)
    assert [type(t) for t in seen] == [CountingTransport]
    assert CountingTransport.acloses == 1
    assert not ep.sockets
