"""Reading presence from anywhere: ``presence(topic)``, ``apresence(topic)``, the largest lists.

With a Redis layer a list is one round trip (``TIME``, the process registry and the topic's
hash in one pipeline) for the other processes' entries, plus this process's own entries, read
on the socket loop where they live (so a socket's ``track`` shows at once in its own process).
Entries of processes not seen for the down period are left out. Without Redis the list is this
process's.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bunws.asgi import threads
from bunws.cluster import presence_store as store
from bunws.cluster.counts import _sync_client, redis_settings
from bunws.cluster.layer import PROCESS_ID
from bunws.cluster.presence import _hooks, tracker
from bunws.core.hub import check_topic
from bunws.core.presence import Entry, Listing, listing

logger = logging.getLogger("bunws")


def _local_entries(topic: str) -> list[Entry]:
    return list(tracker.topics.get(topic, {}).values())


def _down_period() -> float:
    from bunws.conf import get_config

    return get_config().presence_down_period


def presence(topic: str) -> Listing:
    """Who is on ``topic``: ``{key: [meta, ...]}`` (each meta with its ``ref``), keys in order
    of first join; cluster-wide with a Redis layer (see docs/presence.md)."""
    check_topic(topic)
    local = threads.call_on_socket_loop(_local_entries, topic, timeout=5)
    found = redis_settings()
    if found is None:
        return listing(local)
    import redis

    host, prefix = found
    pipe = _sync_client(host).pipeline(transaction=False)
    store.read_topic(pipe, store.Keys(prefix), topic)
    try:
        remote = store.parse_topic(pipe.execute(), _down_period(), PROCESS_ID)
    except redis.RedisError as exc:
        logger.warning(
            "bunws: presence(%r) lists this process only: Redis is unreachable (%s)",
            topic[:100],
            exc,
        )
        remote = []
    return listing([*remote, *local])


async def apresence(topic: str) -> Listing:
    """``presence`` for async code: on the socket loop through its async Redis client."""
    check_topic(topic)
    current = _hooks["service"]
    loop = asyncio.get_running_loop()
    if current is None or current.loop is not loop or current.keys is None:
        return await asyncio.to_thread(presence, topic)
    pipe = current.client.pipeline(transaction=False)
    store.read_topic(pipe, current.keys, topic)
    try:
        results = await asyncio.wait_for(pipe.execute(), 2.0)
        remote = store.parse_topic(results, current.down, PROCESS_ID)
    except Exception as exc:
        logger.warning("bunws: apresence(%r) lists this process only: %s", topic[:100], exc)
        remote = []
    return listing([*remote, *_local_entries(topic)])


def _local_sizes() -> list[tuple[str, int, int]]:
    return tracker.sizes()


def largest(limit: int = 10) -> list[dict[str, Any]]:
    """The topics with the most presence entries (``topic``, ``entries``, ``keys`` when known),
    cluster-wide with Redis (entry counts include processes not yet reaped)."""
    local = threads.call_on_socket_loop(_local_sizes, timeout=5)
    rows: dict[str, dict[str, Any]] = {
        t: {"topic": t, "keys": k, "entries": n, "scope": "process"} for t, k, n in local
    }
    found = redis_settings()
    if found is not None:
        host, prefix = found
        keys = store.Keys(prefix)
        client = _sync_client(host)
        owners = [o.decode() for o in client.smembers(keys.owners)]
        pipe = client.pipeline(transaction=False)
        for owner in owners:
            pipe.smembers(keys.topics_of(owner))
        topics = sorted({t.decode() for members in pipe.execute() for t in members})
        pipe = client.pipeline(transaction=False)
        for topic in topics:
            pipe.hlen(keys.topic(topic))
        here = {t: n for t, _, n in local}
        for topic, size in zip(topics, pipe.execute(), strict=True):
            row = rows.setdefault(topic, {"topic": topic, "keys": None})
            if int(size) != here.get(topic):  # other processes' keys are not counted here
                row["keys"] = None
            row.update(entries=int(size), scope="cluster")
    ordered = sorted(rows.values(), key=lambda row: (-row["entries"], row["topic"]))
    return ordered[:limit]
