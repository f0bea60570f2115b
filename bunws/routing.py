"""WebSocket routing for Channels: the endpoints' routes, a logged 'no such endpoint' fallback,
and ``OriginCheck``, an origin check that logs what it refuses.

Wire them in ``asgi.py``::

    application = ProtocolTypeRouter({
        "http": django_asgi_app,
        "websocket": OriginCheck(AuthMiddlewareStack(URLRouter(websocket_urlpatterns()))),
    })
"""

from __future__ import annotations

import functools
from typing import Any, cast
from urllib.parse import urlparse

from channels.security.websocket import OriginValidator
from django.conf import settings
from django.urls import URLPattern, path, re_path

from bunws.conf import Config, get_config
from bunws.consumer import EndpointApp, record_refusal
from bunws.daphne_adapter import RAW_SEND_KEY
from bunws.diagnosis import NO_SUCH_ENDPOINT, ORIGIN_NOT_ALLOWED
from bunws.endpoint import Endpoint
from bunws.registry import endpoints


class NoSuchEndpoint:
    """Refuses (and logs) a handshake to a path no endpoint serves; daphne answers 403."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            raise ValueError(f"NoSuchEndpoint serves websocket scopes, got {scope['type']!r}.")
        event = await receive()
        if event["type"] != "websocket.connect":
            return
        await record_refusal(scope, NO_SUCH_ENDPOINT)
        await send({"type": "websocket.close", "code": 1000})


def websocket_urlpatterns(*, fallback: bool = True) -> list[URLPattern]:
    """Channels routes for every bunws endpoint, then (by default) the logged 404 fallback.

    Put your own Channels consumers' routes before these: the fallback matches every path.
    """
    # Channels' URLRouter takes ASGI apps where Django's path() expects views.
    routes = [
        path(ep.route, cast(Any, EndpointApp(ep)), name=f"bunws-{ep.name}") for ep in endpoints()
    ]
    if fallback:
        routes.append(re_path(r"", cast(Any, NoSuchEndpoint()), name="bunws-no-such-endpoint"))
    return routes


@functools.lru_cache(maxsize=8)
def _validator(config: Config, hosts: tuple[str, ...], debug: bool) -> OriginValidator:
    allowed: list[str]
    if config.allowed_origins is not None:
        allowed = list(config.allowed_origins)
    else:
        allowed = list(hosts)
        if debug and not allowed:  # Django's own default for DEBUG with empty ALLOWED_HOSTS
            allowed = ["localhost", "127.0.0.1", "[::1]"]
    return OriginValidator(None, allowed)


def origin_allowed(origin: str | None, allowed_origins: tuple[str, ...] | None = None) -> bool:
    """Whether a handshake with this ``Origin`` may proceed under the current settings."""
    config = get_config()
    if origin is None:
        return config.allow_missing_origin
    if allowed_origins is not None:
        config = Config(allowed_origins=allowed_origins)
    validator = _validator(config, tuple(settings.ALLOWED_HOSTS), bool(settings.DEBUG))
    parsed = urlparse(origin.lower())
    if not parsed.hostname:
        return False
    return bool(validator.valid_origin(parsed))


class OriginCheck:
    """Refuse cross-site WebSocket handshakes, logging each refusal as a failed upgrade.

    The ``Origin`` must match the endpoint's ``allowed_origins`` (``bunws.serve(...,
    allowed_origins=[...])``), else ``BUNWS["ALLOWED_ORIGINS"]``, else ``ALLOWED_HOSTS``. A
    handshake without ``Origin`` is allowed by default (``ALLOW_MISSING_ORIGIN``): browsers
    always send one, so cross-site hijacking needs it, while scripts and apps often omit it.
    """

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            await self.application(scope, receive, send)
            return
        scope = dict(scope)
        scope[RAW_SEND_KEY] = send
        origin = None
        for name, value in scope.get("headers", ()):
            if name == b"origin":
                origin = value.decode("latin-1")
                break
        endpoint = _endpoint_for(scope.get("path", ""))
        allowed = endpoint.allowed_origins if endpoint is not None else None
        if origin_allowed(origin, allowed):
            await self.application(scope, receive, send)
            return
        event = await receive()
        if event["type"] == "websocket.connect":
            name = endpoint.name if endpoint is not None else ""
            await record_refusal(scope, ORIGIN_NOT_ALLOWED, name)
            await send({"type": "websocket.close", "code": 1000})


@functools.lru_cache(maxsize=64)
def _pattern(route: str) -> Any:
    from django.urls.resolvers import RoutePattern

    return RoutePattern(route, is_endpoint=True)


def _endpoint_for(path_info: str) -> Endpoint | None:
    """The registered endpoint whose route matches ``path_info``, if any."""
    candidate = path_info.lstrip("/")
    for ep in endpoints():
        if _pattern(ep.route).match(candidate):
            return ep
    return None
