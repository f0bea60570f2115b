"""The failed-upgrade log cannot grow without bound: a flood of distinct failures is capped per
window into one overflow row, and the first new row of a window prunes expired rows and the
oldest beyond the cap."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from bunws.core import diagnosis as d
from bunws.failures import log as failures
from bunws.failures.log import OVERFLOW_PATH, record_failed_upgrade
from bunws.models import FailedUpgrade


@pytest.fixture
def fresh_budget(db: None) -> Iterator[None]:
    failures.clear_cache()  # the cache, pending repeats and the window's budget
    yield
    failures.clear_cache()


def _fail(path: str, client: str = "203.0.113.1") -> None:
    record_failed_upgrade(reason=d.NO_SUCH_ENDPOINT, path=path, client=client)


@pytest.mark.usefixtures("fresh_budget")
def test_flood_of_distinct_failures_is_capped_per_window_into_an_overflow_row() -> None:
    with override_settings(BUNWS={"FAILED_UPGRADE_ROWS_PER_WINDOW": 5}):
        for i in range(50):
            _fail(f"/scan/{i}/", client=f"198.51.100.{i}")
    assert FailedUpgrade.objects.exclude(path=OVERFLOW_PATH).count() == 5
    overflow = FailedUpgrade.objects.get(path=OVERFLOW_PATH)
    assert overflow.count == 45
    assert overflow.client_address == OVERFLOW_PATH
    assert "More than 5 distinct failed upgrades" in overflow.hint


@pytest.mark.usefixtures("fresh_budget")
def test_first_new_row_of_a_window_prunes_expired_rows_and_the_oldest_beyond_the_cap() -> None:
    now = timezone.now()
    old = [
        FailedUpgrade(
            path=f"/old/{i}/",
            method="GET",
            reason=d.NO_SUCH_ENDPOINT,
            diagnosis="d",
            hint="h",
            first_seen=now - timedelta(days=8),
            last_seen=now - timedelta(days=8),
        )
        for i in range(20)
    ]
    recent = [
        FailedUpgrade(
            path=f"/recent/{i}/",
            method="GET",
            reason=d.NO_SUCH_ENDPOINT,
            diagnosis="d",
            hint="h",
            first_seen=now - timedelta(minutes=30 - i),
            last_seen=now - timedelta(minutes=30 - i),
        )
        for i in range(30)
    ]
    FailedUpgrade.objects.bulk_create(old + recent)
    with override_settings(BUNWS={"FAILED_UPGRADE_MAX_ROWS": 10}):
        _fail("/new/")
        kept = set(FailedUpgrade.objects.values_list("path", flat=True))
        assert not any(path.startswith("/old/") for path in kept)  # past the 7 d retention
        assert len(kept) == 10
        assert "/new/" in kept  # the newest rows survive the cap
        assert "/recent/29/" in kept and "/recent/0/" not in kept
        _fail("/new2/")  # same window: no second housekeeping, so the cap is soft by a window
        assert FailedUpgrade.objects.count() == 11
