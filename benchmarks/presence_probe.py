"""The presence measurements, run in a process of their own with Django set up on a Redis layer.

It drives bunws's presence machinery directly on one event loop (the bridge, the tracker, the
Redis writer, the flusher) with in-memory sockets, so what is measured is presence itself, not
the WebSocket I/O the other workloads measure: joins per second until they are in Redis, Redis
commands per join (``INFO commandstats`` before and after), one diff's fan-out to N subscribers
(each runs a handler that JSON-encodes the diff and sends it) and one list of all the entries.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any


class NullTransport:
    """Accepts every write: the sockets' output is counted, not sent."""

    def __init__(self) -> None:
        self.frames = 0

    def set_flow_control(self, flow: Any) -> None: ...
    def on_pong(self, callback: Any) -> None: ...
    def write(self, frame: Any) -> None:
        self.frames += 1

    def write_many(self, frames: list[Any]) -> None:
        self.frames += len(frames)

    def close(self, code: int, reason: str) -> None: ...
    def abort(self) -> None: ...


def commands(client: Any) -> int:
    stats = client.info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if k.startswith("cmdstat_"))


async def measure(joins: int, subscribers: int) -> dict[str, Any]:
    from bunws.cluster import presence as cluster_presence
    from bunws.cluster import publish
    from bunws.cluster.counts import _sync_client, redis_settings
    from bunws.cluster.presence_lists import presence
    from bunws.core.hub import hub
    from bunws.core.options import compile_mapping
    from bunws.core.socket import ServerWebSocket

    publish.bind_loop()
    found = redis_settings()
    assert found is not None, "the probe needs a channels_redis layer"
    redis = _sync_client(found[0])
    config = compile_mapping("probe", {"message": lambda ws, m: None})
    transports: list[NullTransport] = []

    def socket() -> ServerWebSocket:
        transports.append(NullTransport())
        return ServerWebSocket(
            transport=transports[-1],  # type: ignore[arg-type]
            config=config,
            hub=hub,
            presence=cluster_presence.tracker,
        )

    sockets = [socket() for _ in range(joins)]
    cluster_presence.set_dispatcher(lambda ws, topic, diff: ws.send(json.dumps(diff)))
    service = cluster_presence.service()
    await asyncio.sleep(0.6)  # the bridge's first tick registers this process
    await service.resync()
    before = commands(redis)
    started = time.perf_counter()
    for i, ws in enumerate(sockets):
        ws.track("bench-room", key=f"user{i % (joins // 2 or 1)}", meta={"device": "web"})
        if i % 100 == 99:
            await asyncio.sleep(0)  # joins arrive over many loop iterations, as from clients
    while service._writing is not None and not service._writing.done():
        await service._writing
    join_seconds = time.perf_counter() - started
    after = commands(redis)
    solo = [socket() for _ in range(200)]
    solo_before = commands(redis)
    for i, ws in enumerate(solo):  # one join per loop iteration: nothing to batch with
        ws.track("bench-solo", key=f"solo{i}", meta={})
        await asyncio.sleep(0)
        while service._writing is not None and not service._writing.done():
            await service._writing
    solo_commands = (commands(redis) - solo_before) / len(solo)
    listed_at = time.perf_counter()
    listing = await asyncio.to_thread(presence, "bench-room")
    list_seconds = time.perf_counter() - listed_at
    entries = sum(len(metas) for metas in listing.values())
    cluster_presence.tracker.inbound.take()
    watchers = [socket() for _ in range(subscribers)]
    for ws in watchers:
        ws.subscribe("bench-room")
    for ws in sockets[:10]:
        ws.update_presence("bench-room", meta={"device": "away"})
    sent_before = sum(t.frames for t in transports)
    fanned = time.perf_counter()
    await service.flush()
    fanout_seconds = time.perf_counter() - fanned
    delivered = sum(t.frames for t in transports) - sent_before
    for ws in sockets + watchers + solo:
        ws.close()
    await service.leave_all()
    return {
        "joins": joins,
        "joins_per_s": joins / join_seconds,
        "redis_commands_per_join": (after - before) / joins,
        "redis_commands_per_lone_join": solo_commands,
        "list_entries": entries,
        "list_ms": list_seconds * 1000,
        "subscribers": subscribers,
        "diffs_delivered": delivered,
        "fanout_ms": fanout_seconds * 1000,
    }


def main() -> None:
    import django

    parser = argparse.ArgumentParser()
    parser.add_argument("--joins", type=int, default=10_000)
    parser.add_argument("--subscribers", type=int, default=1000)
    args = parser.parse_args()
    django.setup()
    print(json.dumps(asyncio.run(measure(args.joins, args.subscribers))))


if __name__ == "__main__":
    main()
