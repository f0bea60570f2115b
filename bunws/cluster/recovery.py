"""This process's side of recovery: recording publishes, delivering them in offset order, and
keeping sessions and recorded topics alive in the store (docs/recovery.md).

A publish to a recorded topic is appended to the store first (one Lua call per message, the
loop iteration's publishes in one pipeline), then delivered here and sent through the channel
layer with its offset. Each process delivers a recorded topic in offset order (``Sequence``):
early messages wait, late or lost ones are read from the store after ``GAP_WAIT``. With the
in-memory layer the store is this process's memory and a publish is delivered at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from itertools import groupby
from typing import Any

from bunws.cluster import recorded
from bunws.cluster.layer import SEND_TIMEOUT, group_name, publish_message
from bunws.cluster.publish import _state as publish_state
from bunws.cluster.recovery_sessions import Sessions
from bunws.cluster.recovery_setup import DECLARED, open_store, refresh_every, stamp_outside
from bunws.cluster.recovery_store import Entry, MemoryStore
from bunws.core.envelope import StampedFrame
from bunws.core.frame import Frame
from bunws.core.hub import Subscriber, hub
from bunws.core.recovery import RecoveryConfig, Sequence

logger = logging.getLogger("bunws")

TICK = 0.25
#: Seconds an early message waits for the ones before it before they are read from the store.
GAP_WAIT = 0.5
RECORDED_EVERY = 1.0

_hooks: dict[str, Any] = {"service": None}
Item = tuple[StampedFrame, Subscriber | None]


def declare(config: RecoveryConfig) -> None:
    """An endpoint records for ``config``: the store keeps the longest window, largest cap."""
    DECLARED["retention"] = max(DECLARED["retention"], config.window)
    DECLARED["cap"] = max(DECLARED["cap"], config.max_per_topic)
    recorded.hooks.update(publish=_publish, receive=_receive, outside=stamp_outside, start=service)


class Service:
    """Recovery on the socket loop: the store, the order of each watched topic, sessions."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.store = open_store()
        self.memory = isinstance(self.store, MemoryStore)
        self.keep = DECLARED["retention"] + 2 * int(refresh_every())
        self.sequences: dict[str, Sequence[Item]] = {}
        self.ready: dict[str, asyncio.Future[int]] = {}
        self.watchers: dict[str, dict[Any, None]] = {}
        #: This process's sessions: saved per loop iteration, renewed, ended.
        self.sessions = Sessions(loop, self.store, self._failed)
        self._queue: list[tuple[str, Frame, Subscriber | None]] = []
        self._flushing = False
        self._reads: dict[tuple[str, int, int], asyncio.Future[tuple[list[Entry], int | None]]] = {}
        self._failed_at = 0.0
        #: Done once the recorded topics were read (handshakes of a new process wait for it).
        self.loaded: asyncio.Future[None] = loop.create_future()
        hub.observers.append(self._on_topic)
        self._task = loop.create_task(self._run(), name="bunws-recovery")

    # -- topics watched by bunws.v1 sockets ------------------------------------------------

    def watch(self, ws: Any, topic: str) -> asyncio.Future[int]:
        """``ws`` records ``topic``: a future of the offset the topic stands at here."""
        recorded.topics[topic] = None
        self.watchers.setdefault(topic, {})[ws] = None
        ready = self.ready.get(topic)
        if ready is None:
            ready = self.ready[topic] = self.loop.create_future()
            if self.memory:  # delivered at once in publish order: no sequence to keep
                ready.set_result(self.store.head(topic))  # type: ignore[union-attr]
            else:
                self.sequences[topic] = Sequence()
            self.loop.create_task(self._start(topic, ready))
        return ready

    def position(self, topic: str) -> int | None:
        """The offset delivered last here for ``topic`` (None while it is starting)."""
        if self.memory:
            return self.store.head(topic)  # type: ignore[union-attr]
        sequence = self.sequences.get(topic)
        return None if sequence is None else sequence.last

    def unwatch(self, ws: Any, topic: str) -> None:
        self.watchers.get(topic, {}).pop(ws, None)

    async def _start(self, topic: str, ready: asyncio.Future[int]) -> None:
        while True:
            try:
                last = await self.store.init(topic, self.keep)
                break
            except Exception as exc:
                self._failed(exc)
                await asyncio.sleep(1.0)
        sequence = self.sequences.get(topic)
        if sequence is not None:
            self._deliver(sequence.start(last))
        if not ready.done():
            ready.set_result(last)

    def _on_topic(self, topic: str, active: bool) -> None:
        if not active:  # no subscriber here any more: nothing to keep in order
            self.sequences.pop(topic, None)
            self.ready.pop(topic, None)
            self.watchers.pop(topic, None)

    # -- publishing and receiving -----------------------------------------------------------

    def publish(self, topic: str, frame: Frame, skip: Subscriber | None) -> int:
        """Record and deliver a publish to a recorded topic.

        The message is kept for replay, so it is never dropped: the return value is its size,
        or -1 when a local subscriber is backed up (in memory, where delivery is immediate).
        With Redis, local delivery follows the append, so the size is returned at once.
        """
        if self.memory:
            sender = getattr(skip, "client_id", "")
            n = self.store.append_now(topic, frame.data, frame.compress, sender)  # type: ignore[union-attr]
            hub.publish(topic, StampedFrame(frame.data, frame.compress, topic, n), skip)
            return -1 if hub.backpressured else frame.size
        self._queue.append((topic, frame, skip))
        if not self._flushing:
            self._flushing = True
            self.loop.create_task(self._flush())
        return frame.size

    async def _flush(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                try:
                    offsets: list[int | None] = list(
                        await self.store.append(
                            [
                                (t, f.data, f.compress, getattr(s, "client_id", ""))
                                for t, f, s in batch
                            ]
                        )
                    )
                except Exception as exc:
                    self._failed(exc)
                    offsets = [None] * len(batch)
                await self._send(batch, offsets)
        finally:
            self._flushing = False

    async def _send(self, batch: list[tuple[str, Frame, Any]], offsets: list[int | None]) -> None:
        """Deliver here, then to the others (a topic's consecutive items in one message)."""
        for (topic, frame, skip), n in zip(batch, offsets, strict=True):
            self.arrive(topic, n, frame.data, frame.compress, skip)
        bridge = publish_state["bridge"]
        if bridge is None:
            return
        start = 0
        for (topic, compress), group in groupby(batch, key=lambda b: (b[0], b[1].compress)):
            items = [frame.data for _, frame, _ in group]
            message = publish_message(topic, items, compress)
            message["n"], start = offsets[start : start + len(items)], start + len(items)
            try:
                send = bridge.layer.group_send(group_name(topic), message)
                await asyncio.wait_for(send, SEND_TIMEOUT)
            except Exception as exc:
                bridge.outage.failed(exc, len(items))  # the others read them from the store

    def arrive(
        self, topic: str, n: int | None, data: str | bytes, compress: bool, skip: Any = None
    ) -> None:
        """A message of a recorded topic, from here or elsewhere: delivered in offset order."""
        frame = StampedFrame(data, compress, topic, n)
        sequence = self.sequences.get(topic)
        if sequence is None or n is None:
            hub.publish(topic, frame, skip)
        else:
            self._deliver(sequence.offer(n, (frame, skip), time.monotonic()))

    def _deliver(self, items: list[Item]) -> None:
        for frame, skip in items:
            hub.publish(frame.topic, frame, skip)

    # -- reading for replays and gaps -------------------------------------------------------

    async def read(self, topic: str, after: int, limit: int) -> tuple[list[Entry], int | None]:
        """The store's messages after ``after``: one read for every socket asking the same."""
        key = (topic, after, limit)  # only the same read is shared: a longer one is not cut short
        pending = self._reads.get(key)
        if pending is None:
            pending = self._reads[key] = self.loop.create_task(self.store.read(topic, after, limit))
            pending.add_done_callback(lambda _: self._reads.pop(key, None))
        return await asyncio.shield(pending)

    async def _fill_gaps(self) -> None:
        now = time.monotonic()
        for topic, sequence in list(self.sequences.items()):
            gap = sequence.missing(now, GAP_WAIT)
            if gap is None:
                continue
            first, last = gap
            try:
                entries, _ = await self.store.read(topic, first - 1, last - first + 1)
            except Exception as exc:
                self._failed(exc)
                continue
            found = [
                (n, (StampedFrame(d, z, topic, n), None)) for n, d, z, _ in entries if n <= last
            ]
            if len(found) < last - first + 1:
                logger.warning(
                    "bunws: recovery: %d message(s) of topic %r never arrived and are not in the "
                    "store; delivery goes on after them",
                    last - first + 1 - len(found),
                    topic[:100],
                )
            self._deliver(sequence.fill(found, last))

    # -- every tick -------------------------------------------------------------------------

    async def _run(self) -> None:
        since_recorded, since_refresh = RECORDED_EVERY, 0.0  # read the recorded topics at once
        while True:
            if self.loaded.done():
                await asyncio.sleep(TICK)
                since_recorded, since_refresh = since_recorded + TICK, since_refresh + TICK
            try:
                await self._fill_gaps()
                if since_recorded >= RECORDED_EVERY:
                    since_recorded = 0.0
                    known = await self.store.recorded()
                    known.update(self.watchers)
                    for topic in [t for t in recorded.topics if t not in known]:
                        del recorded.topics[topic]
                    recorded.topics.update(dict.fromkeys(known))
                    if not self.loaded.done():
                        self.loaded.set_result(None)
                if since_refresh >= refresh_every():
                    since_refresh = 0.0
                    watched = [t for t, w in self.watchers.items() if w]
                    await self.store.refresh(watched, self.keep, dict(self.sessions.live))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failed(exc)
                if not self.loaded.done():
                    self.loaded.set_result(None)

    def _failed(self, exc: BaseException) -> None:
        if time.monotonic() - self._failed_at > 5.0:  # once every 5 s at most
            self._failed_at = time.monotonic()
            logger.error("bunws: recovery: the store is unreachable (%r)", exc)


def service() -> Service:
    """This process's recovery service, started on the running (socket) loop at first use."""
    loop = asyncio.get_running_loop()
    current: Service | None = _hooks["service"]
    if current is None or current.loop is not loop:
        if current is not None:
            current._task.cancel()
            hub.observers.remove(current._on_topic)
        current = _hooks["service"] = Service(loop)
    return current


def _publish(topic: str, frame: Frame, skip: Subscriber | None) -> int:
    return service().publish(topic, frame, skip)


def _receive(message: dict[str, Any]) -> bool:
    """A layer message (bridge): True when it is a recorded topic's, delivered here."""
    offsets = message.get("n")
    topic = message["t"]
    if offsets is None and topic not in recorded.topics:
        return False
    current: Service | None = _hooks["service"]
    compress = message.get("z", False)
    for data, n in zip(message["m"], offsets or [None] * len(message["m"]), strict=True):
        if current is None:
            hub.publish(topic, StampedFrame(data, compress, topic, n))
        else:
            current.arrive(topic, n, data, compress)
    return True
