"""URLs for the benchmark servers: a trivial Django view, and bunws's HTTP side when installed."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, include, path


def plain(request: HttpRequest) -> HttpResponse:
    """The cheapest Django view: the baseline for the failed-upgrade workload."""
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns: list[URLPattern | URLResolver] = [path("bench/plain/", plain)]
if "bunws" in settings.INSTALLED_APPS:
    # bunws answers plain GETs to a socket path with 426 and a log row.
    urlpatterns.append(path("", include("bunws.urls")))
    try:  # the metrics workload scrapes it; absent from a bunws without metrics
        from bunws.metrics import metrics_view
    except ImportError:
        pass
    else:
        urlpatterns.insert(0, path("metrics", metrics_view))
