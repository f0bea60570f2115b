"""``fetch`` gets what Django gives a view, in process (``bunws.testing``): the login-only endpoints
``s/members/`` (async) and ``s/members-sync/`` of ``tests/e2eapp/security_sockets.py`` refuse an
anonymous client and admit a logged-in one, and ``request.auser()`` resolves from the session
with only Channels' session middleware."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User

from bunws.testing import AsyncSocketClient, HandshakeRefused, SocketClient

ENDPOINTS = ["s/members/", "s/members-sync/"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ENDPOINTS)
def test_login_only_fetch_in_process(path: str) -> None:
    alice = User.objects.create_user("alice")
    with pytest.raises(HandshakeRefused) as refusal:
        SocketClient(path).connect()
    assert refusal.value.reason == "fetch_declined"
    with SocketClient(path, user=alice) as ws:
        ws.send("data?")
        assert json.loads(ws.receive_text())["user"] == "alice"


@pytest.mark.django_db(transaction=True)
async def test_auser_resolves_from_the_session_without_channels_auth_middleware() -> None:
    """With only Channels' session middleware, ``auser()`` loads the user as Django does."""
    from channels.routing import URLRouter
    from channels.sessions import SessionMiddlewareStack

    from bunws import OriginCheck, websocket_urlpatterns

    bob = await sync_to_async(User.objects.create_user)("bob")
    app = OriginCheck(SessionMiddlewareStack(URLRouter(websocket_urlpatterns())))
    async with AsyncSocketClient("s/members/", application=app, user=bob) as ws:
        await ws.send("data?")
        assert (await ws.receive_json())["user"] == "bob"
    with pytest.raises(HandshakeRefused):
        await AsyncSocketClient("s/members/", application=app).connect()
