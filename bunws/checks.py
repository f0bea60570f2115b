"""Django system checks for bunws (ids ``bunws.E0xx`` errors, ``bunws.W0xx`` warnings)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register


@register(Tags.compatibility)
def check_daphne_first(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """daphne must be installed and listed first so ``runserver`` serves WebSockets."""
    apps = list(settings.INSTALLED_APPS)
    if "daphne" not in apps:
        return [
            Error(
                "'daphne' is not in INSTALLED_APPS, so runserver cannot serve WebSockets.",
                hint="Add 'daphne' as the first entry of INSTALLED_APPS.",
                id="bunws.E001",
            )
        ]
    if apps[0] != "daphne":
        return [
            Error(
                f"'daphne' is in INSTALLED_APPS at position {apps.index('daphne') + 1}, not first: "
                "Django's own runserver would shadow daphne's and refuse WebSockets.",
                hint="Move 'daphne' to the top of INSTALLED_APPS.",
                id="bunws.E002",
            )
        ]
    return []
