"""The failed-upgrade log: one log line and an aggregated, bounded database row per attempt.

``fields`` fits an attempt to the model and logs its line; ``log`` holds the ``FailureLog``
object (aggregation, the deferred flush, ``reset()``) and its process-wide instance; ``budget``
caps new rows per window; ``prune`` holds the deletes that keep the table bounded.
"""

from __future__ import annotations

from bunws.core.age import parse_age
from bunws.failures.fields import FailedUpgradeFields
from bunws.failures.log import (
    OVERFLOW_PATH,
    FailureLog,
    arecord_failed_upgrade,
    clear_cache,
    failure_log,
    flush_pending,
    prune_failed_upgrades,
    record_failed_upgrade,
)

__all__ = [
    "OVERFLOW_PATH",
    "FailedUpgradeFields",
    "FailureLog",
    "arecord_failed_upgrade",
    "clear_cache",
    "failure_log",
    "flush_pending",
    "parse_age",
    "prune_failed_upgrades",
    "record_failed_upgrade",
]
