"""WebSocket routing for Channels: the endpoints' routes, a logged 'no such endpoint' fallback,
and ``OriginCheck``, an origin check that logs what it refuses.

Wire them in ``asgi.py``::

    application = ProtocolTypeRouter({
        "http": django_asgi_app,
        "websocket": OriginCheck(AuthMiddlewareStack(URLRouter(websocket_urlpatterns()))),
    })
"""

from __future__ import annotations

from typing import Any, cast

from django.urls import URLPattern, path, re_path

from bunws.asgi.app import EndpointApp
from bunws.asgi.origin import ORIGIN_KEY, OriginDecision, origin_allowed, scope_origin
from bunws.asgi.refusal import record_refusal
from bunws.asgi.transport import RAW_SEND_KEY
from bunws.core.diagnosis import NO_SUCH_ENDPOINT, ORIGIN_NOT_ALLOWED
from bunws.endpoint import endpoints


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


class OriginCheck:
    """Refuse cross-site WebSocket handshakes, logging each refusal as a failed upgrade.

    The ``Origin`` must match the endpoint's ``allowed_origins`` (``bunws.serve(...,
    allowed_origins=[...])``), else ``BUNWS["ALLOWED_ORIGINS"]``, else ``ALLOWED_HOSTS``. A
    handshake without ``Origin`` is allowed by default (``ALLOW_MISSING_ORIGIN``): browsers
    always send one, so cross-site hijacking needs it, while scripts and apps often omit it.

    This check sits outside routing, so it cannot tell which endpoint a path reaches once the
    routes are mounted under a prefix or a ``root_path``. It decides the settings' policy and
    puts the decision in the scope (``bunws.asgi.origin``); the bunws endpoint that routing reaches
    decides with its own list. When the settings refuse the origin, any other application
    routing reaches (your own Channels consumers, the "no such endpoint" fallback) never sees
    the ``websocket.connect``: the handshake is refused and it gets a ``websocket.disconnect``.
    """

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            await self.application(scope, receive, send)
            return
        origin = scope_origin(scope)
        decision = OriginDecision(origin, origin_allowed(origin))
        scope = dict(scope)
        scope[RAW_SEND_KEY] = send
        scope[ORIGIN_KEY] = decision
        if not decision.allowed:
            receive = _guarded_receive(scope, decision, receive, send)
        await self.application(scope, receive, send)


def _guarded_receive(
    scope: dict[str, Any], decision: OriginDecision, receive: Any, send: Any
) -> Any:
    """``receive`` that refuses the handshake unless a bunws endpoint took the decision over."""
    first = True

    async def guarded() -> dict[str, Any]:
        nonlocal first
        if not first:
            return await receive()  # type: ignore[no-any-return]
        first = False
        event: dict[str, Any] = await receive()
        if event["type"] != "websocket.connect" or decision.endpoint is not None:
            return event
        await record_refusal(scope, ORIGIN_NOT_ALLOWED)
        await send({"type": "websocket.close", "code": 1000})
        return {"type": "websocket.disconnect", "code": 1006}  # RFC 6455 7.1.5: no close frame

    return guarded
