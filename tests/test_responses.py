"""The 426 Upgrade Required response: status, upgrade headers, JSON or text by Accept."""

from __future__ import annotations

import json
import logging

import pytest
from django.test import Client, RequestFactory

from bunws import diagnosis as d
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
    }


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
