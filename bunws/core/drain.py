"""The drain before a restart, without a server: which sockets to close when, and with what.

Phoenix's socket drainer, reshaped for one process: after SIGTERM no new handshake is accepted,
and the open sockets are closed in batches, one batch every ``TICK_SECONDS``, spread evenly over
the drain period, so their clients do not all reconnect in the same instant. Each batch is at
least ``MIN_BATCH`` sockets (a handful of sockets close at once), and a batch is sized from the
sockets still open, so a late tick or a socket that opened meanwhile only makes the next batches
larger: the last tick closes whatever is left.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "MIN_BATCH",
    "RESTART_CODE",
    "RESTART_REASON",
    "TICK_SECONDS",
    "DrainSchedule",
    "retry_after",
]

# RFC 6455 7.4 and the IANA "WebSocket Close Code Number Registry": 1012 = service restart,
# "the client should reconnect" (1001, going away, does not say that the service comes back).
RESTART_CODE = 1012
RESTART_REASON = "server restarting"
#: Seconds between two batches.
TICK_SECONDS = 0.1
#: The fewest sockets one batch closes (unless fewer are left).
MIN_BATCH = 10


@dataclass(frozen=True)
class DrainSchedule:
    """Batches every ``TICK_SECONDS`` from ``started`` over ``seconds``; times are monotonic."""

    seconds: float
    started: float

    @property
    def ticks(self) -> int:
        """How many batches the period holds: the first at ``started``, the last before its end."""
        return max(1, math.ceil(self.seconds / TICK_SECONDS - 1e-9))

    def due(self, still_open: int, now: float) -> int:
        """How many of the ``still_open`` sockets to close at ``now``."""
        if still_open <= 0:
            return 0
        tick = math.floor(max(0.0, now - self.started) / TICK_SECONDS + 1e-9)
        ticks_left = self.ticks - tick
        if ticks_left <= 1:
            return still_open
        return min(still_open, max(MIN_BATCH, math.ceil(still_open / ticks_left)))

    def remaining(self, now: float) -> float:
        """Seconds until the last batch."""
        return max(0.0, self.started + (self.ticks - 1) * TICK_SECONDS - now)


def retry_after(schedule: DrainSchedule, now: float) -> int:
    """The ``Retry-After`` seconds for a handshake refused during the drain: until it ends."""
    return max(1, math.ceil(schedule.remaining(now)))
