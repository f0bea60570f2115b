"""fetch's own answer to a declined handshake and subprotocols, in process: ``bunws.testing``
(which offers ASGI's ``websocket.http.response`` extension, as bunws gives on daphne) and a bare
Channels communicator (which does not: the logged fallback to 403)."""

from __future__ import annotations

import json
import logging

import pytest
from channels.testing import WebsocketCommunicator

from bunws.asgi import fallback
from bunws.testing import HandshakeRefused, SocketClient, bunws_application

pytestmark = pytest.mark.django_db


def test_handshake_refused_carries_fetchs_status_headers_and_body() -> None:
    with pytest.raises(HandshakeRefused, match="daphne answers HTTP 401") as refusal:
        SocketClient("t/answer/auth/").connect()
    refused = refusal.value
    assert (refused.status, refused.reason, refused.endpoint) == (401, "fetch_declined", "t-answer")
    assert ("WWW-Authenticate", 'Bearer realm="chat"') in refused.headers
    assert [v for k, v in refused.headers if k == "Set-Cookie"] == [
        "seen=1; Path=/",
        'next="/chat/"; Path=/',
    ]
    assert refused.body == b"Log in first."


def test_a_json_403_and_a_429_come_through_whole() -> None:
    with pytest.raises(HandshakeRefused) as json_403:
        SocketClient("t/answer/json/").connect()
    assert json_403.value.status == 403
    assert json.loads(json_403.value.body)["detail"] == "members only: é ✓"
    with pytest.raises(HandshakeRefused) as too_many:
        SocketClient("t/answer/slow/").connect()
    assert (too_many.value.status, dict(too_many.value.headers)["Retry-After"]) == (429, "30")


def test_a_decline_without_a_response_is_still_a_bare_403() -> None:
    with pytest.raises(HandshakeRefused) as refusal:
        SocketClient("t/answer/none/").connect()
    assert (refusal.value.status, refusal.value.body, refusal.value.code) == (403, b"", 1000)


@pytest.mark.django_db(transaction=True)  # the refusal's row is written from another thread
async def test_a_server_without_the_denial_extension_gets_403_and_one_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fallback.reset()
    headers = [(b"host", b"testserver")]
    caplog.set_level(logging.WARNING, logger="bunws")
    for _ in range(2):
        communicator = WebsocketCommunicator(bunws_application(), "/t/answer/auth/", headers)
        assert await communicator.connect() == (False, 1000)  # the ASGI close: 403
        await communicator.wait()
    lines = [r.getMessage() for r in caplog.records if "needs daphne" in r.getMessage()]
    assert lines == [
        "bunws: fetch's own response to a refused handshake needs daphne, and this socket is "
        "not served by daphne: the client gets 403 (the ASGI close before accept) instead of "
        "fetch's status, headers and body"
    ]


def test_subprotocols_are_selected_through_the_communicator() -> None:
    with SocketClient("t/proto/auto/", subprotocols=["chat.v1", "chat.v2"]) as ws:
        assert ws.subprotocol == "chat.v2"
        assert ws.receive_json() == {"protocol": "chat.v2"}
    with SocketClient("t/proto/pick/?pick=chat.v1", subprotocols=["chat.v2", "chat.v1"]) as ws:
        assert (ws.subprotocol, ws.receive_json()) == ("chat.v1", {"protocol": "chat.v1"})
    with SocketClient("t/proto/auto/", subprotocols=["x"]) as ws:
        assert (ws.subprotocol, ws.receive_json()) == (None, {"protocol": ""})


def test_selecting_an_unoffered_subprotocol_is_refused_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with pytest.raises(HandshakeRefused) as refusal:
        SocketClient("t/proto/pick/?pick=chat.v3", subprotocols=["chat.v1"]).connect()
    assert (refusal.value.reason, refusal.value.status) == ("fetch_declined", 403)
    [record] = [r for r in caplog.records if "raised; handshake refused" in r.getMessage()]
    assert "which the client did not offer (it offered 'chat.v1')" in str(record.exc_info[1])
