"""Per-process enforcement of the limits that need a clock or a count across sockets.

``idle_timeout`` and ``send_pings`` are enforced by one ``IdleSweeper`` per event loop (not a
timer per socket): every tick it pings sockets idle for half their timeout and closes, with
1001, those idle for the whole of it, skipping sockets whose reading is paused.
``ClientSockets`` counts open sockets per client address for
``BUNWS["MAX_SOCKETS_PER_CLIENT"]``. The decisions are plain functions of numbers, so they are
unit-tested without a server or a loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from bunws.core.loops import PerLoop

logger = logging.getLogger("bunws")

#: RFC 6455 7.4.1: 1001 = going away. Sent to a socket that stayed silent for idle_timeout.
IDLE_CLOSE_CODE = 1001
IDLE_CLOSE_REASON = "idle timeout"
#: RFC 6455 7.4.1: 1008 = policy violation. Sent to a socket over MAX_MESSAGES_PER_SECOND.
RATE_CLOSE_CODE = 1008
RATE_CLOSE_REASON = "too many messages per second"

#: Longest pause between two sweeps; shorter when a socket's idle_timeout needs it.
MAX_TICK = 1.0

PING, CLOSE = "ping", "close"


def idle_action(
    *, idle_for: float, timeout: int, send_pings: bool, pinged_since_receive: bool
) -> str | None:
    """What an idle socket needs now: ``CLOSE``, ``PING`` or nothing (``None``).

    Like uWS (Bun), a socket that received nothing, not even a pong, for ``timeout`` seconds
    is closed; with ``send_pings`` it is pinged once, halfway, so a live client's pong keeps
    it open.
    """
    if timeout <= 0:
        return None
    if idle_for >= timeout:
        return CLOSE
    if send_pings and not pinged_since_receive and idle_for >= timeout / 2:
        return PING
    return None


def tick_for(timeout: int) -> float:
    """Seconds between sweeps so a close comes at most a quarter timeout late."""
    return min(MAX_TICK, timeout / 4)


class IdleSocket(Protocol):
    """What the sweeper reads and calls on a socket."""

    last_received: float
    pinged_at: float

    @property
    def idle_timeout(self) -> int: ...

    @property
    def sends_pings(self) -> bool: ...

    @property
    def is_paused(self) -> bool: ...

    def ping(self, data: bytes = b"") -> int: ...

    def close(self, code: int = 1000, reason: str = "") -> None: ...


def sweep(sockets: Iterable[IdleSocket], now: float) -> tuple[int, int]:
    """Ping or close every socket that needs it; returns (pinged, closed). A socket whose
    reading is paused (``ws.pause()``) is left alone: its client may be sending, unread, and
    ``resume()`` restarts its clock."""
    pinged = closed = 0
    for ws in list(sockets):
        if ws.is_paused:
            continue
        action = idle_action(
            idle_for=now - ws.last_received,
            timeout=ws.idle_timeout,
            send_pings=ws.sends_pings,
            pinged_since_receive=ws.pinged_at >= ws.last_received,
        )
        if action is CLOSE:
            ws.close(IDLE_CLOSE_CODE, IDLE_CLOSE_REASON)
            closed += 1
        elif action is PING:
            ws.pinged_at = now
            ws.ping()
            pinged += 1
    return pinged, closed


class IdleSweeper:
    """The one periodic task of an event loop that applies ``idle_timeout`` to its sockets."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._loop = loop
        self._clock = clock
        self._sockets: dict[IdleSocket, None] = {}
        self._tick = MAX_TICK
        self._handle: asyncio.TimerHandle | None = None

    def track(self, ws: IdleSocket) -> None:
        """Start watching ``ws`` (its ``idle_timeout`` is > 0)."""
        self._sockets[ws] = None
        self._tick = min(self._tick, tick_for(ws.idle_timeout))
        if self._handle is None:
            self._handle = self._loop.call_later(self._tick, self._run)

    def untrack(self, ws: IdleSocket) -> None:
        """Stop watching ``ws`` (it closed)."""
        self._sockets.pop(ws, None)

    def __len__(self) -> int:
        return len(self._sockets)

    def _run(self) -> None:
        self._handle = None
        try:
            sweep(self._sockets, self._clock())
        except Exception:  # one bad socket must not stop idle handling for all the others
            logger.exception("bunws: idle sweep failed")
        if self._sockets and not self._loop.is_closed():
            self._handle = self._loop.call_later(self._tick, self._run)


#: The sweeper of the running loop (created on first use): ``idle_sweeper()``.
idle_sweeper: PerLoop[IdleSweeper] = PerLoop(IdleSweeper)


class ClientSockets:
    """Open sockets per client address, for ``MAX_SOCKETS_PER_CLIENT`` (this process only)."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def acquire(self, address: str, limit: int) -> bool:
        """Count one more socket from ``address``; False (and no count) when at ``limit``."""
        count = self._counts.get(address, 0)
        if count >= limit:
            return False
        self._counts[address] = count + 1
        return True

    def release(self, address: str) -> None:
        """One socket from ``address`` closed."""
        count = self._counts.get(address, 0) - 1
        if count > 0:
            self._counts[address] = count
        else:
            self._counts.pop(address, None)

    def count(self, address: str) -> int:
        """Open sockets from ``address``."""
        return self._counts.get(address, 0)


#: The process-wide per-address counter (sockets live on one loop per process under daphne).
client_sockets = ClientSockets()


class ClientSlot:
    """One socket counted against its address; releasing it again is a no-op."""

    __slots__ = ("_address",)

    def __init__(self, address: str | None) -> None:
        self._address = address  # None: not counted (no MAX_SOCKETS_PER_CLIENT)

    def release(self) -> None:
        address, self._address = self._address, None
        if address is not None:
            client_sockets.release(address)


class RateWindow:
    """Messages a socket sent in the current one-second window (``MAX_MESSAGES_PER_SECOND``)."""

    __slots__ = ("count", "limit", "start")

    def __init__(self, limit: int, now: float) -> None:
        self.limit = limit
        self.start = now
        self.count = 0

    def over(self, now: float) -> bool:
        """Count one message at ``now``; True when it is over the limit."""
        if now - self.start >= 1.0:
            self.start = now
            self.count = 0
        self.count += 1
        return self.count > self.limit


def close_for_rate(ws: Any, endpoint: str, rate: int) -> None:
    """Close ``ws`` with 1008, logged: it sent more than ``rate`` messages in one second."""
    logger.warning(
        "bunws: %s: closing the socket from %s with 1008: more than %d messages in one "
        "second (BUNWS['MAX_MESSAGES_PER_SECOND'])",
        endpoint,
        ws.remote_address or "an unknown address",
        rate,
    )
    ws.close(RATE_CLOSE_CODE, RATE_CLOSE_REASON)
