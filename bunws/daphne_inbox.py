"""The receive side of a daphne connection, without daphne's per-message queue.

daphne's ``onMessage`` wraps every frame in an ASGI event dict and puts it on an
``asyncio.Queue`` the application awaits. ``Inbox`` takes over the protocol's ``onMessage`` and
``onClose`` (daphne's own ``onClose`` still runs first) and keeps the payloads in a deque: a
burst of frames read in one go wakes the socket's loop once, and each message costs an append
and a pop. Installed before the 101 response goes out, so no frame can slip past it.
"""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Any

from bunws.transport import Disconnected


class Inbox:
    """Messages received on one daphne connection, awaited by the socket's handler loop."""

    __slots__ = ("_items", "_loop", "_protocol", "_waiter")

    def __init__(self, protocol: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._items: collections.deque[str | bytes | Disconnected] = collections.deque()
        self._loop = loop
        self._protocol = protocol
        self._waiter: asyncio.Future[None] | None = None
        daphne_on_close = protocol.onClose

        def on_close(was_clean: bool, code: int | None, reason: str | None) -> None:
            daphne_on_close(was_clean, code, reason)  # daphne's bookkeeping and access log
            self._put(Disconnected(code))

        protocol.onMessage = self.on_message
        protocol.onClose = on_close

    def on_message(self, payload: bytes, is_binary: bool) -> None:
        """autobahn's callback for a complete message (its UTF-8 already validated)."""
        protocol = self._protocol
        if protocol.muted:
            return
        protocol.last_ping = time.time()  # daphne's keep-alive ping clock, as its onMessage does
        self._put(payload if is_binary else payload.decode("utf-8"))

    def _put(self, item: str | bytes | Disconnected) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def next_message(self) -> str | bytes | Disconnected:
        """The oldest message not handled yet, waiting for one if none is here."""
        items = self._items
        while not items:
            waiter = self._waiter = self._loop.create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        return items.popleft()
