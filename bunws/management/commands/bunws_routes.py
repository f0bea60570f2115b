"""``manage.py bunws_routes``: every bunws endpoint with its route, handlers and options."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from bunws.core.options import OPTION_DEFAULTS


def endpoint_rows() -> list[dict[str, Any]]:
    """One dict per registered endpoint, in declaration order."""
    from bunws.endpoint import endpoints

    rows = []
    for ep in endpoints():
        options = ep.config.options()
        rows.append(
            {
                "name": ep.name,
                "route": ep.route,
                "fetch": getattr(ep.fetch, "__qualname__", None) if ep.fetch else None,
                "handlers": ep.config.handler_names(),
                "options": options,
                "changed_options": {k: v for k, v in options.items() if v != OPTION_DEFAULTS[k]},
            }
        )
    return rows


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return lines


class Command(BaseCommand):
    help = "List every bunws endpoint: name, route, fetch, handlers and options."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--format", choices=("table", "json"), default="table", help="Output format."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        rows = endpoint_rows()
        if options["format"] == "json":
            self.stdout.write(json.dumps(rows, indent=2))
            return
        if not rows:
            self.stdout.write(
                "No bunws endpoints are registered: declare them with bunws.serve() in an "
                "installed app's sockets.py."
            )
            return
        table = [["ENDPOINT", "ROUTE", "FETCH", "HANDLERS", "OPTIONS (non-default)"]]
        for row in rows:
            changed = ", ".join(f"{k}={v}" for k, v in row["changed_options"].items())
            table.append(
                [
                    row["name"],
                    row["route"],
                    row["fetch"] or "-",
                    ", ".join(row["handlers"]),
                    changed or "defaults",
                ]
            )
        for line in _table(table):
            self.stdout.write(line)
        defaults = ", ".join(f"{k}={v}" for k, v in OPTION_DEFAULTS.items())
        self.stdout.write(f"\n{len(rows)} endpoint(s). Option defaults: {defaults}.")
