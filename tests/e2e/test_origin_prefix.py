"""An endpoint's ``allowed_origins`` holds however bunws's routes are mounted: under a URL prefix
(a nested ``URLRouter``) or a ``root_path``, the origin is decided for the endpoint that serves
the socket, and ``OriginCheck`` still guards Channels consumers that are not bunws endpoints."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
import websockets
from asgiref.sync import async_to_sync
from channels.routing import URLRouter
from django.urls import path

from bunws import OriginCheck, websocket_urlpatterns
from bunws.testing import AsyncSocketClient, HandshakeRefused, SocketClient, bunws_application
from tests.support.clients import connect, recv, run
from tests.support.servers import Server, daphne_server

GOOD = "https://good.example"
EVIL = "http://evil.example"


@pytest.fixture(scope="module")
def prefixed(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """daphne serving ``tests/e2eapp/asgi_prefixed.py`` (bunws under ``ws/``) on the session
    server's database."""
    tmp = tmp_path_factory.mktemp("prefixed")
    with daphne_server(
        tmp, db_path=server.db_path, application="tests.e2eapp.asgi_prefixed:application"
    ) as running:
        yield running


def status_of_refusal(server: Server, path: str, origin: str) -> int:
    async def scenario() -> int:
        with pytest.raises(websockets.InvalidStatus) as refusal:
            await connect(server, path, origin=origin)
        return int(refusal.value.response.status_code)

    return int(run(scenario()))


def echoes(server: Server, path: str, origin: str) -> bool:
    async def scenario() -> bool:
        async with await connect(server, path, origin=origin) as ws:
            await ws.send("in")
            return await recv(ws) == "in"

    return bool(run(scenario()))


def origin_rows(server: Server, path: str) -> list[dict[str, Any]]:
    with sqlite3.connect(server.db_path, timeout=10) as db:
        db.row_factory = sqlite3.Row
        cursor = db.execute(
            "SELECT * FROM bunws_failedupgrade WHERE path = ? AND reason = 'origin_not_allowed'",
            (path,),
        )
        return [dict(row) for row in cursor]


# -- through daphne, bunws mounted under ws/ ---------------------------------------------------


def test_endpoint_origins_refuse_other_sites_under_a_url_prefix(prefixed: Server) -> None:
    assert status_of_refusal(prefixed, "ws/s/strict/", EVIL) == 403
    [row] = origin_rows(prefixed, "/ws/s/strict/")
    assert (row["endpoint"], row["origin"]) == ("s-strict", EVIL)
    assert echoes(prefixed, "ws/s/strict/", GOOD)


def test_endpoint_origins_refuse_even_the_own_host_under_a_url_prefix(prefixed: Server) -> None:
    """ALLOWED_HOSTS would admit the server's own host; the endpoint's list does not."""
    own_host = f"http://127.0.0.1:{prefixed.port}"
    assert status_of_refusal(prefixed, "ws/s/strict/", own_host) == 403


def test_settings_origins_apply_under_a_url_prefix(prefixed: Server) -> None:
    assert status_of_refusal(prefixed, "ws/t/echo/", GOOD) == 403
    assert echoes(prefixed, "ws/t/echo/", f"http://127.0.0.1:{prefixed.port}")


def test_a_channels_consumer_beside_bunws_keeps_the_settings_origin_check(
    prefixed: Server,
) -> None:
    """good.example passes an endpoint's own list, not the settings: a plain consumer refuses it."""
    assert status_of_refusal(prefixed, "plain/", GOOD) == 403
    assert status_of_refusal(prefixed, "plain/", EVIL) == 403
    [row] = origin_rows(prefixed, "/plain/")
    assert row["origin"] == GOOD
    assert echoes(prefixed, "plain/", f"http://127.0.0.1:{prefixed.port}")


# -- in process, with a root_path ------------------------------------------------------------


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

    async_to_sync(scenario)()
