"""Subscriber counts across processes, kept in the Redis that carries the channel layer.

Every socket-serving process writes its per-topic counts to one hash,
``{prefix}:bunws:counts:{process id}`` (fields ``t:<topic>`` plus ``alive``), every half second,
with a 5 s time-to-live, and lists itself in the sorted set ``{prefix}:bunws:processes``, scored
by the Redis server's clock at its last write; ``prefix`` is the layer's ``prefix`` setting
("asgi" by default). Every write also drops the ids not refreshed for ``PROCESS_TTL`` seconds
and renews the set's own time-to-live, so ids of killed processes never pile up, whether or not
anyone reads counts. A count reads the other processes' hashes in one round trip and counts 0
for processes whose hash expired (they stopped or were killed). Layers other than ``channels_redis``
have no such store: counts are then this process's only. ``cluster_subscriber_count`` (exported
as ``bunws.subscriber_count``) adds this process's live count to the others'.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from bunws.cluster.layer import PROCESS_ID, cross_process_layer, layer_settings
from bunws.core.hub import Hub, hub

logger = logging.getLogger("bunws")

TTL = 5
#: Seconds after its last write that a process id leaves the registry (and the registry's TTL).
PROCESS_TTL = 60

# Scored by the Redis server's own clock, so processes on hosts with skewed clocks agree.
_REGISTER = """
local now = tonumber(redis.call('TIME')[1])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('EXPIRE', KEYS[1], ARGV[2])
"""
PUSH_TIMEOUT = 2.0
READ_TIMEOUT = 0.5
#: After a failed read, counts are local-only for this long instead of waiting on Redis again.
READ_BACKOFF = 1.0


def redis_settings() -> tuple[dict[str, Any], str] | None:
    """The first Redis host of the bunws channel layer and its key prefix; None if not Redis."""
    found = layer_settings()
    if not str(found.backend or "").startswith("channels_redis."):
        return None
    from channels_redis.utils import decode_hosts

    config = found.config
    return dict(decode_hosts(config.get("hosts"))[0]), str(config.get("prefix", "asgi"))


def procs_key(prefix: str) -> str:
    """The sorted set of live process ids, scored by their last write."""
    return f"{prefix}:bunws:processes"


def counts_key(prefix: str, process: str) -> str:
    return f"{prefix}:bunws:counts:{process}"


def field(topic: str) -> bytes:
    # "t:" keeps topics apart from the "alive" field; any string is a topic, even "alive".
    return b"t:" + topic.encode("utf-8", "surrogatepass")


class CountPublisher:
    """Writes this process's counts to Redis (called on the socket loop every tick)."""

    def __init__(self, local_hub: Hub, client: Any, prefix: str) -> None:
        self.hub = local_hub
        self.client = client
        self.procs = procs_key(prefix)
        self.key = counts_key(prefix, PROCESS_ID)
        self.process = PROCESS_ID
        self._written: dict[str, int] | None = None  # None: rewrite the whole hash

    @classmethod
    def for_layer(cls, local_hub: Hub) -> CountPublisher | None:
        found = redis_settings()
        if found is None:
            return None
        import redis.asyncio
        from channels_redis.utils import create_pool

        host, prefix = found
        return cls(local_hub, redis.asyncio.Redis(connection_pool=create_pool(host)), prefix)

    async def push(self) -> None:
        snapshot = dict(self.hub.topics())
        written = self._written
        pipe = self.client.pipeline(transaction=False)
        if written is None:
            pipe.delete(self.key)
            changed, removed = snapshot, []
        else:
            changed = {t: n for t, n in snapshot.items() if written.get(t) != n}
            removed = [t for t in written if t not in snapshot]
        if changed:
            pipe.hset(self.key, mapping={field(t): n for t, n in changed.items()})
        if removed:
            pipe.hdel(self.key, *(field(t) for t in removed))
        pipe.hset(self.key, "alive", 1)
        pipe.expire(self.key, TTL)
        pipe.eval(_REGISTER, 1, self.procs, self.process, PROCESS_TTL)
        try:
            await asyncio.wait_for(pipe.execute(), PUSH_TIMEOUT)
        except Exception:
            self._written = None  # Redis may have restarted empty: write everything again
            return
        self._written = snapshot


_readers: dict[str, Any] = {}
_read_failed_at = [0.0]


def _sync_client(host: dict[str, Any]) -> Any:
    key = repr(sorted(host.items()))
    client = _readers.get(key)
    if client is None:
        import redis

        options: dict[str, Any] = {
            "socket_timeout": READ_TIMEOUT,
            "socket_connect_timeout": READ_TIMEOUT,
        }
        host = {**host}
        if "address" in host:
            client = redis.Redis.from_url(host.pop("address"), **host, **options)
        elif "master_name" in host:
            from redis.sentinel import Sentinel

            sentinels, extra = host.pop("sentinels"), host.pop("sentinel_kwargs", None)
            sentinel = Sentinel(sentinels, sentinel_kwargs=extra)  # type: ignore[no-untyped-call]
            master = host.pop("master_name")
            client = sentinel.master_for(master, **host, **options)  # type: ignore[no-untyped-call]
        else:
            client = redis.Redis(**host, **options)
        _readers[key] = client
    return client


def remote_count(topic: str) -> int:
    """Subscribers of ``topic`` in the other live processes (0 when unknown or unreachable)."""
    found = redis_settings()
    if found is None or time.monotonic() - _read_failed_at[0] < READ_BACKOFF:
        return 0
    # Imported here (as in the other functions): without a Redis layer nobody needs redis.
    import redis

    host, prefix = found
    try:
        client = _sync_client(host)
        others = [p for p in client.zrange(procs_key(prefix), 0, -1) if p.decode() != PROCESS_ID]
        if not others:
            return 0
        pipe = client.pipeline(transaction=False)
        for process in others:
            pipe.hmget(counts_key(prefix, process.decode()), ["alive", field(topic)])
        total = 0
        # A process whose hash expired counts 0; its id stays in the registry (trimmed after
        # PROCESS_TTL), where presence judges it down only after its own down period.
        for alive, count in pipe.execute():
            if alive is not None:
                total += int(count or 0)
    except redis.RedisError as exc:
        _read_failed_at[0] = time.monotonic()
        logger.warning(
            "bunws: subscriber_count(%r) counts this process only: Redis is unreachable (%s)",
            topic[:100],
            exc,
        )
        return 0
    return total


def cluster_subscriber_count(topic: str) -> int:
    """Subscribers of ``topic`` in every process (see docs/scaling.md for each layer).

    This process's count is live; other processes' counts come from Redis, where each process
    writes its counts every half second. Without a Redis layer, or while Redis is unreachable,
    the count is this process's only.
    """
    local = hub.count(topic)
    if cross_process_layer() is None:
        return local
    return local + remote_count(topic)
