"""Publishing to topics from sockets and from anywhere in the process.

A publish reaches local subscribers straight through the hub, then (when a cross-process
channel layer is configured) crosses the layer once for every other process through this
process's bridge (``bunws.cluster.bridge``, started by ``bind_loop``). Calls from other threads
(sync views) are handed to the event loop that owns the sockets; a process without sockets (a
shell, a management command, a Celery task) sends straight to the layer from a loop of its own.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import Any

from bunws.asgi import threads
from bunws.cluster import recorded
from bunws.cluster.bridge import Bridge, start_bridge
from bunws.cluster.layer import SEND_TIMEOUT, cross_process_layer, group_name, publish_message
from bunws.core import stats
from bunws.core.frame import Frame
from bunws.core.hub import Subscriber, check_topic, hub

logger = logging.getLogger("bunws")

#: This process's bridge, started for the loop that owns its sockets (None: process-local).
_state: dict[str, Bridge | None] = {"bridge": None}


def bind_loop() -> None:
    """Remember the running loop as the one that owns this process's sockets, and start the
    bridge to other processes for it (once per loop)."""
    if threads.bind_loop():
        _state["bridge"] = start_bridge(_state["bridge"])
        if recorded.hooks["start"] is not None:  # an endpoint declares recovery=
            recorded.hooks["start"]()


def publish_frame(topic: str, frame: Frame, skip: Subscriber | None = None) -> int:
    """Deliver ``frame`` to ``topic`` here and in other processes (socket loop thread only);
    returns Bun's ``server.publish`` value (see ``publish``)."""
    stats.process.publishes += 1
    if recorded.topics and topic in recorded.topics:  # recovery: stored, then delivered
        return recorded.hooks["publish"](topic, frame, skip)  # type: ignore[no-any-return]
    delivered = hub.publish(topic, frame, skip)
    backed_up = hub.backpressured  # read before the bridge runs anything else
    bridge = _state["bridge"]
    forwarded = bridge.forward(topic, frame, skip) if bridge is not None else False
    if backed_up:
        return -1
    return frame.size if delivered or forwarded else 0


def _checked_frame(topic: object, data: Any, compress: bool) -> Frame:
    check_topic(topic)
    return Frame(data, compress)


def publish(topic: str, data: str | bytes | bytearray | memoryview, compress: bool = False) -> int:
    """Publish ``data`` to every subscriber of ``topic``, from any thread or process.

    Returns Bun's ``server.publish`` value: the message size when it was delivered locally
    or handed to the channel layer, -1 when a local subscriber is backed up (the message is
    queued for it), 0 when nobody could receive it. An empty message is sent too, and
    returns 0 like Bun. ``compress=True`` deflates it (once for all subscribers) for the
    sockets whose endpoint negotiated ``per_message_deflate``.
    """
    frame = _checked_frame(topic, data, compress)
    if threads.socket_loop() is not None:
        return threads.call_on_socket_loop(publish_frame, topic, frame)
    # No sockets in this process (a shell, a management command, a Celery task): one private
    # loop keeps the layer's connection across calls instead of a new loop per publish.
    future = asyncio.run_coroutine_threadsafe(_apublish_outside(topic, frame), _outside_loop())
    return future.result(threads.HANDOFF_TIMEOUT)


_outside: dict[str, Any] = {"loop": None, "pid": None}
_outside_lock = threading.Lock()


def _outside_loop() -> asyncio.AbstractEventLoop:
    """A daemon thread's event loop for publishes from processes without sockets.

    Started on first use and again after a fork (a Celery prefork worker inherits no threads).
    """
    with _outside_lock:
        loop: asyncio.AbstractEventLoop | None = _outside["loop"]
        if loop is None or _outside["pid"] != os.getpid():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=loop.run_forever, name="bunws-publish-loop", daemon=True
            )
            thread.start()
            _outside["loop"], _outside["pid"] = loop, os.getpid()
        return loop


async def apublish(
    topic: str, data: str | bytes | bytearray | memoryview, compress: bool = False
) -> int:
    """``publish`` for async code; same return value."""
    frame = _checked_frame(topic, data, compress)
    loop = threads.socket_loop()
    if loop is asyncio.get_running_loop():
        return publish_frame(topic, frame)
    if loop is not None:  # an async view on another loop (a thread of its own)
        return await threads.acall_on(loop, publish_frame, topic, frame)
    return await _apublish_outside(topic, frame)


async def _apublish_outside(topic: str, frame: Frame) -> int:
    """Send ``frame`` straight to the layer, from a process without sockets."""
    stats.process.publishes += 1
    layer = cross_process_layer()
    if layer is None:
        return 0
    message = publish_message(topic, [frame.data], frame.compress)
    if recorded.hooks["outside"] is not None:  # recovery: stored first when topic is recorded
        offset = await recorded.hooks["outside"](topic, frame)
        if offset is not None:
            message["n"] = [offset]
    try:
        await asyncio.wait_for(layer.group_send(group_name(topic), message), SEND_TIMEOUT)
    except Exception as exc:
        logger.error(
            "bunws: publish to %r not delivered: the channel layer is unreachable (%s: %s)",
            topic[:100],
            type(exc).__name__,
            exc,
        )
        return 0
    return frame.size
