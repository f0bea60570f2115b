"""A ``bunws.v1`` socket's session: its record in the store, and restoring it on a resume.

The record (JSON) holds the endpoint, the user, ``ws.data``, each topic's starting offset and
the presence tracks (key and meta).

Per topic of the session: live deliveries are held while the store is read from the client's
offset (or, for a topic the client did not list, from the one the session started at); the
stored messages go out in offset order, then the held ones, skipping any already replayed, so
the client gets every message once. A topic whose messages the store no longer has is a gap.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from bunws.asgi.resume import user_key
from bunws.cluster.recovery_sessions import Record
from bunws.cluster.recovery_setup import refresh_every
from bunws.core.envelope import StampedFrame
from bunws.core.outgoing import Outgoing
from bunws.core.socket import ServerWebSocket

if TYPE_CHECKING:
    from bunws.asgi.recovering import RecoveringWebSocket

logger = logging.getLogger("bunws")

#: Messages read from the store per round trip.
PAGE = 1000
_unsaveable: set[str] = set()  # endpoints already warned about non-JSON ws.data
_tasks: set[asyncio.Task[Any]] = set()


def spawn(coro: Awaitable[Any]) -> None:
    """Run ``coro`` in the background, holding a reference until it ends."""
    task = asyncio.ensure_future(coro)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


def record_of(ws: RecoveringWebSocket, ttl: int | None = None) -> Record | None:
    """``(session, json, ttl, exists)`` of ``ws``'s session for the store; None when it
    cannot be saved (``ws.data`` not JSON-serialisable: the stored record is deleted)."""
    if ws.session is None:
        return None
    tracker = ws._presence
    presence: dict[str, Any] = {}
    if tracker is not None:
        for topic, ref in tracker.sockets.get(ws, {}).items():
            entry = tracker.topics[topic][ref]
            presence[topic] = [entry.key, {k: v for k, v in entry.meta.items() if k != "ref"}]
    record = {
        "v": 1,
        "endpoint": ws.endpoint.name,
        "client": ws.client_id,
        "user": user_key(ws.scope),
        "data": ws._data,
        "topics": ws._starts,
        "presence": presence,
    }
    try:
        text = json.dumps(record, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        if ws.endpoint.name not in _unsaveable:
            _unsaveable.add(ws.endpoint.name)
            logger.warning(
                "bunws: %s: ws.data is not JSON-serialisable (%s); its sessions cannot be "
                "resumed (a resume gets a gap and fetch runs)",
                ws.endpoint.name,
                exc,
            )
        ws._service.sessions.end(ws.session, None)
        return None
    exists, ws._saved = ws._saved, True
    if ttl is None:
        ttl = ws.endpoint.recovery.window + 2 * int(refresh_every())
    return ws.session, text, ttl, exists


async def restore(
    ws: RecoveringWebSocket, record: dict[str, Any], offsets: dict[str, int]
) -> tuple[int, list[str]]:
    """Restore ``record`` on ``ws``; the number of messages replayed and the topics with gaps."""
    service = ws._service
    gaps: list[str] = []
    waits = []
    for topic, start in (record.get("topics") or {}).items():
        after = offsets.get(topic, start)
        ws._replaying[topic] = []
        ServerWebSocket.subscribe(ws, topic)
        ready = service.watch(ws, topic)
        ws._positions[topic] = after
        ws._starts[topic] = start if start is not None else after
        waits.append((topic, after, ready))
    replayed = 0
    for topic, after, ready in waits:
        head = await ready
        if after is None:  # the session never learnt where the topic started
            gaps.append(topic)
            after = head
            ws._positions[topic] = ws._starts[topic] = head
        replayed += await _replay(ws, topic, after, gaps)
        for frame in ws._replaying.pop(topic, []):
            ws.deliver(frame)
    for topic, (key, meta) in (record.get("presence") or {}).items():
        ServerWebSocket.track(ws, topic, key, meta)  # a new entry (new ref), same key and meta
    return replayed, gaps


async def _replay(ws: RecoveringWebSocket, topic: str, after: int, gaps: list[str]) -> int:
    """Write the stored messages of ``topic`` after ``after`` to ``ws`` (live ones stay held
    meanwhile); how many."""
    count = 0
    first = True
    while True:
        entries, head = await ws._service.read(topic, after, PAGE)
        missing = not entries or entries[0][0] != after + 1
        if first and head is not None and after < head and missing:
            gaps.append(topic)
        first = False
        for n, data, compress, sender in entries:
            last = ws._positions.get(topic)
            if last is None or n > last:
                ws._positions[topic] = n
                if sender and sender == ws.client_id:
                    continue  # its own publish, skipped live too (publish_to_self False)
                Outgoing.deliver(ws, StampedFrame(data, compress, topic, n).enveloped())
                count += 1
        if len(entries) < PAGE:
            return count
        after = entries[-1][0]
