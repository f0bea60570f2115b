"""The demo page at ``/``."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def index(request: HttpRequest) -> HttpResponse:
    """A page whose JavaScript talks to the echo and chat endpoints."""
    return render(request, "demo/index.html")
