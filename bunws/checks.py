"""Django system checks for bunws (ids ``bunws.E0xx`` errors, ``bunws.W0xx`` warnings).

Ids are stable: silence one with ``SILENCED_SYSTEM_CHECKS = ["bunws.W002"]``.

========== ==============================================================================
bunws.E001 ``daphne`` is not in ``INSTALLED_APPS``
bunws.E002 ``daphne`` is in ``INSTALLED_APPS`` but not first
bunws.E003 ``ASGI_APPLICATION`` is not set
bunws.E004 ``ASGI_APPLICATION`` cannot be imported
bunws.E005 ``ASGI_APPLICATION`` does not route WebSockets to bunws
bunws.E006 two endpoints serve the same route
bunws.W001 ``bunws.urls`` is not included, so plain requests get 404 instead of 426
bunws.W002 the in-memory channel layer with ``DEBUG = False``
bunws.W003 an endpoint's ``max_payload_length`` is above daphne's own message size limit
bunws.W004 autobahn runs without its compiled accelerators (NVX): large messages are ~20x slower
========== ==============================================================================
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.urls import get_resolver
from django.utils.module_loading import import_string

#: daphne's default ``--websocket-max-message-size`` (and runserver's, unless
#: ``DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE`` is set).
DAPHNE_MAX_MESSAGE_SIZE = 1024 * 1024

_IN_MEMORY_LAYER = "channels.layers.InMemoryChannelLayer"
_ASGI_EXAMPLE = (
    '"websocket": OriginCheck(AuthMiddlewareStack(URLRouter(websocket_urlpatterns())))'
    " with `from bunws import OriginCheck, websocket_urlpatterns`"
)


@register(Tags.compatibility)
def check_daphne_first(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """daphne must be installed and listed first so ``runserver`` serves WebSockets."""
    apps = list(settings.INSTALLED_APPS)
    if "daphne" not in apps:
        return [
            Error(
                "'daphne' is not in INSTALLED_APPS, so runserver cannot serve WebSockets.",
                hint="Add 'daphne' as the first entry of INSTALLED_APPS.",
                id="bunws.E001",
            )
        ]
    if apps[0] != "daphne":
        return [
            Error(
                f"'daphne' is in INSTALLED_APPS at position {apps.index('daphne') + 1}, not first: "
                "Django's own runserver would shadow daphne's and refuse WebSockets.",
                hint="Move 'daphne' to the top of INSTALLED_APPS.",
                id="bunws.E002",
            )
        ]
    return []


def _children(app: Any) -> Iterator[Any]:
    """The applications one layer inside ``app`` (routers, middleware, validators)."""
    mapping = getattr(app, "application_mapping", None)  # ProtocolTypeRouter
    if isinstance(mapping, dict):
        yield mapping.get("websocket")
        return
    for attribute in ("inner", "application", "app"):  # middleware and validators
        inner = getattr(app, attribute, None)
        if inner is not None and inner is not app:
            yield inner
    for route in getattr(app, "routes", None) or ():  # URLRouter
        yield getattr(route, "callback", None)
        yield from getattr(route, "url_patterns", ())  # include()d resolvers
    callback = getattr(app, "callback", None)  # a URLPattern inside a resolver
    if callback is not None:
        yield callback


def reaches_bunws(application: Any, depth: int = 12) -> bool:
    """Whether a WebSocket scope given to ``application`` can reach a bunws route."""
    from bunws.consumer import EndpointApp
    from bunws.routing import NoSuchEndpoint

    seen: set[int] = set()
    frontier = [application]
    for _ in range(depth):  # bounded: middleware stacks are a few layers deep
        following: list[Any] = []
        for app in frontier:
            if app is None or id(app) in seen:
                continue
            seen.add(id(app))
            if isinstance(app, EndpointApp | NoSuchEndpoint):
                return True
            following.extend(_children(app))
        if not following:
            return False
        frontier = following
    return False


@register(Tags.compatibility)
def check_asgi_application(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """``ASGI_APPLICATION`` must exist and send WebSocket scopes through bunws's routes."""
    path = getattr(settings, "ASGI_APPLICATION", None)
    if not path:
        return [
            Error(
                "ASGI_APPLICATION is not set, so daphne and runserver serve Django's plain HTTP "
                "application and every WebSocket handshake is refused.",
                hint="Set ASGI_APPLICATION = 'yourproject.asgi.application' and in asgi.py route "
                f"{_ASGI_EXAMPLE}.",
                id="bunws.E003",
            )
        ]
    try:
        application = import_string(path)
    except Exception as exc:
        return [
            Error(
                f"ASGI_APPLICATION {path!r} cannot be imported: {type(exc).__name__}: {exc}",
                hint="Fix the dotted path or the import error in that module.",
                id="bunws.E004",
            )
        ]
    if not reaches_bunws(application):
        return [
            Error(
                f"ASGI_APPLICATION {path!r} does not route WebSocket connections to bunws, so "
                "handshakes to bunws endpoints never reach them.",
                hint=f"Wrap it in channels.routing.ProtocolTypeRouter with {_ASGI_EXAMPLE}.",
                id="bunws.E005",
            )
        ]
    return []


@register(Tags.urls)
def check_routes(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """No two endpoints on one route; ``bunws.urls`` included so plain HTTP gets the 426."""
    from bunws.registry import endpoints

    messages: list[CheckMessage] = []
    by_route: dict[str, str] = {}
    for endpoint in endpoints():
        other = by_route.setdefault(endpoint.route, endpoint.name)
        if other != endpoint.name:
            messages.append(
                Error(
                    f"bunws endpoints {other!r} and {endpoint.name!r} are both declared on route "
                    f"{endpoint.route!r}; only the first one is ever reached.",
                    hint=f"Give endpoint {endpoint.name!r} a different route in bunws.serve().",
                    obj=endpoint.name,
                    id="bunws.E006",
                )
            )
    if endpoints() and "bunws" not in get_resolver().namespace_dict:
        messages.append(
            Warning(
                "bunws.urls is not included in ROOT_URLCONF, so a plain HTTP request to a "
                "WebSocket endpoint (such as fetch()) gets 404 instead of 426 Upgrade Required "
                "with a diagnosis, and is not logged as a failed upgrade.",
                hint="Add path('', include('bunws.urls')) to your urlpatterns.",
                id="bunws.W001",
            )
        )
    return messages


@register(Tags.compatibility)
def check_channel_layer(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Outside DEBUG, the in-memory layer keeps publishes inside one process."""
    if settings.DEBUG:
        return []
    layers = getattr(settings, "CHANNEL_LAYERS", None) or {}
    from bunws.conf import get_config

    layer = layers.get(get_config().channel_layer)
    if layer is not None and layer.get("BACKEND") != _IN_MEMORY_LAYER:
        return []
    what = "no channel layer is configured" if layer is None else "the channel layer is in-memory"
    return [
        Warning(
            f"DEBUG is False and {what}: if you run more than one daphne process, a publish "
            "reaches only the subscribers in the process that made it.",
            hint="Configure channels_redis (the demo project reads BUNWS_REDIS_URL), or "
            "silence bunws.W002 if you run exactly one process.",
            id="bunws.W002",
        )
    ]


@register(Tags.compatibility)
def check_options_daphne_overrides(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """An endpoint payload limit above daphne's own is never reached: daphne closes first."""
    from bunws.options import OPTION_DEFAULTS
    from bunws.registry import endpoints

    daphne_limit = int(getattr(settings, "DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE", 0) or 0)
    daphne_limit = daphne_limit or DAPHNE_MAX_MESSAGE_SIZE
    messages: list[CheckMessage] = []
    for endpoint in endpoints():
        limit = endpoint.config.max_payload_length
        explicit = limit != OPTION_DEFAULTS["max_payload_length"]
        if explicit and (limit == 0 or limit > daphne_limit):
            shown = "unlimited (0)" if limit == 0 else f"{limit} bytes"
            messages.append(
                Warning(
                    f"endpoint {endpoint.name!r} sets max_payload_length to {shown}, but daphne "
                    f"closes the connection (1009) on any message above {daphne_limit} bytes "
                    "before bunws sees it.",
                    hint="Raise daphne's limit too: `daphne --websocket-max-message-size N "
                    "--websocket-max-frame-size N`, and for runserver "
                    "DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE / DAPHNE_WEBSOCKET_MAX_FRAME_SIZE.",
                    obj=endpoint.name,
                    id="bunws.W003",
                )
            )
    return messages


@register(Tags.compatibility)
def check_autobahn_accelerators(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """autobahn unmasks and validates frames in pure Python when its CFFI module is missing."""
    import autobahn.websocket

    if getattr(autobahn.websocket, "USES_NVX", True):
        return []
    why = (
        "AUTOBAHN_USE_NVX turns them off"
        if getattr(autobahn.websocket, "HAS_NVX", False)
        else "they did not build on this machine"
    )
    return [
        Warning(
            f"autobahn is not using its NVX accelerators ({why}): daphne then unmasks and "
            "UTF-8-checks every incoming frame in pure Python, about 20x slower at 16 KiB.",
            hint="Unset AUTOBAHN_USE_NVX, or reinstall autobahn where cffi and a C compiler are "
            "available (pip install --force-reinstall --no-binary autobahn autobahn).",
            id="bunws.W004",
        )
    ]
