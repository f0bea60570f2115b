"""Record failed WebSocket upgrades: one log line each, and an aggregated, bounded database row.

A flood of identical failures from one client becomes one row whose ``count`` grows, updated by a
single ``UPDATE`` on the primary key; database trouble is logged, never raised, so the 426 goes out.
A row deleted meanwhile (admin, ``bunws_prune``, housekeeping, a rolled-back transaction) loses
nothing: the repeat whose ``UPDATE`` matches no row, written at once or flushed later, starts a
new row with the repeats it carries.

The table stays bounded under a flood of *distinct* failures too (random paths, many addresses):
each process creates at most ``FAILED_UPGRADE_ROWS_PER_WINDOW`` new rows per window and folds the
rest into one overflow row per reason and endpoint (path ``*``), and the first new row of every
window prunes rows older than ``FAILED_UPGRADE_RETENTION`` and the oldest beyond
``FAILED_UPGRADE_MAX_ROWS``.
"""

from __future__ import annotations

import atexit
import functools
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Required, TypedDict, Unpack

from asgiref.sync import sync_to_async
from django.db import DatabaseError, connections, router, transaction
from django.db.models import F, Q
from django.utils import timezone

from bunws.conf import get_config
from bunws.core.diagnosis import (
    Diagnosis,
    diagnosis_for,
    expected_status,
    redact_headers,
    redact_query,
    redact_url,
)
from bunws.models import FailedUpgrade

__all__ = [
    "OVERFLOW_PATH",
    "FailedUpgradeFields",
    "arecord_failed_upgrade",
    "flush_pending",
    "parse_age",
    "prune_failed_upgrades",
    "record_failed_upgrade",
]

logger = logging.getLogger("bunws")

HeadersArg = Mapping[str, str] | Iterable[tuple[str | bytes, str | bytes]]
ClientArg = str | tuple[str, int] | list[Any] | None

_CACHE_SIZE = 1024
_LOG_FIELD = 200
# (reason, endpoint, path, client address, status): what makes two failures the same row.
_Key = tuple[str, str, str, str, int | None]
# key -> (pk, last_seen); lets a flood update its row by primary key.
_cache: OrderedDict[_Key, tuple[int, datetime]] = OrderedDict()
_cache_lock = threading.Lock()

# pk -> repeats not yet written: bumps deferred to one UPDATE per interval.
_pending: dict[int, _Pending] = {}
_flush_timer: list[threading.Timer] = []

#: ``path`` (and ``client_address``) of the row that counts failures beyond the window's budget.
OVERFLOW_PATH = "*"
# Window index -> rows this process created in it; and the last window housekeeping ran in.
_budget: dict[str, int] = {"window": -1, "created": 0, "housekept": -1}

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_AGE = re.compile(r"([0-9]+)([smhdw])")
AGE_FORMS = "a whole number followed by s, m, h, d or w, such as 30m, 12h, 7d or 2w"


def parse_age(value: str) -> timedelta:
    """Turn an age such as ``7d`` into a timedelta, or raise ValueError naming the value."""
    match = _AGE.fullmatch(str(value).strip().lower())
    if match is None:
        raise ValueError(f"invalid age {value!r}: use {AGE_FORMS}.")
    try:
        return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    except OverflowError:
        raise ValueError(f"age {value!r} is too large: use {AGE_FORMS}.") from None


def _window() -> timedelta:
    """Return the aggregation window, ``BUNWS["FAILED_UPGRADE_WINDOW"]`` seconds (default 60)."""
    return timedelta(seconds=float(get_config().failed_upgrade_window))


def _fit(value: str | bytes | None, limit: int) -> str:
    """Return value as printable text no longer than limit, marking a cut with an ellipsis."""
    if value is None:
        return ""
    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    if len(text) <= limit and text.isprintable():
        return text  # the common case, without a pass over every character
    text = "".join(ch if ch.isprintable() else "\ufffd" for ch in text[: limit + 1])
    return text if len(text) <= limit else text[: limit - 1] + "…"


@functools.cache
def _max_length(field: str) -> int:
    """Return the max_length of a FailedUpgrade field, so truncation follows the model."""
    length = getattr(FailedUpgrade._meta.get_field(field), "max_length", None)
    return int(length) if length is not None else 512


def _client_ip(client: ClientArg) -> str:
    """Return the IP of a client given as ``host``, ``host:port``, ``[v6]:port`` or a tuple."""
    if client is None:
        return ""
    if not isinstance(client, str):
        return str(client[0]) if client else ""
    if client.startswith("["):
        return client[1:].partition("]")[0]
    if client.count(":") == 1:
        return client.partition(":")[0]
    return client


def _pairs(headers: HeadersArg) -> list[tuple[str, str]]:
    """Return headers as (lowercase name, text value) pairs, whatever form they came in."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    result = []
    for name, value in items:
        text_name = name.decode("latin-1") if isinstance(name, bytes) else str(name)
        text_value = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        result.append((text_name.lower(), text_value))
    return result


def _savepoint(alias: str) -> AbstractContextManager[Any]:
    """Wrap the write in a savepoint inside a transaction, so a failure cannot poison it."""
    return transaction.atomic(using=alias) if connections[alias].in_atomic_block else nullcontext()


@dataclass(frozen=True, slots=True)
class _Attempt:
    """One failed upgrade, fitted to the model's columns and already logged."""

    row: dict[str, str]
    status: int | None
    method: str
    origin: str
    user_agent: str
    headers: HeadersArg
    query: str | bytes
    diagnosis: Diagnosis

    @property
    def key(self) -> _Key:
        """The fields two failures share when they are counted in one row."""
        row = self.row
        return (row["reason"], row["endpoint"], row["path"], row["client_address"], self.status)

    @property
    def match(self) -> dict[str, Any]:
        """The key as column lookups, for the aggregation queries."""
        return {**self.row, "status": self.status}


@dataclass(slots=True)
class _Pending:
    """Repeats of one row counted in memory: how many, when, and the latest attempt, whose
    details start a new row if the old one is gone when they are written."""

    repeats: int
    first_seen: datetime
    last_seen: datetime
    attempt: _Attempt


class FailedUpgradeFields(TypedDict, total=False):
    """What a caller knows about a failed upgrade; ``reason`` and ``path`` are required."""

    reason: Required[str]
    path: Required[str]
    method: str
    endpoint: str
    client: ClientArg
    headers: HeadersArg
    query: str | bytes
    diagnosis: Diagnosis | None
    status: int | None


def _first_header(headers: HeadersArg, name: str) -> str | None:
    """The first value of header ``name`` (lowercase), whatever form the headers came in."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    for key, value in items:
        text_key = key.decode("latin-1") if isinstance(key, bytes) else str(key)
        if text_key.lower() == name:
            return value.decode("latin-1") if isinstance(value, bytes) else str(value)
    return None


def _log_attempt(
    *,
    reason: str,
    path: str,
    method: str = "GET",
    endpoint: str = "",
    client: ClientArg = None,
    headers: HeadersArg = (),
    query: str | bytes = "",
    diagnosis: Diagnosis | None = None,
    status: int | None = None,
) -> _Attempt:
    """Log the WARNING line of a failed upgrade and fit it to the columns (no query)."""
    if status is None:
        status = expected_status(reason)
    if diagnosis is None:
        diagnosis = diagnosis_for(reason, path=path, status=status)
    row = {
        "reason": _fit(reason, _max_length("reason")),
        "endpoint": _fit(endpoint, _max_length("endpoint")),
        "path": _fit(path, _max_length("path")),
        "client_address": _fit(_client_ip(client), _max_length("client_address")),
    }
    method = _fit(method, _max_length("method"))
    raw_origin = _first_header(headers, "origin")
    origin_limit = _max_length("origin")
    origin = _fit(
        None if raw_origin is None else redact_url(raw_origin, origin_limit + 1), origin_limit
    )
    user_agent = _fit(_first_header(headers, "user-agent"), _max_length("user_agent"))
    logger.warning(
        "bunws: failed websocket upgrade reason=%s status=%s endpoint=%s method=%s path=%s "
        "client=%s origin=%s user_agent=%s",
        row["reason"],
        "-" if status is None else status,
        row["endpoint"] or "-",
        method,
        _fit(row["path"], _LOG_FIELD),
        row["client_address"] or "-",
        _fit(origin, _LOG_FIELD) or "-",
        _fit(user_agent, _LOG_FIELD) or "-",
    )
    return _Attempt(
        row=row,
        status=status,
        method=method,
        origin=origin,
        user_agent=user_agent,
        headers=headers,
        query=query,
        diagnosis=diagnosis,
    )


def record_failed_upgrade(**fields: Unpack[FailedUpgradeFields]) -> None:
    """Log one WARNING line for a failed upgrade and record it, never raising on database errors.

    Fields: ``reason`` and ``path``; optionally ``method`` ("GET"), ``endpoint``, ``client``
    (``host``, ``host:port`` or a scope's tuple), ``headers``, ``query``, ``diagnosis`` and
    ``status``, the HTTP status the client got (default: 426 or 403, by reason).
    """
    attempt = _log_attempt(**fields)
    if not _deferred(attempt):
        _persist(attempt)


def _persist(attempt: _Attempt, pending: _Pending | None = None) -> None:
    """Write ``attempt`` (or the ``pending`` repeats of it) to its row or a new one; database
    errors are logged, not raised."""
    row = attempt.row
    try:
        alias = router.db_for_write(FailedUpgrade)
        with _savepoint(alias):
            _store(attempt, pending)
    except DatabaseError as exc:
        logger.error(
            "bunws: could not record failed upgrade reason=%s path=%s: %s: %s",
            row["reason"],
            _fit(row["path"], _LOG_FIELD),
            type(exc).__name__,
            _fit(str(exc), _LOG_FIELD),
        )
    except Exception:
        logger.exception(
            "bunws: could not record failed upgrade reason=%s path=%s",
            row["reason"],
            _fit(row["path"], _LOG_FIELD),
        )


def _store(attempt: _Attempt, pending: _Pending | None = None) -> None:
    """Bump the matching row seen within the window, or create one; one query on the hot path.

    ``pending`` carries repeats counted in memory whose row was gone when they were flushed:
    they go to a row found or created the same way, with their count and times.
    """
    now = timezone.now() if pending is None else pending.last_seen
    since = now - _window()
    key, match = attempt.key, attempt.match
    repeats = 1 if pending is None else pending.repeats
    bump = {"count": F("count") + repeats, "last_seen": now}
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None and cached[1] >= since:
        # The key fields stay in the WHERE so a recycled primary key can never be bumped.
        current = FailedUpgrade.objects.filter(pk=cached[0], last_seen__gte=since, **match)
        if current.update(**bump):
            _remember(key, cached[0], now)
            return
    # A row this process has not cached (written before a restart, or by another process), or
    # a cached row deleted since: find it once, so the repeats after this one are counted in
    # memory; if there is none, the repeat starts a new row below.
    found = (
        FailedUpgrade.objects.filter(last_seen__gte=since, **match)
        .order_by("-last_seen")
        .values_list("pk", flat=True)
        .first()
    )
    if found is not None and FailedUpgrade.objects.filter(pk=found, **match).update(**bump):
        _remember(key, found, now)
        return
    if not _take_budget(now):
        _store_overflow(attempt, repeats=repeats, now=now, since=since)
        return
    created = FailedUpgrade.objects.create(
        **match,
        method=attempt.method,
        origin=attempt.origin,
        user_agent=attempt.user_agent,
        headers=redact_headers(_pairs(attempt.headers)),
        query=_fit(redact_query(attempt.query), _max_length("query")),
        diagnosis=attempt.diagnosis.summary,
        hint=attempt.diagnosis.hint,
        count=repeats,
        first_seen=now if pending is None else pending.first_seen,
        last_seen=now,
    )
    _remember(key, created.pk, now)
    _housekeep(now)


def _window_index(now: datetime) -> int:
    window = max(float(get_config().failed_upgrade_window), 1.0)
    return int(now.timestamp() // window)


def _take_budget(now: datetime) -> bool:
    """Count one new row against this window's budget; False once it is spent."""
    limit = int(get_config().failed_upgrade_rows_per_window)
    index = _window_index(now)
    with _cache_lock:
        if _budget["window"] != index:
            _budget["window"], _budget["created"] = index, 0
        if limit and _budget["created"] >= limit:
            if _budget["created"] == limit:
                _budget["created"] += 1  # log the overflow once per window
                logger.warning(
                    "bunws: more than %d distinct failed upgrades within %s s; counting the "
                    "rest in one row per reason and endpoint (path %r) until the window ends",
                    limit,
                    get_config().failed_upgrade_window,
                    OVERFLOW_PATH,
                )
            return False
        _budget["created"] += 1
        return True


def _store_overflow(attempt: _Attempt, *, repeats: int, now: datetime, since: datetime) -> None:
    """Count a failure beyond the budget in its reason's and endpoint's overflow row."""
    overflow = {**attempt.match, "path": OVERFLOW_PATH, "client_address": OVERFLOW_PATH}
    bump = {"count": F("count") + repeats, "last_seen": now}
    if FailedUpgrade.objects.filter(last_seen__gte=since, **overflow).update(**bump):
        return
    limit = get_config().failed_upgrade_rows_per_window
    diagnosis = attempt.diagnosis
    FailedUpgrade.objects.create(
        **overflow,
        method=attempt.method,
        headers={},
        diagnosis=diagnosis.summary,
        hint=(
            f"More than {limit} distinct failed upgrades arrived within one window, so this row "
            "counts the rest of them for this reason and endpoint without their details; a flood "
            "of random paths or addresses usually means a scan. " + diagnosis.hint
        ),
        count=repeats,
        first_seen=now,
        last_seen=now,
    )


def _housekeep(now: datetime) -> None:
    """Once a window: drop rows past the retention age and the oldest beyond the row cap."""
    index = _window_index(now)
    with _cache_lock:
        if _budget["housekept"] == index:
            return
        _budget["housekept"] = index
    config = get_config()
    removed = 0
    try:
        retention = parse_age(config.failed_upgrade_retention)
    except ValueError as exc:
        logger.error('bunws: BUNWS["FAILED_UPGRADE_RETENTION"]: %s', exc)
    else:
        removed += FailedUpgrade.objects.filter(last_seen__lt=now - retention).delete()[0]
    cap = int(config.failed_upgrade_max_rows)
    if cap and FailedUpgrade.objects.count() > cap:
        newest = FailedUpgrade.objects.order_by("-last_seen", "-pk").values_list("last_seen", "pk")
        for seen, pk in newest[cap : cap + 1]:
            older = Q(last_seen__lt=seen) | Q(last_seen=seen, pk__lte=pk)
            removed += FailedUpgrade.objects.filter(older).delete()[0]
    if removed:
        # The cache and the pending repeats stay: those of the surviving rows must still be
        # written, and a repeat of a deleted row finds its row gone and starts a new one.
        logger.info("bunws: pruned %d old failed upgrade rows", removed)


def _deferred(attempt: _Attempt) -> bool:
    """Count a repeat of a row written within the window in memory, without any query."""
    key = attempt.key
    now = timezone.now()
    with _cache_lock:
        cached = _cache.get(key)
    if cached is None or cached[1] < now - _window():
        return False
    return _defer_bump(attempt, cached[0], now)


def _defer_bump(attempt: _Attempt, pk: int, now: datetime) -> bool:
    """Count a repeat in memory; a timer writes it within the flush interval. False if off."""
    interval = get_config().failed_upgrade_flush_interval
    if interval <= 0:
        return False
    key = attempt.key
    with _cache_lock:
        pending = _pending.get(pk)
        if pending is None:
            _pending[pk] = _Pending(1, now, now, attempt)
        else:
            pending.repeats += 1
            pending.last_seen = now
            pending.attempt = attempt
        _cache[key] = (pk, now)
        _cache.move_to_end(key)
        if not _flush_timer:
            timer = threading.Timer(interval, _flush_from_timer)
            timer.daemon = True
            _flush_timer.append(timer)
            timer.start()
    return True


def flush_pending() -> int:
    """Write the repeats counted in memory (one UPDATE per row); returns the rows written.

    Repeats whose row is gone (deleted by the admin, a prune or a rollback) go to a new row, as
    a repeat written at once would.
    """
    with _cache_lock:
        pending = dict(_pending)
        _pending.clear()
        _flush_timer.clear()
    for pk, item in pending.items():
        bump = {"count": F("count") + item.repeats, "last_seen": item.last_seen}
        if not FailedUpgrade.objects.filter(pk=pk).update(**bump):
            _forget(item.attempt.key, pk)
            _persist(item.attempt, item)
    return len(pending)


def _flush_from_timer() -> None:
    try:
        flush_pending()
    except Exception:  # a timer thread has nobody to raise to
        logger.exception("bunws: could not write deferred failed-upgrade counts")
    finally:
        connections.close_all()  # this thread's connections; the next timer opens its own


@atexit.register
def _flush_at_exit() -> None:
    if _pending:
        _flush_from_timer()


def _remember(key: _Key, pk: int, seen: datetime) -> None:
    """Cache the row for key, evicting the least recently used entry beyond the bound."""
    with _cache_lock:
        _cache[key] = (pk, seen)
        _cache.move_to_end(key)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)


def _forget(key: _Key, pk: int) -> None:
    """Drop the cache entry for key if it still names row pk (which is gone)."""
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None and cached[0] == pk:
            del _cache[key]


def clear_cache() -> None:
    """Forget cached rows and unwritten repeats, for tests (a delete needs no clear: a repeat
    whose row is gone starts a new one)."""
    with _cache_lock:
        _cache.clear()
        _pending.clear()


async def arecord_failed_upgrade(**fields: Unpack[FailedUpgradeFields]) -> None:
    """Async form of :func:`record_failed_upgrade`: logs and counts a repeat on the event loop,
    and only a database write goes to Django's main sync thread."""
    attempt = _log_attempt(**fields)
    if not _deferred(attempt):
        await sync_to_async(_persist, thread_sensitive=True)(attempt)


def prune_failed_upgrades(older_than: timedelta) -> int:
    """Delete failed-upgrade rows last seen before ``now - older_than`` and return how many."""
    if older_than < timedelta(0):
        raise ValueError(
            f"older_than must not be negative, got {older_than!r}: pass a positive timedelta "
            "such as timedelta(days=7)"
        )
    flush_pending()
    # No cache clear afterwards: repeats still in memory for the rows kept must be written, and
    # one for a deleted row finds it gone and starts a new row.
    deleted, _ = FailedUpgrade.objects.filter(last_seen__lt=timezone.now() - older_than).delete()
    return deleted
