"""bunws's own figures as plain integers: what sockets, handshakes and publishes did.

The hot paths (a received message, a delivery) only add to an ``int`` attribute of an
``EndpointStats`` they already hold; nothing here formats, locks or allocates per message.
``bunws.metrics`` reads these at scrape time for Prometheus, and the Live sockets page shows
them without it. Per-endpoint figures change on the socket loop's thread only; the
process-wide tallies (refusals, failed upgrades) take a lock, as they come from any thread.
Counters only grow for the life of the process (``reset()`` is for tests).
"""

from __future__ import annotations

import threading
from bisect import bisect_left

#: Upper bounds (seconds) of the handshake duration histogram's buckets; +Inf is implied.
HANDSHAKE_BUCKETS: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


class EndpointStats:
    """One endpoint's counters (loop thread only)."""

    __slots__ = (
        "backpressure_drops",
        "backpressure_events",
        "bytes_received",
        "bytes_sent",
        "close_codes",
        "closed",
        "handshake_buckets",
        "handshake_seconds",
        "messages_received",
        "messages_sent",
        "name",
        "opened",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.opened = 0
        self.closed = 0
        self.messages_received = 0
        self.bytes_received = 0
        self.messages_sent = 0
        self.bytes_sent = 0
        self.backpressure_events = 0
        self.backpressure_drops = 0
        self.close_codes: dict[int, int] = {}
        #: Per bucket (not cumulative), the last one is +Inf; their sum is the count.
        self.handshake_buckets = [0] * (len(HANDSHAKE_BUCKETS) + 1)
        self.handshake_seconds = 0.0

    def __repr__(self) -> str:
        return f"<EndpointStats {self.name!r} open={self.open}>"

    @property
    def open(self) -> int:
        """Sockets of this endpoint open now."""
        return self.opened - self.closed

    def observe_handshake(self, seconds: float) -> None:
        """One accepted handshake took ``seconds`` (connect event to the 101 sent)."""
        self.handshake_buckets[bisect_left(HANDSHAKE_BUCKETS, seconds)] += 1
        self.handshake_seconds += seconds

    def socket_closed(self, code: int) -> None:
        """A socket of this endpoint is gone, with ``code`` (what its close handler got)."""
        self.closed += 1
        codes = self.close_codes
        codes[code] = codes.get(code, 0) + 1


class ProcessStats:
    """Process-wide tallies: publishes, deliveries, refused handshakes, failed upgrades."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.publishes = 0
        self.deliveries = 0
        #: (endpoint, reason) -> refused handshakes; endpoint "" when none was matched.
        self.refused: dict[tuple[str, str], int] = {}
        #: (endpoint, reason) -> failed upgrades (refused handshakes and plain requests alike).
        self.failed_upgrades: dict[tuple[str, str], int] = {}

    def handshake_refused(self, endpoint: str, reason: str) -> None:
        with self._lock:
            key = (endpoint, reason)
            self.refused[key] = self.refused.get(key, 0) + 1

    def failed_upgrade(self, endpoint: str, reason: str) -> None:
        with self._lock:
            key = (endpoint, reason)
            self.failed_upgrades[key] = self.failed_upgrades.get(key, 0) + 1

    def snapshot(self) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], int]]:
        """Copies of the refusal and failed-upgrade tallies, for a scrape."""
        with self._lock:
            return dict(self.refused), dict(self.failed_upgrades)


_endpoints: dict[str, EndpointStats] = {}
_endpoints_lock = threading.Lock()

#: The process's tallies.
process = ProcessStats()

#: What a socket built outside an endpoint (unit tests, the core alone) counts into: never
#: registered, so never exported.
UNCOUNTED = EndpointStats("")


def for_endpoint(name: str) -> EndpointStats:
    """The counters of the endpoint called ``name``, created on first use."""
    stats = _endpoints.get(name)
    if stats is None:
        with _endpoints_lock:
            stats = _endpoints.setdefault(name, EndpointStats(name))
    return stats


def endpoints() -> list[EndpointStats]:
    """Every endpoint's counters, by name."""
    return [_endpoints[name] for name in sorted(_endpoints)]


def reset() -> None:
    """Start every counter again from zero (tests only: Prometheus reads a drop as a restart)."""
    with _endpoints_lock:
        for name in list(_endpoints):
            _endpoints[name].__init__(name)  # type: ignore[misc]
    process.__init__()  # type: ignore[misc]
