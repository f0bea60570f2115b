"""The session records of this process's ``bunws.v1`` sockets (docs/recovery.md).

A socket whose subscriptions, presence or ``ws.data`` change is marked dirty; the records of
every socket marked in one loop iteration are written in one round trip, so a killed process
loses nothing that changed before its last iteration. Writes and ends go out one batch at a time,
in the order they were made, so an older record never lands over a newer one. ``live`` lists
this process's open sessions with their time-to-live, renewed by the service's tick.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

#: ``(session, json, ttl, exists)``: one session record for the store.
Record = tuple[str, str, int, bool]


class Sessions:
    """Saves session records in batches, in order; renews and ends them."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, store: Any, failed: Callable[[BaseException], None]
    ) -> None:
        self.loop = loop
        self.store = store
        self.failed = failed
        #: Open sessions here, with the time-to-live their records get while open.
        self.live: dict[str, int] = {}
        self._dirty: dict[Any, None] = {}
        self._queue: list[Record | tuple[str, int | None]] = []
        self._writing = False

    def dirty(self, ws: Any) -> None:
        """Save ``ws``'s session (its ``session_record()``) with the others of this iteration."""
        if not self._dirty:
            self.loop.call_soon(self._save_dirty)
        self._dirty[ws] = None

    def _save_dirty(self) -> None:
        sockets, self._dirty = list(self._dirty), {}
        for record in (ws.session_record() for ws in sockets):
            if record is not None:
                self._push(record)

    async def write_now(self, record: Record) -> None:
        """Write a new session's first record and wait for it (nothing is queued for it yet)."""
        try:
            await self.store.save([record])
        except Exception as exc:
            self.failed(exc)

    def save(self, record: Record) -> None:
        """Write ``record`` after everything queued before it."""
        self._push(record)

    def end(self, session: str, ttl: int | None) -> None:
        """The socket closed: the record lives ``ttl`` seconds more (None: deleted now)."""
        self.live.pop(session, None)
        self._push((session, ttl))

    def _push(self, item: Record | tuple[str, int | None]) -> None:
        self._queue.append(item)
        if not self._writing:
            self._writing = True
            self.loop.create_task(self._write())

    async def _write(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                records: list[Record] = []
                for item in [*batch, None]:
                    if item is not None and len(item) == 4:
                        records.append(item)
                        continue
                    try:
                        if records:
                            await self.store.save(records)
                        if item is not None:
                            await self.store.end(*item)
                    except Exception as exc:
                        self.failed(exc)
                    records = []
        finally:
            self._writing = False
