"""Where recovery keeps recorded messages, offsets, sessions and the recorded-topic set.

``RedisStore`` (the ``channels_redis`` layers): one stream per topic with entry ids
``<offset>-0``, a counter per topic bumped in the same Lua call as the ``XADD``, sessions as
JSON strings with a time-to-live, and a sorted set of recorded topics scored by expiry (the Redis
server's clock). ``MemoryStore`` (the in-memory layer): the same in this process. Both trim a
topic to ``cap`` messages and to ``retention`` seconds (docs/recovery.md has the key names).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import deque
from collections.abc import Awaitable
from typing import Any, TypeVar

T = TypeVar("T")
MAX_CONCURRENT = 16  # Redis commands (or pipelines) of one process in flight at once
#: ``(offset, payload, compress, sender)``: one recorded message; ``sender`` is the publishing
#: socket's client id when it was skipped (``publish_to_self`` False), so a replay skips it too.
Entry = tuple[int, "str | bytes", bool, str]
Item = tuple[str, "str | bytes", bool, str]  # (topic, payload, compress, sender) to record

_CLOCK = "local t = redis.call('TIME')\nlocal now = tonumber(t[1])\n"
# A missing counter starts from the clock in microseconds, so offsets keep growing after a
# reset (Redis restarted, or the topic idle past its keys' lifetime); below 2**53 for JSON.
_APPEND_BODY = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then
  n = now * 1000000 + tonumber(t[2])
  redis.call('SET', KEYS[1], string.format('%.0f', n))
end
redis.call('EXPIRE', KEYS[1], ARGV[5])
local ms = now * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], string.format('%.0f', n) .. '-0',
  'd', ARGV[1], 'k', ARGV[2], 't', ms)
local cutoff = ms - tonumber(ARGV[3]) * 1000
local head = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
if head[1] and tonumber(head[1][2][6]) < cutoff then
  local batch = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 100)
  local keep = nil
  for _, e in ipairs(batch) do
    if tonumber(e[2][6]) >= cutoff then keep = e[1]; break end
  end
  if not keep then
    keep = string.format('%.0f', tonumber(string.match(batch[#batch][1], '^(%d+)')) + 1) .. '-0'
  end
  redis.call('XTRIM', KEYS[2], 'MINID', keep)
end
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3]) + 60)
return string.format('%.0f', n)
"""
# KEYS: counter, stream; ARGV: payload, kind, retention, cap, counter ttl
APPEND = _CLOCK + _APPEND_BODY
# KEYS: counter, stream, topics; ARGV: as APPEND, then the topic: only while it is recorded.
STAMP = (
    _CLOCK
    + "local s = redis.call('ZSCORE', KEYS[3], ARGV[6])\n"
    + "if (not s) or tonumber(s) < now then return false end\n"
    + _APPEND_BODY
)
# KEYS: counter, topics; ARGV: topic, keep (s), counter ttl. Returns the topic's last offset.
INIT = (
    _CLOCK
    + """
local n = redis.call('GET', KEYS[1])
if not n then
  n = string.format('%.0f', now * 1000000 + tonumber(t[2]))
  redis.call('SET', KEYS[1], n)
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], 'GT', now + tonumber(ARGV[2]), ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return n
"""
)
# KEYS: topics. The recorded topics now.
RECORDED = (
    _CLOCK
    + "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)\nreturn redis.call('ZRANGE', KEYS[1], 0, -1)"
)


def digest(topic: str) -> str:
    return hashlib.sha256(topic.encode("utf-8", "surrogatepass")).hexdigest()


def kind(data: str | bytes, compress: bool, sender: str = "") -> str:
    """The ``k`` field: ``t``/``b``, ``z`` when compressed, then ``:sender`` if any."""
    return (
        ("b" if isinstance(data, bytes) else "t")
        + ("z" if compress else "")
        + (f":{sender}" if sender else "")
    )


class RedisStore:
    """The store on the Redis of the ``channels_redis`` layer (async, socket loop)."""

    def __init__(self, client: Any, prefix: str, retention: int, cap: int) -> None:
        self.client = client
        self.prefix = f"{prefix}:bunws:rec"
        self.retention, self.cap = retention, cap
        self.counter_ttl = retention * 2 + 600
        self.topics_key = f"{self.prefix}:topics"
        self._scripts = {name: client.register_script(s) for name, s in _SCRIPTS.items()}
        # A thousand clients resuming at once must not open a thousand connections.
        self._slots = asyncio.Semaphore(MAX_CONCURRENT)

    async def _run(self, command: Awaitable[T]) -> T:
        async with self._slots:
            return await command

    def keys(self, topic: str) -> tuple[str, str]:
        h = digest(topic)
        return f"{self.prefix}:n:{h}", f"{self.prefix}:s:{h}"

    def session_key(self, session: str) -> str:
        return f"{self.prefix}:sess:{session}"

    def _args(self, data: str | bytes, compress: bool, sender: str = "") -> list[Any]:
        payload = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
        return [payload, kind(data, compress, sender), self.retention, self.cap, self.counter_ttl]

    async def init(self, topic: str, keep: int) -> int:
        """The topic's last offset (starting its counter), recorded for ``keep`` seconds."""
        counter, _ = self.keys(topic)
        args = [topic, keep, self.counter_ttl]
        return int(
            await self._run(self._scripts["init"](keys=[counter, self.topics_key], args=args))
        )

    async def append(self, items: list[Item]) -> list[int]:
        """Record ``(topic, payload, compress, sender)`` items, in order; their offsets."""
        pipe = self.client.pipeline(transaction=False)
        for topic, data, compress, sender in items:
            args = self._args(data, compress, sender)
            await self._scripts["append"](keys=list(self.keys(topic)), args=args, client=pipe)
        return [int(n) for n in await self._run(pipe.execute())]

    async def stamp(self, topic: str, data: str | bytes, compress: bool) -> int | None:
        """Record the item only if ``topic`` is recorded now (publishers without sockets)."""
        keys = [*self.keys(topic), self.topics_key]
        n = await self._run(
            self._scripts["stamp"](keys=keys, args=[*self._args(data, compress), topic])
        )
        return None if n is None else int(n)

    async def read(self, topic: str, after: int, limit: int) -> tuple[list[Entry], int | None]:
        """Up to ``limit`` recorded messages after offset ``after``, and the last offset."""
        counter, stream = self.keys(topic)
        pipe = self.client.pipeline(transaction=False)
        pipe.xrange(stream, f"{after + 1}-0", "+", count=limit)
        pipe.get(counter)
        rows, head = await self._run(pipe.execute())
        entries: list[Entry] = []
        for entry_id, fields in rows:
            raw: bytes = fields[b"d"]
            k, _, sender = fields[b"k"].decode().partition(":")
            data = raw.decode("utf-8", "surrogatepass") if k[0] == "t" else raw
            entries.append((int(entry_id.split(b"-")[0]), data, k.endswith("z"), sender))
        return entries, None if head is None else int(head)

    async def recorded(self) -> set[str]:
        rows = await self._run(self._scripts["recorded"](keys=[self.topics_key]))
        return {row.decode("utf-8", "surrogatepass") for row in rows}

    async def refresh(self, topics: list[str], keep: int, sessions: dict[str, int]) -> None:
        """Keep ``topics`` recorded and their counters alive; renew ``sessions``' lifetimes."""
        pipe = self.client.pipeline(transaction=False)
        for topic in topics:
            counter, _ = self.keys(topic)
            args = [topic, keep, self.counter_ttl]
            await self._scripts["init"](keys=[counter, self.topics_key], args=args, client=pipe)
        for session, ttl in sessions.items():
            pipe.expire(self.session_key(session), ttl)
        await self._run(pipe.execute())

    async def save(self, records: list[tuple[str, str, int, bool]]) -> None:
        """``(session, json, ttl, exists)``: write each (only over itself when ``exists``, so
        a session resumed elsewhere in the meantime is not brought back)."""
        pipe = self.client.pipeline(transaction=False)
        for session, text, ttl, exists in records:
            pipe.set(self.session_key(session), text, ex=ttl, xx=exists or None)
        await self._run(pipe.execute())

    async def take(self, session: str) -> str | None:
        """The session's JSON, deleted: a session resumes once."""
        text = await self._run(self.client.getdel(self.session_key(session)))
        return None if text is None else bytes(text).decode()

    async def end(self, session: str, ttl: int | None) -> None:
        """The socket closed: the session lives ``ttl`` seconds more (None: deleted now)."""
        key = self.session_key(session)
        await self._run(self.client.delete(key) if ttl is None else self.client.expire(key, ttl))


_SCRIPTS = {"append": APPEND, "stamp": STAMP, "init": INIT, "recorded": RECORDED}


class MemoryStore:
    """The same in this process (the in-memory layer): nothing survives the process."""

    def __init__(self, retention: int, cap: int, clock: Any = time.monotonic) -> None:
        self.retention, self.cap, self.clock = retention, cap, clock
        self.streams: dict[str, deque[tuple[int, str | bytes, bool, str, float]]] = {}
        self.counters: dict[str, int] = {}
        self.topics: dict[str, float] = {}
        self.sessions: dict[str, tuple[str, float]] = {}

    def head(self, topic: str) -> int:
        n = self.counters.get(topic)
        if n is None:
            n = self.counters[topic] = int(time.time() * 1_000_000)
        return n

    def append_now(self, topic: str, data: str | bytes, compress: bool, sender: str = "") -> int:
        n = self.counters[topic] = self.head(topic) + 1
        stream = self.streams.get(topic)
        if stream is None:
            stream = self.streams[topic] = deque(maxlen=self.cap)
        now = self.clock()
        stream.append((n, data, compress, sender, now))
        while stream[0][4] < now - self.retention:
            stream.popleft()
        return n

    async def init(self, topic: str, keep: int) -> int:
        self.topics[topic] = max(self.topics.get(topic, 0.0), self.clock() + keep)
        return self.head(topic)

    async def append(self, items: list[Item]) -> list[int]:
        return [self.append_now(*item) for item in items]

    async def stamp(self, topic: str, data: str | bytes, compress: bool) -> int | None:
        until = self.topics.get(topic)
        if until is None or until < self.clock():
            return None
        return self.append_now(topic, data, compress)

    async def read(self, topic: str, after: int, limit: int) -> tuple[list[Entry], int | None]:
        rows = [(n, d, z, x) for n, d, z, x, _ in self.streams.get(topic, ()) if n > after]
        return rows[:limit], self.counters.get(topic)

    async def recorded(self) -> set[str]:
        now = self.clock()
        for topic in [t for t, until in self.topics.items() if until < now]:
            del self.topics[topic]
            self.streams.pop(topic, None)
        return set(self.topics)

    async def refresh(self, topics: list[str], keep: int, sessions: dict[str, int]) -> None:
        for topic in topics:
            await self.init(topic, keep)
        now = self.clock()
        for session, ttl in sessions.items():
            if session in self.sessions:
                self.sessions[session] = (self.sessions[session][0], now + ttl)
        for session in [s for s, (_, until) in self.sessions.items() if until < now]:
            del self.sessions[session]

    async def save(self, records: list[tuple[str, str, int, bool]]) -> None:
        for session, text, ttl, exists in records:
            if not exists or session in self.sessions:
                self.sessions[session] = (text, self.clock() + ttl)

    async def take(self, session: str) -> str | None:
        found = self.sessions.pop(session, None)
        if found is None or found[1] < self.clock():
            return None
        return found[0]

    async def end(self, session: str, ttl: int | None) -> None:
        found = self.sessions.get(session)
        if found is not None:
            if ttl is None:
                del self.sessions[session]
            else:
                self.sessions[session] = (found[0], self.clock() + ttl)
