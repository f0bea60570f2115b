"""The topic registry without any server: subscribers are plain objects with ``deliver``."""

from __future__ import annotations

from bunws.core.frame import Frame
from bunws.core.hub import Hub


class Sink:
    """A subscriber that records deliveries and answers with a fixed return code."""

    def __init__(self, code: int | None = None) -> None:
        self.code = code
        self.got: list[str | bytes] = []

    def deliver(self, frame: Frame) -> int:
        self.got.append(frame.data)
        return frame.size if self.code is None else self.code


def test_publish_reaches_every_subscriber_in_subscription_order() -> None:
    hub, order = Hub(), []

    class Ordered(Sink):
        def deliver(self, frame: Frame) -> int:
            order.append(self)
            return super().deliver(frame)

    subscribers = [Ordered() for _ in range(3)]
    for sub in subscribers:
        assert hub.subscribe(sub, "room")
    assert hub.publish("room", Frame("hi")) == 3
    assert order == subscribers and all(sub.got == ["hi"] for sub in subscribers)


def test_publish_skips_the_given_subscriber() -> None:
    hub, a, b = Hub(), Sink(), Sink()
    hub.subscribe(a, "t")
    hub.subscribe(b, "t")
    assert hub.publish("t", Frame("x"), skip=a) == 1
    assert a.got == [] and b.got == ["x"]


def test_delivery_counts_queued_but_not_dropped() -> None:
    hub = Hub()
    for code in (-1, 0, None):
        hub.subscribe(Sink(code), "t")
    assert hub.publish("t", Frame(b"z")) == 2  # -1 (queued) counts, 0 (dropped) does not


def test_publish_to_a_topic_without_subscribers_delivers_nothing() -> None:
    assert Hub().publish("nobody", Frame("x")) == 0


def test_subscribe_twice_is_one_subscription() -> None:
    hub, a = Hub(), Sink()
    assert hub.subscribe(a, "t") is True
    assert hub.subscribe(a, "t") is False
    assert hub.count("t") == 1
    hub.publish("t", Frame("once"))
    assert a.got == ["once"]


def test_unsubscribe_forgets_empty_topics() -> None:
    hub, a = Hub(), Sink()
    hub.subscribe(a, "t")
    assert hub.unsubscribe(a, "t") is True
    assert hub.unsubscribe(a, "t") is False
    assert hub.count("t") == 0 and list(hub.topics()) == []


def test_observers_hear_first_and_last_local_subscriber_only() -> None:
    hub, seen = Hub(), []
    hub.observers.append(lambda topic, active: seen.append((topic, active)))
    a, b = Sink(), Sink()
    hub.subscribe(a, "t")
    hub.subscribe(b, "t")
    hub.unsubscribe(a, "t")
    hub.unsubscribe(b, "t")
    assert seen == [("t", True), ("t", False)]


def test_a_delivery_that_unsubscribes_does_not_disturb_the_fan_out() -> None:
    hub = Hub()

    class Leaver(Sink):
        def deliver(self, frame: Frame) -> int:
            hub.unsubscribe(self, "t")
            return super().deliver(frame)

    leaver, stayer = Leaver(), Sink()
    hub.subscribe(leaver, "t")
    hub.subscribe(stayer, "t")
    assert hub.publish("t", Frame("x")) == 2
    assert stayer.got == ["x"] and hub.count("t") == 1


def test_topics_are_any_string() -> None:
    hub, a = Hub(), Sink()
    topics = ["", " ", "é/ü?#", "x" * 10_000, "a\x00b"]
    for topic in topics:
        hub.subscribe(a, topic)
    assert sorted(hub.topics()) == sorted((topic, 1) for topic in topics)
    assert hub.publish("x" * 10_000, Frame("long")) == 1


def test_a_frame_is_encoded_once_for_every_subscriber() -> None:
    frame = Frame("é")
    assert frame.asgi_message() is frame.asgi_message()
    assert frame.size == 2 and frame.binary is False
    assert Frame(memoryview(b"ab")).binary is True
