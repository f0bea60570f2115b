"""Build the Django ``HttpRequest`` that ``fetch`` receives for a WebSocket handshake."""

from __future__ import annotations

import functools
import io
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.contrib.auth import aget_user, get_user
from django.core.handlers.asgi import ASGIRequest
from django.urls import ResolverMatch
from django.utils.functional import LazyObject, SimpleLazyObject, empty

from bunws.core.handshake import offered_subprotocols
from bunws.endpoint import Handshake

if TYPE_CHECKING:
    from bunws.endpoint import Endpoint

_SCHEMES = {"ws": "http", "wss": "https"}


def handshake_request(scope: dict[str, Any], endpoint: Endpoint) -> ASGIRequest:
    """A GET ``HttpRequest`` for the handshake with ``user``, ``session`` and ``resolver_match``."""
    http_scope = dict(scope, type="http", method="GET")
    http_scope["scheme"] = _SCHEMES.get(scope.get("scheme", "ws"), "http")
    request = ASGIRequest(http_scope, io.BytesIO())
    if "session" in scope:
        request.session = scope["session"]
    if "user" in scope:
        request.user = scope["user"]
    elif "session" in scope:  # a session without Channels' AuthMiddleware: resolve lazily
        request.user = SimpleLazyObject(lambda: get_user(request))  # type: ignore[assignment]
    request.auser = functools.partial(_auser, request, scope)
    route = scope.get("url_route") or {}
    request.resolver_match = ResolverMatch(
        endpoint.fetch or _no_fetch,
        tuple(route.get("args", ())),
        dict(route.get("kwargs", {})),
        url_name=endpoint.name,
        route=endpoint.route,
    )
    offered = offered_subprotocols(scope)  # what upgrade() may select from
    request.bunws = Handshake(is_handshake=True, offered=offered)  # type: ignore[attr-defined]
    return request


async def _auser(request: ASGIRequest, scope: dict[str, Any]) -> Any:
    """``await request.auser()`` as Django's ``AuthenticationMiddleware`` gives an async view.

    Channels' ``AuthMiddleware`` has already loaded ``scope["user"]`` (off the event loop)
    before routing reached the endpoint, so this returns it without a query; with a session
    but no ``AuthMiddleware`` it loads the user through the session's async methods, as
    Django does; with neither, the user is anonymous.
    """
    cached = getattr(request, "_acached_user", None)
    if cached is not None:
        return cached
    user = scope.get("user")
    if user is None and "session" in scope:
        user = await aget_user(request)
    elif user is None:
        from django.contrib.auth.models import AnonymousUser  # needs the app registry

        user = AnonymousUser()
    elif isinstance(user, LazyObject) and user._wrapped is empty:
        await sync_to_async(user._setup)()  # a lazy user nobody resolved: off the loop
    request._acached_user = user  # type: ignore[attr-defined]
    return user


def _no_fetch(request: Any, server: Any) -> None:
    """Stands in for a missing fetch in ``resolver_match.func``."""
