"""Read-only admin for failed upgrade attempts: filter by reason and endpoint, read the hint."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html

from bunws.models import FailedUpgrade

# ModelAdmin is generic only in django-stubs; at runtime it cannot be subscripted.
if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[FailedUpgrade]
else:
    _ModelAdmin = admin.ModelAdmin


@admin.register(FailedUpgrade)
class FailedUpgradeAdmin(_ModelAdmin):
    """Shows the failure log read-only: bunws writes the rows, so nobody adds or edits them."""

    list_display = (
        "last_seen",
        "reason",
        "endpoint",
        "method",
        "path",
        "client_address",
        "count",
    )
    list_filter = ("reason", "endpoint", ("last_seen", admin.DateFieldListFilter))
    search_fields = ("path", "client_address", "user_agent", "origin")
    date_hierarchy = "last_seen"
    ordering = ("-last_seen",)
    list_per_page = 50
    show_full_result_count = False
    fieldsets = (
        ("Diagnosis", {"fields": ("reason", "diagnosis", "hint")}),
        (
            "Request",
            {"fields": ("endpoint", "method", "path", "query", "client_address", "origin")},
        ),
        ("Occurrences", {"fields": ("count", "first_seen", "last_seen")}),
        ("Client", {"fields": ("user_agent", "headers_display")}),
    )
    readonly_fields = (
        "reason",
        "diagnosis",
        "hint",
        "endpoint",
        "method",
        "path",
        "query",
        "client_address",
        "origin",
        "count",
        "first_seen",
        "last_seen",
        "user_agent",
        "headers_display",
    )

    @admin.display(description="headers (credentials removed)")
    def headers_display(self, obj: FailedUpgrade) -> str:
        """Render the stored, redacted headers as indented JSON."""
        return format_html(
            "<pre>{}</pre>", json.dumps(obj.headers, indent=2, sort_keys=True, ensure_ascii=False)
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Refuse adding: rows are written only by bunws when an upgrade fails."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: FailedUpgrade | None = None) -> bool:
        """Refuse editing; staff with the view permission still see the list and detail pages."""
        return False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Title the list as a log rather than Django's "Select ... to view"."""
        context = {"title": "Failed upgrade attempts", **(extra_context or {})}
        return super().changelist_view(request, extra_context=context)


# The "Live sockets" page (bunws/live.py) hangs off the default admin site.
from bunws.live import install as _install_live_page  # noqa: E402

_install_live_page(admin.site)
