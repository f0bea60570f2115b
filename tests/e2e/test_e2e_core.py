"""The core contract through a real daphne process and the ``websockets`` client."""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

import pytest
import websockets

from tests.support.clients import (
    connect,
    expect_silence,
    next_event,
    recv,
    recv_json,
    refusal_status,
)
from tests.support.http import failed_upgrade_rows, http_get
from tests.support.servers import ROOT, Server, django_env

pytestmark = pytest.mark.timeout(30, func_only=True)


async def test_text_and_binary_echo_keep_their_type(server: Server) -> None:
    async with await connect(server, "t/echo/") as ws:
        await ws.send("héllo")
        assert await recv(ws) == "héllo"
        await ws.send(b"\x00\xffbin")
        assert await recv(ws) == b"\x00\xffbin"
        await ws.send("")  # an empty text frame is a valid message, echoed like any other
        assert await recv(ws) == ""
        await ws.send("after-empty")
        assert await recv(ws) == "after-empty"


async def test_fetch_data_becomes_ws_data_and_upgrade_headers_reach_client(server: Server) -> None:
    async with await connect(server, "t/data/blue/?q=x") as ws:
        assert ws.response.headers["X-Bunws-Test"] == "upgraded"
        await ws.send("hi")
        assert await recv_json(ws) == {"room": "blue", "q": "x", "seen": 1}
        await ws.send("again")
        assert (await recv_json(ws))["seen"] == 2  # ws.data is writable and kept


async def test_publish_skips_sender_unless_publish_to_self(server: Server) -> None:
    a = await connect(server, "t/room/pts/")
    b = await connect(server, "t/room/pts/")
    await a.send("?count")
    assert await recv(a) == "count=2"
    await a.send("from a")
    assert await recv(b) == "from a"
    await expect_silence(a)
    c = await connect(server, "t/room-self/pts2/")
    d = await connect(server, "t/room-self/pts2/")
    await c.send("?count")
    assert await recv(c) == "count=2"
    await c.send("from c")
    assert await recv(c) == "from c"
    assert await recv(d) == "from c"
    for ws in (a, b, c, d):
        await ws.close()


async def test_endpoint_publish_and_bunws_publish_reach_every_subscriber(server: Server) -> None:
    a = await connect(server, "t/room/all/")
    b = await connect(server, "t/room/all/")
    await a.send("?count")
    assert await recv(a) == "count=2"
    await a.send("server:hello")
    assert await recv(a) == "server:hello"
    assert await recv(b) == "server:hello"
    await b.send("global:hi")
    assert await recv(a) == "global:hi"
    assert await recv(b) == "global:hi"
    await a.close()
    await b.close()


async def test_subscriber_count_drops_when_a_client_drops(server: Server) -> None:
    a = await connect(server, "t/room/count/")
    b = await connect(server, "t/room/count/")
    await a.send("?count")
    assert await recv(a) == "count=2"
    await b.close()
    await asyncio.sleep(0.2)
    await a.send("?count")
    assert await recv(a) == "count=1"
    await a.close()


async def test_close_handler_gets_the_clients_code_and_reason(server: Server) -> None:
    async with await connect(server, "t/watch/events/") as watch:
        ws = await connect(server, "t/close/")
        await ws.close(4321, "client leaving")
        event = await next_event(watch, "close", "t-close")
        assert event == {
            "event": "close",
            "endpoint": "t-close",
            "code": 4321,
            "reason": "client leaving",
            "subscriptions": [],
            "sent": 0,
        }


async def test_server_close_reaches_client_with_code_and_reason(server: Server) -> None:
    async with await connect(server, "t/watch/events/") as watch:
        ws = await connect(server, "t/close/")
        await ws.send("close-me")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await recv(ws)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4002, "asked politely")
        event = await next_event(watch, "close", "t-close")
        assert (event["code"], event["reason"]) == (4002, "asked politely")


async def test_abrupt_drop_gives_1006_and_cleans_subscriptions(server: Server) -> None:
    async with await connect(server, "t/watch/events/") as watch:
        stay = await connect(server, "t/room/drop/")
        gone = await connect(server, "t/room/drop/")
        await stay.send("?count")
        assert await recv(stay) == "count=2"
        gone.transport.abort()  # TCP reset, no closing handshake
        event = await next_event(watch, "close", "t-room")
        assert event["code"] == 1006
        assert event["subscriptions"] == []
        await stay.send("?count")
        assert await recv(stay) == "count=1"
        await stay.close()


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("t/boom/", "async handler exploded"),
        ("t/boom-sync/", "sync handler exploded"),
    ],
)
async def test_raising_handler_closes_1011_while_others_keep_working(
    server: Server, path: str, message: str
) -> None:
    async with await connect(server, "t/watch/events/") as watch:
        victim = await connect(server, path)
        other = await connect(server, path)
        await victim.send("boom")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await recv(victim)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
        name = path.strip("/").replace("t/", "t-")
        assert (await next_event(watch, "error", name))["error"] == message
        assert (await next_event(watch, "close", name))["code"] == 1011
        await other.send("still here")
        reply = await recv(other)
        # the async endpoint echoes; the sync one answers from the ORM
        assert reply == "still here" if name == "t-boom" else reply.startswith("users=")
        await other.close()
    assert f"RuntimeError: {message}" in server.log()


def test_plain_get_answers_426_and_logs_the_attempt(server: Server) -> None:
    response = http_get(server, "t/room/plain-426/?token=s3cret", {"Cookie": "sessionid=abc"})
    assert response.status == 426
    assert response.headers["Upgrade"] == "websocket"
    # urllib asks for "Connection: close", which Twisted adds as a second header.
    assert "Upgrade" in response.headers.get_all("Connection")
    assert response.headers["Sec-WebSocket-Version"] == "13"
    body = response.read().decode()
    assert "new WebSocket(" in body and "fetch()" in body
    [row] = failed_upgrade_rows(server, "path = ?", "/t/room/plain-426/")
    assert row["reason"] == "no_upgrade_header"
    assert row["endpoint"] == "t-room"
    assert "s3cret" not in json.dumps(row) and "abc" not in row["headers"]
    assert "failed websocket upgrade reason=no_upgrade_header" in server.log()


def test_plain_get_with_json_accept_gets_a_json_diagnosis(server: Server) -> None:
    response = http_get(
        server,
        "t/data/red/",
        {"Accept": "application/json", "Upgrade": "h2c", "Connection": "Upgrade"},
    )
    assert response.status == 426
    body = json.loads(response.read())
    assert body["reason"] == "upgrade_not_websocket"
    assert failed_upgrade_rows(
        server, "path = ? AND reason = ?", "/t/data/red/", "upgrade_not_websocket"
    )


def test_fetch_may_answer_a_plain_request_itself_and_it_is_still_logged(server: Server) -> None:
    response = http_get(server, "t/data/green/?custom=1")
    assert response.status == 400
    assert response.read() == b"fetch answered this plain request itself"
    assert failed_upgrade_rows(server, "path = ?", "/t/data/green/")


async def test_refused_handshakes_are_logged_with_their_reason(server: Server) -> None:
    assert await refusal_status(server, "t/decline/") == 403
    assert await refusal_status(server, "t/no-such-thing/") == 403
    assert await refusal_status(server, "t/echo/", origin="https://evil.example") == 403
    assert failed_upgrade_rows(server, "path = ? AND reason = ?", "/t/decline/", "fetch_declined")
    assert failed_upgrade_rows(
        server, "path = ? AND reason = ?", "/t/no-such-thing/", "no_such_endpoint"
    )
    [row] = failed_upgrade_rows(server, "path = ? AND reason = ?", "/t/echo/", "origin_not_allowed")
    assert row["origin"] == "https://evil.example"


async def test_same_origin_and_missing_origin_are_allowed(server: Server) -> None:
    async with await connect(server, "t/echo/", origin=f"http://127.0.0.1:{server.port}") as ws:
        await ws.send("ok")
        assert await recv(ws) == "ok"


def test_flood_of_plain_requests_aggregates_into_one_row(server: Server) -> None:
    for _ in range(200):
        assert http_get(server, "t/room/flood/").status == 426
    [row] = failed_upgrade_rows(server, "path = ?", "/t/room/flood/")
    assert row["count"] == 200


def test_admin_lists_failed_upgrades_for_staff_and_refuses_anonymous(server: Server) -> None:
    assert http_get(server, "t/room/admin-view/").status == 426
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "createsuperuser",
            "--noinput",
            "--username",
            "staff",
            "--email",
            "staff@example.com",
        ],
        cwd=ROOT,
        check=True,
        timeout=60,
        env=django_env(server.db_path, DJANGO_SUPERUSER_PASSWORD="pw-for-tests-only"),
    )
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    changelist = server.url("admin/bunws/failedupgrade/", "http")
    anonymous = opener.open(changelist, timeout=5)
    assert "/admin/login/" in anonymous.url  # redirected to the login page
    login_page = opener.open(server.url("admin/login/", "http"), timeout=5).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page)
    assert token is not None
    form = urllib.parse.urlencode(
        {
            "csrfmiddlewaretoken": token.group(1),
            "username": "staff",
            "password": "pw-for-tests-only",
            "next": "/admin/bunws/failedupgrade/",
        }
    ).encode()
    request = urllib.request.Request(
        server.url("admin/login/", "http"),
        data=form,
        headers={"Referer": server.url("admin/login/", "http")},
    )
    page = opener.open(request, timeout=5)
    html = page.read().decode()
    assert page.url.endswith("/admin/bunws/failedupgrade/")
    assert "Failed upgrade attempts" in html or "failed upgrade attempts" in html.lower()
    assert "/t/room/admin-view/" in html
