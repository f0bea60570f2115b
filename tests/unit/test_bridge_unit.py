"""The bridge without daphne or Redis (a fake channel layer): topic-to-group mapping, ordering,
echo suppression, outages. Against a real Redis: ``tests/e2e/test_cluster_redis.py``."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from channels.layers import BaseChannelLayer
from hypothesis import given, settings
from hypothesis import strategies as st

from bunws.cluster import bridge, counts
from bunws.cluster.layer import (
    MESSAGE_TYPE,
    PROCESS_ID,
    cross_process_layer,
    group_name,
    publish_message,
)
from bunws.core.frame import Frame
from bunws.core.hub import Hub

any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=10_000)


def assert_valid_group(name: str) -> None:
    assert BaseChannelLayer(expiry=60).require_valid_group_name(name)
    assert len(name) < 100 and name.isascii()


@settings(max_examples=200, deadline=None)
@given(any_text)
def test_any_topic_maps_to_a_valid_channels_group_name(topic: str) -> None:
    assert_valid_group(group_name(topic))


@settings(max_examples=50, deadline=None)
@given(st.lists(any_text, min_size=2, max_size=50, unique=True))
def test_distinct_topics_never_share_a_group(topics: list[str]) -> None:
    assert len({group_name(t) for t in topics}) == len(topics)


def test_long_unicode_and_surrogate_topics_map_deterministically() -> None:
    long_topic = "ü🙂" * 5_000  # 10,000 characters
    for topic in (long_topic, "\ud800", "", "room/1", "room/1 "):
        assert_valid_group(group_name(topic))
        assert group_name(topic) == group_name(topic)
    assert group_name("\ud800") != group_name("\udc00")


class Recorder:
    """A local subscriber that keeps what it was given."""

    def __init__(self) -> None:
        self.got: list[str | bytes] = []

    def deliver(self, frame: Frame) -> int:
        self.got.append(frame.data)
        return frame.size


class FakeLayer:
    """Records sends; can be switched to fail like an unreachable Redis."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.groups: dict[str, set[str]] = {}
        self.down = False
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def _check(self) -> None:
        if self.down:
            raise ConnectionError("Connection refused (fake)")

    async def new_channel(self) -> str:
        self._check()
        return "fake!1"

    async def group_add(self, group: str, channel: str) -> None:
        self._check()
        self.groups.setdefault(group, set()).add(channel)

    async def group_discard(self, group: str, channel: str) -> None:
        self._check()
        self.groups.get(group, set()).discard(channel)

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        self._check()
        self.sent.append((group, message))

    async def receive(self, channel: str) -> dict[str, Any]:
        return await self.inbox.get()


async def until(condition: Any, within: float = 3.0) -> None:
    async with asyncio.timeout(within):
        while not condition():
            await asyncio.sleep(0.01)


@pytest.mark.timeout(10, func_only=True)
async def test_bridge_joins_groups_sends_in_order_batched_and_ignores_its_own_echo() -> None:
    hub, layer, sub = Hub(), FakeLayer(), Recorder()
    link = bridge.Bridge(layer, hub, asyncio.get_running_loop())
    try:
        hub.subscribe(sub, "room")
        await until(lambda: layer.groups.get(group_name("room")) == {"fake!1"})
        for i in range(300):
            assert link.forward("room", Frame(f"m{i}"))
        link.forward("other", Frame(b"x"))
        await until(lambda: sum(len(m["m"]) for _, m in layer.sent) == 301)
        sent = [d for _, m in layer.sent if m["t"] == "room" for d in m["m"]]
        assert sent == [f"m{i}" for i in range(300)]
        assert len(layer.sent) < 10  # consecutive publishes share layer messages
        assert all(m["o"] == PROCESS_ID for _, m in layer.sent)
        await layer.inbox.put(layer.sent[0][1])  # our own echo: already delivered here
        await layer.inbox.put(publish_message("room", ["remote", b"bin"]) | {"o": "x"})
        await until(lambda: len(sub.got) == 2)
        assert sub.got == ["remote", b"bin"]
        hub.unsubscribe(sub, "room")
        await until(lambda: not layer.groups[group_name("room")])
    finally:
        link.close()


@pytest.mark.timeout(10, func_only=True)
async def test_bridge_outage_drops_remote_publishes_logs_them_and_recovers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="bunws"):
        hub, layer, sub = Hub(), FakeLayer(), Recorder()
        link = bridge.Bridge(layer, hub, asyncio.get_running_loop())
        try:
            hub.subscribe(sub, "room")
            await until(lambda: bool(layer.groups.get(group_name("room"))))
            layer.down = True
            layer.groups.clear()  # the Redis that comes back is empty
            for i in range(5):
                link.forward("room", Frame(f"lost{i}"))
            await until(lambda: link.outage.since is not None)
            layer.down = False
            link.forward("room", Frame("back"))
            await until(lambda: any(m["m"] == ["back"] for _, m in layer.sent))
            await until(lambda: bool(layer.groups.get(group_name("room"))))
            assert link.outage.since is None
        finally:
            link.close()
    text = caplog.text
    assert "the channel layer is unreachable (ConnectionError" in text
    assert "remote delivery resumed; 5 remote publishes were dropped" in text


async def test_full_backlog_refuses_the_publish_instead_of_growing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bridge, "MAX_QUEUED", 3)
    link = bridge.Bridge(FakeLayer(), Hub(), asyncio.get_running_loop())
    try:
        forwarded = [link.forward("t", Frame("x")) for _ in range(5)]  # the sender never ran
    finally:
        link.close()
    assert forwarded == [True, True, True, False, False]


async def test_in_memory_layer_starts_no_bridge_and_counts_locally() -> None:
    assert bridge.start_bridge() is None
    assert cross_process_layer() is None
    assert counts.cluster_subscriber_count("nobody-here") == 0


class Exploding:
    """A local subscriber whose delivery raises, like a bug in a socket's write path."""

    def deliver(self, frame: Frame) -> int:
        raise RuntimeError(f"cannot deliver {frame.data!r}")


@pytest.mark.timeout(10, func_only=True)
async def test_a_failing_delivery_is_logged_counted_and_receiving_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="bunws"):
        hub, layer, sub = Hub(), FakeLayer(), Recorder()
        link = bridge.Bridge(layer, hub, asyncio.get_running_loop())
        try:
            hub.subscribe(Exploding(), "boom")
            hub.subscribe(sub, "room")
            await until(lambda: bool(layer.groups.get(group_name("room"))))
            remote = {"o": "another-process"}
            await layer.inbox.put(publish_message("boom", ["first"]) | remote)
            await layer.inbox.put({"type": MESSAGE_TYPE, "o": "x"})  # malformed: no topic
            await layer.inbox.put(publish_message("room", ["still here"]) | remote)
            await until(lambda: sub.got == ["still here"])
            failures = link.delivery_failures
        finally:
            link.close()
    assert failures == 2
    assert caplog.text.count("could not deliver a message from the channel layer") == 2
    assert "cannot deliver 'first'" in caplog.text
