"""``bunws.testing``: the in-process clients users write their own tests with."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.routing import URLRouter
from django.contrib.auth.models import User
from django.http import HttpRequest
from django.test import TestCase, override_settings
from django.urls import path

import bunws
from bunws.asgi.app import EndpointApp
from bunws.core.socket import ServerWebSocket
from bunws.endpoint import Endpoint
from bunws.testing import (
    AsyncSocketClient,
    HandshakeRefused,
    SocketClient,
    SocketClosed,
    bunws_application,
    observe,
)


def test_sync_client_echoes_text_and_binary_with_their_type() -> None:
    with SocketClient("echo/") as ws:
        ws.send("héllo")
        assert ws.receive_text() == "héllo"
        ws.send(b"\x00\xff")
        assert ws.receive_bytes() == b"\x00\xff"
        ws.send_json({"a": [1, 2]})
        assert ws.receive_json() == {"a": [1, 2]}


def test_receive_without_a_message_fails_within_its_timeout() -> None:
    with SocketClient("echo/") as ws:
        with pytest.raises(AssertionError, match=r"no message from '/echo/' within 0.05 s"):
            ws.receive(timeout=0.05)
        ws.assert_no_message(0.05)
        ws.send("still open")  # a receive timeout does not kill the application
        assert ws.receive() == "still open"


@pytest.mark.django_db
def test_fetch_data_and_upgrade_headers_apply_in_process() -> None:
    with SocketClient("t/data/blue/?q=x") as ws:
        assert ws.response_headers["x-bunws-test"] == "upgraded"
        ws.send("hi")
        assert ws.receive_json() == {"room": "blue", "q": "x", "seen": 1}


def test_assert_closed_checks_the_servers_close_code_and_reason() -> None:
    with SocketClient("t/close/") as ws:
        ws.send("close-me")
        assert ws.assert_closed(4002, "asked politely") == 4002
        with pytest.raises(SocketClosed):
            ws.receive(timeout=0.05)


def test_assert_closed_fails_on_a_different_code() -> None:
    with SocketClient("t/close/") as ws:
        ws.send("close-me")
        with pytest.raises(AssertionError, match="expected close code 1000, got 4002"):
            ws.assert_closed(1000)


@pytest.mark.django_db
def test_handshake_refused_tells_an_origin_refusal_from_a_fetch_refusal() -> None:
    with pytest.raises(HandshakeRefused, match="refused by endpoint 't-decline'") as fetch:
        SocketClient("t/decline/").connect()
    with pytest.raises(HandshakeRefused) as origin:
        SocketClient("echo/", origin="https://evil.example").connect()
    with pytest.raises(HandshakeRefused) as nowhere:
        SocketClient("no/such/endpoint/").connect()
    refusals = [
        (r.value.reason, r.value.endpoint, r.value.status) for r in (fetch, origin, nowhere)
    ]
    assert refusals == [
        ("fetch_declined", "t-decline", 403),
        ("origin_not_allowed", "echo", 403),
        ("no_such_endpoint", "", 403),
    ]
    assert "origin_not_allowed" in str(origin.value)
    assert origin.value.code == 1000


@pytest.mark.django_db
def test_handshake_refused_names_the_per_client_socket_limit() -> None:
    limit = override_settings(BUNWS={"MAX_SOCKETS_PER_CLIENT": 1})
    with limit, SocketClient("echo/"), pytest.raises(HandshakeRefused) as refusal:
        SocketClient("echo/").connect()
    assert (refusal.value.reason, refusal.value.code) == ("too_many_sockets", 1008)


def test_repeated_upgrade_headers_all_reach_the_test_client() -> None:
    def fetch(request: HttpRequest, server: Endpoint) -> None:
        server.upgrade(request, headers=[("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])

    async def message(ws: ServerWebSocket, message: str | bytes) -> None:
        """Never called: the test only looks at the handshake."""

    endpoint = Endpoint("twice/", fetch=fetch, websocket={"message": message}, name="twice")
    application = URLRouter([path("twice/", EndpointApp(endpoint))])  # type: ignore[arg-type]
    with SocketClient("twice/", application=application) as ws:
        assert ws.response_headers.getlist("set-cookie") == ["a=1", "b=2"]
        assert ws.response_headers["set-cookie"] == "b=2"  # one value: the last, as before


def test_observe_records_publishes_from_sockets_and_from_code() -> None:
    with observe("t-obs") as published, SocketClient("t/room/t-obs/") as a:
        a.send("from a")  # ws.publish skips the sender, but the publish is observed
        assert published.next() == "from a"
        bunws.publish("t-obs", b"from code")
        assert published.next() == b"from code"
        assert a.receive_bytes() == b"from code"
        with pytest.raises(AssertionError, match="nothing was published"):
            published.next(timeout=0.05)


def test_bunws_application_serves_the_routes_without_asgi_application() -> None:
    with SocketClient("echo/", application=bunws_application()) as ws:
        ws.send("x")
        assert ws.receive() == "x"


@pytest.mark.django_db
def test_async_client_in_a_pytest_test_logs_a_user_in() -> None:
    user = User.objects.create_user("carol")

    async def scenario() -> None:
        with observe("pytest-room") as published:
            async with AsyncSocketClient("chat/pytest-room/", user=user) as ws:
                assert await published.anext() == "* carol joined"
                # The demo chat greets each socket with who is in the room.
                assert "carol" in (await ws.receive_json())["presence_state"]
                await ws.send("hello")
                assert await published.anext() == "carol: hello"
                await ws.assert_no_message(0.05)

    # async_to_sync, not an async test: the session lookup then runs in this thread, where the
    # user created above is visible (docs/testing.md, "Databases and threads").
    async_to_sync(scenario)()


class ChatInTestCase(TestCase):
    """The client inside Django's ``TestCase``: the session lives in the test transaction."""

    @classmethod
    def setUpTestData(cls) -> None:
        cls.alice = User.objects.create_user("alice")
        cls.bob = User.objects.create_user("bob")

    def test_logged_in_users_chat_under_their_names(self) -> None:
        with SocketClient("chat/tc/", user=self.alice) as alice:
            self.assertIn("alice", alice.receive_json()["presence_state"])
            with SocketClient("chat/tc/", user=self.bob) as bob:
                self.assertEqual(alice.receive(), "* bob joined")
                bob.send("hi")
                self.assertEqual(alice.receive(), "bob: hi")
            self.assertEqual(alice.receive(), "* bob left")

    def test_anonymous_client_chats_as_anonymous(self) -> None:
        with observe("tc-anon") as published, SocketClient("chat/tc-anon/"):
            self.assertEqual(published.next(), "* anonymous joined")

    async def test_async_client_in_an_async_test_method(self) -> None:
        with observe("tc-async") as published:
            async with AsyncSocketClient("chat/tc-async/", user=self.alice) as ws:
                self.assertEqual(await published.anext(), "* alice joined")
                await ws.send("hey")
                self.assertEqual(await published.anext(), "alice: hey")
