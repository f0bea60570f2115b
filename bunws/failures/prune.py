"""Keep the failed-upgrade table bounded: rows past the retention age and the oldest beyond the
row cap go (the log's housekeeping), and ``bunws_prune`` deletes rows older than an age.

Only the deletes live here; the log decides when they run (``bunws.failures.log``).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from bunws.conf import get_config
from bunws.core.age import parse_age
from bunws.models import FailedUpgrade

__all__ = ["cutoff", "delete_before", "expire_rows"]

logger = logging.getLogger("bunws")


def expire_rows(now: datetime) -> int:
    """Drop rows past ``FAILED_UPGRADE_RETENTION`` and the oldest beyond
    ``FAILED_UPGRADE_MAX_ROWS``; return how many went."""
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
        logger.info("bunws: pruned %d old failed upgrade rows", removed)
    return removed


def cutoff(older_than: timedelta) -> datetime:
    """Return ``now - older_than``, the last-seen time before which rows are deleted."""
    if older_than < timedelta(0):
        raise ValueError(
            f"older_than must not be negative, got {older_than!r}: pass a positive timedelta "
            "such as timedelta(days=7)"
        )
    return timezone.now() - older_than


def delete_before(when: datetime) -> int:
    """Delete rows last seen before ``when`` and return how many."""
    deleted, _ = FailedUpgrade.objects.filter(last_seen__lt=when).delete()
    return deleted
