"""Presence through real daphne processes on a real Redis: one list, diffs, reaping, restarts.

Each test runs two daphne processes on one Redis layer with their own key prefix, a broadcast
period of 0.2 s and a down period of 2 s (through the environment, see tests/settings.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from tests.support.clients import connect, expect_silence, recv_json, run
from tests.support.servers import ROOT, Server, daphne_server, django_env, free_port, migrate
from tests.support.services import redis_env, require_redis, start_redis

pytestmark = pytest.mark.redis

PERIODS = {"BUNWS_PRESENCE_BROADCAST_PERIOD": "0.2", "BUNWS_PRESENCE_DOWN_PERIOD": "2"}


def env_for(url: str = "redis://127.0.0.1:6379/0") -> dict[str, Any]:
    return {**redis_env("pubsub", url), **PERIODS}


async def join(
    stack: contextlib.AsyncExitStack, server: Server, topic: str, key: str, device: str = "web"
) -> tuple[ClientConnection, str]:
    ws = await stack.enter_async_context(
        await connect(server, f"t/presence/{topic}/?key={key}&device={device}")
    )
    return ws, (await recv_json(ws))["ref"]


async def listed(ws: ClientConnection) -> dict[str, list[dict[str, Any]]]:
    await ws.send("list")
    while True:
        got = await recv_json(ws)
        if "list" in got:
            return dict(got["list"])


async def diffs_until(ws: ClientConnection, done: Any, within: float = 6.0) -> dict[str, Any]:
    """Merge the diffs ``ws`` receives until ``done(joins, leaves)`` holds."""
    joins: dict[str, list[Any]] = {}
    leaves: dict[str, list[Any]] = {}
    deadline = time.monotonic() + within
    while not done(joins, leaves):
        got = await recv_json(ws, max(0.1, deadline - time.monotonic()))
        for key, metas in got.get("diff", {}).get("joins", {}).items():
            joins.setdefault(key, []).extend(metas)
        for key, metas in got.get("diff", {}).get("leaves", {}).items():
            leaves.setdefault(key, []).extend(metas)
    return {"joins": joins, "leaves": leaves}


def refs(metas: list[dict[str, Any]]) -> set[str]:
    return {meta["ref"] for meta in metas}


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Any:
    require_redis()
    tmp = tmp_path_factory.mktemp("presence")
    env = env_for()
    migrate(tmp / "db.sqlite3", **env)
    with daphne_server(tmp, **env) as a, daphne_server(tmp, **env) as b:
        yield a, b, env


def test_two_processes_see_one_list_and_two_tabs_of_a_key_have_two_refs(pair: Any) -> None:
    a, b, env = pair

    async def scenario(stack: contextlib.AsyncExitStack) -> None:
        alice1, r1 = await join(stack, a, "room1", "alice", "web")
        _, r2 = await join(stack, b, "room1", "alice", "phone")
        bob, r3 = await join(stack, b, "room1", "bob")
        assert len({r1, r2, r3}) == 3
        # alice's first tab hears its own join and the other two, batched into diffs
        seen = await diffs_until(
            alice1, lambda j, _: {r1, r2} <= refs(j.get("alice", [])) and "bob" in j
        )
        assert refs(seen["joins"]["alice"]) == {r1, r2}
        assert refs(seen["joins"]["bob"]) == {r3}
        expected = {"alice": {r1, r2}, "bob": {r3}}
        for ws in (alice1, bob):
            # Generous: on a loaded two-core machine a heartbeat can miss the 2 s down period,
            # and the list then waits for the process to be seen (or re-announce) again.
            deadline = time.monotonic() + 12
            while {k: refs(v) for k, v in (await listed(ws)).items()} != expected:
                assert time.monotonic() < deadline, "the two processes never agreed"
                await asyncio.sleep(0.1)
        got = await listed(alice1)
        assert {m["device"] for m in got["alice"]} == {"web", "phone"}
        # a sync handler lists through endpoint.presence() (Redis read from a worker thread)
        sync = await stack.enter_async_context(await connect(b, "t/presence-sync/room1/?key=s"))
        ref = (await recv_json(sync))["ref"]
        await sync.send("list")
        while "list" not in (got := await recv_json(sync)):
            pass
        assert {k: refs(v) for k, v in got["list"].items()} == {**expected, "s": {ref}}
        command = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "manage.py", "bunws_presence", "room1"],
            cwd=ROOT,
            env=django_env(a.db_path, **env),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert command.returncode == 0, command.stderr
        assert f'"ref": "{r2}"' in command.stdout
        assert "3 keys, 4 entries on topic 'room1' across every process" in command.stdout

    run(closing(scenario))


async def closing(body: Any, *args: Any) -> None:
    async with contextlib.AsyncExitStack() as stack:
        await body(stack, *args)


def test_closing_a_tab_sends_a_leave_and_update_is_one_leave_and_one_join(pair: Any) -> None:
    a, b, _ = pair

    async def scenario(stack: contextlib.AsyncExitStack) -> None:
        watcher, _ = await join(stack, a, "room2", "watcher")
        carol, ref = await join(stack, b, "room2", "carol")
        await diffs_until(watcher, lambda j, _: "carol" in j)
        await carol.send("update away")
        seen = await diffs_until(watcher, lambda j, left: "carol" in left and "carol" in j)
        assert seen["leaves"]["carol"] == [{"device": "web", "ref": ref}]
        assert seen["joins"]["carol"] == [{"device": "away", "ref": ref}]
        await carol.close()
        seen = await diffs_until(watcher, lambda _, left: "carol" in left)
        assert refs(seen["leaves"]["carol"]) == {ref}
        assert "carol" not in await listed(watcher)

    run(closing(scenario))


def test_a_killed_process_is_reaped_after_the_down_period(tmp_path: Path) -> None:
    require_redis()
    env = env_for()
    migrate(tmp_path / "db.sqlite3", **env)

    async def scenario(stack: contextlib.AsyncExitStack, a: Server, b: Server, c: Server) -> None:
        watcher, _ = await join(stack, a, "room3", "watcher")
        _, ref = await join(stack, b, "room3", "dave")
        await join(stack, c, "room3", "gina")
        await diffs_until(watcher, lambda j, _: "dave" in j and "gina" in j)
        stopped = time.monotonic()
        await asyncio.to_thread(c.stop)  # a clean exit: its entries leave at once
        await diffs_until(watcher, lambda _, left: "gina" in left, within=3)
        assert time.monotonic() - stopped < 1.9  # before the down period could have run out
        b.process.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        seen = await diffs_until(watcher, lambda _, left: "dave" in left, within=8)
        assert refs(seen["leaves"]["dave"]) == {ref}
        assert time.monotonic() - killed < 2 + 3  # down period, reap interval, broadcast
        assert "dave" not in await listed(watcher)

    with (
        daphne_server(tmp_path, **env) as a,
        daphne_server(tmp_path, **env) as b,
        daphne_server(tmp_path, **env) as c,
    ):
        run(closing(scenario, a, b, c))


def test_a_restarted_redis_gets_the_entries_again_without_duplicate_joins(tmp_path: Path) -> None:
    require_redis()
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed; this test starts its own")
    port = free_port()
    env = env_for(f"redis://127.0.0.1:{port}/0")
    migrate(tmp_path / "db.sqlite3", **env)
    redis = [start_redis(port, tmp_path)]

    async def scenario(stack: contextlib.AsyncExitStack, a: Server, b: Server) -> None:
        erin, r1 = await join(stack, a, "room4", "erin")
        fred, r2 = await join(stack, b, "room4", "fred")
        await diffs_until(erin, lambda j, _: "fred" in j)
        await diffs_until(fred, lambda j, _: "erin" in j)
        redis[0].terminate()
        await asyncio.to_thread(redis[0].wait, 10)
        redis.append(await asyncio.to_thread(start_redis, port, tmp_path))
        deadline = time.monotonic() + 8
        expected = {"erin": {r1}, "fred": {r2}}
        while {k: refs(v) for k, v in (await listed(erin)).items()} != expected:
            assert time.monotonic() < deadline, "the entries were not written again"
            await asyncio.sleep(0.2)
        for ws in (erin, fred):
            await expect_silence(ws, 0.6)  # no duplicate joins, no spurious leaves

    try:
        with daphne_server(tmp_path, **env) as a, daphne_server(tmp_path, **env) as b:
            run(closing(scenario, a, b))
    finally:
        for process in redis:
            process.terminate()
            process.wait(10)
