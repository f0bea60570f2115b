"""``observe(topic)``: record what is published to a topic in this process, from any thread."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from bunws.core.frame import Frame
from bunws.core.hub import hub
from bunws.testing.client import Message

__all__ = ["Published", "observe"]


class Published:
    """What was published to one topic while ``observe()`` was active (any thread, any loop)."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.messages: list[Message] = []
        self._taken = 0
        self._changed = threading.Condition()

    def _record(self, frame: Frame) -> None:
        with self._changed:
            self.messages.append(frame.data)
            self._changed.notify_all()

    def next(self, timeout: float = 1.0) -> Message:
        """The next publish not yet returned by ``next``; fails after ``timeout`` seconds."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.messages) > self._taken, timeout):
                raise AssertionError(f"nothing was published to {self.topic!r} within {timeout} s")
            self._taken += 1
            return self.messages[self._taken - 1]

    async def anext(self, timeout: float = 1.0) -> Message:
        """``next`` for async tests: waits without blocking the event loop."""
        deadline = time.monotonic() + timeout
        while len(self.messages) <= self._taken and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return self.next(0)

    def __enter__(self) -> Published:
        _observers.append(self)
        if len(_observers) == 1:
            hub.publish = _observed_publish  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        _observers.remove(self)
        if not _observers:
            del hub.publish


_observers: list[Published] = []
_hub_publish = type(hub).publish


def _observed_publish(topic: str, frame: Frame, skip: Any = None) -> int:
    for observer in tuple(_observers):
        if observer.topic == topic:
            observer._record(frame)
    return _hub_publish(hub, topic, frame, skip)


def observe(topic: str) -> Published:
    """Record every publish to ``topic`` in this process: ``with observe("room") as seen:``."""
    return Published(topic)
