"""Presence across processes: this process's tracker, its Redis writer, its diffs, the reaper.

``tracker`` (``bunws.core.presence.Tracker``) holds this process's entries; the ASGI layer gives
it to every socket as its presence hook. The first change starts a ``Service`` on the socket
loop. Every broadcast period it hands each topic's net diff to this process's subscribers (the
ASGI layer's ``dispatch`` calls the endpoint's ``presence`` handler) and, with a Redis layer,
sends its own changes to the other processes through the bridge's group for the topic, one
layer message per topic. With Redis each change is also written at once (one pipeline per loop
iteration, ``bunws.cluster.presence_store``), a marker is checked every tick to write
everything again after Redis lost it, and the processes not seen for the down period are reaped
(by one process) with their leaves sent as a diff. With the in-memory layer presence is this
process's, exactly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from bunws.cluster import presence_store as store
from bunws.cluster.counts import _REGISTER, PROCESS_TTL, redis_settings
from bunws.cluster.layer import PRESENCE_TYPE, PROCESS_ID, SEND_TIMEOUT, group_name
from bunws.cluster.publish import _state as publish_state
from bunws.core.hub import hub
from bunws.core.presence import Changes, Diff, Entry, Tracker, as_diff, net

logger = logging.getLogger("bunws")

TICK = 0.5
REDIS_TIMEOUT = 2.0

#: This process's entries; every socket gets it as its presence hook.
tracker = Tracker()
#: ``dispatch(ws, topic, diff)``: set by the ASGI layer, calls the ``presence`` handler.
Dispatch = Callable[[Any, str, Diff], None]
_hooks: dict[str, Any] = {"dispatch": None, "service": None}


def set_dispatcher(dispatch: Dispatch) -> None:
    _hooks["dispatch"] = dispatch


def presence_message(topic: str, leaves: list[Entry], joins: list[Entry]) -> dict[str, Any]:
    def rows(entries: list[Entry]) -> list[list[Any]]:
        return [[e.key, e.meta, e.joined] for e in entries]

    return {"type": PRESENCE_TYPE, "o": PROCESS_ID, "t": topic, "l": rows(leaves), "j": rows(joins)}


class Service:
    """This process's presence on the socket loop: flushes diffs, writes to Redis, reaps."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        from bunws.conf import get_config

        config = get_config()
        self.period = config.presence_broadcast_period
        self.down = config.presence_down_period
        self.loop = loop
        self.bridge = publish_state["bridge"]
        self.client: Any = None
        self.keys: store.Keys | None = None
        found = redis_settings() if self.bridge is not None else None
        if found is not None and self.bridge is not None:
            import redis.asyncio
            from channels_redis.utils import create_pool

            host, prefix = found
            self.client = redis.asyncio.Redis(connection_pool=create_pool(host))
            self.keys = store.Keys(prefix)
            tracker.outbound = tracker.outbound or Changes()
            self.bridge.on_presence = self.receive
        elif self.bridge is not None:
            logger.warning("bunws: presence is process-local: the channel layer is not Redis")
        self.synced = False  # False: write every entry again (first write, after a failure)
        self.closed = False
        self._changed: dict[str, set[str]] = {}
        self._known: set[str] = set()  # topics in this process's topic set in Redis
        self._writing: asyncio.Task[None] | None = None
        self._tasks = [loop.create_task(self._run(), name="bunws-presence")]

    # -- this process's changes -----------------------------------------------------------

    def _dirty(self, topic: str, ref: str) -> None:
        self._changed.setdefault(topic, set()).add(ref)
        if self._writing is None or self._writing.done():
            self._writing = self.loop.create_task(self.write())

    async def write(self) -> None:
        """Write the changed entries in one pipeline (or everything, when not in sync), round
        after round: a change made while a round is in flight goes in the next one (``_dirty``
        starts no task while this one runs)."""
        while self.keys is not None and not self.closed and self._changed:
            await asyncio.sleep(0)  # let this loop iteration's other changes join the pipeline
            changed, self._changed = self._changed, {}
            if not self.synced:
                await self.resync()
                if not self.synced:
                    return  # Redis is unreachable: the next tick writes everything again
                continue
            batch = {
                topic: {ref: tracker.topics.get(topic, {}).get(ref) for ref in refs}
                for topic, refs in changed.items()
            }
            emptied = [topic for topic in batch if topic not in tracker.topics]
            pipe = self.client.pipeline(transaction=False)
            store.write_changes(pipe, self.keys, PROCESS_ID, batch, emptied, self._known)
            try:
                await asyncio.wait_for(pipe.execute(), REDIS_TIMEOUT)
            except Exception:
                self.synced = False  # the next tick writes everything again
                return

    async def resync(self) -> None:
        """Write all of this process's entries again; when it had been reaped, its entries go
        to the others as joins again (they received them as leaves)."""
        keys = self.keys
        if keys is None:
            return
        self._changed = {}
        try:
            stale = {m.decode() for m in await self.client.smembers(keys.topics_of(PROCESS_ID))}
            pipe = self.client.pipeline(transaction=True)
            pipe.eval(_REGISTER, 1, keys.procs, PROCESS_ID, PROCESS_TTL)
            store.announce(pipe, keys, PROCESS_ID, tracker.topics, stale)
            pipe.get(keys.reaped(PROCESS_ID))
            pipe.delete(keys.reaped(PROCESS_ID))
            results = await asyncio.wait_for(pipe.execute(), REDIS_TIMEOUT)
        except Exception:
            self.synced = False
            return
        self.synced = True
        self._known = set(tracker.topics)
        if results[-2] is not None and tracker.outbound is not None:
            for topic, entries in tracker.topics.items():
                tracker.outbound.merge(topic, [], entries.values())

    # -- other processes' changes -----------------------------------------------------------

    def receive(self, message: dict[str, Any]) -> None:
        """A diff from another process (through the bridge): delivered with the next flush."""
        if message.get("o") == PROCESS_ID:
            return
        leaves = [Entry(*row) for row in message["l"]]
        joins = [Entry(*row) for row in message["j"]]
        tracker.inbound.merge(message["t"], leaves, joins)

    # -- every period and tick --------------------------------------------------------------

    async def _run(self) -> None:
        waited = 0.0
        reap_every = max(TICK, self.down / 10)
        reaped_at = 0.0
        while True:
            step = min(TICK, self.period) if self.keys is not None else self.period
            await asyncio.sleep(step)
            waited += step
            try:
                if self.keys is not None and not self.closed:
                    await self._tick()
                    reaped_at += step
                    if reaped_at >= reap_every:
                        reaped_at = 0.0
                        await self.reap()
                if waited >= self.period:
                    waited = 0.0
                    await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:  # pragma: no cover - presence must outlive a bug in one round
                logger.exception("bunws: presence round failed; it goes on")

    async def _tick(self) -> None:
        """Rewrite everything when Redis lost the marker (restarted, flushed) or a write failed."""
        assert self.keys is not None
        if self.synced and tracker.topics:
            try:
                alive = await asyncio.wait_for(
                    self.client.expire(self.keys.marker(PROCESS_ID), store.MARKER_TTL),
                    REDIS_TIMEOUT,
                )
            except Exception:
                alive = True  # unreachable: try again next tick
                self.synced = False
            self.synced = self.synced and bool(alive)
        if not self.synced:
            await self.resync()

    async def flush(self) -> None:
        """One diff per topic: to this process's subscribers, and this process's own changes
        to the others (kept for the next period when the layer is unreachable)."""
        dispatch = _hooks["dispatch"]
        for topic, raw in tracker.inbound.take().items():
            leaves, joins = net(raw)
            if not (leaves or joins) or dispatch is None:
                continue
            diff = as_diff(leaves, joins)
            for ws in hub.members(topic):
                dispatch(ws, topic, diff)
        if tracker.outbound is None or self.bridge is None:
            return
        if self._writing is not None and not self._writing.done():
            await asyncio.wait([self._writing], timeout=REDIS_TIMEOUT)  # list after the write
        taken = tracker.outbound.take()
        for topic, raw in list(taken.items()):
            leaves, joins = net(raw)
            if leaves or joins:
                try:
                    await self._send(topic, leaves, joins)
                except Exception:
                    for rest, rest_raw in taken.items():
                        tracker.outbound.put_back(rest, rest_raw)
                    return
            del taken[topic]

    async def _send(self, topic: str, leaves: list[Entry], joins: list[Entry]) -> None:
        assert self.bridge is not None
        message = presence_message(topic, leaves, joins)
        await asyncio.wait_for(
            self.bridge.layer.group_send(group_name(topic), message), SEND_TIMEOUT
        )

    async def reap(self) -> None:
        """Remove the entries of processes not seen for the down period; one process reaps
        each (``SET NX``), and its leaves reach every subscriber as a diff."""
        keys = self.keys
        assert keys is not None
        pipe = self.client.pipeline(transaction=False)
        pipe.time()
        pipe.zrange(keys.procs, 0, -1, withscores=True)
        pipe.smembers(keys.owners)
        now, registry, owners = await asyncio.wait_for(pipe.execute(), REDIS_TIMEOUT)
        live = store.live_processes(now, registry, self.down)
        for owner in {o.decode() for o in owners} - live - {PROCESS_ID}:
            if not await self.client.set(keys.reap_lock(owner), 1, nx=True, ex=PROCESS_TTL):
                continue
            topics = [t.decode() for t in await self.client.smembers(keys.topics_of(owner))]
            pipe = self.client.pipeline(transaction=True)
            store.remove_process(pipe, keys, owner, topics)
            pipe.set(keys.reaped(owner), 1, ex=store.REAPED_TTL)
            results = await asyncio.wait_for(pipe.execute(), REDIS_TIMEOUT)
            gone = store.reaped_entries(topics, results)
            logger.warning(
                "bunws: presence: process %s was not seen for %.0f s; removed its %d entries",
                owner,
                self.down,
                sum(len(entries) for entries in gone.values()),
            )
            for topic, entries in gone.items():
                tracker.inbound.merge(topic, entries, [])
                await self._send(topic, entries, [])

    async def leave_all(self) -> None:
        """This process is exiting: every entry leaves now, in Redis and as diffs."""
        for ws in list(tracker.sockets):
            tracker.drop(ws)
        if self.keys is not None:
            self.closed = True
            pipe = self.client.pipeline(transaction=True)
            topics = [
                t.decode() for t in await self.client.smembers(self.keys.topics_of(PROCESS_ID))
            ]
            store.remove_process(pipe, self.keys, PROCESS_ID, topics)
            await asyncio.wait_for(pipe.execute(), REDIS_TIMEOUT)
        await self.flush()


def service() -> Service:
    """This process's presence service, started on the running (socket) loop at first use."""
    loop = asyncio.get_running_loop()
    current: Service | None = _hooks["service"]
    if current is None or current.loop is not loop:
        if current is not None:
            for task in current._tasks:
                task.cancel()
        current = _hooks["service"] = Service(loop)
    return current


def _on_change(topic: str, ref: str) -> None:
    current = service()
    if current.keys is not None:
        current._dirty(topic, ref)


tracker.on_change.append(_on_change)


async def leave_all() -> None:
    """Remove this process's entries at once (called at shutdown); logs instead of raising."""
    current: Service | None = _hooks["service"]
    if current is None:
        return
    try:  # bounded as a whole: a hung Redis must not hold the process's exit
        await asyncio.wait_for(current.leave_all(), 2 * REDIS_TIMEOUT)
    except Exception as exc:
        logger.warning("bunws: presence: could not remove this process's entries (%s)", exc)
