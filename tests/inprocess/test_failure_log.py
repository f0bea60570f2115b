"""The failed-upgrade log as one object: ``reset()`` forgets what the process holds, and the
package keeps its public names."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import override_settings

import bunws.failures
from bunws.core import age
from bunws.core import diagnosis as d
from bunws.failures import FailureLog, failure_log
from bunws.models import FailedUpgrade

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    failure_log.reset()
    yield
    failure_log.reset()


def test_package_exports_the_log_functions_and_parse_age() -> None:
    assert set(bunws.failures.__all__) >= {
        "OVERFLOW_PATH",
        "FailedUpgradeFields",
        "arecord_failed_upgrade",
        "clear_cache",
        "flush_pending",
        "parse_age",
        "prune_failed_upgrades",
        "record_failed_upgrade",
    }
    assert bunws.failures.parse_age is age.parse_age
    assert isinstance(failure_log, FailureLog)


@override_settings(BUNWS={"FAILED_UPGRADE_FLUSH_INTERVAL": 60})
def test_reset_forgets_cached_rows_pending_repeats_and_the_budget() -> None:
    for _ in range(3):
        bunws.failures.record_failed_upgrade(reason=d.NO_UPGRADE_HEADER, path="/ws/r/")
    assert failure_log.budget.created == 1
    failure_log.reset()
    assert failure_log.budget.created == 0
    assert bunws.failures.flush_pending() == 0  # the two repeats in memory are gone
    assert FailedUpgrade.objects.get().count == 1


@override_settings(BUNWS={"FAILED_UPGRADE_FLUSH_INTERVAL": 60})
def test_clear_cache_is_reset_and_the_next_repeat_finds_its_row() -> None:
    bunws.failures.record_failed_upgrade(reason=d.NO_UPGRADE_HEADER, path="/ws/c/")
    bunws.failures.clear_cache()
    bunws.failures.record_failed_upgrade(reason=d.NO_UPGRADE_HEADER, path="/ws/c/")
    assert FailedUpgrade.objects.get().count == 2
