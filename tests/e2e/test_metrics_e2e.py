"""The demo's /metrics through a real daphne: sockets, messages, a refusal and a 426 move it."""

from __future__ import annotations

import asyncio
import time

import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families

from tests.support.clients import connect, recv
from tests.support.http import http_get
from tests.support.servers import Server

pytestmark = pytest.mark.timeout(30, func_only=True)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
ENDPOINT = (("endpoint", "t-metered"),)


def scrape(server: Server) -> Samples:
    with http_get(server, "/metrics") as response:
        assert response.status == 200, response.read()[:500]
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def moved(before: Samples, after: Samples, name: str, labels: tuple[tuple[str, str], ...]) -> float:
    return after.get((name, labels), 0.0) - before.get((name, labels), 0.0)


def failures(samples: Samples) -> dict[str, float]:
    """bunws_failed_upgrades_total of the test endpoint, by reason."""
    return {
        dict(labels)["reason"]: value
        for (name, labels), value in samples.items()
        if name == "bunws_failed_upgrades_total" and dict(labels)["endpoint"] == "t-metered"
    }


async def until_closed(server: Server, before: Samples) -> Samples:
    """Scrape until both sockets' closes are counted (the server sees them after the client)."""
    deadline = time.monotonic() + 5
    while True:
        after = await asyncio.to_thread(scrape, server)
        if moved(before, after, "bunws_sockets_open", ENDPOINT) == 0 or time.monotonic() > deadline:
            return after
        await asyncio.sleep(0.05)


async def test_metrics_count_sockets_messages_refusals_and_426s(server: Server) -> None:
    before = await asyncio.to_thread(scrape, server)
    a = await connect(server, "t/metered/")
    b = await connect(server, "t/metered/")
    await a.send("héllo")  # 6 bytes each way
    assert await recv(a) == "héllo"
    await b.send(b"\x00" * 10)
    assert await recv(b) == b"\x00" * 10
    await a.send("pub hi")  # one publish, delivered to b (a is skipped)
    assert await recv(b) == "hi"
    during = await asyncio.to_thread(scrape, server)
    assert moved(before, during, "bunws_sockets_open", ENDPOINT) == 2
    await b.send("close-4001")
    await b.wait_closed()
    await a.close()
    with pytest.raises(websockets.InvalidStatus):
        await connect(server, "t/metered/?refuse=1")
    with await asyncio.to_thread(http_get, server, "/t/metered/") as plain_get:
        assert plain_get.status == 426
    after = await until_closed(server, before)

    assert moved(before, after, "bunws_sockets_open", ENDPOINT) == 0
    assert moved(before, after, "bunws_handshakes_accepted_total", ENDPOINT) == 2
    assert moved(before, after, "bunws_messages_received_total", ENDPOINT) == 4
    assert moved(before, after, "bunws_received_bytes_total", ENDPOINT) == 6 + 10 + 6 + 10
    assert moved(before, after, "bunws_messages_sent_total", ENDPOINT) == 3
    assert moved(before, after, "bunws_sent_bytes_total", ENDPOINT) == 6 + 10 + 2
    assert moved(before, after, "bunws_publishes_total", ()) >= 1
    assert moved(before, after, "bunws_publish_deliveries_total", ()) >= 1
    for code in ("1000", "4001"):
        labels = (("code", code), ("endpoint", "t-metered"))
        assert moved(before, after, "bunws_closes_total", labels) == 1, code
    refused = (("endpoint", "t-metered"), ("reason", "fetch_declined"))
    assert moved(before, after, "bunws_handshakes_refused_total", refused) == 1
    failed = failures(after)
    for reason, value in failures(before).items():
        failed[reason] -= value
    plain = {reason: n for reason, n in failed.items() if reason != "fetch_declined" and n}
    assert failed.get("fetch_declined") == 1
    assert sum(plain.values()) == 1, failed  # the plain GET, under its 426 diagnosis
    count = "bunws_handshake_duration_seconds_count"
    assert moved(before, after, count, ENDPOINT) == 2
    inf = (("endpoint", "t-metered"), ("le", "+Inf"))
    assert moved(before, after, "bunws_handshake_duration_seconds_bucket", inf) == 2
