"""Sync handlers and dead database connections (issue 10, item 10): after PostgreSQL ended the
server's connections (as a database restart does), the next handler call works, as in Channels.
A daphne on PostgreSQL, with a database of this run's own."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from websockets.exceptions import ConnectionClosed

from tests.support.clients import connect, recv
from tests.support.servers import Server, daphne_server

pytestmark = pytest.mark.timeout(30, func_only=True)

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
async def test_sync_handler_works_again_after_its_database_connections_were_terminated(
    pg_server: Server, pg_database: str, alias: str
) -> None:
    """``default`` has short-lived connections (CONN_MAX_AGE=0), ``persistent`` keeps them
    with CONN_HEALTH_CHECKS; either way the next handler call after the backends died works."""

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
