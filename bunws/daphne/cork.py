"""Automatic corking: what a loop iteration writes to a connection leaves in one write at its end.

uWS (under Bun) corks every socket while a handler runs and writes once afterwards. bunws does
the same per event loop: a transport with pending bytes registers here, and one ``call_soon``
callback per iteration flushes every registered transport. A reply, or a burst of publishes to
one subscriber, costs one system call instead of one per message.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from bunws.core.loops import PerLoop

logger = logging.getLogger("bunws")


class Flushable(Protocol):
    """A transport holding bytes to write."""

    def flush(self) -> None: ...


class Flusher:
    """Flushes, once per loop iteration, every transport that wrote during it."""

    __slots__ = ("_loop", "_pending")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._pending: list[Flushable] = []

    def add(self, transport: Flushable) -> None:
        """Flush ``transport`` at the end of this iteration (call when it queues its first bytes)."""
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(transport)

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        for transport in pending:
            try:
                transport.flush()
            except Exception:  # one broken connection must not hold back the others' bytes
                logger.exception("bunws: writing to %r failed", transport)


#: The flusher of the running loop (created on first use): ``flusher()``.
flusher: PerLoop[Flusher] = PerLoop(Flusher)
