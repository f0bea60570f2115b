"""The recovery measurements, run in a process of their own with Django set up on a Redis layer.

Like ``benchmarks.presence_probe`` it drives bunws directly on one event loop with in-memory
sockets (transports that count frames), so what is measured is recovery itself: the same
publishes to the same number of subscribers with recovery off (plain sockets, a topic nobody
records) and on (``bunws.v1`` sockets of a recovery endpoint: each publish appended to its Redis
stream, then delivered in offset order with its envelope), and the resume of many sessions that
each missed the same messages. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from benchmarks.presence_probe import NullTransport


class CountingTransport(NullTransport):
    def remote_close(self) -> tuple[int | None, str | None]:
        return None, None


async def measure(messages: int, subscribers: int, sessions: int, missed: int) -> dict[str, Any]:
    from bunws.asgi.recovering import RecoveringWebSocket
    from bunws.asgi.resume import SCOPE_KEY
    from bunws.cluster import presence as cluster_presence
    from bunws.cluster import publish, recovery
    from bunws.core.hub import hub
    from bunws.core.socket import ServerWebSocket
    from bunws.endpoint import Endpoint

    endpoint = Endpoint(
        "bench/recovery/",
        websocket={"message": lambda ws, m: None},
        name="bench-recovery",
        recovery={"window": 120, "presence": False},
    )
    publish.bind_loop()
    service = recovery.service()
    await service.loaded
    transports: list[CountingTransport] = []

    def plain() -> ServerWebSocket:
        transports.append(CountingTransport())
        return ServerWebSocket(
            transport=transports[-1],  # type: ignore[arg-type]
            config=endpoint.config,
            hub=hub,
            endpoint=endpoint,
            publish=publish.publish_frame,
        )

    async def recovering(scope: dict[str, Any] | None = None, resume: str = "") -> Any:
        transports.append(CountingTransport())
        ws = RecoveringWebSocket(
            transport=transports[-1],
            config=endpoint.config,
            hub=hub,
            endpoint=endpoint,
            publish=publish.publish_frame,
            protocol="bunws.v1",
            scope=scope or {},
            presence=cluster_presence.tracker,
        )

        async def first() -> str:
            return resume

        await ws.start(first)
        return ws

    def sent() -> int:
        return sum(t.frames for t in transports)

    async def run(topic: str, sender: Any, expected: int) -> float:
        before = sent()
        started = time.perf_counter()
        for i in range(messages):
            sender.publish(topic, f"message {i:06d} of the benchmark")
            if i % 100 == 99:
                await asyncio.sleep(0)  # publishes arrive over many loop iterations
        while sent() - before < expected:
            await asyncio.sleep(0.001)
        return time.perf_counter() - started

    off = [plain() for _ in range(subscribers)]
    for ws in off:
        ws.subscribe("bench-off")
    on = [await recovering() for _ in range(subscribers)]
    for ws in on:
        ws.subscribe("bench-on")
        await ws._service.ready["bench-on"]
    sender_off, sender_on = plain(), await recovering()
    sender_on.subscribe("bench-on")
    await run("bench-off", sender_off, messages * subscribers // 10)  # warm-up
    off_seconds = await run("bench-off", sender_off, messages * subscribers)
    on_seconds = await run("bench-on", sender_on, messages * subscribers)

    # 1,000 sessions on one topic go away (1001), miss messages, and come back at once.
    away = [await recovering() for _ in range(sessions)]
    for ws in away:
        ws.subscribe("bench-resume")
    await asyncio.sleep(0.1)
    records = {ws.session: dict(ws._positions) for ws in away}
    for ws in away:
        ws.close(1001, "going away")
    for i in range(missed):
        sender_on.publish("bench-resume", f"missed {i:06d}")
    await asyncio.sleep(0.5)  # the sessions' last records and the publishes reach Redis
    resumed_at = time.perf_counter()
    taken = await asyncio.gather(*(service.store.take(s) for s in records))
    back = await asyncio.gather(
        *(
            recovering(
                {SCOPE_KEY: json.loads(text)},
                json.dumps({"type": "resume", "offsets": records[session]}),
            )
            for session, text in zip(records, taken, strict=True)
            if text is not None
        )
    )
    resume_seconds = time.perf_counter() - resumed_at
    start = next(iter(records.values()))["bench-resume"]
    replayed = sum(ws._positions["bench-resume"] - start for ws in back)  # consecutive offsets
    _, stream = service.store.keys("bench-on")  # type: ignore[union-attr]
    memory = await service.store.client.memory_usage(stream)  # type: ignore[union-attr]
    length = await service.store.client.xlen(stream)  # type: ignore[union-attr]
    for ws in [*off, *on, *back, sender_off, sender_on]:
        ws.close(1000)
    await asyncio.sleep(0.2)
    off_rate = messages * subscribers / off_seconds
    on_rate = messages * subscribers / on_seconds
    return {
        "subscribers": subscribers,
        "messages": messages,
        "deliveries_off": off_rate,
        "deliveries_on": on_rate,
        "ratio": on_rate / off_rate,
        "sessions": sessions,
        "resumed": sum(1 for ws in back if ws.recovered),
        "missed": missed,
        "replayed": replayed,
        "resume_s": resume_seconds,
        "replay_per_s": replayed / resume_seconds,
        "sessions_per_s": len(back) / resume_seconds,
        "stream_bytes_per_message": (memory or 0) / max(1, length),
    }


def main() -> None:
    import django

    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--missed", type=int, default=100)
    args = parser.parse_args()
    django.setup()
    result = asyncio.run(measure(args.messages, args.subscribers, args.sessions, args.missed))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
