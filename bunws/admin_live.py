"""The "Live sockets" admin page and the JSON view its script polls.

Socket and topic counts are this process's: under daphne the admin's HTTP requests are served
by the same process as the sockets. With a cross-process channel layer, topic subscriber counts
are also given for the whole cluster (``bunws.cluster.bridge.cluster_subscriber_count``).
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from django.contrib import admin
from django.db.models import Count, Max, Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path, reverse
from django.utils import timezone

from bunws.asgi.threads import call_on_socket_loop

#: How many topics and failed upgrades the page lists.
TOP_TOPICS = 20
RECENT_FAILURES = 10
#: Failed upgrades are grouped by reason over this window.
FAILURE_WINDOW = timedelta(hours=24)


def _local_counts() -> dict[str, Any]:
    """Open sockets per endpoint and subscribers per topic; runs on the socket loop."""
    from bunws.core.hub import hub
    from bunws.endpoint import endpoints

    topics = sorted(hub.topics(), key=lambda item: (-item[1], item[0]))
    return {
        "endpoints": [
            {"name": ep.name, "route": ep.route, "open_sockets": ep.pending_websockets}
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
    from bunws.cluster import bridge

    try:
        if getattr(bridge, "cross_process_layer", lambda: None)() is None:
            return None
        for row in counts["topics"]:
            row["cluster_subscribers"] = bridge.cluster_subscriber_count(row["topic"])
        return str(bridge.layer_description())
    except Exception:  # the page must render while Redis is down
        return None


def failures(show: bool) -> dict[str, Any]:
    """Failed upgrades of the last 24 hours by reason, and the most recent ones."""
    if not show:
        return {"visible": False, "by_reason": [], "recent": []}
    from bunws.models import FailedUpgrade

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
                "url": reverse("admin:bunws_failedupgrade_change", args=[row.pk]),
            }
            for row in recent
        ],
    }


def snapshot(request: HttpRequest) -> dict[str, Any]:
    """Everything the page shows, as JSON-ready data."""
    counts = local_counts()
    layer = _cluster(counts)
    return {
        "scope": "process",
        "pid": os.getpid(),
        "cluster_layer": layer,
        "generated_at": timezone.now().isoformat(),
        **counts,
        "failed_upgrades": failures(request.user.has_perm("bunws.view_failedupgrade")),
    }


def live_json(request: HttpRequest) -> JsonResponse:
    """The snapshot as JSON, polled by the page every two seconds."""
    response = JsonResponse(snapshot(request))
    response["Cache-Control"] = "no-store"
    return response


def live_page(request: HttpRequest, site: admin.AdminSite) -> HttpResponse:
    """The "Live sockets" page; its script refreshes the tables from ``live_json``."""
    context = {
        **site.each_context(request),
        "title": "Live sockets",
        "snapshot": snapshot(request),
        "json_url": reverse(f"{site.name}:bunws_live_json"),
    }
    return TemplateResponse(request, "admin/bunws/live.html", context)


def install(site: admin.AdminSite) -> None:
    """Add the page and its JSON view to ``site`` (staff only) and list it under bunws."""
    if getattr(site, "_bunws_live", False):
        return
    site._bunws_live = True  # type: ignore[attr-defined]
    original_urls = site.get_urls
    original_app_list = site.get_app_list

    def get_urls() -> list[URLPattern | URLResolver]:
        def page(request: HttpRequest) -> HttpResponse:
            return live_page(request, site)

        return [
            path("bunws/live/", site.admin_view(page), name="bunws_live"),
            path("bunws/live.json", site.admin_view(live_json), name="bunws_live_json"),
            *original_urls(),
        ]

    def get_app_list(request: HttpRequest, app_label: str | None = None) -> list[Any]:
        apps = original_app_list(request, app_label)
        entry = {
            "name": "Live sockets",
            "object_name": "LiveSockets",
            "admin_url": reverse(f"{site.name}:bunws_live"),
            "add_url": None,
            "view_only": True,
            "perms": {"view": True},
        }
        for app in apps:
            if app["app_label"] == "bunws":
                app["models"].insert(0, entry)
                break
        else:
            if app_label in (None, "bunws"):
                apps.append(
                    {
                        "name": "WebSockets (bunws)",
                        "app_label": "bunws",
                        "app_url": reverse(f"{site.name}:bunws_live"),
                        "has_module_perms": True,
                        "models": [entry],
                    }
                )
        return apps

    site.get_urls = get_urls  # type: ignore[method-assign]
    site.get_app_list = get_app_list  # type: ignore[method-assign]
