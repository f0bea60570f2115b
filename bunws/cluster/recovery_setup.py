"""What the recovery endpoints declared, and the store a process uses (docs/recovery.md).

Every endpoint with ``recovery=`` raises the store's retention to its ``window`` and its cap to
its ``max_per_topic`` (topics are process-wide). ``stamp_outside`` records a publish made by a
process without sockets (a command, a worker) when its topic is recorded now.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bunws.cluster.recovery_store import MemoryStore, RedisStore
from bunws.core.frame import Frame

logger = logging.getLogger("bunws")

#: The longest ``window`` and the largest ``max_per_topic`` of the recovery endpoints.
DECLARED: dict[str, int] = {"retention": 0, "cap": 0}
_outside: dict[str, Any] = {"store": None, "loop": None}


def refresh_every() -> float:
    """Seconds between renewals of live sessions and watched topics in the store."""
    return float(min(30, max(1, DECLARED["retention"] // 4)))


def open_store() -> RedisStore | MemoryStore:
    """The store for this process: Redis with a ``channels_redis`` layer, else memory."""
    from bunws.cluster.counts import redis_settings
    from bunws.cluster.layer import cross_process_layer

    retention, cap = DECLARED["retention"] or 120, DECLARED["cap"] or 10_000
    found = redis_settings() if cross_process_layer() is not None else None
    if found is None:
        return MemoryStore(retention, cap)
    import redis.asyncio
    from channels_redis.utils import create_pool

    host, prefix = found
    client = redis.asyncio.Redis(connection_pool=create_pool(host))
    return RedisStore(client, prefix, retention, cap)


async def stamp_outside(topic: str, frame: Frame) -> int | None:
    """A process without sockets publishes: record it if ``topic`` is recorded now."""
    loop = asyncio.get_running_loop()
    if _outside["store"] is None or _outside["loop"] is not loop:
        _outside["store"], _outside["loop"] = open_store(), loop
    store: RedisStore | MemoryStore = _outside["store"]
    if isinstance(store, MemoryStore):
        return None
    try:
        return await store.stamp(topic, frame.data, frame.compress)
    except Exception as exc:
        logger.error("bunws: recovery: publish to %r not recorded (%s)", topic[:100], exc)
        return None
