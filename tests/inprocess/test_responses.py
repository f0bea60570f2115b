"""The 426 Upgrade Required response: status, upgrade headers, JSON or text by Accept."""

from __future__ import annotations

import json
import logging

import pytest
from django.test import Client, RequestFactory, override_settings

from bunws.core import diagnosis as d
from bunws.responses import upgrade_required

DIAG = d.diagnose("GET", {})


def _response(accept: str | None) -> tuple[int, dict[str, str], str]:
    extra = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = RequestFactory().get("/ws/chat/", **extra)
    response = upgrade_required(request, DIAG, endpoint="chat")
    return response.status_code, dict(response.headers), response.content.decode("utf-8")


def test_status_is_426_with_upgrade_headers() -> None:
    status, headers, _ = _response(None)
    assert status == 426
    assert headers["Upgrade"] == "websocket"
    assert headers["Connection"] == "Upgrade"
    assert headers["Sec-WebSocket-Version"] == "13"
    assert "Accept" in headers["Vary"]


@pytest.mark.parametrize(
    "accept",
    [
        None,
        "*/*",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "text/plain, application/json;q=0.5",
        "application/json;q=0",
    ],
)
def test_text_body_explains_what_to_do(accept: str | None) -> None:
    _, headers, body = _response(accept)
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert "/ws/chat/" in body
    assert "'chat'" in body
    assert DIAG.summary in body
    assert DIAG.hint in body
    assert "ws://testserver/ws/chat/" in body


@pytest.mark.parametrize(
    "accept", ["application/json", "application/json, text/plain;q=0.5", "*/*, application/json"]
)
def test_json_body_when_client_asks_for_json(accept: str) -> None:
    _, headers, body = _response(accept)
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert json.loads(body) == {
        "error": "upgrade_required",
        "reason": d.NO_UPGRADE_HEADER,
        "detail": DIAG.summary,
        "hint": DIAG.hint,
        "endpoint": "chat",
        "path": "/ws/chat/",
        "url": "ws://testserver/ws/chat/",
    }


def test_text_body_says_each_thing_once_and_ends_with_the_url() -> None:
    """The endpoint is named once, in a sentence that gives the URL to connect to."""
    _, _, body = _response(None)
    assert body.count("WebSocket endpoint") == 1, body
    assert body.count("/ws/chat/") == 1, body
    assert body.rstrip().endswith("ws://testserver/ws/chat/"), body
    assert "'chat'" in body


def test_url_keeps_the_script_prefix_and_drops_the_query() -> None:
    request = RequestFactory().get("/ws/chat/", {"token": "SECRET"}, SCRIPT_NAME="/app")
    assert request.path == "/app/ws/chat/"
    body = upgrade_required(request, DIAG, endpoint="chat").content.decode()
    assert "ws://testserver/app/ws/chat/" in body
    assert "SECRET" not in body


def test_a_host_outside_allowed_hosts_gets_the_path_without_a_url() -> None:
    request = RequestFactory().get("/ws/chat/", HTTP_HOST="evil.example")
    body = upgrade_required(request, DIAG, endpoint="chat").content.decode()
    assert "evil.example" not in body
    assert body.rstrip().endswith("The WebSocket path is /ws/chat/"), body


@pytest.mark.django_db
def test_a_secure_request_is_told_the_wss_url(client: Client) -> None:
    response = client.get("/t/echo/", secure=True, HTTP_ACCEPT="application/json")
    assert response.status_code == 426
    assert response.json()["url"] == "wss://testserver/t/echo/"
    text = client.get("/t/echo/", secure=True).content.decode()
    assert "wss://testserver/t/echo/" in text


@pytest.mark.django_db
@override_settings(
    SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
    USE_X_FORWARDED_HOST=True,
    ALLOWED_HOSTS=["chat.example"],
)
def test_behind_a_tls_proxy_the_url_is_wss_on_the_forwarded_host(client: Client) -> None:
    response = client.get(
        "/t/echo/",
        HTTP_X_FORWARDED_PROTO="https",
        HTTP_X_FORWARDED_HOST="chat.example",
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 426
    assert response.json()["url"] == "wss://chat.example/t/echo/"


@pytest.mark.django_db
def test_a_failed_upgrade_is_logged_once_by_bunws_not_again_by_django_request(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        response = client.get("/t/echo/")
    assert response.status_code == 426
    assert [record.name for record in caplog.records] == ["bunws"]
    assert "reason=no_upgrade_header" in caplog.records[0].getMessage()


@pytest.mark.django_db(transaction=True)  # so in_atomic_block reflects only the view's
@pytest.mark.parametrize("atomic_requests", [False, True])
def test_a_sync_fetch_queries_the_database_through_the_async_view(
    client: Client, monkeypatch: pytest.MonkeyPatch, atomic_requests: bool
) -> None:
    """Django refuses ATOMIC_REQUESTS around async views; bunws's view opts out of it and runs a
    sync fetch inside transaction.atomic instead, so such projects keep working."""
    from django.db import connections

    monkeypatch.setitem(connections.settings["default"], "ATOMIC_REQUESTS", atomic_requests)
    response = client.get("/t/ormfetch/")
    assert response.status_code == 400
    assert response.content.decode() == f"users=0 atomic={atomic_requests}"
