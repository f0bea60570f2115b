"""The receive side of a daphne connection, without daphne's per-message queue.

daphne's ``onMessage`` wraps every frame in an ASGI event dict and puts it on an
``asyncio.Queue`` the application awaits. ``Inbox`` takes over the protocol's ``onMessage`` and
``onClose`` (daphne's own ``onClose`` still runs first) and keeps the payloads in a list: a
burst of frames read in one go wakes the socket's loop once, and each message costs an append
and an index. A list, not a deque: an idle socket's empty list is 56 bytes, a deque's 600.

Text in one frame is validated once: autobahn's incremental UTF-8 validator is switched off for
the connection, and the ``decode`` that turns the payload into ``str`` (which daphne does anyway)
rejects invalid UTF-8, failing the connection with 1007 through autobahn's own path. A text
message whose first frame is not final switches the validator back on for that message only, so
a bad fragment fails the connection as it arrives, not once the client sends the last one
(RFC 6455 8.1). A message over the endpoint's limit, which autobahn checks as each frame's header
arrives, is closed with 1009 and the reason bunws gives everywhere. For an endpoint with a
``ping`` or ``pong`` handler, the peer's pings and pongs join the list as ``Control`` items, in
order with the messages.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bunws.core.transport import Control, Disconnected

Item = str | bytes | Disconnected | Control

#: Placeholder left in a slot once its message was handed out.
_TAKEN = b""
#: Handed-out slots at which the list is compacted (when they are at least half of it).
_COMPACT_AT = 64


class Inbox:
    """Messages received on one daphne connection, awaited by the socket's handler loop."""

    __slots__ = ("_daphne_on_close", "_items", "_loop", "_next", "_protocol", "_waiter")

    def __init__(self, protocol: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._items: list[Item] = []
        self._next = 0  # index of the oldest item not handed out yet
        self._loop = loop
        self._protocol = protocol
        self._waiter: asyncio.Future[None] | None = None
        self._daphne_on_close = protocol.onClose
        protocol.onMessage = self.on_message
        protocol.onClose = self.on_close
        protocol.onMessageBegin = self.on_message_begin
        protocol._max_message_size_exceeded = self.on_too_big
        protocol.utf8validateIncoming = False  # on_message's decode validates instead

    def on_message_begin(self, is_binary: bool) -> None:
        """autobahn's ``onMessageBegin``, done here (not wrapped) to keep it one call a message;
        a fragmented text message is UTF-8 checked frame by frame, as it arrives."""
        protocol = self._protocol
        protocol.message_is_binary = is_binary
        protocol.message_data = []
        protocol.message_data_total_length = 0
        if not is_binary and not protocol.current_frame.fin:
            # RFC 6455 8.1: fail on invalid UTF-8 as soon as it arrives. autobahn's onFrameData
            # feeds every later payload chunk to the validator, and the final frame's end
            # checks that the text did not stop inside a code point.
            protocol.utf8validator.reset()
            protocol.utf8validateLast = (True, True, 0, 0)
            protocol.utf8validateIncomingCurrentMessage = True

    def on_too_big(self, size: int, limit: int, reason: str) -> None:
        """autobahn's ``_max_message_size_exceeded``: a frame header took the message past the
        endpoint's ``max_payload_length``; closes with 1009 before its payload is read."""
        protocol = self._protocol
        known = protocol.current_frame is not None and protocol.current_frame.fin
        size_text = f"{size}" if known else f"at least {size}"
        if size <= limit:  # inflating a compressed message (RFC 7692) went past the limit
            size_text = f"more than {limit}"
        # RFC 6455 7.4.1: 1009 = message too big; the reason bunws gives on every server.
        protocol._fail_connection(1009, f"message of {size_text} bytes exceeds {limit}")

    def on_message(self, payload: bytes, is_binary: bool) -> None:
        """autobahn's callback for a complete message; text is validated by its decode here."""
        protocol = self._protocol
        if protocol.muted:
            return
        protocol.last_ping = time.time()  # daphne's keep-alive ping clock, as its onMessage does
        if is_binary:
            self._put(payload)
            return
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            # RFC 6455 8.1: invalid UTF-8 in a text message fails the connection with 1007.
            protocol._invalid_payload(f"invalid UTF-8 in a text message at byte {exc.start}")
            return
        self._put(text)

    def on_close(self, was_clean: bool, code: int | None, reason: str | None) -> None:
        """autobahn's callback once the connection is gone."""
        try:
            self._daphne_on_close(was_clean, code, reason)  # daphne's bookkeeping, access log
        finally:
            self._put(Disconnected(code))

    def receive_control(self, pings: bool, pongs: bool) -> None:
        """Queue the peer's pings and/or pongs as ``Control`` items for the ``ping``/``pong``
        handlers, after autobahn's own ``onPing``/``onPong`` (which answers a ping)."""
        protocol = self._protocol
        if pings:
            protocol.onPing = self._relay(protocol.onPing, True)
        if pongs:
            protocol.onPong = self._relay(protocol.onPong, False)

    def _relay(self, inherited: Any, is_ping: bool) -> Any:
        put = self._put

        def relay(payload: bytes) -> None:
            inherited(payload)
            put(Control(is_ping, payload))

        return relay

    def _put(self, item: Item) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def next_message(self) -> Item:
        """The oldest message not handled yet, waiting for one if none is here."""
        items = self._items
        while self._next >= len(items):
            if items:
                items.clear()
                self._next = 0
            waiter = self._waiter = self._loop.create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        index = self._next
        item = items[index]
        items[index] = _TAKEN  # drop the reference: a handled payload is not kept
        self._next = index + 1
        if self._next >= _COMPACT_AT and self._next * 2 >= len(items):
            # A reader that never fully catches up would otherwise keep every slot.
            del items[: self._next]
            self._next = 0
        return item
