"""Read-only admin for failed upgrade attempts: filter by reason and endpoint, read the hint.

The list names what was refused in each row (the origin of an origin refusal, the status fetch
answered with, the method or header a plain request got wrong), so nobody has to open rows one
by one to tell them apart. ``FailedUpgradeAdmin`` also serves the "Live sockets" page
(``bunws/admin_live.py``) through its ``get_urls()``: a custom ``AdminSite`` that registers it
gets the page too, linked from the log's list; register ``LiveSocketsAdmin`` for ``Live`` as
well to list the page in that site's index, as bunws does on the default site.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django.utils.html import format_html

from bunws.admin_live import LiveSocketsAdmin, live_json, live_page
from bunws.core import diagnosis as d
from bunws.models import FailedUpgrade, Live

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
        "refused",
        "status",
        "endpoint",
        "method",
        "path",
        "client_address",
        "count",
    )
    list_filter = ("reason", "status", "endpoint", ("last_seen", admin.DateFieldListFilter))
    search_fields = ("path", "client_address", "user_agent", "origin")
    date_hierarchy = "last_seen"
    ordering = ("-last_seen",)
    list_per_page = 50
    show_full_result_count = False
    fieldsets = (
        ("Diagnosis", {"fields": ("reason", "status", "diagnosis", "hint")}),
        (
            "Request",
            {"fields": ("endpoint", "method", "path", "query", "client_address", "origin")},
        ),
        ("Occurrences", {"fields": ("count", "first_seen", "last_seen")}),
        ("Client", {"fields": ("user_agent", "headers_display")}),
    )
    readonly_fields = (
        "reason",
        "status",
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

    @admin.display(description="what was refused")
    def refused(self, obj: FailedUpgrade) -> str | None:
        """Name the value the failure is about, where the reason has one (else the list's "-")."""
        headers = obj.headers if isinstance(obj.headers, dict) else {}
        if obj.reason == d.ORIGIN_NOT_ALLOWED:
            return f"origin {obj.origin}" if obj.origin else "no Origin header"
        if obj.reason == d.FETCH_ANSWERED:
            return "fetch answered" if obj.status is None else f"fetch answered {obj.status}"
        if obj.reason == d.WRONG_METHOD:
            return f"method {obj.method}"
        if obj.reason == d.UPGRADE_NOT_WEBSOCKET:
            return f"Upgrade: {headers.get('upgrade', '')}"
        if obj.reason == d.CONNECTION_NOT_UPGRADE:
            connection = headers.get("connection")
            return "no Connection header" if connection is None else f"Connection: {connection}"
        if obj.reason == d.NO_SUCH_ENDPOINT:
            return f"path {obj.path}"
        if obj.reason == d.PROXY_DROPPED_UPGRADE:
            return "Upgrade/Connection dropped by a proxy"
        return None

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

    def get_urls(self) -> list[URLPattern]:
        """Add the "Live sockets" page and its JSON (``live/``, ``live.json``; staff only)."""
        site = self.admin_site
        return [
            path("live/", site.admin_view(self.live_view), name="bunws_live"),
            path("live.json", site.admin_view(self.live_json_view), name="bunws_live_json"),
            *super().get_urls(),
        ]

    def live_view(self, request: HttpRequest) -> HttpResponse:
        """The "Live sockets" page of this admin site."""
        return live_page(request, self.admin_site)

    def live_json_view(self, request: HttpRequest) -> HttpResponse:
        """The page's data, polled by its script."""
        return live_json(request, self.admin_site)


admin.site.register(Live, LiveSocketsAdmin)
