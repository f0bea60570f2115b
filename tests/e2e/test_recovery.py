"""Recovery (docs/recovery.md) through real daphne processes, with a client written from the
spec (``tests/support/bunws_v1.py``): sessions, replay in order without loss or duplicates,
on one process (in-memory layer) and across two on Redis, after a ``kill -9``, too late
(a gap), and refused when the user logged out."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import websockets
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from django.utils.crypto import get_random_string

from tests.support.bunws_v1 import Client
from tests.support.clients import connect, recv
from tests.support.servers import ROOT, Server, daphne_server, django_env, migrate
from tests.support.services import redis_env, require_redis
from tests.support.sqlite import sqlite_db

pytestmark = pytest.mark.timeout(60, func_only=True)

_opened: list[Any] = []  # closed after each test


@pytest.fixture(autouse=True)
async def _close_clients() -> AsyncIterator[None]:
    yield
    while _opened:
        await _opened.pop().close()


def client(server: Server, room: str, path: str = "t/recovery", **headers: str) -> Client:
    v1 = Client(server.url(f"{path}/{room}/?name=v1"), headers=dict(headers))
    _opened.append(v1)
    return v1


async def publisher(server: Server, room: str, path: str = "t/recovery") -> Any:
    """A plain client of the room that publishes with ``pub <text>``."""
    ws = await connect(server, f"{path}/{room}/?name=pub")
    _opened.append(ws)
    assert json.loads(await recv(ws))["opened"] is False  # a plain socket: no envelope
    return ws


async def publish(ws: Any, texts: list[str]) -> None:
    for text in texts:
        await ws.send(f"pub {text}")
    await ws.send("state")  # a round trip: every publish before it was handled
    while not str(await recv(ws)).startswith('{"data"'):
        pass  # the room's messages (the publisher is a subscriber too)


async def test_plain_client_of_a_recovery_endpoint_sees_raw_frames(server: Server) -> None:
    pub = await publisher(server, "raw")
    async with await connect(server, "t/recovery/raw/?name=plain") as plain:
        assert plain.subprotocol is None
        assert json.loads(await recv(plain)) == {"opened": False, "gaps": []}
        await pub.send("pub hello")
        assert await recv(plain) == "hello"
    await pub.close()


async def test_new_session_gets_welcome_sub_and_enveloped_messages(server: Server) -> None:
    v1 = client(server, "fresh")
    welcome = await v1.connect()
    assert welcome["recovered"] is False and welcome["session"] and welcome["window"] == 30
    sub = await v1.until("sub")
    assert sub["topic"] == "fresh" and isinstance(sub["offset"], int)
    pub = await publisher(server, "fresh")
    await publish(pub, ["one", "two"])
    await pub.send("pubbin three")
    assert await v1.texts(3) == ["one", "two", b"three"]
    offsets = [offset for _, offset, _ in v1.published]
    assert offsets == [sub["offset"] + 1, sub["offset"] + 2, sub["offset"] + 3]
    assert v1.direct == [json.dumps({"opened": False, "gaps": []})]
    await pub.close()
    assert v1.ws is not None
    await v1.ws.close()


def assert_once_in_order(v1: Client, expected: list[str | bytes]) -> None:
    """Every expected payload exactly once, in order, with consecutive offsets."""
    assert [payload for _, _, payload in v1.published] == expected
    offsets = [offset for _, offset, _ in v1.published]
    assert all(isinstance(n, int) for n in offsets), offsets
    assert offsets == list(range(offsets[0], offsets[0] + len(offsets))), offsets


async def test_resume_replays_what_was_missed_once_in_order_then_goes_on_live(
    server: Server,
) -> None:
    v1 = client(server, "resume")
    await v1.connect()
    await v1.until("sub")
    assert v1.ws is not None
    await v1.ws.send('data {"color": "blue"}')
    pub = await publisher(server, "resume")
    await publish(pub, ["a1", "a2"])
    await v1.texts(2)
    first_session = v1.session
    await v1.drop()
    missed = [f"b{i}" for i in range(50)]
    await publish(pub, missed)
    welcome = await v1.connect()
    assert welcome["recovered"] is True and welcome["replayed"] == 50
    assert welcome["session"] != first_session  # a new id for every connection
    await publish(pub, ["c1"])
    await v1.texts(53)
    assert_once_in_order(v1, ["a1", "a2", *missed, "c1"])
    await v1.ws.send("state")
    while len(v1.direct) < 3:
        await v1.receive()
    assert json.loads(v1.direct[1]) == {"opened": True, "gaps": []}  # open ran, recovered
    state = json.loads(v1.direct[2])
    assert state == {"data": {"color": "blue"}, "subscriptions": ["resume"], "recovered": True}
    await pub.close()
    await v1.ws.close()


async def test_a_client_that_received_nothing_yet_recovers_from_its_start(server: Server) -> None:
    v1 = client(server, "nothing")
    await v1.connect()
    v1.offsets.clear()  # it never read the sub offset: the session knows where it started
    await v1.drop()
    pub = await publisher(server, "nothing")
    await publish(pub, ["x", "y", "z"])
    welcome = await v1.connect()
    assert welcome["recovered"] is True and welcome["replayed"] == 3
    await v1.texts(3)
    assert_once_in_order(v1, ["x", "y", "z"])
    await pub.close()


async def test_a_client_back_after_the_window_gets_a_gap_and_a_new_session(server: Server) -> None:
    v1 = client(server, "late", path="t/recovery-short")
    await v1.connect()
    await v1.until("sub")
    await v1.drop()
    pub = await publisher(server, "late", path="t/recovery-short")
    await publish(pub, ["lost"])
    await asyncio.sleep(3.0)  # the window is 2 s
    welcome = await v1.connect()
    gap = next(c for c in v1.controls if c["type"] == "gap")
    assert gap == {"type": "gap", "reason": "expired", "topics": ["late"]}
    assert welcome["recovered"] is False and welcome["replayed"] == 0
    assert v1.published == []
    while not v1.direct:
        await v1.receive()  # open ran as for a new session
    assert json.loads(v1.direct[-1]) == {"opened": False, "gaps": ["late"]}
    await pub.close()


def logged_in_cookie(server: Server, username: str) -> tuple[str, str]:
    """A user and a logged-in Django session in the server's database; (cookie, session key)."""
    now = datetime.now(UTC).replace(tzinfo=None)
    password = make_password(None)
    with sqlite_db(server.db_path) as db:
        cursor = db.execute(
            "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, "
            "email, is_staff, is_active, date_joined) VALUES (?, 0, ?, '', '', '', 0, 1, ?)",
            (password, username, now.isoformat(" ")),
        )
        data = SessionStore().encode(
            {
                SESSION_KEY: str(cursor.lastrowid),
                BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
                HASH_SESSION_KEY: User(password=password).get_session_auth_hash(),
            }
        )
        key = get_random_string(32)
        db.execute(
            "INSERT INTO django_session (session_key, session_data, expire_date) VALUES (?, ?, ?)",
            (key, data, (now + timedelta(days=1)).isoformat(" ")),
        )
    return f"sessionid={key}", key


async def test_a_session_whose_user_logged_out_is_refused_with_4403(server: Server) -> None:
    cookie, key = logged_in_cookie(server, "recovery-member")
    v1 = client(server, "members", path="t/recovery-members", Cookie=cookie)
    await v1.connect()
    await v1.until("sub")
    await v1.drop()
    welcome = await v1.connect()  # still logged in: resumed, fetch not called again
    assert welcome["recovered"] is True
    await v1.drop()
    with sqlite_db(server.db_path) as db:  # log out: the Django session is gone
        db.execute("DELETE FROM django_session WHERE session_key = ?", (key,))
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await v1.connect()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    assert "no longer logged in" in closed.value.rcvd.reason


# -- across processes on Redis -------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_pair(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Two daphne processes on one Redis (pub/sub layer, a key prefix of their own)."""
    require_redis()
    tmp = tmp_path_factory.mktemp("recovery")
    env = redis_env("pubsub")
    migrate(tmp / "db.sqlite3", **env)
    with daphne_server(tmp, **env) as a, daphne_server(tmp, **env) as b:
        yield a, b, env, tmp


def publish_command(server: Server, env: dict[str, str], topic: str, text: str) -> None:
    """``manage.py bunws_publish`` in a process of its own (no sockets) over Redis."""
    done = subprocess.run(
        [sys.executable, "manage.py", "bunws_publish", topic, text],
        cwd=ROOT,
        env=django_env(server.db_path, **env),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr


async def test_two_publishers_in_two_processes_reach_a_client_in_offset_order(
    redis_pair: Any,
) -> None:
    a, b, _, _ = redis_pair
    v1 = client(a, "interleaved")
    await v1.connect()
    await v1.until("sub")
    await asyncio.sleep(1.2)  # the other process learns the recorded topic (docs: "Limits")
    pub_a, pub_b = await publisher(a, "interleaved"), await publisher(b, "interleaved")
    sent = [f"{name}{i}" for i in range(40) for name in ("a", "b")]
    await asyncio.gather(
        publish(pub_a, [t for t in sent if t[0] == "a"]),
        publish(pub_b, [t for t in sent if t[0] == "b"]),
    )
    got = await v1.texts(80)
    assert sorted(got) == sorted(sent) and len(set(got)) == 80  # no loss, no duplicate
    offsets = [offset for _, offset, _ in v1.published]
    assert offsets == list(range(offsets[0], offsets[0] + 80))  # in offset order
    assert [t for t in got if t[0] == "a"] == [t for t in sent if t[0] == "a"]  # per publisher


async def test_disconnect_from_one_process_and_resume_on_the_other(redis_pair: Any) -> None:
    a, b, env, _ = redis_pair
    v1 = client(a, "moving")
    await v1.connect()
    await v1.until("sub")
    await asyncio.sleep(1.2)
    pub_b = await publisher(b, "moving")
    await publish(pub_b, ["before"])
    await v1.texts(1)
    await v1.drop()
    await publish(pub_b, [f"socket{i}" for i in range(20)])
    await asyncio.to_thread(publish_command, a, env, "moving", "from a command")
    v1.url = b.url("t/recovery/moving/?name=v1")  # the load balancer sends it elsewhere
    welcome = await v1.connect()
    assert welcome["recovered"] is True and welcome["replayed"] == 21
    await publish(pub_b, ["after"])
    await v1.texts(23)
    expected = ["before", *(f"socket{i}" for i in range(20)), "from a command", "after"]
    assert_once_in_order(v1, expected)


async def test_the_process_that_held_the_socket_is_killed_and_the_client_resumes_elsewhere(
    redis_pair: Any,
) -> None:
    _, b, env, tmp = redis_pair
    with daphne_server(tmp, db_path=tmp / "db.sqlite3", **env) as doomed:
        v1 = client(doomed, "killed")
        await v1.connect()
        await v1.until("sub")
        assert v1.ws is not None
        await v1.ws.send('data {"kept": true}')
        await asyncio.sleep(1.2)
        pub_b = await publisher(b, "killed")
        await publish(pub_b, ["one"])
        await v1.texts(1)
        doomed.stop(signal.SIGKILL)
    await publish(pub_b, ["two", "three"])
    v1.url = b.url("t/recovery/killed/?name=v1")
    welcome = await v1.connect()
    assert welcome["recovered"] is True and welcome["replayed"] == 2
    assert_once_in_order(v1, ["one", "two", "three"])
    await v1.ws.send("state")
    while not any("kept" in str(d) for d in v1.direct):
        await v1.receive()
    assert json.loads(v1.direct[-1])["data"] == {"kept": True}


async def test_a_client_does_not_get_its_own_publishes_on_replay(server: Server) -> None:
    v1 = client(server, "own")
    await v1.connect()
    await v1.until("sub")
    assert v1.ws is not None
    pub = await publisher(server, "own")
    await publish(pub, ["theirs"])
    await v1.texts(1)
    await v1.ws.send("pub mine")  # publish_to_self is False: never delivered to itself
    await v1.ws.send("state")
    while not v1.direct[1:]:
        await v1.receive()  # "mine" was published (and stored) before the drop
    await v1.drop()
    await publish(pub, ["later"])
    welcome = await v1.connect()
    assert welcome["replayed"] == 1
    await v1.texts(2)
    assert [payload for _, _, payload in v1.published] == ["theirs", "later"]
