"""Django app configuration: at startup, checks the settings and discovers every installed app's
``sockets`` module."""

from __future__ import annotations

from django.apps import AppConfig


class BunwsConfig(AppConfig):
    """Registers bunws; ``ready()`` validates ``settings.BUNWS`` (a bad value stops startup and
    ``manage.py check``) and imports ``<app>.sockets`` so endpoints exist before routing."""

    name = "bunws"
    label = "bunws"
    verbose_name = "WebSockets (bunws)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from bunws import checks  # noqa: F401  (registers system checks)
        from bunws.conf import get_config
        from bunws.daphne.stack import name_status_426
        from bunws.endpoint import autodiscover

        get_config()  # raises ConfigurationError naming the bad BUNWS key, value and fix
        autodiscover()
        name_status_426()
        register_metrics()


def register_metrics() -> bool:
    """Add bunws's collector to prometheus_client's default registry when the ``metrics`` extra
    is installed; without it nothing imports prometheus_client. True if it is registered now."""
    try:
        from bunws import metrics
    except ImportError as exc:
        if exc.name != "prometheus_client" and not str(exc.name).startswith("prometheus_client."):
            raise
        return False
    metrics.register()
    return True
