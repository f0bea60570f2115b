"""The failed-upgrade log's database failing under a real daphne: the answer still goes out
(426 for plain HTTP, 403 for a refused handshake), the error is logged, never a 500."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import websockets

from tests.support.clients import connect, refusal_status
from tests.support.servers import Server, daphne_server
from tests.support.sqlite import sqlite_db

pytestmark = pytest.mark.timeout(30, func_only=True)

TABLE = "bunws_failedupgrade"


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A daphne with its own database, which these tests break on purpose."""
    with daphne_server(tmp_path_factory.mktemp("dbfaults")) as running:
        yield running


def status_of(server: Server, path: str) -> int:
    try:
        with urllib.request.urlopen(server.url(path, "http"), timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def count_rows(server: Server, where: str = "1", what: str = "COUNT(*)") -> int:
    with sqlite_db(server.db_path) as db:
        value = db.execute(f"SELECT {what} FROM {TABLE} WHERE {where}").fetchone()[0]
        return int(value or 0)


async def test_missing_table_still_answers_426_and_403_and_logs_the_error(
    own_server: Server,
) -> None:
    with sqlite_db(own_server.db_path) as db:
        db.execute(f"ALTER TABLE {TABLE} RENAME TO {TABLE}_away")
    try:
        assert status_of(own_server, "t/echo/?case=missing") == 426
        assert await refusal_status(own_server, "t/echo/", origin="https://evil.example") == 403
        deadline = time.monotonic() + 5
        while own_server.log().count("could not record failed upgrade") < 2:
            assert time.monotonic() < deadline, own_server.log()[-3000:]
            await asyncio.sleep(0.05)
    finally:
        with sqlite_db(own_server.db_path) as db:
            db.execute(f"ALTER TABLE {TABLE}_away RENAME TO {TABLE}")
    log = own_server.log()
    assert "no such table" in log
    assert '" 500 ' not in log and "Internal Server Error" not in log
    # Recording works again once the table is back.
    assert status_of(own_server, "t/echo/?case=restored") == 426
    assert count_rows(own_server) >= 1


def test_locked_database_delays_but_never_fails_the_answer(own_server: Server) -> None:
    """SQLite under a concurrent writer: requests wait for the lock (timeout 20 s in the demo
    settings) and every one still gets its 426."""
    db = sqlite3.connect(
        own_server.db_path, timeout=10, isolation_level=None, check_same_thread=False
    )
    db.execute("BEGIN EXCLUSIVE")
    released = threading.Event()

    def release() -> None:
        time.sleep(1.0)
        db.execute("COMMIT")
        released.set()

    threading.Thread(target=release, daemon=True).start()
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(8) as pool:
            statuses = list(
                pool.map(lambda i: status_of(own_server, f"t/room/lock{i}/"), range(16))
            )
    finally:
        released.wait(10)
        db.close()
    assert statuses == [426] * 16
    assert time.monotonic() - started >= 0.9  # they really waited for the lock
    assert count_rows(own_server, "path LIKE '/t/room/lock%'") == 16
    assert "Internal Server Error" not in own_server.log()


async def test_concurrent_refused_handshakes_all_get_answers_and_are_counted(
    own_server: Server,
) -> None:
    async def one(i: int) -> int:
        try:
            await connect(own_server, f"t/echo/?n={i}", origin=f"https://evil{i}.example")
        except websockets.InvalidStatus as refusal:
            return int(refusal.response.status_code)
        return 101

    assert list(await asyncio.gather(*(one(i) for i in range(30)))) == [403] * 30
    deadline = time.monotonic() + 10
    # One client, one path, one reason: the 30 refusals aggregate into one row's count.
    while count_rows(own_server, "reason = 'origin_not_allowed'", "SUM(count)") < 30:
        assert time.monotonic() < deadline, "refusals were not all recorded"
        await asyncio.sleep(0.1)
