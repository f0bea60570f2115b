"""Cross-process delivery of publishes through the Channels layer (Redis via ``channels_redis``).

Each socket-serving process runs one bridge: one channel of its own, joined to one group per
topic that has local subscribers (``bunws.cluster.layer.group_name``), one sender task that sends publishes
in order (consecutive publishes to a topic ride in one layer message), and one receiver task
that fans each message out through the local hub with the frame built once. Messages carry the
sending process's id, so the sender, which already delivered locally, ignores its own. With the
in-memory layer (the default) there is nothing to reach and no bridge is started. The bridge also
writes this process's subscriber counts to Redis (``bunws.cluster.counts``) on every tick.

Redis outages never reach handlers: failed sends are dropped and counted in a log line on the
``bunws`` logger, group memberships are re-established, and delivery resumes by itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from bunws.cluster import recorded
from bunws.cluster.counts import CountPublisher
from bunws.cluster.layer import (
    MESSAGE_TYPE,
    PRESENCE_TYPE,
    PROCESS_ID,
    SEND_TIMEOUT,
    cross_process_layer,
    group_name,
    publish_message,
)
from bunws.core.frame import Frame
from bunws.core.hub import Hub, hub

logger = logging.getLogger("bunws")

#: Backlog bounds: beyond them a publish is dropped for remote processes (and counted).
MAX_QUEUED = 10_000
MAX_QUEUED_BYTES = 64 * 1024 * 1024
#: One layer message carries at most this many consecutive publishes to one topic.
BATCH_COUNT, BATCH_BYTES = 256, 256 * 1024
TICK = 0.5
OUTAGE_REPORT_EVERY = 5.0


class Outage:
    """Logs an unreachable layer once, the dropped publishes every few seconds, the recovery."""

    def __init__(self) -> None:
        self.since: float | None = None
        self.dropped = 0
        self._reported = 0.0

    def failed(self, exc: BaseException, dropped: int) -> None:
        now = time.monotonic()
        self.dropped += dropped
        if self.since is None:
            self.since, self._reported = now, now
            logger.error(
                "bunws: the channel layer is unreachable (%s: %s); local delivery goes on, "
                "remote delivery resumes when it is back",
                type(exc).__name__,
                exc,
            )
        elif now - self._reported >= OUTAGE_REPORT_EVERY:
            self._reported = now
            logger.warning(
                "bunws: the channel layer is still unreachable after %.0f s; "
                "%d remote publishes dropped so far",
                now - self.since,
                self.dropped,
            )

    def succeeded(self) -> bool:
        """Note a success; True when it ends an outage."""
        if self.since is None:
            return False
        logger.warning(
            "bunws: the channel layer is reachable again after %.1f s; remote delivery resumed; "
            "%d remote publishes were dropped",
            time.monotonic() - self.since,
            self.dropped,
        )
        self.since, self.dropped = None, 0
        return True


class Bridge:
    """This process's link to the others through ``layer`` (runs on the socket loop)."""

    def __init__(self, layer: Any, local_hub: Hub, loop: asyncio.AbstractEventLoop) -> None:
        self.layer = layer
        self.hub = local_hub
        self.loop = loop
        self.outage = Outage()
        #: Layer messages whose local delivery raised (each logged); receiving went on.
        self.delivery_failures = 0
        #: Receives the other processes' presence diffs (set by ``bunws.cluster.presence``).
        self.on_presence: Callable[[dict[str, Any]], None] | None = None
        self._queue: deque[tuple[str, str | bytes, int, bool]] = deque()
        self._queued_bytes = 0
        self._wake = asyncio.Event()
        self._wanted = {topic for topic, _ in local_hub.topics()}
        self._joined: set[str] = set()
        self._rejoin = False  # join every wanted group again (Redis may have lost them)
        self._channel: str | None = None
        self._channel_ready = asyncio.Event()
        self.counts = CountPublisher.for_layer(local_hub)
        local_hub.observers.append(self._on_topic)
        self._tasks = [
            loop.create_task(self._send_loop(), name="bunws-bridge-send"),
            loop.create_task(self._receive_loop(), name="bunws-bridge-receive"),
            loop.create_task(self._tick_loop(), name="bunws-bridge-tick"),
        ]

    # -- called on the socket loop by the hub and by publish_frame ------------------------

    def _on_topic(self, topic: str, active: bool) -> None:
        if active:
            self._wanted.add(topic)
        else:
            self._wanted.discard(topic)
        self._wake.set()

    def forward(self, topic: str, frame: Frame, skip: Any = None) -> bool:
        """Queue ``frame`` for the other processes; False when the backlog is full.

        ``skip`` needs no forwarding: only the sending process holds that socket, and it
        ignores its own messages.
        """
        if len(self._queue) >= MAX_QUEUED or self._queued_bytes + frame.size > MAX_QUEUED_BYTES:
            self.outage.failed(OverflowError("the remote-publish backlog is full"), 1)
            return False
        self._queue.append((topic, frame.data, frame.size, frame.compress))
        self._queued_bytes += frame.size
        self._wake.set()
        return True

    # -- tasks ----------------------------------------------------------------------------

    async def _send_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._sync_membership()
                while self._queue:
                    topic, items, compress = self._take_batch()
                    message = publish_message(topic, items, compress)
                    try:
                        await asyncio.wait_for(
                            self.layer.group_send(group_name(topic), message), SEND_TIMEOUT
                        )
                    except Exception as exc:
                        self._lost(exc, len(items) + self._drop_queue())
                        break
                    if self.outage.succeeded():
                        self._rejoin = True  # a restarted Redis forgot the groups
                        await self._sync_membership()
            except asyncio.CancelledError:
                raise
            except Exception:  # pragma: no cover - a bug here must not stop delivery
                logger.exception("bunws: the bridge sender failed; it goes on")

    def _take_batch(self) -> tuple[str, list[str | bytes], bool]:
        topic, data, size, compress = self._queue.popleft()
        items, nbytes = [data], size
        while self._queue and len(items) < BATCH_COUNT and nbytes < BATCH_BYTES:
            next_topic, data, size, next_compress = self._queue[0]
            if next_topic != topic or next_compress != compress:
                break
            self._queue.popleft()
            items.append(data)
            nbytes += size
        self._queued_bytes -= nbytes
        return topic, items, compress

    def _drop_queue(self) -> int:
        dropped = len(self._queue)
        self._queue.clear()
        self._queued_bytes = 0
        return dropped

    def _lost(self, exc: BaseException, dropped: int) -> None:
        self.outage.failed(exc, dropped)
        self._rejoin = True

    async def _sync_membership(self) -> None:
        """Join the groups of topics with local subscribers, leave the others."""
        renew, self._rejoin = self._rejoin, False
        if not renew and self._wanted == self._joined:
            return
        try:
            if self._channel is None:
                self._channel = await self.layer.new_channel()
                self._channel_ready.set()
            for topic in list(self._joined - self._wanted):
                await self.layer.group_discard(group_name(topic), self._channel)
                self._joined.discard(topic)
            for topic in list(self._wanted):
                if renew or topic not in self._joined:
                    await self.layer.group_add(group_name(topic), self._channel)
                    self._joined.add(topic)
        except Exception as exc:
            self._lost(exc, 0)  # retried on the next tick

    async def _receive_loop(self) -> None:
        await self._channel_ready.wait()
        backoff = 0.05
        while True:
            try:
                message = await self.layer.receive(self._channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._lost(exc, 0)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
                continue
            if backoff > 0.05:
                backoff = 0.05
                self.outage.succeeded()
            try:
                self._deliver(message)
            except Exception:
                # One bad message (or a bug in one socket's write path) must not end delivery
                # for the life of the process: log it, count it, keep receiving.
                self.delivery_failures += 1
                logger.exception(
                    "bunws: could not deliver a message from the channel layer (%d so far); "
                    "receiving goes on",
                    self.delivery_failures,
                )

    def _deliver(self, message: dict[str, Any]) -> None:
        if message.get("type") != MESSAGE_TYPE or message.get("o") == PROCESS_ID:
            if message.get("type") == PRESENCE_TYPE and self.on_presence is not None:
                self.on_presence(message)  # a presence diff (bunws.cluster.presence)
            return
        receive = recorded.hooks["receive"]
        if receive is not None and receive(message):
            return  # a recorded topic's: delivered in offset order (bunws.cluster.recovery)
        topic, compress = message["t"], message.get("z", False)
        for data in message["m"]:
            self.hub.publish(topic, Frame(data, compress))

    async def _tick_loop(self) -> None:
        refresh = float(getattr(self.layer, "group_expiry", 0) or 0) / 4
        refreshed = time.monotonic()
        while True:
            await asyncio.sleep(TICK)
            if refresh and time.monotonic() - refreshed > refresh:
                refreshed = time.monotonic()
                self._rejoin = True  # RedisChannelLayer memberships expire: renew them
            if self._rejoin or self._wanted != self._joined:
                self._wake.set()
            if self.counts is not None:
                await self.counts.push()

    def close(self) -> None:
        """Stop the tasks and stop observing the hub."""
        if self._on_topic in self.hub.observers:
            self.hub.observers.remove(self._on_topic)
        for task in self._tasks:
            if not task.done() and not self.loop.is_closed():
                self.loop.call_soon_threadsafe(task.cancel)


def start_bridge(previous: Bridge | None = None) -> Bridge | None:
    """Start the bridge for this process's socket loop, closing ``previous`` (the bridge of a
    loop bound before); None when the layer is process-local."""
    if previous is not None:
        previous.close()
    layer = cross_process_layer()
    if layer is None:
        return None
    bridge = Bridge(layer, hub, asyncio.get_running_loop())
    logger.info("bunws: publishes reach other processes through channel layer %s", layer)
    return bridge
