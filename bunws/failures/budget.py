"""The bound on new failed-upgrade rows: each process creates at most
``FAILED_UPGRADE_ROWS_PER_WINDOW`` per window and counts the rest in one overflow row per reason
and endpoint, so a flood of *distinct* failures (random paths, many addresses) cannot grow the
table; the window's first new row also runs the housekeeping (``bunws.failures.prune``)."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from django.db.models import F

from bunws.conf import get_config
from bunws.failures.fields import Attempt
from bunws.models import FailedUpgrade

__all__ = ["OVERFLOW_PATH", "RowBudget", "store_overflow", "window"]

logger = logging.getLogger("bunws")

#: ``path`` (and ``client_address``) of the row that counts failures beyond the window's budget.
OVERFLOW_PATH = "*"


def window() -> timedelta:
    """Return the aggregation window, ``BUNWS["FAILED_UPGRADE_WINDOW"]`` seconds (default 60)."""
    return timedelta(seconds=float(get_config().failed_upgrade_window))


def _window_index(now: datetime) -> int:
    seconds = max(float(get_config().failed_upgrade_window), 1.0)
    return int(now.timestamp() // seconds)


class RowBudget:
    """New rows this process created in the current window, and the last window housekeeping
    ran in."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.window = -1
        self.created = 0
        self.housekept = -1

    def reset(self) -> None:
        """Start afresh, as a new process would."""
        with self._lock:
            self.window, self.created, self.housekept = -1, 0, -1

    def take(self, now: datetime) -> bool:
        """Count one new row against this window's budget; False once it is spent."""
        limit = int(get_config().failed_upgrade_rows_per_window)
        index = _window_index(now)
        with self._lock:
            if self.window != index:
                self.window, self.created = index, 0
            if limit and self.created >= limit:
                if self.created == limit:
                    self.created += 1  # log the overflow once per window
                    logger.warning(
                        "bunws: more than %d distinct failed upgrades within %s s; counting the "
                        "rest in one row per reason and endpoint (path %r) until the window ends",
                        limit,
                        get_config().failed_upgrade_window,
                        OVERFLOW_PATH,
                    )
                return False
            self.created += 1
            return True

    def housekeeping_due(self, now: datetime) -> bool:
        """True once a window: the first time it is asked in the window of ``now``."""
        index = _window_index(now)
        with self._lock:
            if self.housekept == index:
                return False
            self.housekept = index
            return True


def store_overflow(attempt: Attempt, *, repeats: int, now: datetime, since: datetime) -> None:
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
