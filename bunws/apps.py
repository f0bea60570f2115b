"""Django app configuration: discovers every installed app's ``sockets`` module at startup."""

from __future__ import annotations

from django.apps import AppConfig


class BunwsConfig(AppConfig):
    """Registers bunws; ``ready()`` imports ``<app>.sockets`` so endpoints exist before routing."""

    name = "bunws"
    label = "bunws"
    verbose_name = "WebSockets (bunws)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from bunws import checks  # noqa: F401  (registers system checks)
        from bunws.registry import autodiscover

        autodiscover()
