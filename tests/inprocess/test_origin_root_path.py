"""An endpoint's ``allowed_origins`` holds in process under a ``root_path`` (as a server started
with ``--root-path`` calls bunws), and an ASGI app routed beside bunws never sees an origin that
only an endpoint allows (``OriginCheck`` still guards it)."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.routing import URLRouter
from django.urls import path

from bunws import OriginCheck, websocket_urlpatterns
from bunws.testing import AsyncSocketClient, HandshakeRefused, SocketClient, bunws_application

GOOD = "https://good.example"
EVIL = "http://evil.example"


def under_root_path(application: Any, root_path: str) -> Any:
    """``application`` as a server started with ``--root-path`` calls it."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await application(dict(scope, root_path=root_path), receive, send)

    return app


@pytest.mark.django_db
def test_endpoint_origins_hold_under_a_root_path() -> None:
    app = under_root_path(bunws_application(), "/app")
    with pytest.raises(HandshakeRefused) as refusal:
        SocketClient("/app/s/strict/", application=app, origin=EVIL).connect()
    assert refusal.value.reason == "origin_not_allowed"
    assert refusal.value.endpoint == "s-strict"
    with pytest.raises(HandshakeRefused):
        SocketClient("/app/s/strict/", application=app, origin="http://testserver").connect()
    with SocketClient("/app/s/strict/", application=app, origin=GOOD) as ws:
        ws.send("in")
        assert ws.receive() == "in"


@pytest.mark.django_db
def test_an_asgi_app_beside_bunws_never_sees_an_origin_only_an_endpoint_allows() -> None:
    seen: list[str] = []

    async def accepting(scope: dict[str, Any], receive: Any, send: Any) -> None:
        event = await receive()
        seen.append(event["type"])
        if event["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
            await receive()

    app = OriginCheck(URLRouter([path("raw/", accepting), *websocket_urlpatterns()]))  # type: ignore[arg-type]

    async def scenario() -> None:
        with pytest.raises(HandshakeRefused) as refusal:
            await AsyncSocketClient("raw/", application=app, origin=GOOD).connect()
        assert refusal.value.reason == "origin_not_allowed"
        assert seen == ["websocket.disconnect"]  # its connect code never ran
        client = await AsyncSocketClient(
            "raw/", application=app, origin="http://testserver"
        ).connect()
        await client.close()

    # Not an async test: under async_to_sync the refusal's row is written through sync_to_async
    # in this thread, inside the test's transaction (an async test would write it from asgiref's
    # executor thread, on another connection).
    async_to_sync(scenario)()
