"""bunws's counters (``bunws.core.stats``) and the Prometheus collector that exports them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from bunws.core import stats
from bunws.core.frame import Frame
from bunws.core.hub import Hub
from bunws.metrics import BunwsCollector, register
from tests.support.fakes import make_socket
from tests.support.servers import ROOT


@pytest.fixture(autouse=True)
def fresh_counters() -> Iterator[None]:
    stats.reset()
    yield
    stats.reset()


def scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """One scrape of a registry holding only bunws's collector, parsed back from the text."""
    registry = CollectorRegistry()
    registry.register(BunwsCollector())
    text = generate_latest(registry).decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def test_handshake_durations_land_in_their_bucket_and_the_sum() -> None:
    counts = stats.EndpointStats("e")
    counts.observe_handshake(0.001)  # on a bound: the bucket it closes ("le")
    counts.observe_handshake(0.02)
    counts.observe_handshake(60.0)  # past the last bound: +Inf
    assert counts.handshake_buckets[0] == 1
    assert counts.handshake_buckets[stats.HANDSHAKE_BUCKETS.index(0.025)] == 1
    assert counts.handshake_buckets[-1] == 1
    assert sum(counts.handshake_buckets) == 3
    assert counts.handshake_seconds == pytest.approx(60.021)


def test_open_sockets_are_opened_less_closed_and_close_codes_are_tallied() -> None:
    counts = stats.for_endpoint("e")
    assert stats.for_endpoint("e") is counts
    counts.opened += 3
    counts.socket_closed(1000)
    counts.socket_closed(1000)
    assert counts.open == 1
    assert counts.close_codes == {1000: 2}


def test_sends_count_messages_and_payload_bytes_into_the_socket_endpoint() -> None:
    counts = stats.for_endpoint("e")
    ws, _ = make_socket()
    ws._stats = counts
    ws.send("héllo")  # 6 UTF-8 bytes
    ws.send(b"\x00" * 10)
    ws.send("")
    assert (counts.messages_sent, counts.bytes_sent) == (3, 16)


def test_backpressure_counts_each_pause_once_and_every_dropped_message() -> None:
    counts = stats.for_endpoint("e")
    ws, transport = make_socket(backpressure_limit=250, close_on_backpressure_limit=False)
    ws._stats = counts
    ws.send("x" * 150)  # over the fake's 100-byte high water: paused
    ws.send("y" * 100)  # queued behind it (-1)
    ws.send("z" * 200)  # over the limit: dropped
    assert ws.send("z" * 200) == 0
    assert counts.backpressure_events == 1
    assert counts.backpressure_drops == 2
    assert counts.messages_sent == 2
    transport.flush()
    ws.send("x" * 150)
    assert counts.backpressure_events == 2


def test_a_socket_outside_an_endpoint_counts_into_nothing_exported() -> None:
    ws, _ = make_socket()
    ws.send("hi")
    assert ws._stats is stats.UNCOUNTED
    assert all(counts is not stats.UNCOUNTED for counts in stats.endpoints())


def test_hub_counts_each_delivery_of_a_publish() -> None:
    hub = Hub()
    sockets = [make_socket(hub)[0] for _ in range(3)]
    for ws in sockets:
        ws.subscribe("room")
    hub.publish("room", Frame("hi"), skip=sockets[0])
    assert stats.process.deliveries == 2


def test_the_collector_exports_every_figure_with_prometheus_names() -> None:
    counts = stats.for_endpoint("chat")
    counts.opened = 5
    counts.socket_closed(1001)
    counts.socket_closed(4001)
    counts.messages_received, counts.bytes_received = 7, 70
    counts.messages_sent, counts.bytes_sent = 9, 90
    counts.backpressure_events, counts.backpressure_drops = 2, 3
    counts.observe_handshake(0.003)
    counts.observe_handshake(0.2)
    stats.process.publishes, stats.process.deliveries = 4, 40
    stats.process.handshake_refused("chat", "fetch_declined")
    stats.process.handshake_refused("", "no_such_endpoint")
    stats.process.failed_upgrade("chat", "missing_upgrade_header")

    samples = scrape()
    chat = (("endpoint", "chat"),)
    assert samples["bunws_sockets_open", chat] == 3
    assert samples["bunws_handshakes_accepted_total", chat] == 5
    assert samples["bunws_messages_received_total", chat] == 7
    assert samples["bunws_received_bytes_total", chat] == 70
    assert samples["bunws_messages_sent_total", chat] == 9
    assert samples["bunws_sent_bytes_total", chat] == 90
    assert samples["bunws_backpressure_events_total", chat] == 2
    assert samples["bunws_backpressure_drops_total", chat] == 3
    assert samples["bunws_closes_total", (("code", "4001"), ("endpoint", "chat"))] == 1
    assert samples["bunws_publishes_total", ()] == 4
    assert samples["bunws_publish_deliveries_total", ()] == 40
    refused = "bunws_handshakes_refused_total"
    assert samples[refused, (("endpoint", "chat"), ("reason", "fetch_declined"))] == 1
    assert samples[refused, (("endpoint", ""), ("reason", "no_such_endpoint"))] == 1
    failed = (("endpoint", "chat"), ("reason", "missing_upgrade_header"))
    assert samples["bunws_failed_upgrades_total", failed] == 1
    # The histogram's buckets come out cumulative, +Inf equal to the count.
    bucket = "bunws_handshake_duration_seconds_bucket"
    assert samples[bucket, (("endpoint", "chat"), ("le", "0.0025"))] == 0
    assert samples[bucket, (("endpoint", "chat"), ("le", "0.005"))] == 1
    assert samples[bucket, (("endpoint", "chat"), ("le", "0.25"))] == 2
    assert samples[bucket, (("endpoint", "chat"), ("le", "+Inf"))] == 2
    assert samples["bunws_handshake_duration_seconds_count", chat] == 2
    assert samples["bunws_handshake_duration_seconds_sum", chat] == pytest.approx(0.203)
    assert all(name.startswith("bunws_") for name, _ in samples)


def test_register_adds_the_collector_to_a_registry_once() -> None:
    registry = CollectorRegistry()
    assert register(registry) is True
    assert register(registry) is False
    stats.for_endpoint("chat").opened = 1
    text = generate_latest(registry).decode()
    assert 'bunws_handshakes_accepted_total{endpoint="chat"} 1.0' in text


WITHOUT_EXTRA = """
import sys
sys.modules["prometheus_client"] = None  # as if the metrics extra were not installed
import django
django.setup()
from django.urls import resolve, Resolver404
from bunws.apps import register_metrics
assert register_metrics() is False
try:
    resolve("/metrics")
except Resolver404:
    pass
else:
    raise AssertionError("/metrics is served without prometheus_client")
assert "bunws.metrics" not in sys.modules
from bunws.core import stats
print("ok", stats.process.publishes)
"""


def test_without_the_extra_nothing_imports_prometheus_client_and_startup_works() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_EXTRA],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok 0"


def test_a_publish_counts_its_deliveries_for_the_endpoint_of_its_subscribers() -> None:
    hub = Hub()
    chat, feed = stats.for_endpoint("chat"), stats.for_endpoint("feed")
    sockets = [make_socket(hub)[0] for _ in range(3)]
    for ws in sockets:
        ws._stats = chat
        ws.subscribe("room")
    assert hub.publish("room", Frame("hi"), skip=sockets[0]) == 2
    assert (chat.messages_sent, chat.bytes_sent) == (2, 4)
    other, _ = make_socket(hub)
    other._stats = feed
    other.subscribe("room")  # the topic now mixes endpoints: each delivery counts for its own
    assert hub.publish("room", Frame("hey")) == 4
    assert (chat.messages_sent, chat.bytes_sent) == (5, 13)
    assert (feed.messages_sent, feed.bytes_sent) == (1, 3)
    assert stats.process.deliveries == 6
    for ws in [*sockets, other]:
        ws.unsubscribe("room")
    sockets[1].subscribe("room")  # the emptied topic starts over, one endpoint again
    hub.publish("room", Frame("x"))
    assert chat.messages_sent == 6
