"""URLs: the demo page, the admin, and the HTTP side of every bunws endpoint."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from project.demo.views import index

urlpatterns = [
    path("", index, name="index"),
    path("admin/", admin.site.urls),
    path("", include("bunws.urls")),
]

# Prometheus's /metrics when the bunws[metrics] extra is installed (docs/metrics.md). Open to
# anyone here, as in a demo: in production serve it on an address only Prometheus reaches.
try:
    from bunws.metrics import metrics_view
except ImportError:
    pass
else:
    urlpatterns.insert(0, path("metrics", metrics_view, name="metrics"))
