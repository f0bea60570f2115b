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
        from bunws.endpoint import autodiscover

        autodiscover()
        _name_status_426()


def _name_status_426() -> None:
    """Teach Twisted (daphne's HTTP layer) the phrase for 426; it would send "Unknown Status".

    ASGI responses carry no reason phrase, so daphne's status line comes from Twisted's table,
    which lacks RFC 7231's 426. Adding the entry changes nothing else.
    """
    try:
        from twisted.web import http
    except ImportError:  # not served by daphne
        return
    http.RESPONSES.setdefault(426, b"Upgrade Required")
