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
