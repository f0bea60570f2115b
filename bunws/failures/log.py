"""The failed-upgrade log, ``FailureLog``: one log line per attempt and an aggregated, bounded
database row, with the module functions the rest of bunws calls on the process's one instance.

A flood of identical failures from one client becomes one row whose ``count`` grows, updated by a
single ``UPDATE`` on the primary key; database trouble is logged, never raised, so the 426 goes out.
A row deleted meanwhile (admin, ``bunws_prune``, housekeeping, a rolled-back transaction) loses
nothing: the repeat whose ``UPDATE`` matches no row, written at once or flushed later, starts a
new row with the repeats it carries.

The table stays bounded under a flood of *distinct* failures too: a budget of new rows per
window (``bunws.failures.budget``), and housekeeping on the window's first new row
(``bunws.failures.prune``).
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections import OrderedDict
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Unpack

from asgiref.sync import sync_to_async
from django.db import DatabaseError, connections, router, transaction
from django.db.models import F
from django.utils import timezone

from bunws.conf import get_config
from bunws.core.redact import fit
from bunws.failures.budget import OVERFLOW_PATH, RowBudget, store_overflow, window
from bunws.failures.fields import LOG_FIELD, Attempt, FailedUpgradeFields, Key, log_attempt
from bunws.failures.prune import cutoff, delete_before, expire_rows
from bunws.models import FailedUpgrade
from bunws.signals import upgrade_failed, upgrade_failed_sync

__all__ = [
    "OVERFLOW_PATH",
    "FailureLog",
    "arecord_failed_upgrade",
    "clear_cache",
    "failure_log",
    "flush_pending",
    "prune_failed_upgrades",
    "record_failed_upgrade",
]

logger = logging.getLogger("bunws")

_CACHE_SIZE = 1024


def _savepoint(alias: str) -> AbstractContextManager[Any]:
    """Wrap the write in a savepoint inside a transaction, so a failure cannot poison it."""
    return transaction.atomic(using=alias) if connections[alias].in_atomic_block else nullcontext()


@dataclass(slots=True)
class _Pending:
    """Repeats of one row counted in memory: how many, when, and the latest attempt, whose
    details start a new row if the old one is gone when they are written."""

    repeats: int
    first_seen: datetime
    last_seen: datetime
    attempt: Attempt


class FailureLog:
    """One process's failed-upgrade log: the rows it wrote lately (so a flood bumps its row by
    primary key), the repeats counted in memory until a timer writes them, and the window's
    budget of new rows, all under one lock; ``reset()`` forgets them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # key -> (pk, last_seen), least recently used first.
        self._cache: OrderedDict[Key, tuple[int, datetime]] = OrderedDict()
        # pk -> repeats not yet written: bumps deferred to one UPDATE per interval.
        self._pending: dict[int, _Pending] = {}
        self._timer: threading.Timer | None = None
        self.budget = RowBudget()

    def reset(self) -> None:
        """Forget cached rows, unwritten repeats and the window's budget, as a restart would.

        A delete needs no reset: a repeat whose row is gone starts a new one.
        """
        with self._lock:
            self._cache.clear()
            self._pending.clear()
            timer, self._timer = self._timer, None
        self.budget.reset()
        if timer is not None:
            timer.cancel()

    def record(self, **fields: Unpack[FailedUpgradeFields]) -> None:
        """Log and store one failed upgrade (see :func:`record_failed_upgrade`)."""
        attempt = log_attempt(**fields)
        if not self._deferred(attempt):
            self._persist(attempt)
        upgrade_failed_sync(attempt)

    async def arecord(self, **fields: Unpack[FailedUpgradeFields]) -> None:
        """Async :meth:`record`: a repeat is counted on the event loop, and only a database
        write goes to Django's main sync thread."""
        attempt = log_attempt(**fields)
        if not self._deferred(attempt):
            await sync_to_async(self._persist, thread_sensitive=True)(attempt)
        await upgrade_failed(attempt)

    def _persist(self, attempt: Attempt, pending: _Pending | None = None) -> None:
        """Write ``attempt`` (or the ``pending`` repeats of it) to its row or a new one; database
        errors are logged, not raised."""
        row = attempt.row
        try:
            alias = router.db_for_write(FailedUpgrade)
            with _savepoint(alias):
                self._store(attempt, pending)
        except DatabaseError as exc:
            logger.error(
                "bunws: could not record failed upgrade reason=%s path=%s: %s: %s",
                row["reason"],
                fit(row["path"], LOG_FIELD),
                type(exc).__name__,
                fit(str(exc), LOG_FIELD),
            )
        except Exception:
            logger.exception(
                "bunws: could not record failed upgrade reason=%s path=%s",
                row["reason"],
                fit(row["path"], LOG_FIELD),
            )

    def _store(self, attempt: Attempt, pending: _Pending | None = None) -> None:
        """Bump the matching row seen within the window, or create one; one query on the hot
        path. ``pending`` carries repeats counted in memory whose row was gone when they were
        flushed: they go to a row found or created the same way, with their count and times."""
        now = timezone.now() if pending is None else pending.last_seen
        since = now - window()
        key, match = attempt.key, attempt.match
        repeats = 1 if pending is None else pending.repeats
        bump = {"count": F("count") + repeats, "last_seen": now}
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and cached[1] >= since:
            # The key fields stay in the WHERE so a recycled primary key can never be bumped.
            current = FailedUpgrade.objects.filter(pk=cached[0], last_seen__gte=since, **match)
            if current.update(**bump):
                self._remember(key, cached[0], now)
                return
        # A row this process has not cached (written before a restart, or by another process),
        # or a cached row deleted since: find it once, so the repeats after this one are counted
        # in memory; if there is none, the repeat starts a new row below.
        found = (
            FailedUpgrade.objects.filter(last_seen__gte=since, **match)
            .order_by("-last_seen")
            .values_list("pk", flat=True)
            .first()
        )
        if found is not None and FailedUpgrade.objects.filter(pk=found, **match).update(**bump):
            self._remember(key, found, now)
            return
        if not self.budget.take(now):
            store_overflow(attempt, repeats=repeats, now=now, since=since)
            return
        created = FailedUpgrade.objects.create(
            **match,
            **attempt.details(),
            count=repeats,
            first_seen=now if pending is None else pending.first_seen,
            last_seen=now,
        )
        self._remember(key, created.pk, now)
        if self.budget.housekeeping_due(now):
            # The cache and the pending repeats stay: those of the surviving rows must still be
            # written, and a repeat of a deleted row finds its row gone and starts a new one.
            expire_rows(now)

    def _deferred(self, attempt: Attempt) -> bool:
        """Count a repeat of a row written within the window in memory, without any query; a
        timer writes it within the flush interval. False if it must be written now."""
        key = attempt.key
        now = timezone.now()
        since = now - window()
        interval = get_config().failed_upgrade_flush_interval
        with self._lock:
            cached = self._cache.get(key)
            if cached is None or cached[1] < since or interval <= 0:
                return False
            pk = cached[0]
            pending = self._pending.get(pk)
            if pending is None:
                self._pending[pk] = _Pending(1, now, now, attempt)
            else:
                pending.repeats += 1
                pending.last_seen = now
                pending.attempt = attempt
            self._cache[key] = (pk, now)
            self._cache.move_to_end(key)
            if self._timer is None:
                self._timer = threading.Timer(interval, self._flush_from_timer)
                self._timer.daemon = True
                self._timer.start()
        return True

    def flush(self) -> int:
        """Write the repeats counted in memory (see :func:`flush_pending`)."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._timer = None
        for pk, item in pending.items():
            bump = {"count": F("count") + item.repeats, "last_seen": item.last_seen}
            if not FailedUpgrade.objects.filter(pk=pk).update(**bump):
                self._forget(item.attempt.key, pk)
                self._persist(item.attempt, item)
        return len(pending)

    def _flush_from_timer(self) -> None:
        try:
            self.flush()
        except Exception:  # a timer thread has nobody to raise to
            logger.exception("bunws: could not write deferred failed-upgrade counts")
        finally:
            connections.close_all()  # this thread's connections; the next timer opens its own

    def flush_at_exit(self) -> None:
        """Write what is still counted in memory when the process ends."""
        if self._pending:
            self._flush_from_timer()

    def prune(self, older_than: timedelta) -> int:
        """Delete rows last seen before ``now - older_than`` (see :func:`prune_failed_upgrades`)."""
        before = cutoff(older_than)
        self.flush()
        # No reset afterwards: repeats still in memory for the rows kept must be written, and
        # one for a deleted row finds it gone and starts a new row.
        return delete_before(before)

    def _remember(self, key: Key, pk: int, seen: datetime) -> None:
        """Cache the row for key, evicting the least recently used entry beyond the bound."""
        with self._lock:
            self._cache[key] = (pk, seen)
            self._cache.move_to_end(key)
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)

    def _forget(self, key: Key, pk: int) -> None:
        """Drop the cache entry for key if it still names row pk (which is gone)."""
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and cached[0] == pk:
                del self._cache[key]


#: The process's failed-upgrade log.
failure_log = FailureLog()
atexit.register(failure_log.flush_at_exit)


def record_failed_upgrade(**fields: Unpack[FailedUpgradeFields]) -> None:
    """Log one WARNING line for a failed upgrade and record it, never raising on database errors.

    Fields: ``reason`` and ``path``; optionally ``method`` ("GET"), ``endpoint``, ``client``
    (``host``, ``host:port`` or a scope's tuple), ``headers``, ``query``, ``diagnosis`` and
    ``status``, the HTTP status the client got (default: 426 or 403, by reason).
    """
    failure_log.record(**fields)


async def arecord_failed_upgrade(**fields: Unpack[FailedUpgradeFields]) -> None:
    """Async form of :func:`record_failed_upgrade`: logs and counts a repeat on the event loop,
    and only a database write goes to Django's main sync thread."""
    await failure_log.arecord(**fields)


def flush_pending() -> int:
    """Write the repeats counted in memory, one UPDATE per row, and return the rows written;
    repeats whose row is gone (admin, prune, rollback) start a new row, as a single one would."""
    return failure_log.flush()


def clear_cache() -> None:
    """Forget cached rows, unwritten repeats and the window's budget: ``failure_log.reset()``."""
    failure_log.reset()


def prune_failed_upgrades(older_than: timedelta) -> int:
    """Delete failed-upgrade rows last seen before ``now - older_than`` and return how many."""
    return failure_log.prune(older_than)
