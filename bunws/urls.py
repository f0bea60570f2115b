"""``path("", include("bunws.urls"))`` serves the HTTP side of every endpoint (fetch or 426)."""

from __future__ import annotations

from django.urls import URLPattern, path

from bunws.endpoint import endpoints
from bunws.views import endpoint_view

app_name = "bunws"

urlpatterns: list[URLPattern] = [
    path(ep.route, endpoint_view(ep), name=ep.name) for ep in endpoints()
]
