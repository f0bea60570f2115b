"""The failed-upgrade log: one log line and an aggregated, bounded database row per attempt."""

from __future__ import annotations

from bunws.failures.log import (
    OVERFLOW_PATH,
    FailedUpgradeFields,
    arecord_failed_upgrade,
    clear_cache,
    flush_pending,
    parse_age,
    prune_failed_upgrades,
    record_failed_upgrade,
)

__all__ = [
    "OVERFLOW_PATH",
    "FailedUpgradeFields",
    "arecord_failed_upgrade",
    "clear_cache",
    "flush_pending",
    "parse_age",
    "prune_failed_upgrades",
    "record_failed_upgrade",
]
