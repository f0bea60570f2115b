"""bunws's figures for Prometheus (the ``bunws[metrics]`` extra): a collector over
``bunws.core.stats`` registered in ``prometheus_client``'s default registry.

The counting is plain integers on the hot paths; this module turns them into metric families
only when Prometheus scrapes, so an unscraped process pays nothing here. It is the only module
that imports ``prometheus_client``, and it is imported only when that is installed (by
``bunws.apps`` at startup, and by a URLconf that serves ``metrics_view``). Every metric is listed
in ``docs/metrics.md``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from bunws.core import stats

__all__ = ["BunwsCollector", "metrics_view", "register"]

_registered: set[int] = set()
_lock = threading.Lock()


def _counter(name: str, doc: str, labels: list[str]) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, labels=labels)


class BunwsCollector(Collector):
    """Reads ``bunws.core.stats`` at scrape time."""

    def collect(self) -> Iterator[Metric]:
        endpoints = stats.endpoints()
        label = ["endpoint"]
        open_sockets = GaugeMetricFamily(
            "bunws_sockets_open", "WebSockets open now, per endpoint.", labels=label
        )
        accepted = _counter(
            "bunws_handshakes_accepted", "WebSocket handshakes accepted (sockets opened).", label
        )
        received = _counter("bunws_messages_received", "Messages received from clients.", label)
        received_bytes = _counter(
            "bunws_received_bytes",
            "Payload bytes of the messages received (UTF-8 bytes for text).",
            label,
        )
        sent = _counter(
            "bunws_messages_sent",
            "Messages written to sockets: sends and publish deliveries.",
            label,
        )
        sent_bytes = _counter(
            "bunws_sent_bytes", "Payload bytes of the messages sent (before compression).", label
        )
        backpressure = _counter(
            "bunws_backpressure_events",
            "Times a socket's write buffer filled up (its sends start returning -1).",
            label,
        )
        drops = _counter(
            "bunws_backpressure_drops",
            "Messages dropped because a socket was over its backpressure_limit.",
            label,
        )
        closes = _counter(
            "bunws_closes",
            "Sockets closed, by the close code their close handler got.",
            ["endpoint", "code"],
        )
        duration = HistogramMetricFamily(
            "bunws_handshake_duration_seconds",
            "Time from the connect event to the accepted handshake (fetch included).",
            labels=label,
        )
        for counts in endpoints:
            name = [counts.name]
            open_sockets.add_metric(name, counts.open)
            accepted.add_metric(name, counts.opened)
            received.add_metric(name, counts.messages_received)
            received_bytes.add_metric(name, counts.bytes_received)
            sent.add_metric(name, counts.messages_sent)
            sent_bytes.add_metric(name, counts.bytes_sent)
            backpressure.add_metric(name, counts.backpressure_events)
            drops.add_metric(name, counts.backpressure_drops)
            for code, number in sorted(dict(counts.close_codes).items()):
                closes.add_metric([counts.name, str(code)], number)
            duration.add_metric(name, _buckets(counts), counts.handshake_seconds)
        yield from (open_sockets, accepted, received, received_bytes, sent, sent_bytes)
        yield from (backpressure, drops, closes, duration)
        yield from self._process()

    def _process(self) -> Iterator[Metric]:
        tallies = stats.process
        refusals, failures = tallies.snapshot()
        refused = _counter(
            "bunws_handshakes_refused",
            "WebSocket handshakes refused, by reason (endpoint empty when none matched).",
            ["endpoint", "reason"],
        )
        for (endpoint, reason), number in sorted(refusals.items()):
            refused.add_metric([endpoint, reason], number)
        failed = _counter(
            "bunws_failed_upgrades",
            "Attempts written to the failed-upgrade log: refused handshakes and plain HTTP "
            "requests to a WebSocket URL, by reason.",
            ["endpoint", "reason"],
        )
        for (endpoint, reason), number in sorted(failures.items()):
            failed.add_metric([endpoint, reason], number)
        publishes = _counter("bunws_publishes", "Publishes made in this process.", [])
        publishes.add_metric([], tallies.publishes)
        deliveries = _counter(
            "bunws_publish_deliveries",
            "Publish deliveries to this process's sockets (from any process).",
            [],
        )
        deliveries.add_metric([], tallies.deliveries)
        yield from (refused, failed, publishes, deliveries)


def _buckets(counts: stats.EndpointStats) -> list[tuple[str, float]]:
    """Cumulative ``(le, count)`` pairs from the per-bucket integers."""
    total = 0
    pairs = []
    bounds = [*(repr(bound) for bound in stats.HANDSHAKE_BUCKETS), "+Inf"]
    for bound, number in zip(bounds, list(counts.handshake_buckets), strict=True):
        total += number
        pairs.append((bound, float(total)))
    return pairs


def register(registry: CollectorRegistry = REGISTRY) -> bool:
    """Add bunws's collector to ``registry`` (once); False if it already was."""
    with _lock:
        if id(registry) in _registered:
            return False
        registry.register(BunwsCollector())
        _registered.add(id(registry))
        return True


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Every metric of the default registry (bunws's and any other), in the text format."""
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
