"""The ``Transport`` interface: every transport says whether its connection is over (``closed``)
and is released with ``aclose()``, so the endpoint app and the shutdown never ask which server
they run on."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.urls import path

from bunws.asgi import app as endpoint_app
from bunws.asgi.transport import RAW_SEND_KEY, AsgiTransport
from bunws.core.frame import Frame
from bunws.core.socket import ServerWebSocket
from bunws.daphne import shutdown
from bunws.daphne import transport as daphne
from bunws.endpoint import Endpoint


class Recorder:
    """An ASGI ``send`` that keeps what it was given."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


def test_asgi_transport_is_closed_once_its_close_frame_went_out() -> None:
    async def main() -> None:
        send = Recorder()
        transport = AsgiTransport(send)
        await transport.accept([])
        transport.write(Frame("hi"))
        await asyncio.sleep(0)
        assert transport.closed is False
        transport.close(1000, "done")
        for _ in range(3):
            await asyncio.sleep(0)
        assert transport.closed is True
        assert send.sent[-1] == {"type": "websocket.close", "code": 1000, "reason": "done"}
        await transport.aclose()

    asyncio.run(asyncio.wait_for(main(), 5))


def test_asgi_transport_aclose_stops_the_writer_and_ends_the_connection() -> None:
    async def main() -> None:
        transport = AsgiTransport(Recorder())
        await transport.accept([])
        await transport.aclose()
        assert transport.closed is True
        assert transport._writer is not None and transport._writer.done()
        transport.write(Frame("late"))  # dropped, not queued for a writer that is gone
        assert not transport._queue

    asyncio.run(asyncio.wait_for(main(), 5))


def fake_protocol(state: str) -> Any:
    """The few attributes of autobahn's protocol that ``DaphneTransport.closed`` reads."""
    return SimpleNamespace(state=state, STATE_OPEN="open", STATE_CLOSED="closed")


@pytest.mark.parametrize(
    ("state", "closed"), [("open", False), ("closing", False), ("closed", True)]
)
def test_daphne_transport_is_closed_only_once_autobahn_closed_the_connection(
    state: str, closed: bool
) -> None:
    transport = daphne.DaphneTransport(fake_protocol(state))
    assert transport.closed is closed
    asyncio.run(transport.aclose())  # daphne owns the connection: nothing to release
    assert transport.closed is closed


def test_the_raw_send_key_belongs_to_the_asgi_layer() -> None:
    """``OriginCheck`` (ASGI layer) stores the server's send; the daphne transport reads it."""
    assert daphne.RAW_SEND_KEY is RAW_SEND_KEY


def noop(ws: ServerWebSocket) -> None:
    """An ``open`` handler: an endpoint needs one handler."""


class FakeSocket:
    """What the shutdown uses of a socket: its endpoint and ``close``."""

    def __init__(self, endpoint: Endpoint, closes: list[tuple[int, str]] | None = None) -> None:
        self.endpoint = endpoint
        self.closes = closes if closes is not None else []

    def close(self, code: int, reason: str) -> None:
        self.closes.append((code, reason))


def test_shutdown_waits_for_the_socket_to_leave_and_its_transport_to_close() -> None:
    ep = Endpoint("shutdown-wait/", websocket={"open": noop}, name="shutdown-wait")
    ws = FakeSocket(ep)
    transport: Any = SimpleNamespace(closed=False)
    ep.sockets[ws] = transport
    assert not shutdown._finished(ws, transport)
    del ep.sockets[ws]
    assert not shutdown._finished(ws, transport)  # left its endpoint, connection still closing
    transport.closed = True
    assert shutdown._finished(ws, transport)


def test_shutdown_closes_every_socket_and_hands_back_its_transport(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ep = Endpoint("shutdown-close/", websocket={"open": noop}, name="shutdown-close")
    closes: list[tuple[int, str]] = []
    ws = FakeSocket(ep, closes)
    transport: Any = SimpleNamespace(closed=False)
    ep.sockets[ws] = transport
    monkeypatch.setattr(shutdown, "endpoints", lambda: [ep])
    assert shutdown.close_all() == [(ws, transport)]
    assert closes == [(1001, "server shutting down")]


class CountingTransport(AsgiTransport):
    """An ``AsgiTransport`` that counts its ``aclose`` calls and reports itself for the app."""

    acloses = 0

    async def aclose(self) -> None:
        type(self).acloses += 1
        await super().aclose()


def test_the_endpoint_app_acloses_whatever_transport_it_got(
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
        endpoint_app, "daphne_transport", lambda scope, send, limit: CountingTransport(send)
    )

    async def main() -> None:
        application = URLRouter([path(ep.route, endpoint_app.EndpointApp(ep))])  # type: ignore[arg-type]
        communicator = WebsocketCommunicator(application, "/iface/")
        assert (await communicator.connect(2))[0] is True
        await communicator.send_to(text_data="which")
        assert await communicator.receive_from(2) == "ok"
        await communicator.disconnect()
        await communicator.wait(2)

    asyncio.run(asyncio.wait_for(main(), 10))
    assert [type(t) for t in seen] == [CountingTransport]
    assert CountingTransport.acloses == 1
    assert not ep.sockets
