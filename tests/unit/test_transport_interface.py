"""The ``Transport`` interface: every transport says whether its connection is over (``closed``)
and is released with ``aclose()``, so the endpoint app and the shutdown never ask which server
they run on. (That the endpoint app acloses any transport is shown in process, in
``tests/inprocess/test_communicator.py``.)"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from bunws.asgi.transport import RAW_SEND_KEY, AsgiTransport
from bunws.core.frame import Frame
from bunws.core.socket import ServerWebSocket
from bunws.daphne import shutdown
from bunws.daphne import transport as daphne
from bunws.endpoint import Endpoint
from tests.support.autobahn import FakeProtocol


class Recorder:
    """An ASGI ``send`` that keeps what it was given."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


@pytest.mark.timeout(5, func_only=True)
async def test_asgi_transport_is_closed_once_its_close_frame_went_out() -> None:
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


@pytest.mark.timeout(5, func_only=True)
async def test_asgi_transport_aclose_stops_the_writer_and_ends_the_connection() -> None:
    transport = AsgiTransport(Recorder())
    await transport.accept([])
    await transport.aclose()
    assert transport.closed is True
    assert transport._writer is not None and transport._writer.done()
    transport.write(Frame("late"))  # dropped, not queued for a writer that is gone
    assert not transport._queue


@pytest.mark.parametrize(
    ("state", "closed"), [("STATE_OPEN", False), ("STATE_CLOSING", False), ("STATE_CLOSED", True)]
)
async def test_daphne_transport_is_closed_only_once_autobahn_closed_the_connection(
    state: str, closed: bool
) -> None:
    protocol = FakeProtocol()
    protocol.state = getattr(protocol, state)
    transport = daphne.DaphneTransport(protocol)
    assert transport.closed is closed
    await transport.aclose()  # daphne owns the connection: nothing to release
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
