"""``manage.py bunws_prune`` removes old failed-upgrade rows and reports how many."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from bunws.core import diagnosis as d
from bunws.models import FailedUpgrade

pytestmark = pytest.mark.django_db


def _row(age: timedelta, client: str) -> FailedUpgrade:
    seen = timezone.now() - age
    return FailedUpgrade.objects.create(
        path="/ws/chat/",
        method="GET",
        reason=d.NO_UPGRADE_HEADER,
        client_address=client,
        diagnosis="s",
        hint="h",
        first_seen=seen,
        last_seen=seen,
    )


def _prune(*args: str) -> str:
    out = StringIO()
    call_command("bunws_prune", *args, stdout=out)
    return out.getvalue()


def test_prune_removes_rows_older_than_the_age_and_says_how_many() -> None:
    _row(timedelta(days=8), "192.0.2.1")
    _row(timedelta(days=9), "192.0.2.2")
    _row(timedelta(days=1), "192.0.2.3")
    output = _prune("--older-than", "7d")
    assert output.strip() == "Removed 2 failed upgrade attempt(s) older than 7d."
    assert list(FailedUpgrade.objects.values_list("client_address", flat=True)) == ["192.0.2.3"]


@pytest.mark.parametrize(("age", "kept"), [("30s", 0), ("90m", 1), ("3h", 2), ("2w", 3)])
def test_prune_accepts_every_unit(age: str, kept: int) -> None:
    for hours, client in [(1, "a"), (2.5, "b"), (24, "c")]:
        _row(timedelta(hours=hours), client)
    _prune("--older-than", age)
    assert FailedUpgrade.objects.count() == kept


def test_prune_defaults_to_the_retention_setting() -> None:
    _row(timedelta(hours=2), "192.0.2.1")
    _row(timedelta(minutes=1), "192.0.2.2")
    with override_settings(BUNWS={"FAILED_UPGRADE_RETENTION": "1h"}):
        output = _prune()
    assert "Removed 1 failed upgrade attempt(s) older than 1h." in output
    assert FailedUpgrade.objects.count() == 1


def test_prune_default_retention_is_seven_days() -> None:
    _row(timedelta(days=6), "192.0.2.1")
    assert "Removed 0 failed upgrade attempt(s) older than 7d." in _prune()


@pytest.mark.parametrize("bad", ["7 days", "7", "d", "-1d", "7y"])
def test_bad_age_raises_command_error_naming_it(bad: str) -> None:
    with pytest.raises(CommandError) as excinfo:
        _prune(f"--older-than={bad}")
    assert repr(bad) in str(excinfo.value)
    assert "7d" in str(excinfo.value)
