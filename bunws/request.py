"""Build the Django ``HttpRequest`` that ``fetch`` receives for a WebSocket handshake."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from django.core.handlers.asgi import ASGIRequest
from django.urls import ResolverMatch

from bunws.endpoint import Handshake

if TYPE_CHECKING:
    from bunws.endpoint import Endpoint

_SCHEMES = {"ws": "http", "wss": "https"}


def handshake_request(scope: dict[str, Any], endpoint: Endpoint) -> ASGIRequest:
    """A GET ``HttpRequest`` for the handshake with ``user``, ``session`` and ``resolver_match``."""
    http_scope = dict(scope, type="http", method="GET")
    http_scope["scheme"] = _SCHEMES.get(scope.get("scheme", "ws"), "http")
    request = ASGIRequest(http_scope, io.BytesIO())
    if "user" in scope:
        request.user = scope["user"]
    if "session" in scope:
        request.session = scope["session"]
    route = scope.get("url_route") or {}
    request.resolver_match = ResolverMatch(
        endpoint.fetch or _no_fetch,
        tuple(route.get("args", ())),
        dict(route.get("kwargs", {})),
        url_name=endpoint.name,
        route=endpoint.route,
    )
    request.bunws = Handshake(is_handshake=True)  # type: ignore[attr-defined]
    return request


def _no_fetch(request: Any, server: Any) -> None:
    """Stands in for a missing fetch in ``resolver_match.func``."""
