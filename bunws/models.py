"""Database record of requests that reached a WebSocket endpoint but did not become a WebSocket."""

from __future__ import annotations

from django.db import models

from bunws.core.diagnosis import REASONS


class FailedUpgrade(models.Model):
    """One failed upgrade, aggregated: repeats from one client within a window bump ``count``."""

    endpoint = models.CharField(max_length=200, blank=True, db_index=True)
    path = models.CharField(max_length=512, db_index=True)
    method = models.CharField(max_length=16)
    reason = models.CharField(max_length=40, choices=REASONS, db_index=True)
    status = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="HTTP status the client got: 426 from bunws, 403 for a refused handshake, or "
        "the status of fetch's own response.",
    )
    client_address = models.CharField(
        max_length=64, blank=True, db_index=True, help_text="Client IP address, without port."
    )
    user_agent = models.CharField(max_length=512, blank=True)
    origin = models.CharField(max_length=512, blank=True)
    headers = models.JSONField(default=dict, help_text="Request headers with credentials removed.")
    query = models.CharField(
        max_length=512, blank=True, help_text="Query string with credential values redacted."
    )
    diagnosis = models.TextField(help_text="What went wrong, for a person.")
    hint = models.TextField(help_text="What to do about it.")
    count = models.PositiveIntegerField(default=1)
    first_seen = models.DateTimeField(db_index=True)
    last_seen = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ("-last_seen",)
        verbose_name = "failed upgrade attempt"
        verbose_name_plural = "failed upgrade attempts"
        # Serves the aggregation lookup: equality on four columns, then a last_seen range.
        indexes = (
            models.Index(
                fields=["reason", "endpoint", "path", "client_address", "last_seen"],
                name="bunws_failedupgrade_agg",
            ),
        )

    def __str__(self) -> str:
        """Name the reason, path and client so a row reads well in lists and logs."""
        client = self.client_address or "unknown client"
        return f"{self.get_reason_display()} at {self.path} from {client} (x{self.count})"


class Live(FailedUpgrade):
    """No data of its own: the admin index lists the "Live sockets" page through this proxy
    (``bunws.admin_live.LiveSocketsAdmin``), so the page needs no patched ``AdminSite``."""

    class Meta:
        proxy = True
        verbose_name = "live sockets"
        verbose_name_plural = "live sockets"
        default_permissions = ()
