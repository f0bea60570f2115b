"""Recording failed upgrades: aggregation under a flood, bounded rows, and database trouble."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import OperationalError, connection
from django.test import override_settings
from django.utils import timezone

from bunws.core import diagnosis as d
from bunws.failures import log as failures
from bunws.failures.log import arecord_failed_upgrade, prune_failed_upgrades, record_failed_upgrade
from bunws.models import FailedUpgrade

pytestmark = pytest.mark.django_db

HEADERS = {
    "User-Agent": "curl/8.5.0",
    "Origin": "https://app.example",
    "Cookie": "sessionid=COOKIE-SECRET-VALUE",
    "Authorization": "Bearer AUTH-SECRET-VALUE",
}


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    failures.clear_cache()
    yield
    failures.clear_cache()


def _record(**kwargs: Any) -> None:
    values: dict[str, Any] = {
        "reason": d.NO_UPGRADE_HEADER,
        "path": "/ws/chat/",
        "endpoint": "chat",
        "client": "203.0.113.5:51234",
        "headers": HEADERS,
        "query": "room=1&token=QUERY-SECRET",
    }
    values.update(kwargs)
    record_failed_upgrade(**values)


def test_first_failure_creates_a_redacted_row() -> None:
    _record()
    row = FailedUpgrade.objects.get()
    assert row.reason == d.NO_UPGRADE_HEADER
    assert row.client_address == "203.0.113.5"
    assert row.user_agent == "curl/8.5.0"
    assert row.origin == "https://app.example"
    assert "cookie" not in row.headers
    assert "authorization" not in row.headers
    assert row.headers["user-agent"] == "curl/8.5.0"
    assert "QUERY-SECRET" not in row.query
    assert row.diagnosis == d.diagnosis_for(d.NO_UPGRADE_HEADER).summary
    assert row.hint == d.diagnosis_for(d.NO_UPGRADE_HEADER).hint
    assert row.count == 1
    assert row.first_seen == row.last_seen


def test_flood_of_identical_failures_becomes_one_row_with_a_count() -> None:
    for _ in range(200):
        _record()
    row = FailedUpgrade.objects.get()
    assert row.count == 200
    assert row.first_seen <= row.last_seen


@pytest.mark.django_db(transaction=True)
def test_repeat_failure_costs_one_update_query(
    django_assert_num_queries: Any,
) -> None:
    _record()
    with django_assert_num_queries(1):
        _record()
    assert FailedUpgrade.objects.get().count == 2


def test_repeat_after_cache_loss_still_aggregates() -> None:
    _record()
    failures.clear_cache()
    _record()
    assert FailedUpgrade.objects.get().count == 2


def test_different_client_gets_its_own_row() -> None:
    _record(client="203.0.113.5:1")
    _record(client="198.51.100.7:2")
    _record(client="203.0.113.5:3")
    counts = dict(FailedUpgrade.objects.values_list("client_address", "count"))
    assert counts == {"203.0.113.5": 2, "198.51.100.7": 1}


def test_different_reason_gets_its_own_row() -> None:
    _record(reason=d.NO_UPGRADE_HEADER)
    _record(reason=d.WRONG_METHOD)
    assert FailedUpgrade.objects.count() == 2


def test_failure_after_the_window_starts_a_new_row(monkeypatch: pytest.MonkeyPatch) -> None:
    """The window slides: a row keeps aggregating while repeats come within it of last_seen."""
    start = timezone.now()
    clock = {"now": start}

    def now() -> datetime:
        return clock["now"]

    monkeypatch.setattr(failures.timezone, "now", now)
    with override_settings(BUNWS={"FAILED_UPGRADE_WINDOW": 30, "FAILED_UPGRADE_FLUSH_INTERVAL": 0}):
        _record()
        clock["now"] = start + timedelta(seconds=29)
        _record()
        clock["now"] = start + timedelta(seconds=29 + 31)
        _record()
    rows = list(FailedUpgrade.objects.order_by("first_seen").values_list("count", flat=True))
    assert rows == [2, 1]


def test_row_aged_out_in_the_database_is_not_bumped() -> None:
    _record()
    FailedUpgrade.objects.update(last_seen=timezone.now() - timedelta(seconds=61))
    _record()
    assert sorted(FailedUpgrade.objects.values_list("count", flat=True)) == [1, 1]


def test_oversized_input_is_truncated_to_the_columns() -> None:
    _record(
        path="/ws/" + "p" * 5000,
        endpoint="e" * 500,
        method="X" * 100,
        client="c" * 500,
        headers={"User-Agent": "u" * 5000, "Origin": "o" * 5000, "X-Big": "b" * 5000},
        query="q=" + "v" * 5000,
    )
    row = FailedUpgrade.objects.get()
    assert len(row.path) == 512
    assert len(row.endpoint) == 200
    assert len(row.method) == 16
    assert len(row.client_address) == 64
    assert len(row.user_agent) == 512
    assert len(row.origin) == 512
    assert len(row.query) <= 512
    assert len(row.headers["x-big"]) == 256


def test_warning_line_names_the_reason_and_hides_secrets(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="bunws"):
        _record(reason=d.CONNECTION_NOT_UPGRADE)
    warnings = [r for r in caplog.records if r.name == "bunws" and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "connection_not_upgrade" in message
    assert "/ws/chat/" in message
    assert "203.0.113.5" in message
    for secret in ("COOKIE-SECRET-VALUE", "AUTH-SECRET-VALUE", "QUERY-SECRET"):
        assert secret not in caplog.text


class _BrokenManager:
    def filter(self, *args: Any, **kwargs: Any) -> Any:
        raise OperationalError("database is locked")

    def create(self, **kwargs: Any) -> Any:
        raise OperationalError("database is locked")


def test_locked_database_is_logged_not_raised(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(FailedUpgrade, "objects", _BrokenManager())
    with caplog.at_level(logging.WARNING, logger="bunws"):
        _record()
    errors = [r for r in caplog.records if r.name == "bunws" and r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "no_upgrade_header" in errors[0].getMessage()
    assert "database is locked" in errors[0].getMessage()
    assert any(r.levelno == logging.WARNING for r in caplog.records)


def test_missing_table_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {FailedUpgrade._meta.db_table}")
    with caplog.at_level(logging.ERROR, logger="bunws"):
        _record(reason=d.ORIGIN_NOT_ALLOWED)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "origin_not_allowed" in errors[0].getMessage()


def test_async_recording_writes_the_row() -> None:
    # Sync on purpose: async_to_sync runs the write (sync_to_async, thread-sensitive) back in
    # this thread, inside the test's transaction; an async test would write from another thread.
    async_to_sync(arecord_failed_upgrade)(
        reason=d.FETCH_DECLINED, path="/ws/x/", client=("192.0.2.1", 4000)
    )
    row = FailedUpgrade.objects.get()
    assert row.reason == d.FETCH_DECLINED
    assert row.client_address == "192.0.2.1"


def test_ipv6_client_port_is_stripped() -> None:
    _record(client="[2001:db8::1]:443")
    assert FailedUpgrade.objects.get().client_address == "2001:db8::1"


def test_prune_removes_only_old_rows() -> None:
    _record(client="192.0.2.1")
    _record(client="192.0.2.2")
    FailedUpgrade.objects.filter(client_address="192.0.2.1").update(
        last_seen=timezone.now() - timedelta(days=8)
    )
    assert prune_failed_upgrades(timedelta(days=7)) == 1
    assert list(FailedUpgrade.objects.values_list("client_address", flat=True)) == ["192.0.2.2"]


def test_prune_rejects_negative_age() -> None:
    with pytest.raises(ValueError, match="negative"):
        prune_failed_upgrades(timedelta(days=-1))


@override_settings(BUNWS={"FAILED_UPGRADE_FLUSH_INTERVAL": 60})
def test_repeats_wait_in_memory_and_one_update_writes_them(
    django_assert_num_queries: Any,
) -> None:
    """A flood costs no query per repeat: the count reaches the row at the next flush."""
    _record(client="203.0.113.77")
    with django_assert_num_queries(0):
        for _ in range(99):
            _record(client="203.0.113.77")
    [row] = FailedUpgrade.objects.filter(client_address="203.0.113.77")
    assert row.count == 1
    with django_assert_num_queries(1):
        assert failures.flush_pending() == 1
    row.refresh_from_db()
    assert row.count == 100
    assert row.last_seen >= row.first_seen


@pytest.mark.django_db(transaction=True)
@override_settings(BUNWS={"FAILED_UPGRADE_FLUSH_INTERVAL": 60})
def test_after_a_restart_one_lookup_then_repeats_wait_in_memory(
    django_assert_num_queries: Any,
) -> None:
    """A row written before this process started (or by another process) is found once; the
    repeats after that cost no query, as for a row this process created."""
    _record(client="203.0.113.78")
    failures.clear_cache()  # what a restart leaves: the row, no cache
    with django_assert_num_queries(2):  # find the row, bump it by primary key
        _record(client="203.0.113.78")
    with django_assert_num_queries(0):
        for _ in range(50):
            _record(client="203.0.113.78")
    failures.flush_pending()
    assert FailedUpgrade.objects.get(client_address="203.0.113.78").count == 52


# -- a deleted row (admin delete, bunws_prune, housekeeping, a rollback) loses no failure -------


@pytest.mark.parametrize("interval", [0, 60])
def test_repeat_after_the_row_was_deleted_creates_a_new_row(interval: int) -> None:
    """A repeat inside the window whose row was deleted (admin, prune) starts a new row, whether
    it is written at once or counted in memory first."""
    with override_settings(BUNWS={"FAILED_UPGRADE_FLUSH_INTERVAL": interval}):
        _record(client="203.0.113.90")
        FailedUpgrade.objects.all().delete()
        _record(client="203.0.113.90")
        failures.flush_pending()
    [row] = FailedUpgrade.objects.all()
    assert (row.client_address, row.count) == ("203.0.113.90", 1)
    assert row.diagnosis == d.diagnosis_for(d.NO_UPGRADE_HEADER).summary
    assert row.user_agent == "curl/8.5.0"


@override_settings(BUNWS={"FAILED_UPGRADE_FLUSH_INTERVAL": 60})
def test_repeats_pending_for_a_row_deleted_before_the_flush_are_written_to_a_new_row() -> None:
    _record(client="203.0.113.91")
    for _ in range(4):
        _record(client="203.0.113.91")
    FailedUpgrade.objects.all().delete()
    assert failures.flush_pending() == 1
    [row] = FailedUpgrade.objects.all()
    assert (row.client_address, row.count) == ("203.0.113.91", 4)
    assert row.first_seen <= row.last_seen
    # The new row is the one later repeats bump.
    _record(client="203.0.113.91")
    failures.flush_pending()
    assert FailedUpgrade.objects.get().count == 5


@override_settings(BUNWS={"FAILED_UPGRADE_FLUSH_INTERVAL": 60})
def test_housekeeping_keeps_the_pending_repeats_of_rows_it_does_not_delete() -> None:
    """Housekeeping deletes expired rows; the repeats still in memory for the rows it keeps
    reach the database at the next flush."""
    _record(client="203.0.113.92")
    for _ in range(9):
        _record(client="203.0.113.92")
    old = timezone.now() - timedelta(days=30)
    FailedUpgrade.objects.create(
        path="/old/",
        method="GET",
        reason=d.NO_SUCH_ENDPOINT,
        diagnosis="d",
        hint="h",
        first_seen=old,
        last_seen=old,
    )
    failures.failure_log.budget.housekept = -1  # as at the first new row of the next window
    _record(client="198.51.100.93")  # a new row: housekeeping runs and deletes /old/
    assert not FailedUpgrade.objects.filter(path="/old/").exists()
    failures.flush_pending()
    assert FailedUpgrade.objects.get(client_address="203.0.113.92").count == 10


def test_prune_keeps_the_pending_repeats_of_rows_it_keeps() -> None:
    with override_settings(BUNWS={"FAILED_UPGRADE_FLUSH_INTERVAL": 60}):
        _record(client="203.0.113.94")
        _record(client="203.0.113.94")
        assert prune_failed_upgrades(timedelta(days=7)) == 0
        _record(client="203.0.113.94")
        failures.flush_pending()
    assert FailedUpgrade.objects.get(client_address="203.0.113.94").count == 3


@pytest.mark.parametrize(
    ("reason", "status"),
    [(d.NO_UPGRADE_HEADER, 426), (d.WRONG_METHOD, 426), (d.ORIGIN_NOT_ALLOWED, 403)],
)
def test_status_defaults_to_what_the_client_gets_for_the_reason(reason: str, status: int) -> None:
    _record(reason=reason)
    assert FailedUpgrade.objects.get().status == status


def test_fetch_answered_keeps_one_row_per_status(caplog: pytest.LogCaptureFixture) -> None:
    """A client refused with 403 who later gets a 200 from fetch has two rows, not one."""
    with caplog.at_level(logging.WARNING, logger="bunws"):
        _record(reason=d.FETCH_ANSWERED, status=403)
        _record(reason=d.FETCH_ANSWERED, status=403)
        _record(reason=d.FETCH_ANSWERED, status=200)
    counts = dict(FailedUpgrade.objects.values_list("status", "count"))
    assert counts == {403: 2, 200: 1}
    assert "status 403" in FailedUpgrade.objects.get(status=403).diagnosis
    assert "reason=fetch_answered status=200 " in caplog.text
