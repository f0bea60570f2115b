"""The presence writer's rounds (``bunws.cluster.presence.Service.write``) against a fake Redis
whose pipelines take a while: a change made while a round is in flight is not left behind."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bunws.cluster import presence
from bunws.cluster import presence_store as store
from bunws.core.presence import Entry, Tracker


class SlowPipeline:
    """Records the commands it is given; ``execute`` takes 50 ms, like a round trip."""

    def __init__(self, rounds: list[list[tuple[str, Any]]]) -> None:
        self.rounds = rounds
        self.commands: list[tuple[str, Any]] = []

    def hset(self, key: str, mapping: dict[str, str]) -> None:
        self.commands.append(("hset", dict(mapping)))

    def hdel(self, key: str, *fields: str) -> None:
        self.commands.append(("hdel", fields))

    def sadd(self, key: str, *members: str) -> None:
        self.commands.append(("sadd", members))

    def srem(self, key: str, *members: str) -> None:
        self.commands.append(("srem", members))

    async def execute(self) -> list[Any]:
        await asyncio.sleep(0.05)
        self.rounds.append(self.commands)
        return []


class SlowRedis:
    def __init__(self) -> None:
        self.rounds: list[list[tuple[str, Any]]] = []

    def pipeline(self, transaction: bool = False) -> SlowPipeline:
        return SlowPipeline(self.rounds)


def writer(loop: asyncio.AbstractEventLoop, redis: SlowRedis) -> presence.Service:
    """A Service with only its writer's state (no bridge, no ticking task)."""
    service = presence.Service.__new__(presence.Service)
    service.loop = loop
    service.client = redis
    service.keys = store.Keys("test")
    service.synced = True
    service.closed = False
    service._changed = {}
    service._known = set()
    service._writing = None
    return service


async def test_a_change_made_while_a_write_is_in_flight_is_written_in_the_next_round(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tracker = Tracker()
    monkeypatch.setattr(presence, "tracker", tracker)
    client = SlowRedis()
    service = writer(asyncio.get_running_loop(), client)
    tracker.topics["room"] = {"r1": Entry("alice", {"ref": "r1"}, 1.0)}
    service._dirty("room", "r1")
    await asyncio.sleep(0.01)  # the first round's pipeline is in flight
    tracker.topics["room"]["r2"] = Entry("bob", {"ref": "r2"}, 2.0)
    service._dirty("room", "r2")  # no new task: the running one must pick it up
    assert service._writing is not None
    await asyncio.wait_for(service._writing, 2)
    written = [
        {name.split(":", 1)[1] for name in args}
        for commands in client.rounds
        for command, args in commands
        if command == "hset"
    ]
    assert written == [{"r1"}, {"r2"}]
    assert service._changed == {}
