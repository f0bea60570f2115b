"""Topics across two real daphne processes on one Redis, with both channels_redis layers.

Needs Redis on 127.0.0.1:6379 (the outage test starts its own ``redis-server``): without it
these tests skip, or fail when ``CI`` is set. Each run uses its own key prefix.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection

from tests.support.clients import connect, expect_silence, recv
from tests.support.servers import ROOT, Server, daphne_server, django_env, free_port, migrate
from tests.support.services import LAYERS, redis_env, require_redis, start_redis

pytestmark = [pytest.mark.redis, pytest.mark.timeout(30, func_only=True)]


@pytest.fixture(scope="module", params=sorted(LAYERS))
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Server, dict[str, str]]]:
    """Two daphne processes sharing one Redis layer (and one SQLite file)."""
    require_redis()
    tmp = tmp_path_factory.mktemp(f"cluster-{request.param}")
    env = redis_env(request.param)
    migrate(tmp / "db.sqlite3", **env)
    with daphne_server(tmp, **env) as a, daphne_server(tmp, **env) as b:
        yield a, b, env


async def opened(stack: contextlib.AsyncExitStack, server: Server, path: str) -> ClientConnection:
    """A client connection closed when ``stack`` closes."""
    ws: ClientConnection = await stack.enter_async_context(await connect(server, path))
    return ws


async def settle(publisher: ClientConnection, receivers: list[ClientConnection]) -> None:
    """Publish probes until every receiver got one, then drain up to a fence message.

    Joining a topic's group in another process is asynchronous; this waits for it.
    """
    pending = set(range(len(receivers)))
    deadline = time.monotonic() + 10
    probe = 0
    while pending:
        assert time.monotonic() < deadline, f"receivers {sorted(pending)} never got a probe"
        await publisher.send(f"probe{probe}")
        probe += 1
        for index in list(pending):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(receivers[index].recv(), 0.1)
                pending.discard(index)
    await publisher.send("fence")
    for ws in receivers:
        while (await recv(ws)) != "fence":
            pass


async def wait_count(ws: ClientConnection, expected: int, within: float = 5.0) -> None:
    """Ask ``?count`` until the endpoint reports ``expected`` subscribers."""
    deadline = time.monotonic() + within
    while True:
        await ws.send("?count")
        got = await recv(ws)
        if got == f"count={expected}":
            return
        assert time.monotonic() < deadline, f"count stayed {got!r}, expected {expected}"
        await asyncio.sleep(0.1)


async def test_publish_reaches_other_process_once_each_in_publish_order(
    cluster: tuple[Server, Server, dict[str, str]],
) -> None:
    a, b, _ = cluster
    async with contextlib.AsyncExitStack() as stack:
        sender, local = (
            await opened(stack, a, "t/room/order/"),
            await opened(stack, a, "t/room/order/"),
        )
        remote = [await opened(stack, b, "t/room/order/") for _ in range(2)]
        await settle(sender, [local, *remote])
        sent = [f"m{i}" for i in range(200)]
        for message in sent:
            await sender.send(message)
        for ws in [local, *remote]:
            assert [await recv(ws) for _ in sent] == sent
            await expect_silence(ws, 0.3)  # once each: no duplicate from the Redis echo
        await expect_silence(sender, 0.1)  # publish_to_self is off: the sender hears nothing


async def test_publish_to_self_delivers_once_to_sender_and_to_both_processes(
    cluster: tuple[Server, Server, dict[str, str]],
) -> None:
    a, b, _ = cluster
    async with contextlib.AsyncExitStack() as stack:
        sender = await opened(stack, a, "t/room-self/selfish/")
        remote = await opened(stack, b, "t/room-self/selfish/")
        await settle(sender, [sender, remote])
        await sender.send("to all")
        assert await recv(sender) == "to all"
        assert await recv(remote) == "to all"
        await remote.send("back")  # published on b: the sender on a gets it from Redis
        assert await recv(remote) == "back"
        assert await recv(sender) == "back"
        await expect_silence(sender, 0.3)
        await expect_silence(remote, 0.1)


async def test_subscriber_count_adds_every_live_process_and_follows_leaves(
    cluster: tuple[Server, Server, dict[str, str]],
) -> None:
    a, b, _ = cluster
    async with contextlib.AsyncExitStack() as stack:
        here = [await opened(stack, a, "t/room/counted/") for _ in range(2)]
        there = [await opened(stack, b, "t/room/counted/") for _ in range(3)]
        await wait_count(here[0], 5)
        await wait_count(there[0], 5)
        for ws in there[1:]:
            await ws.close()
        await wait_count(here[0], 3)
        await here[1].close()
        await wait_count(there[0], 2)


PLAIN_PUBLISHER = """
import asyncio, django
django.setup()
import bunws
print(bunws.publish("plain", "from sync code"))
print(asyncio.run(bunws.apublish("plain", b"from async code")))
"""


async def test_plain_process_and_management_command_publish_to_every_process(
    cluster: tuple[Server, Server, dict[str, str]],
) -> None:
    a, b, env = cluster
    async with contextlib.AsyncExitStack() as stack:
        subscribers = [
            await opened(stack, a, "t/watch/plain/"),
            await opened(stack, b, "t/watch/plain/"),
        ]
        await wait_count_via_command(a, env, "plain", 2)
        plain = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c", PLAIN_PUBLISHER],
            cwd=ROOT,
            env=django_env(a.db_path, **env),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert plain.returncode == 0, plain.stderr
        assert plain.stdout.split() == ["14", "15"]
        for ws in subscribers:
            assert await recv(ws) == "from sync code"
            assert await recv(ws) == b"from async code"
        command = await asyncio.to_thread(publish_command, a, env, "plain", "from manage.py")
        assert command.returncode == 0, command.stderr
        assert "published 14 bytes (text) to topic 'plain'" in command.stdout
        assert "2 subscribers across processes" in command.stdout
        for ws in subscribers:
            assert await recv(ws) == "from manage.py"
            await expect_silence(ws, 0.2)


def publish_command(
    server: Server, env: dict[str, str], topic: str, message: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "bunws_publish", topic, message],
        cwd=ROOT,
        env=django_env(server.db_path, **env),
        capture_output=True,
        text=True,
        timeout=30,
    )


async def wait_count_via_command(server: Server, env: dict[str, str], topic: str, n: int) -> None:
    """Wait until both processes have joined ``topic`` (seen through the counts in Redis)."""
    script = (
        f"import django; django.setup(); import bunws; print(bunws.subscriber_count({topic!r}))"
    )
    deadline = time.monotonic() + 10
    while True:
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c", script],
            cwd=ROOT,
            env=django_env(server.db_path, **env),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr
        if done.stdout.strip() == str(n):
            await asyncio.sleep(0.2)  # the count is written after the group is joined
            return
        assert time.monotonic() < deadline, f"count stayed {done.stdout.strip()}, expected {n}"
        await asyncio.sleep(0.2)


# -- Redis going away -------------------------------------------------------------------


@pytest.mark.parametrize("layer", sorted(LAYERS))
@pytest.mark.timeout(120, func_only=True)  # starts Redis and two daphnes; the outage has 30 s
async def test_redis_outage_keeps_local_delivery_and_remote_delivery_resumes(
    layer: str, tmp_path: Path
) -> None:
    require_redis()
    if shutil.which("redis-server") is None:
        message = "redis-server is not installed; the outage test starts its own"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    port = free_port()
    env = redis_env(layer, f"redis://127.0.0.1:{port}/0")
    migrate(tmp_path / "db.sqlite3", **env)
    redis_processes = [start_redis(port, tmp_path)]

    try:
        with daphne_server(tmp_path, **env) as a, daphne_server(tmp_path, **env) as b:
            async with asyncio.timeout(30), contextlib.AsyncExitStack() as stack:
                sender, local = (
                    await opened(stack, a, "t/room/outage/"),
                    await opened(stack, a, "t/room/outage/"),
                )
                remote = await opened(stack, b, "t/room/outage/")
                await settle(sender, [local, remote])
                redis_processes[0].terminate()
                await asyncio.to_thread(redis_processes[0].wait, 10)
                for i in range(20):
                    await sender.send(f"during{i}")
                    assert await recv(local) == f"during{i}"
                await expect_silence(remote, 0.5)
                redis_processes.append(await asyncio.to_thread(start_redis, port, tmp_path))
                deadline = time.monotonic() + 15
                resumed = 0
                while True:
                    assert time.monotonic() < deadline, "remote delivery did not resume within 15 s"
                    await sender.send(f"after{resumed}")
                    assert await recv(local) == f"after{resumed}"
                    resumed += 1
                    with contextlib.suppress(TimeoutError):
                        got = await asyncio.wait_for(remote.recv(), 0.2)
                        assert str(got).startswith("after")
                        break
                await remote.send("back from b")  # and b's publishes reach a again
                assert await recv(local) == "back from b"
            log = a.log()
    finally:
        for process in redis_processes:
            process.terminate()
            process.wait(10)
    assert "the channel layer is unreachable" in log
    assert "remote delivery resumed" in log
    assert "remote publishes were dropped" in log
