"""bunws.signals, received in process: an endpoint driven through Channels' communicator."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.dispatch import Signal
from django.http import HttpRequest
from django.urls import path

from bunws import signals
from bunws.asgi.app import EndpointApp
from bunws.core import stats
from bunws.core.socket import ServerWebSocket
from bunws.endpoint import Endpoint

pytestmark = pytest.mark.timeout(15, func_only=True)

Received = list[tuple[str, str, dict[str, Any]]]


async def echo(ws: ServerWebSocket, message: str | bytes) -> None:
    if message == "bye":
        ws.close(4001, "asked to")
    else:
        ws.send(message)


def refuse_some(request: HttpRequest, endpoint: Endpoint) -> None:
    if request.GET.get("refuse") != "1":
        endpoint.upgrade(request)


def communicator(name: str, query: str = "") -> WebsocketCommunicator:
    ep = Endpoint("s/", fetch=refuse_some, websocket={"message": echo}, name=name)
    application = URLRouter([path(ep.route, EndpointApp(ep))])  # type: ignore[arg-type]
    c = WebsocketCommunicator(application, "/s/" + query)
    c.scope["client"] = ["10.0.0.9", 5000]
    return c


@pytest.fixture
def received() -> Iterator[Received]:
    """Every bunws signal, recorded by a sync receiver (run in a worker thread) for
    socket_closed and the failures, and an async one (on the loop) for socket_opened."""
    events: Received = []

    async def on_opened(sender: str, **kwargs: Any) -> None:
        events.append(("socket_opened", sender, kwargs))

    def on_other(signal: Signal, sender: str, **kwargs: Any) -> None:
        kwargs["thread"] = threading.current_thread() is threading.main_thread()
        events.append((name_of(signal), sender, kwargs))

    watched = [signals.socket_closed, signals.handshake_refused, signals.failed_upgrade]
    signals.socket_opened.connect(on_opened)
    for signal in watched:
        signal.connect(on_other)
    try:
        yield events
    finally:
        signals.socket_opened.disconnect(on_opened)
        for signal in watched:
            signal.disconnect(on_other)


def name_of(signal: Signal) -> str:
    return next(name for name in signals.__all__ if getattr(signals, name) is signal)


async def test_open_and_close_are_signalled_with_the_socket_and_counted(
    received: Received,
) -> None:
    counts = stats.for_endpoint("sig-open")
    opened, closed = counts.opened, counts.closed
    c = communicator("sig-open")
    assert await c.connect(2) == (True, None)
    await c.send_to(text_data="hi")
    assert await c.receive_from(2) == "hi"
    await c.send_to(text_data="bye")
    assert (await c.receive_output(2))["code"] == 4001
    await c.disconnect(4001)
    await c.wait(2)

    kinds = [(kind, sender) for kind, sender, _ in received]
    assert kinds == [("socket_opened", "sig-open"), ("socket_closed", "sig-open")]
    ws = received[0][2]["ws"]
    assert isinstance(ws, ServerWebSocket)
    closed_kwargs = received[1][2]
    assert closed_kwargs["ws"] is ws
    assert (closed_kwargs["code"], closed_kwargs["reason"]) == (4001, "asked to")
    assert closed_kwargs["thread"] is False  # a sync receiver runs off the socket loop
    assert (counts.opened - opened, counts.closed - closed) == (1, 1)
    assert counts.close_codes.get(4001, 0) >= 1
    assert counts.messages_received >= 2 and counts.messages_sent >= 1


@pytest.mark.django_db(transaction=True)
async def test_a_refused_handshake_is_signalled_as_refused_and_as_a_failed_upgrade(
    received: Received,
) -> None:
    before = stats.process.snapshot()[0].get(("sig-refuse", "fetch_declined"), 0)
    c = communicator("sig-refuse", "?refuse=1")
    connected, _ = await c.connect(2)
    assert connected is False
    await c.wait(2)

    kinds = sorted((kind, sender) for kind, sender, _ in received)
    assert kinds == [("failed_upgrade", "sig-refuse"), ("handshake_refused", "sig-refuse")]
    by_kind = {kind: kwargs for kind, _, kwargs in received}
    assert by_kind["handshake_refused"]["reason"] == "fetch_declined"
    assert by_kind["handshake_refused"]["scope"]["path"] == "/s/"
    failure = by_kind["failed_upgrade"]
    assert (failure["reason"], failure["path"], failure["client"]) == (
        "fetch_declined",
        "/s/",
        "10.0.0.9",
    )
    after = stats.process.snapshot()[0].get(("sig-refuse", "fetch_declined"), 0)
    assert after - before == 1


async def test_a_receiver_that_raises_is_logged_and_the_socket_still_works(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(sender: str, **kwargs: Any) -> None:
        raise RuntimeError("telemetry down")

    signals.socket_opened.connect(broken)
    try:
        c = communicator("sig-broken")
        with caplog.at_level(logging.ERROR, logger="bunws"):
            assert await c.connect(2) == (True, None)
            await c.send_to(text_data="still here")
            assert await c.receive_from(2) == "still here"
        await c.disconnect(1000)
        await c.wait(2)
    finally:
        signals.socket_opened.disconnect(broken)
    assert "telemetry down" in caplog.text


async def test_without_receivers_no_signal_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a signal was sent with nobody listening")

    monkeypatch.setattr(Signal, "asend_robust", refuse)
    monkeypatch.setattr(Signal, "send_robust", refuse)
    assert not signals.socket_opened.receivers and not signals.socket_closed.receivers
    c = communicator("sig-quiet")
    assert await c.connect(2) == (True, None)
    await c.disconnect(1000)
    await c.wait(2)
