"""Record failed WebSocket upgrades: one log line each, and an aggregated, bounded database row.

A flood of identical failures from one client becomes one row whose ``count`` grows, updated by a
single ``UPDATE`` on the primary key; database trouble is logged, never raised, so the 426 goes out.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.db import DatabaseError, connections, router, transaction
from django.db.models import F
from django.utils import timezone

from bunws.conf import get_config
from bunws.diagnosis import Diagnosis, diagnosis_for, redact_headers, redact_query
from bunws.models import FailedUpgrade

__all__ = ["arecord_failed_upgrade", "prune_failed_upgrades", "record_failed_upgrade"]

logger = logging.getLogger("bunws")

HeadersArg = Mapping[str, str] | Iterable[tuple[str | bytes, str | bytes]]
ClientArg = str | tuple[str, int] | list[Any] | None

_CACHE_SIZE = 1024
_LOG_FIELD = 200
_Key = tuple[str, str, str, str]
# key -> (pk, last_seen); lets a flood update its row by primary key.
_cache: OrderedDict[_Key, tuple[int, datetime]] = OrderedDict()
_cache_lock = threading.Lock()


def _window() -> timedelta:
    """Return the aggregation window, ``BUNWS["FAILED_UPGRADE_WINDOW"]`` seconds (default 60)."""
    return timedelta(seconds=float(get_config().failed_upgrade_window))


def _fit(value: str | bytes | None, limit: int) -> str:
    """Return value as printable text no longer than limit, marking a cut with an ellipsis."""
    if value is None:
        return ""
    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    text = "".join(ch if ch.isprintable() else "\ufffd" for ch in text[: limit + 1])
    return text if len(text) <= limit else text[: limit - 1] + "…"


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


def record_failed_upgrade(
    *,
    reason: str,
    path: str,
    method: str = "GET",
    endpoint: str = "",
    client: ClientArg = None,
    headers: HeadersArg = (),
    query: str | bytes = "",
    diagnosis: Diagnosis | None = None,
) -> None:
    """Log one WARNING line for a failed upgrade and record it, never raising on database errors."""
    if diagnosis is None:
        diagnosis = diagnosis_for(reason, path=path)
    pairs = _pairs(headers)
    first = {name: value for name, value in reversed(pairs)}
    row = {
        "reason": _fit(reason, _max_length("reason")),
        "endpoint": _fit(endpoint, _max_length("endpoint")),
        "path": _fit(path, _max_length("path")),
        "client_address": _fit(_client_ip(client), _max_length("client_address")),
    }
    method = _fit(method, _max_length("method"))
    origin = _fit(first.get("origin"), _max_length("origin"))
    user_agent = _fit(first.get("user-agent"), _max_length("user_agent"))
    logger.warning(
        "bunws: failed websocket upgrade reason=%s endpoint=%s method=%s path=%s client=%s "
        "origin=%s user_agent=%s",
        row["reason"],
        row["endpoint"] or "-",
        method,
        _fit(row["path"], _LOG_FIELD),
        row["client_address"] or "-",
        _fit(origin, _LOG_FIELD) or "-",
        _fit(user_agent, _LOG_FIELD) or "-",
    )
    try:
        alias = router.db_for_write(FailedUpgrade)
        with _savepoint(alias):
            _store(
                row,
                method=method,
                origin=origin,
                user_agent=user_agent,
                headers=redact_headers(pairs),
                query=redact_query(query),
                diagnosis=diagnosis,
            )
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


def _store(
    row: dict[str, str],
    *,
    method: str,
    origin: str,
    user_agent: str,
    headers: dict[str, str],
    query: str,
    diagnosis: Diagnosis,
) -> None:
    """Bump the matching row seen within the window, or create one; one query on the hot path."""
    now = timezone.now()
    since = now - _window()
    key: _Key = (row["reason"], row["endpoint"], row["path"], row["client_address"])
    bump = {"count": F("count") + 1, "last_seen": now}
    with _cache_lock:
        cached = _cache.get(key)
    updated = 0
    if cached is not None and cached[1] >= since:
        # The key fields stay in the WHERE so a recycled primary key can never be bumped.
        updated = FailedUpgrade.objects.filter(pk=cached[0], last_seen__gte=since, **row).update(
            **bump
        )
        if updated:
            _remember(key, cached[0], now)
            return
    updated = FailedUpgrade.objects.filter(last_seen__gte=since, **row).update(**bump)
    if updated:
        return
    created = FailedUpgrade.objects.create(
        **row,
        method=method,
        origin=origin,
        user_agent=user_agent,
        headers=headers,
        query=_fit(query, _max_length("query")),
        diagnosis=diagnosis.summary,
        hint=diagnosis.hint,
        count=1,
        first_seen=now,
        last_seen=now,
    )
    _remember(key, created.pk, now)


def _remember(key: _Key, pk: int, seen: datetime) -> None:
    """Cache the row for key, evicting the least recently used entry beyond the bound."""
    with _cache_lock:
        _cache[key] = (pk, seen)
        _cache.move_to_end(key)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)


def clear_cache() -> None:
    """Forget cached rows, for tests and after bulk deletes."""
    with _cache_lock:
        _cache.clear()


async def arecord_failed_upgrade(
    *,
    reason: str,
    path: str,
    method: str = "GET",
    endpoint: str = "",
    client: ClientArg = None,
    headers: HeadersArg = (),
    query: str | bytes = "",
    diagnosis: Diagnosis | None = None,
) -> None:
    """Async form of :func:`record_failed_upgrade`, run in Django's main sync thread."""
    await sync_to_async(record_failed_upgrade, thread_sensitive=True)(
        reason=reason,
        path=path,
        method=method,
        endpoint=endpoint,
        client=client,
        headers=headers,
        query=query,
        diagnosis=diagnosis,
    )


def prune_failed_upgrades(older_than: timedelta) -> int:
    """Delete failed-upgrade rows last seen before ``now - older_than`` and return how many."""
    if older_than < timedelta(0):
        raise ValueError(
            f"older_than must not be negative, got {older_than!r}: pass a positive timedelta "
            "such as timedelta(days=7)"
        )
    deleted, _ = FailedUpgrade.objects.filter(last_seen__lt=timezone.now() - older_than).delete()
    clear_cache()
    return deleted
