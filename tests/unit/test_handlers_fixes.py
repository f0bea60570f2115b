"""Handlers and the socket object (issue 10, items 8, 10, 18 and 19): ``ws.cork`` from a sync
handler, sync handlers and dead database connections, Bun-style short handler signatures, and
announcing a leave from ``close``."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from websockets.exceptions import ConnectionClosed

from bunws.asgi.threads import ThreadSafeWebSocket
from bunws.core.options import MappingError, compile_mapping
from bunws.core.socket import ServerWebSocket
from bunws.endpoint import Endpoint
from tests.support.clients import connect, expect_silence, recv, run
from tests.support.fakes import make_socket
from tests.support.servers import Server, daphne_server

# -- item 18: handlers may leave out trailing parameters, as in JavaScript ---------------------


def _calls_with(handler: Any, *args: Any) -> Any:
    result = handler(*args)
    if inspect.iscoroutine(result):
        result = asyncio.run(result)
    return result


def _short_handlers(seen: list[tuple[Any, ...]], asynchronous: bool) -> list[Any]:
    """Handlers taking 0, 1 and 2 parameters that record what they were called with."""

    def handler0() -> str:
        seen.append(())
        return "ok"

    def handler1(a: Any) -> str:
        seen.append((a,))
        return "ok"

    def handler2(a: Any, b: Any) -> str:
        seen.append((a, b))
        return "ok"

    async def ahandler0() -> str:
        return handler0()

    async def ahandler1(a: Any) -> str:
        return handler1(a)

    async def ahandler2(a: Any, b: Any) -> str:
        return handler2(a, b)

    return [ahandler0, ahandler1, ahandler2] if asynchronous else [handler0, handler1, handler2]


@pytest.mark.parametrize(
    ("key", "full"),
    [
        ("open", ("ws",)),
        ("message", ("ws", "hello")),
        ("close", ("ws", 1000, "bye")),
        ("drain", ("ws",)),
        ("error", ("ws", RuntimeError("boom"))),
    ],
)
@pytest.mark.parametrize("asynchronous", [False, True])
def test_a_handler_taking_fewer_parameters_gets_only_as_many(
    key: str, full: tuple[Any, ...], asynchronous: bool
) -> None:
    """``close(ws)``, ``message(ws)``, even ``drain()``: called with what they take."""
    seen: list[tuple[Any, ...]] = []
    for taken, handler in enumerate(_short_handlers(seen, asynchronous)[: len(full)]):
        seen.clear()
        config = compile_mapping("chat", {key: handler})
        stored = getattr(config, key)
        assert inspect.iscoroutinefunction(stored) is asynchronous  # sync stays sync (ORM)
        assert stored.__qualname__ == handler.__qualname__  # routes and logs name the user's
        assert _calls_with(stored, *full) == "ok"
        assert seen == [full[:taken]]


def test_a_handler_taking_the_full_list_is_stored_unwrapped() -> None:
    """No extra call on the per-message path for the usual signature (nor for ``*args``)."""

    def close(ws: Any, code: int, reason: str) -> None: ...

    def message(ws: Any, *parts: Any) -> None: ...

    def drain(ws: Any, extra: int = 0) -> None: ...

    config = compile_mapping("chat", {"close": close, "message": message, "drain": drain})
    assert config.close is close and config.message is message and config.drain is drain


def test_a_keyword_only_parameter_with_a_default_is_accepted_and_keeps_its_default() -> None:
    def close(ws: Any, *, verbose: bool = False) -> str:
        return f"verbose={verbose}"

    config = compile_mapping("chat", {"close": close})
    assert config.close is not None and config.close("ws", 1000, "") == "verbose=False"


def test_a_handler_needing_more_parameters_is_refused_with_endpoint_key_and_fix() -> None:
    def message(ws: Any, message: str, room: str) -> None: ...

    with pytest.raises(MappingError) as raised:
        compile_mapping("chat", {"message": message})
    text = str(raised.value)
    assert "endpoint 'chat'" in text and "handler 'message'" in text
    assert "takes parameters (ws" in text and "room" in text
    assert "define it as `message(ws, message)`" in text
    assert "trailing parameters may be left out" in text


def test_a_required_keyword_only_parameter_is_refused_by_name() -> None:
    def close(ws: Any, code: int, reason: str, *, room: str) -> None: ...

    with pytest.raises(MappingError) as raised:
        compile_mapping("chat", {"close": close})
    text = str(raised.value)
    assert "endpoint 'chat'" in text and "handler 'close'" in text
    assert "keyword-only parameter 'room'" in text and "give it a default" in text


def test_endpoint_calls_a_short_sync_handler_in_a_worker_thread() -> None:
    """The trimmed sync handler still runs through the worker-thread path (ORM allowed)."""
    threads: list[int] = []

    def close(ws: Any) -> None:
        threads.append(threading.get_ident())

    endpoint = Endpoint("t/unit-short/", websocket={"close": close})
    asyncio.run(endpoint.handlers["close"]("ws", 1000, "bye"))
    assert threads and threads[0] != threading.get_ident()


# -- item 8: ws.cork from a sync handler runs the callback in the handler's thread ---------------


def test_cork_from_a_worker_thread_runs_the_callback_there_and_writes_one_batch() -> None:
    async def scenario() -> None:
        # Created on this loop, as bunws creates sockets.
        ws, transport = make_socket(socket_class=ThreadSafeWebSocket)
        loop_thread = threading.get_ident()
        written_on: list[int] = []
        write_many = transport.write_many
        transport.write_many = lambda frames: (written_on.append(threading.get_ident()), write_many(frames))  # type: ignore[method-assign]  # fmt: skip

        def sync_handler() -> tuple[str, int, int]:
            callback_threads: list[int] = []

            def batch(sock: ServerWebSocket) -> str:
                callback_threads.append(threading.get_ident())
                assert sock.send("a") == 1 and sock.send("b") == 1
                assert transport.writes == []  # corked on the loop until the callback returns
                return "result"

            return ws.cork(batch), callback_threads[0], threading.get_ident()

        result, callback_thread, handler_thread = await asyncio.to_thread(sync_handler)
        assert result == "result"
        assert callback_thread == handler_thread != loop_thread
        assert [[frame.data for frame in batch] for batch in transport.writes] == [["a", "b"]]
        assert written_on == [loop_thread]  # the batch is written on the loop

    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_cork_from_a_worker_thread_uncorks_when_the_callback_raises() -> None:
    async def scenario() -> None:
        ws, transport = make_socket(socket_class=ThreadSafeWebSocket)

        def sync_handler() -> None:
            def batch(sock: ServerWebSocket) -> None:
                sock.send("before")
                raise RuntimeError("boom")

            ws.cork(batch)

        with pytest.raises(RuntimeError, match="boom"):
            await asyncio.to_thread(sync_handler)
        assert transport.texts() == ["before"]
        assert ws.send("after") == 5 and transport.texts() == ["before", "after"]

    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_close_inside_cork_writes_the_corked_messages_before_the_close_frame() -> None:
    ws, transport = make_socket()
    events: list[object] = []
    transport_close = transport.close

    def close(code: int, reason: str) -> None:
        events.append(("close", transport.texts()))
        transport_close(code, reason)

    transport.close = close  # type: ignore[method-assign]
    ws.cork(lambda sock: [sock.send("last words"), sock.close(4000, "done")])
    assert events == [("close", ["last words"])]


def test_cork_from_a_sync_handler_can_use_the_orm_and_both_sends_arrive(server: Server) -> None:
    async def scenario() -> None:
        async with await connect(server, "t/hs/cork-sync/") as ws:
            await ws.send("go")
            try:
                replies = [await recv(ws) for _ in range(3)]
            except ConnectionClosed as closed:
                raise AssertionError(f"socket closed: {closed.rcvd}") from None
            assert replies[0].startswith("users=")  # type: ignore[union-attr]
            assert replies[1:] == ["same-thread=True", "result=corked"]

    run(scenario())


# -- items 18 and 19: a Bun-style close(ws) announcing a leave ---------------------------------


def test_close_ws_handler_runs_and_only_endpoint_publish_announces_the_leave(
    server: Server,
) -> None:
    """In ``close`` the socket is closed, so ``ws.publish`` returns 0 and reaches nobody (as in
    Bun); ``ws.endpoint.publish`` (or ``bunws.publish``) reaches the others."""

    async def scenario() -> None:
        async with await connect(server, "t/hs/leave/leave-room/") as stays:
            await stays.send("bob")
            assert await recv(stays) == "hello bob"
            leaves = await connect(server, "t/hs/leave/leave-room/")
            await leaves.send("alice")
            assert await recv(leaves) == "hello alice"
            await leaves.close()
            assert json.loads(await recv(stays)) == {"left": "alice"}
            returned = json.loads(await recv(stays))
            assert returned["via_ws"] == 0
            assert returned["via_endpoint"] == len(json.dumps({"left": "alice"}))
            await expect_silence(stays, 0.1)

    run(scenario())


# -- item 10: sync handlers close dead database connections, as Channels does -----------------

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    """A PostgreSQL database of this run's own, dropped afterwards."""
    name = f"bunws_test_{os.getpid()}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(scope="module")
def pg_server(pg_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A daphne on PostgreSQL (migrated by ``daphne_server``)."""
    tmp = tmp_path_factory.mktemp("postgres")
    env = {"DJANGO_SETTINGS_MODULE": "tests.settings_postgres", "BUNWS_PG_NAME": pg_database}
    with daphne_server(tmp, **env) as running:
        yield running


def terminate_backends(database: str) -> int:
    """What a database restart does to the server's open connections; how many it ended."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        ).fetchall()
    return len(rows)


@pytest.mark.parametrize("alias", ["default", "persistent"])
def test_sync_handler_works_again_after_its_database_connections_were_terminated(
    pg_server: Server, pg_database: str, alias: str
) -> None:
    """``default`` has short-lived connections (CONN_MAX_AGE=0), ``persistent`` keeps them
    with CONN_HEALTH_CHECKS; either way the next handler call after the backends died works."""

    async def scenario() -> None:
        async with await connect(pg_server, "t/hs/orm-sync/") as ws:
            await ws.send(alias)
            first = json.loads(await recv(ws))
            assert first["alias"] == alias and first["backend"] > 0
            terminate_backends(pg_database)
            for _ in range(3):
                await ws.send(alias)
                try:
                    reply = json.loads(await recv(ws))
                except ConnectionClosed as closed:
                    raise AssertionError(f"socket closed: {closed.rcvd}") from None
                assert reply["alias"] == alias and reply["backend"] != first["backend"]

    run(scenario())
