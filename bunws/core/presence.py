"""Presence without a server: who is tracked on a topic, and batched diffs of joins and leaves.

The model is Phoenix Presence's: a topic holds entries, each a ``(key, meta)`` with a ``ref``
unique to the entry (Phoenix's ``phx_ref``), so one key (a user) may have several entries (two
tabs). Every change is recorded in ``Changes`` as "what the entry was at the last broadcast,
what it is now"; a broadcast takes the net diff per topic, so many joins in one period make one
diff, and a join followed by its leave within a period makes none. The ref stays the same when
the meta changes: that is a leave of the old meta and a join of the new one under the same ref,
so a client applies a diff's leaves first, then its joins.

``Tracker`` holds this process's entries, keyed by the socket that tracked them; the ASGI layer
gives it to sockets as their presence hook. Standard library only.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from bunws.core.close import OPEN as _OPEN
from bunws.core.hub import check_topic as _check_topic

Meta = dict[str, Any]
Listing = dict[str, list[Meta]]
#: ``{"joins": {key: [meta, ...]}, "leaves": {key: [meta, ...]}}``
Diff = dict[str, Listing]


class Entry(NamedTuple):
    """One tracked presence: its key, its meta (``ref`` included) and when it joined."""

    key: str
    meta: Meta
    joined: float

    @property
    def ref(self) -> str:
        return str(self.meta["ref"])


def new_ref() -> str:
    """A ref unique across processes (72 random bits, URL-safe)."""
    return secrets.token_urlsafe(9)


def checked_meta(meta: object, ref: str) -> Meta:
    """``meta`` with its ``ref``; TypeError/ValueError naming the problem when it is not a
    JSON-serialisable dict (it crosses Redis and reaches browsers as JSON)."""
    if meta is None:
        meta = {}
    if not isinstance(meta, Mapping):
        raise TypeError(f"presence meta must be a dict, got {type(meta).__name__} {meta!r}.")
    if "ref" in meta:
        raise ValueError("presence meta key 'ref' is reserved: bunws sets it to the entry's ref.")
    result = {**meta, "ref": ref}
    try:
        json.dumps(result)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"presence meta must be JSON-serialisable: {exc}") from None
    return result


def check_key(key: object) -> str:
    if not isinstance(key, str):
        raise TypeError(f"a presence key is a str, got {type(key).__name__} {key!r}.")
    return key


def listing(entries: Iterable[Entry]) -> Listing:
    """``{key: [meta, ...]}``: keys in order of their first join, metas in join order."""
    result: Listing = {}
    for entry in sorted(entries, key=lambda e: (e.joined, e.ref)):
        result.setdefault(entry.key, []).append(dict(entry.meta))
    return result


def empty_diff() -> Diff:
    return {"joins": {}, "leaves": {}}


class Changes:
    """Changes per topic since the last ``take``: ref -> (entry then, entry now)."""

    def __init__(self) -> None:
        self.topics: dict[str, dict[str, tuple[Entry | None, Entry | None]]] = {}

    def __bool__(self) -> bool:
        return bool(self.topics)

    def record(self, topic: str, ref: str, before: Entry | None, after: Entry | None) -> None:
        refs = self.topics.setdefault(topic, {})
        seen = refs.get(ref)
        refs[ref] = (before if seen is None else seen[0], after)

    def merge(self, topic: str, leaves: Iterable[Entry], joins: Iterable[Entry]) -> None:
        """Add a diff from elsewhere (another process): its leaves first, then its joins."""
        for entry in leaves:
            self.record(topic, entry.ref, entry, None)
        for entry in joins:
            refs = self.topics.setdefault(topic, {})
            seen = refs.get(entry.ref)
            refs[entry.ref] = (None if seen is None else seen[0], entry)

    def take(self) -> dict[str, dict[str, tuple[Entry | None, Entry | None]]]:
        """The raw changes, forgotten here (``put_back`` restores them if sending fails)."""
        taken, self.topics = self.topics, {}
        return taken

    def put_back(self, topic: str, raw: dict[str, tuple[Entry | None, Entry | None]]) -> None:
        """Restore changes taken earlier, under any recorded since."""
        refs = self.topics.setdefault(topic, {})
        for ref, (before, after) in raw.items():
            later = refs.get(ref)
            refs[ref] = (before, after if later is None else later[1])


def net(raw: Mapping[str, tuple[Entry | None, Entry | None]]) -> tuple[list[Entry], list[Entry]]:
    """The leaves and joins that turn the state then into the state now (unchanged ones out)."""
    leaves, joins = [], []
    for before, after in raw.values():
        if before is not None and after is not None and before.meta == after.meta:
            continue
        if before is not None:
            leaves.append(before)
        if after is not None:
            joins.append(after)
    return leaves, joins


def as_diff(leaves: Iterable[Entry], joins: Iterable[Entry]) -> Diff:
    return {"joins": listing(joins), "leaves": listing(leaves)}


class Tracker:
    """This process's entries, by topic and by socket; every change goes to ``inbound`` (for
    this process's subscribers) and, in a cluster, to ``outbound`` (for the other processes)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.topics: dict[str, dict[str, Entry]] = {}
        self.sockets: dict[Any, dict[str, str]] = {}
        self.inbound = Changes()
        self.outbound: Changes | None = None
        #: Called with ``(topic, ref)`` after each change (the cluster writer, the flusher).
        self.on_change: list[Callable[[str, str], None]] = []

    def _changed(self, topic: str, ref: str, before: Entry | None, after: Entry | None) -> None:
        for callback in self.on_change:  # first: the first one may start the cluster side
            callback(topic, ref)
        self.inbound.record(topic, ref, before, after)
        if self.outbound is not None:
            self.outbound.record(topic, ref, before, after)

    def track(self, ws: Any, topic: str, key: str, meta: object) -> str:
        """Track ``ws`` on ``topic`` as ``key``; return the entry's ref."""
        check_key(key)
        tracked = self.sockets.get(ws)
        if tracked is not None and topic in tracked:
            raise ValueError(
                f"this socket is already tracked on topic {topic[:100]!r}: call "
                f"ws.update_presence(topic, meta=...) to change its meta, or ws.untrack(topic)."
            )
        ref = new_ref()
        entry = Entry(key, checked_meta(meta, ref), self.clock())
        self.topics.setdefault(topic, {})[ref] = entry
        self.sockets.setdefault(ws, {})[topic] = ref
        self._changed(topic, ref, None, entry)
        return ref

    def update(self, ws: Any, topic: str, meta: object) -> bool:
        """Replace the meta of ``ws``'s entry on ``topic`` (same key and ref); False if untracked."""
        ref = self.sockets.get(ws, {}).get(topic)
        if ref is None:
            return False
        before = self.topics[topic][ref]
        after = before._replace(meta=checked_meta(meta, ref))
        self.topics[topic][ref] = after
        self._changed(topic, ref, before, after)
        return True

    def untrack(self, ws: Any, topic: str) -> bool:
        """Remove ``ws``'s entry on ``topic``; False if it had none."""
        tracked = self.sockets.get(ws)
        ref = None if tracked is None else tracked.pop(topic, None)
        if ref is None:
            return False
        if not tracked:
            del self.sockets[ws]
        entries = self.topics[topic]
        before = entries.pop(ref)
        if not entries:
            del self.topics[topic]
        self._changed(topic, ref, before, None)
        return True

    def drop(self, ws: Any) -> None:
        """Untrack ``ws`` everywhere (its connection is over)."""
        for topic in list(self.sockets.get(ws, ())):
            self.untrack(ws, topic)

    def is_tracking(self, ws: Any) -> bool:
        return ws in self.sockets

    def listed(self, topic: str) -> Listing:
        """This process's entries on ``topic``."""
        return listing(self.topics.get(topic, {}).values())

    def sizes(self) -> list[tuple[str, int, int]]:
        """``(topic, keys, entries)`` for each topic with entries here."""
        return [
            (topic, len({e.key for e in entries.values()}), len(entries))
            for topic, entries in self.topics.items()
        ]


class Present:
    """The socket's presence methods (mixed into ``ServerWebSocket``, which sets
    ``_presence``); a socket that closes leaves every presence it joined."""

    __slots__ = ()
    _presence: Tracker | None
    ready_state: int

    def _tracker(self) -> Tracker:
        if self._presence is None:
            raise RuntimeError("this socket has no presence tracker (it was built without one)")
        return self._presence

    def track(self, topic: str, key: str, meta: Mapping[str, Any] | None = None) -> str:
        """Join ``topic``'s presence as ``key`` with ``meta`` (a JSON-serialisable dict);
        return the entry's ref ("" when the socket is not open)."""
        _check_topic(topic)
        if self.ready_state != _OPEN:
            return ""
        return self._tracker().track(self, topic, key, meta)

    def untrack(self, topic: str) -> bool:
        """Leave ``topic``'s presence; False if this socket was not tracked there."""
        _check_topic(topic)
        return self._presence is not None and self._presence.untrack(self, topic)

    def update_presence(self, topic: str, meta: Mapping[str, Any] | None = None) -> bool:
        """Replace this socket's meta on ``topic`` (same key and ref): subscribers get one diff
        with the old meta in its leaves and the new one in its joins. False if not tracked."""
        _check_topic(topic)
        if self.ready_state != _OPEN:
            return False
        return self._tracker().update(self, topic, meta)
