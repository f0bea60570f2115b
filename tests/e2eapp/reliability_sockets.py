"""Endpoints the reliability, security and soak tests drive through a real daphne.

Close handlers report to the ``rel-events`` topic (watch it through ``t/watch/rel-events/``) and,
when ``BUNWS_TEST_CLOSE_LOG`` names a file, append one line per close to it, so a test can see
them even after the server has exited. ``r/probe/`` answers ``stats`` with the process's
sockets, topics, tasks and memory.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time

import bunws
from bunws import ServerWebSocket
from bunws.core.hub import hub
from bunws.endpoint import endpoints

_closes = {"count": 0}
_lock = threading.Lock()


def _rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def stats() -> dict[str, object]:
    """What a soak or leak test checks: nothing may be left behind once clients are gone."""
    sockets = {ep.name: len(ep.sockets) for ep in endpoints() if ep.sockets}
    topics = dict(hub.topics())
    return {
        "sockets": sockets,
        "open_sockets": sum(sockets.values()),
        "topics": len(topics),
        "subscriptions": sum(topics.values()),
        "tasks": len(asyncio.all_tasks()),
        "threads": threading.active_count(),
        "closes": _closes["count"],
        "rss_kb": _rss_kb(),
    }


async def probe_message(ws: ServerWebSocket, message: str | bytes) -> None:
    if message == "stats":
        ws.send(json.dumps(stats()))
    elif isinstance(message, str) and message.startswith("count:"):
        ws.send(str(hub.count(message[len("count:") :])))


bunws.serve("r/probe/", websocket={"message": probe_message}, name="r-probe")


async def life_open(ws: ServerWebSocket) -> None:
    tag = ws.scope["url_route"]["kwargs"]["tag"]
    ws.subscribe(f"life-{tag}")
    ws.subscribe("life-all")


async def life_message(ws: ServerWebSocket, message: str | bytes) -> None:
    ws.send(message)


def life_close(ws: ServerWebSocket, code: int, reason: str) -> None:
    """Sync on purpose: shutdown must wait for close handlers that run in worker threads."""
    tag = ws.scope["url_route"]["kwargs"]["tag"]
    with _lock:
        _closes["count"] += 1
    path = os.environ.get("BUNWS_TEST_CLOSE_LOG")
    if path:
        with open(path, "a") as log:
            log.write(json.dumps({"tag": tag, "code": code, "reason": reason}) + "\n")
    bunws.publish(
        "rel-events",
        json.dumps(
            {
                "event": "close",
                "tag": tag,
                "code": code,
                "reason": reason,
                "subscriptions": ws.subscriptions,
            }
        ),
    )


bunws.serve(
    "r/life/<str:tag>/",
    websocket={
        "open": life_open,
        "message": life_message,
        "close": life_close,
        "max_payload_length": 4096,
    },
    name="r-life",
)


def slow_message(ws: ServerWebSocket, message: str | bytes) -> None:
    """A sync handler that blocks its worker thread for seconds."""
    if isinstance(message, str) and message.startswith("sleep:"):
        time.sleep(float(message[len("sleep:") :]))
        ws.send("woke")
    else:
        ws.send(message)


bunws.serve("r/slow/", websocket={"message": slow_message}, name="r-slow")


async def fanout_message(ws: ServerWebSocket, message: str | bytes) -> None:
    """``fanout:N`` publishes to N distinct topics, then reports how long it took."""
    if isinstance(message, str) and message.startswith("fanout:"):
        count = int(message[len("fanout:") :])
        started = time.perf_counter()
        delivered = sum(1 for i in range(count) if ws.publish(f"fan-{i}", f"m{i}"))
        ws.send(
            json.dumps(
                {"done": count, "delivered": delivered, "seconds": time.perf_counter() - started}
            )
        )
    elif isinstance(message, str) and message.startswith("sub:"):
        ws.subscribe(message[len("sub:") :])
        ws.send("subscribed")


bunws.serve("r/fanout/", websocket={"message": fanout_message}, name="r-fanout")


async def echo(ws: ServerWebSocket, message: str | bytes) -> None:
    ws.send(message)


bunws.serve(
    "r/strict/",
    websocket={"message": echo},
    allowed_origins=["https://good.example"],
    name="r-strict",
)


async def soak_open(ws: ServerWebSocket) -> None:
    ws.subscribe(ws.scope["url_route"]["kwargs"]["tag"])


async def soak_message(ws: ServerWebSocket, message: str | bytes) -> None:
    ws.publish(ws.scope["url_route"]["kwargs"]["tag"], message)


async def soak_close(ws: ServerWebSocket, code: int, reason: str) -> None:
    _closes["count"] += 1


bunws.serve(
    "r/soak/<str:tag>/",
    websocket={
        "open": soak_open,
        "message": soak_message,
        "close": soak_close,
        "publish_to_self": True,
    },
    name="r-soak",
)
