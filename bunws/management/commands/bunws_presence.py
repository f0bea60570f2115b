"""``manage.py bunws_presence TOPIC``: who is on a topic, cluster-wide with a Redis layer."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from bunws.cluster.counts import redis_settings
from bunws.cluster.layer import layer_description
from bunws.cluster.presence_lists import presence


class Command(BaseCommand):
    """Print the presence list of TOPIC and its counts."""

    help = (
        "Print who is on TOPIC: each key with its metas (one per tracked socket), read from "
        "Redis in one round trip when the channel layer is channels_redis."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """Declare TOPIC and --json."""
        parser.add_argument("topic", help="Topic to list (any string).")
        parser.add_argument("--json", action="store_true", help="Print the list as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        """List and count."""
        topic: str = options["topic"]
        found = presence(topic)
        if options["json"]:
            self.stdout.write(json.dumps(found, indent=2, sort_keys=False))
            return
        for key, metas in found.items():
            self.stdout.write(f"{key}: " + ", ".join(json.dumps(meta) for meta in metas))
        where = (
            f"across every process through channel layer {layer_description()}"
            if redis_settings() is not None
            else "in this process only (the channel layer is not Redis)"
        )
        entries = sum(len(metas) for metas in found.values())
        self.stdout.write(f"{len(found)} keys, {entries} entries on topic {topic!r} {where}.")
