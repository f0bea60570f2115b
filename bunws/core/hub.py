"""The in-process topic registry: who is subscribed to what, and local fan-out.

Sans-I/O: a subscriber is anything with a ``deliver(frame) -> int`` method. The hub tells an
optional observer when a topic gains its first or loses its last local subscriber, which is how
the cross-process bridge knows which channel-layer groups this process must join.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from bunws.core import stats
from bunws.core.frame import Frame


class Subscriber(Protocol):
    """What the hub delivers to: a socket."""

    def deliver(self, frame: Frame) -> int: ...


TopicObserver = Callable[[str, bool], None]

#: How a socket publishes: ``(topic, frame, skip) -> int``: Bun's ``server.publish`` value,
#: the size when sent, -1 when a subscriber is backed up, 0 when nobody received it.
PublishHook = Callable[[str, Frame, "Subscriber | None"], int]


class Hub:
    """Topics (any string) mapped to their local subscribers, in subscription order."""

    def __init__(self) -> None:
        self._topics: dict[str, dict[Subscriber, None]] = {}
        #: Per topic, the counters (bunws.core.stats) every subscriber shares, so a publish
        #: counts its deliveries once; None once subscribers of several endpoints mix.
        self._owners: dict[str, stats.EndpointStats | None] = {}
        self.observers: list[TopicObserver] = []
        #: Whether a subscriber of the last ``publish`` was backed up (its send returned -1);
        #: read right after the call, on the same thread, for Bun's -1 return value.
        self.backpressured = False

    def subscribe(self, subscriber: Subscriber, topic: str) -> bool:
        """Add ``subscriber`` to ``topic``; False if it already was subscribed."""
        members = self._topics.get(topic)
        if members is None:
            members = self._topics[topic] = {}
            members[subscriber] = None
            self._owners[topic] = stats_of(subscriber)
            self._notify(topic, True)
            return True
        if subscriber in members:
            return False
        members[subscriber] = None
        if self._owners[topic] is not stats_of(subscriber):
            self._owners[topic] = None
        return True

    def unsubscribe(self, subscriber: Subscriber, topic: str) -> bool:
        """Remove ``subscriber`` from ``topic``; False if it was not subscribed."""
        members = self._topics.get(topic)
        if members is None or subscriber not in members:
            return False
        del members[subscriber]
        if not members:
            del self._topics[topic]
            del self._owners[topic]
            self._notify(topic, False)
        return True

    def publish(self, topic: str, frame: Frame, skip: Subscriber | None = None) -> int:
        """Deliver ``frame`` to every local subscriber but ``skip``; return how many took it.

        A subscriber whose send was queued behind backpressure (-1) counts as taking it, and
        sets ``backpressured``. An empty frame is delivered but reports 0 bytes (Bun's return
        value), so it counts none.
        """
        members = self._topics.get(topic)
        backed_up = False
        delivered = 0
        if members:
            owner = self._owners[topic]
            if owner is None:
                return self._publish_mixed(members, frame, skip)
            # Copy: a delivery can close a socket, which unsubscribes it from this topic.
            for subscriber in tuple(members):
                if subscriber is not skip:
                    sent = subscriber.deliver(frame)
                    if sent:
                        delivered += 1
                        if sent < 0:
                            backed_up = True
            owner.messages_sent += delivered
            owner.bytes_sent += delivered * frame.size
            stats.process.deliveries += delivered
        self.backpressured = backed_up
        return delivered

    def _publish_mixed(
        self, members: dict[Subscriber, None], frame: Frame, skip: Subscriber | None
    ) -> int:
        """``publish`` to subscribers of several endpoints: each delivery counted for its own."""
        backed_up = False
        delivered = 0
        size = frame.size
        for subscriber in tuple(members):
            if subscriber is not skip:
                sent = subscriber.deliver(frame)
                if sent:
                    delivered += 1
                    counts = stats_of(subscriber)
                    counts.messages_sent += 1
                    counts.bytes_sent += size
                    if sent < 0:
                        backed_up = True
        stats.process.deliveries += delivered
        self.backpressured = backed_up
        return delivered

    def members(self, topic: str) -> tuple[Subscriber, ...]:
        """The local subscribers of ``topic`` (a copy), in subscription order."""
        return tuple(self._topics.get(topic, ()))

    def count(self, topic: str) -> int:
        """Local subscribers of ``topic``."""
        members = self._topics.get(topic)
        return len(members) if members else 0

    def topics(self) -> Iterator[tuple[str, int]]:
        """Every topic with local subscribers and their count."""
        for topic, members in self._topics.items():
            yield topic, len(members)

    def _notify(self, topic: str, active: bool) -> None:
        for observer in self.observers:
            observer(topic, active)


#: The process-wide hub every endpoint shares (topics are process-wide, as in Bun).
hub = Hub()


def stats_of(subscriber: Subscriber) -> stats.EndpointStats:
    """The counters a subscriber's deliveries go to (a socket's endpoint's)."""
    counts: stats.EndpointStats = getattr(subscriber, "_stats", stats.UNCOUNTED)
    return counts


def check_topic(topic: object) -> None:
    """Raise TypeError unless ``topic`` is a str (any str is a topic, as in Bun)."""
    if not isinstance(topic, str):
        raise TypeError(f"a topic is a str, got {type(topic).__name__} {topic!r}.")


def local_publisher(hub: Hub) -> PublishHook:
    """Publish to this process's subscribers only (a socket built without a cluster hook)."""

    def publish(topic: str, frame: Frame, skip: Subscriber | None) -> int:
        if not hub.publish(topic, frame, skip):
            return 0
        return -1 if hub.backpressured else frame.size

    return publish
