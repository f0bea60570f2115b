"""The cluster layer against a real Redis on 127.0.0.1:6379, without daphne: counts summed over
live processes, the process registry forgetting stopped ones, and ``bunws_publish`` over Redis.
Without Redis these tests skip, or fail when ``CI`` is set; each uses its own key prefix."""

from __future__ import annotations

import io
import uuid

import pytest
import redis
import redis.asyncio
from django.core.management import call_command
from django.test import override_settings

from bunws.asgi import threads
from bunws.cluster import counts
from bunws.cluster.layer import PROCESS_ID
from bunws.core.hub import Hub
from tests.support.services import require_redis

pytestmark = pytest.mark.redis


def test_remote_count_sums_live_processes_and_counts_dead_ones_as_zero() -> None:
    """Needs Redis on 127.0.0.1:6379: other processes' hashes are written by hand."""
    require_redis()
    prefix = f"bunwsunit-{uuid.uuid4().hex[:8]}"
    layers = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:6379/0"], "prefix": prefix},
        }
    }
    client = redis.Redis()
    try:
        client.hset(counts.counts_key(prefix, "live"), mapping={"alive": 1, "t:room": 4})
        client.hset(counts.counts_key(prefix, "quiet"), mapping={"alive": 1})
        client.zadd(counts.procs_key(prefix), {"live": 1, "quiet": 1, "dead": 1})
        with override_settings(CHANNEL_LAYERS=layers):
            assert counts.remote_count("room") == 4
            assert counts.remote_count("elsewhere") == 0
        # The dead id stays until the registry trims it (PROCESS_TTL after its last write, see
        # test_process_registry_expires_ids_of_processes_that_stopped_writing): presence needs
        # it to tell a process that is down from one that never existed.
        assert set(client.zrange(counts.procs_key(prefix), 0, -1)) == {b"live", b"quiet", b"dead"}
    finally:
        client.delete(*(counts.counts_key(prefix, p) for p in ("live", "quiet")))
        client.delete(counts.procs_key(prefix))
        client.close()


@pytest.mark.timeout(10, func_only=True)
async def test_process_registry_expires_ids_of_processes_that_stopped_writing() -> None:
    """Needs Redis: a killed process's id leaves the registry even if nobody reads counts."""
    require_redis()
    prefix = f"bunwsunit-{uuid.uuid4().hex[:8]}"
    client = redis.Redis()
    key = counts.procs_key(prefix)
    try:
        server_now = int(client.time()[0])
        # A process killed two minutes ago, and one that wrote a moment ago.
        client.zadd(key, {"killed": server_now - 120, "recent": server_now - 1})
        publisher = counts.CountPublisher(Hub(), redis.asyncio.Redis(), prefix)
        try:
            await publisher.push()
        finally:
            await publisher.client.aclose()
        members = {m.decode() for m in client.zrange(key, 0, -1)}
        assert members == {"recent", PROCESS_ID}
        assert 0 < client.ttl(key) <= counts.PROCESS_TTL
    finally:
        client.delete(key, counts.counts_key(prefix, PROCESS_ID))
        client.close()


def test_publish_command_over_redis_reports_the_path_and_binary_kind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The command runs in a process without sockets; in-process tests that ran before may have
    left this process a socket loop whose bridge was chosen under the in-memory layer."""
    require_redis()
    monkeypatch.setattr(threads, "socket_loop", lambda: None)
    layers = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": ["redis://127.0.0.1:6379/0"],
                "prefix": f"bunwsunit-{uuid.uuid4().hex[:8]}",
            },
        }
    }
    out = io.StringIO()
    with override_settings(CHANNEL_LAYERS=layers):
        call_command("bunws_publish", "nobody-listens", "héllo", "--binary", stdout=out)
    text = out.getvalue()
    assert "published 6 bytes (binary) to topic 'nobody-listens'" in text
    assert "channels_redis.core.RedisChannelLayer" in text
    assert "0 subscribers across processes" in text
