"""Presence in Redis: the keys, the commands that write and read them, and reaping.

One hash per topic, ``{prefix}:bunws:presence:t:{sha256(topic)}``, holds every process's entries
(field ``{process id}:{ref}``, value JSON ``{"k": key, "m": meta, "s": joined}``), so a topic's
list is one ``HGETALL``, sent in one pipeline with ``TIME`` and the process registry of
``bunws.cluster.counts`` (``{prefix}:bunws:processes``, scored by the Redis clock): entries of
processes not seen for the down period are left out of every list, before any reaper ran. Each
process also keeps ``:p:{id}`` (the topics it has entries in), ``:m:{id}`` (a marker whose
disappearance means Redis lost its data: the process writes its entries again) and is listed
in ``:owners``. A reaper removes a down process's fields with one Lua call per topic, after
taking ``:reap:{id}`` with ``SET NX`` so that exactly one process reaps, and leaves
``:reaped:{id}`` for the process, should it come back, to announce its entries as joins again.

The functions add commands to a redis-py pipeline (sync or asyncio: same calls) and parse the
results, so the async writer and the sync readers share them.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from bunws.cluster.counts import PROCESS_TTL, procs_key
from bunws.core.presence import Entry

#: The marker and the reap lock outlive any down period (at most ``PROCESS_TTL``).
MARKER_TTL = 3 * PROCESS_TTL
REAPED_TTL = 3600

# Removes the fields whose name starts with ARGV[1] (a process id and ':'); returns them and
# their values. One call per topic hash: the hash is read and trimmed atomically.
REAP_SCRIPT = """
local out = {}
local all = redis.call('HGETALL', KEYS[1])
local n = #ARGV[1]
for i = 1, #all, 2 do
  if string.sub(all[i], 1, n) == ARGV[1] then
    redis.call('HDEL', KEYS[1], all[i])
    out[#out + 1] = all[i + 1]
  end
end
return out
"""


class Keys:
    """The presence keys under one layer prefix."""

    def __init__(self, prefix: str) -> None:
        self.base = f"{prefix}:bunws:presence"
        self.procs = procs_key(prefix)
        self.owners = f"{self.base}:owners"

    def topic(self, topic: str) -> str:
        return (
            f"{self.base}:t:" + hashlib.sha256(topic.encode("utf-8", "surrogatepass")).hexdigest()
        )

    def topics_of(self, process: str) -> str:
        return f"{self.base}:p:{process}"

    def marker(self, process: str) -> str:
        return f"{self.base}:m:{process}"

    def reap_lock(self, process: str) -> str:
        return f"{self.base}:reap:{process}"

    def reaped(self, process: str) -> str:
        return f"{self.base}:reaped:{process}"


def encode(entry: Entry) -> str:
    return json.dumps({"k": entry.key, "m": entry.meta, "s": entry.joined}, separators=(",", ":"))


def decode(value: bytes | str) -> Entry:
    item = json.loads(value)
    return Entry(item["k"], item["m"], float(item["s"]))


def field(process: str, ref: str) -> str:
    return f"{process}:{ref}"


# -- reading ------------------------------------------------------------------------------


def read_topic(pipe: Any, keys: Keys, topic: str) -> None:
    """Queue the one round trip that lists ``topic``: the clock, the registry, the hash."""
    pipe.time()
    pipe.zrange(keys.procs, 0, -1, withscores=True)
    pipe.hgetall(keys.topic(topic))


def live_processes(now: Any, registry: list[Any], down: float) -> set[str]:
    """The ids written within ``down`` seconds of the Redis clock ``now`` (``TIME``'s reply)."""
    seconds = float(now[0]) + float(now[1]) / 1e6
    return {_text(member) for member, score in registry if float(score) >= seconds - down}


def parse_topic(results: list[Any], down: float, exclude: str) -> list[Entry]:
    """The entries of live processes other than ``exclude`` from ``read_topic``'s replies."""
    now, registry, fields = results[-3:]
    live = live_processes(now, registry, down)
    live.discard(exclude)
    entries = []
    for name, value in fields.items():
        process = _text(name).split(":", 1)[0]
        if process in live:
            entries.append(decode(value))
    return entries


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


# -- writing ------------------------------------------------------------------------------


def write_changes(
    pipe: Any,
    keys: Keys,
    process: str,
    changes: dict[str, dict[str, Entry | None]],
    emptied: list[str],
    known: set[str],
) -> None:
    """Queue this process's entry changes: per topic one ``HSET`` and one ``HDEL`` at most;
    topics not in ``known`` (then added to it) join the process's topic set."""
    added = []
    for topic, refs in changes.items():
        present = {field(process, r): encode(e) for r, e in refs.items() if e is not None}
        gone = [field(process, r) for r, e in refs.items() if e is None]
        if present:
            pipe.hset(keys.topic(topic), mapping=present)
            if topic not in known:
                added.append(topic)
                known.add(topic)
        if gone:
            pipe.hdel(keys.topic(topic), *gone)
    if added:
        pipe.sadd(keys.topics_of(process), *added)
    if emptied:
        pipe.srem(keys.topics_of(process), *emptied)
        known.difference_update(emptied)


def announce(
    pipe: Any, keys: Keys, process: str, topics: dict[str, dict[str, Entry]], stale: set[str]
) -> None:
    """Queue writing all of this process's entries again (Redis lost them, or a write failed):
    its old fields in ``stale`` topics go first, in the same transaction."""
    pipe.sadd(keys.owners, process)
    for topic in stale | set(topics):
        pipe.eval(REAP_SCRIPT, 1, keys.topic(topic), f"{process}:")
    for topic, entries in topics.items():
        if entries:
            mapping = {field(process, ref): encode(e) for ref, e in entries.items()}
            pipe.hset(keys.topic(topic), mapping=mapping)
    pipe.delete(keys.topics_of(process))
    if topics:
        pipe.sadd(keys.topics_of(process), *topics)
    pipe.set(keys.marker(process), 1, ex=MARKER_TTL)


def remove_process(pipe: Any, keys: Keys, process: str, topics: list[str]) -> None:
    """Queue removing every entry of ``process`` (its clean exit, or its reaping)."""
    for topic in topics:
        pipe.eval(REAP_SCRIPT, 1, keys.topic(topic), f"{process}:")
    pipe.delete(keys.topics_of(process), keys.marker(process))
    pipe.srem(keys.owners, process)


def reaped_entries(topics: list[str], results: list[Any]) -> dict[str, list[Entry]]:
    """The entries each reaping call of ``remove_process`` removed, by topic."""
    return {
        topic: [decode(v) for v in values]
        for topic, values in zip(topics, results, strict=False)
        if values
    }
