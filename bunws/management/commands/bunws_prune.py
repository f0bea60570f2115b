"""``manage.py bunws_prune``: delete failed-upgrade rows older than a retention age."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bunws.conf import get_config
from bunws.core.age import AGE_FORMS
from bunws.core.age import parse_age as _parse_age
from bunws.failures import prune_failed_upgrades


def parse_age(value: str, source: str = "--older-than") -> timedelta:
    """Turn an age such as ``7d`` into a timedelta, or raise CommandError naming the value."""
    try:
        return _parse_age(value)
    except ValueError as exc:
        raise CommandError(f"{source}: {exc}") from None


class Command(BaseCommand):
    """Delete failed upgrade attempts last seen before the given age and print how many."""

    help = (
        "Delete failed WebSocket upgrade attempts last seen longer ago than --older-than "
        '(default BUNWS["FAILED_UPGRADE_RETENTION"], 7d).'
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """Declare --older-than."""
        parser.add_argument(
            "--older-than",
            dest="older_than",
            default=None,
            help=f"Age of rows to delete: {AGE_FORMS}.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Parse the age, prune, and report the count."""
        age = options["older_than"]
        source = "--older-than"
        if age is None:
            age = str(get_config().failed_upgrade_retention)
            source = 'BUNWS["FAILED_UPGRADE_RETENTION"]'
        removed = prune_failed_upgrades(parse_age(age, source))
        self.stdout.write(f"Removed {removed} failed upgrade attempt(s) older than {age.strip()}.")
