"""``fetch`` gets what Django gives a view, through a real daphne: ``await request.auser()`` and
the session's async methods in an async fetch, ``request.user`` in a sync one, on the handshake
and on plain HTTP (in process: ``tests/inprocess/test_fetch_user.py``).

The endpoints are ``s/members/`` (async) and ``s/members-sync/`` in
``tests/e2eapp/security_sockets.py``: login-only, they refuse an anonymous visitor with 403
and upgrade a logged-in one with ``data={"user": ..., "session_user": ...}``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from django.utils.crypto import get_random_string

from tests.support.clients import connect, recv_json, refusal_status
from tests.support.http import http_get
from tests.support.servers import Server
from tests.support.sqlite import sqlite_db

pytestmark = pytest.mark.timeout(30, func_only=True)

ENDPOINTS = ["s/members/", "s/members-sync/"]
NAMES = {"s/members/": "s-members", "s/members-sync/": "s-members-sync"}


def logged_in_cookie(server: Server, username: str) -> str:
    """Create ``username`` and a logged-in session in the server's database, as a login would;
    return the ``Cookie`` header value."""
    now = datetime.now(UTC).replace(tzinfo=None)
    password = make_password(None)
    with sqlite_db(server.db_path) as db:
        cursor = db.execute(
            "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, "
            "email, is_staff, is_active, date_joined) VALUES (?, 0, ?, '', '', '', 0, 1, ?)",
            (password, username, now.isoformat(" ")),
        )
        user_id = cursor.lastrowid
        data = SessionStore().encode(
            {
                SESSION_KEY: str(user_id),
                BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
                HASH_SESSION_KEY: User(password=password).get_session_auth_hash(),
            }
        )
        key = get_random_string(32)
        db.execute(
            "INSERT INTO django_session (session_key, session_data, expire_date) VALUES (?, ?, ?)",
            (key, data, (now + timedelta(days=1)).isoformat(" ")),
        )
    return f"sessionid={key}"


# -- through daphne ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_login_only_fetch_refuses_an_anonymous_handshake(server: Server, path: str) -> None:
    assert await refusal_status(server, path) == 403
    assert f"fetch of endpoint {NAMES[path]!r} raised" not in server.log()  # it refused


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_login_only_fetch_admits_a_logged_in_handshake_with_its_username(
    server: Server, path: str
) -> None:
    username = f"member-{path.strip('/').replace('/', '-')}"
    cookie = logged_in_cookie(server, username)
    async with await connect(server, path, additional_headers={"Cookie": cookie}) as ws:
        await ws.send("data?")
        data = await recv_json(ws)
    assert data["user"] == username
    assert data["session_user"] is not None  # read with the session's async method


@pytest.mark.parametrize("path", ENDPOINTS)
def test_login_only_fetch_answers_a_plain_anonymous_get_with_its_403(
    server: Server, path: str
) -> None:
    response = http_get(server, path)
    assert response.status == 403
    assert "Log in to use this endpoint." in response.read().decode()


def test_async_fetch_sees_the_logged_in_user_on_plain_http(server: Server) -> None:
    """Logged in, the fetch does not refuse; a plain GET cannot upgrade, so bunws answers 426."""
    cookie = logged_in_cookie(server, "member-plain")
    assert http_get(server, "s/members/", {"Cookie": cookie}).status == 426
