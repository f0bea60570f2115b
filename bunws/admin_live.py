"""The "Live sockets" admin page, the JSON view its script polls, and its admin-index entry.

``FailedUpgradeAdmin.get_urls()`` (``bunws/admin.py``) serves the page and the JSON, so every
admin site that registers the failure log has them; ``LiveSocketsAdmin`` lists the page in the
admin index through the table-less ``Live`` proxy model. Socket and topic counts are this
process's: under daphne the admin's HTTP requests are served by the same process as the sockets.
With a cross-process channel layer, topic subscriber counts are also given for the whole cluster
(``bunws.cluster.counts.cluster_subscriber_count``).
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.db.models import Count, Max, Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone

from bunws.asgi.threads import call_on_socket_loop
from bunws.models import FailedUpgrade, Live

# ModelAdmin is generic only in django-stubs; at runtime it cannot be subscripted.
if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[Live]
else:
    _ModelAdmin = admin.ModelAdmin

#: How many topics and failed upgrades the page lists.
TOP_TOPICS = 20
RECENT_FAILURES = 10
#: Failed upgrades are grouped by reason over this window.
FAILURE_WINDOW = timedelta(hours=24)


def _local_counts() -> dict[str, Any]:
    """Open sockets per endpoint and subscribers per topic; runs on the socket loop."""
    from bunws.core.hub import hub
    from bunws.core.stats import for_endpoint
    from bunws.endpoint import endpoints

    topics = sorted(hub.topics(), key=lambda item: (-item[1], item[0]))
    return {
        "endpoints": [
            {
                "name": ep.name,
                "route": ep.route,
                "open_sockets": ep.pending_websockets,
                # bunws.core.stats: the counters /metrics exports, with or without its extra.
                "messages_received": for_endpoint(ep.name).messages_received,
                "messages_sent": for_endpoint(ep.name).messages_sent,
            }
            for ep in endpoints()
        ],
        "topic_count": len(topics),
        "topics": [{"topic": t, "subscribers": n} for t, n in topics[:TOP_TOPICS]],
    }


def local_counts() -> dict[str, Any]:
    """``_local_counts`` read on the loop that owns the sockets, so no dict changes under us."""
    return call_on_socket_loop(_local_counts, timeout=5)


def _cluster(counts: dict[str, Any]) -> str | None:
    """Add cluster-wide topic counts when a cross-process layer exists; return its name."""
    # Imported here: the counts load redis, which the admin needs only with a Redis layer.
    from bunws.cluster.counts import cluster_subscriber_count
    from bunws.cluster.layer import cross_process_layer, layer_description

    try:
        if cross_process_layer() is None:
            return None
        for row in counts["topics"]:
            row["cluster_subscribers"] = cluster_subscriber_count(row["topic"])
        return layer_description()
    except Exception:  # the page must render while Redis is down
        return None


def presence_lists() -> list[dict[str, Any]]:
    """The largest presence lists (cluster-wide with Redis); empty while Redis is down."""
    from bunws.cluster.presence_lists import largest

    try:
        return largest(TOP_TOPICS)
    except Exception:  # the page must render while Redis is down
        return []


def failures(show: bool, site: admin.AdminSite) -> dict[str, Any]:
    """Failed upgrades of the last 24 hours by reason, and the most recent ones."""
    if not show:
        return {"visible": False, "by_reason": [], "recent": []}
    labels = dict(FailedUpgrade._meta.get_field("reason").flatchoices)
    since = timezone.now() - FAILURE_WINDOW
    grouped = (
        FailedUpgrade.objects.filter(last_seen__gte=since)
        .values("reason")
        .annotate(rows=Count("id"), attempts=Sum("count"), last=Max("last_seen"))
        .order_by("-attempts")
    )
    recent = FailedUpgrade.objects.order_by("-last_seen")[:RECENT_FAILURES]
    return {
        "visible": True,
        "by_reason": [
            {
                "reason": row["reason"],
                "label": str(labels.get(row["reason"], row["reason"])),
                "attempts": row["attempts"],
                "last_seen": row["last"].isoformat(),
            }
            for row in grouped
        ],
        "recent": [
            {
                "id": row.pk,
                "reason": row.reason,
                "endpoint": row.endpoint,
                "method": row.method,
                "path": row.path,
                "client": row.client_address,
                "count": row.count,
                "last_seen": row.last_seen.isoformat(),
                "url": reverse(f"{site.name}:bunws_failedupgrade_change", args=[row.pk]),
            }
            for row in recent
        ],
    }


def snapshot(request: HttpRequest, site: admin.AdminSite) -> dict[str, Any]:
    """Everything the page shows, as JSON-ready data."""
    counts = local_counts()
    layer = _cluster(counts)
    return {
        "scope": "process",
        "pid": os.getpid(),
        "cluster_layer": layer,
        "generated_at": timezone.now().isoformat(),
        **counts,
        "presence": presence_lists(),
        "failed_upgrades": failures(request.user.has_perm("bunws.view_failedupgrade"), site),
    }


def live_json(request: HttpRequest, site: admin.AdminSite) -> JsonResponse:
    """The snapshot as JSON, polled by the page every two seconds."""
    response = JsonResponse(snapshot(request, site))
    response["Cache-Control"] = "no-store"
    return response


def live_page(request: HttpRequest, site: admin.AdminSite) -> HttpResponse:
    """The "Live sockets" page; its script refreshes the tables from ``live_json``."""
    request.current_app = site.name  # the template's admin links then name this site
    context = {
        **site.each_context(request),
        "title": "Live sockets",
        "snapshot": snapshot(request, site),
        "json_url": reverse(f"{site.name}:bunws_live_json"),
    }
    return TemplateResponse(request, "admin/bunws/live.html", context)


class LiveSocketsAdmin(_ModelAdmin):
    """The "Live sockets" entry of the admin index, at ``<admin>/bunws/live/``.

    Its list page is the live page itself, shown to all staff like the page it renders; the
    ``FailedUpgradeAdmin`` of the same site must be registered (it serves the JSON).
    """

    def get_urls(self) -> list[URLPattern]:
        """Only the list page: the proxy has no rows to add, change or delete."""
        view = self.admin_site.admin_view(self.changelist_view)
        return [path("", view, name="bunws_live_changelist")]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Render the live page."""
        return live_page(request, self.admin_site)

    def has_module_permission(self, request: HttpRequest) -> bool:
        """List the bunws app for all staff, who may all see the page."""
        return True

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Any staff member sees the page (the admin site lets only staff in)."""
        return True

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Nothing to add."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Nothing to change."""
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Nothing to delete."""
        return False
