"""Django system checks for bunws (ids ``bunws.E0xx`` errors, ``bunws.W0xx`` warnings).

Ids are stable: silence one with ``SILENCED_SYSTEM_CHECKS = ["bunws.W002"]``.

========== ==============================================================================
bunws.E001 ``daphne`` is not in ``INSTALLED_APPS``
bunws.E002 ``daphne`` comes after an app with its own ``runserver`` (``staticfiles``)
bunws.E003 ``ASGI_APPLICATION`` is not set
bunws.E004 ``ASGI_APPLICATION`` cannot be imported
bunws.E006 two endpoints serve the same route
bunws.W001 ``bunws.urls`` is not included, so plain requests get 404 instead of 426
bunws.W002 the in-memory channel layer with ``DEBUG = False``
bunws.W003 an endpoint's ``max_payload_length`` is 0: nothing bounds the size of a message
bunws.W004 autobahn runs without its compiled accelerators (NVX): large messages are ~20x slower
bunws.W005 ``ASGI_APPLICATION`` seems not to route WebSockets to bunws (was ``bunws.E005``)
========== ==============================================================================
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

from django.apps import AppConfig, apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.core.management import find_commands
from django.urls import get_resolver
from django.utils.module_loading import import_string

_IN_MEMORY_LAYER = "channels.layers.InMemoryChannelLayer"
_ASGI_EXAMPLE = (
    '"websocket": OriginCheck(AuthMiddlewareStack(URLRouter(websocket_urlpatterns())))'
    " with `from bunws import OriginCheck, websocket_urlpatterns`"
)


def _has_runserver(app_config: AppConfig) -> bool:
    """Whether an app ships its own ``runserver`` command (found as Django finds commands)."""
    return "runserver" in find_commands(os.path.join(app_config.path, "management"))


@register(Tags.compatibility)
def check_daphne_first(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """daphne's ``runserver`` must be the one in effect, so ``runserver`` serves WebSockets.

    Django takes a command from the first installed app that has it, so daphne must come before
    every other app with a ``runserver`` (``django.contrib.staticfiles``), which is what daphne's
    own check (``daphne.E001``) asks; its place among the other apps does not matter.
    """
    if not apps.is_installed("daphne"):
        return [
            Error(
                "'daphne' is not in INSTALLED_APPS, so runserver cannot serve WebSockets.",
                hint="Add 'daphne' as the first entry of INSTALLED_APPS.",
                id="bunws.E001",
            )
        ]
    for app_config in apps.get_app_configs():
        if app_config.name == "daphne":
            return []
        if _has_runserver(app_config):
            return [
                Error(
                    f"'daphne' is in INSTALLED_APPS after {app_config.name!r}, whose own "
                    "runserver command then shadows daphne's: runserver serves plain HTTP and "
                    "refuses every WebSocket handshake.",
                    hint=f"Move 'daphne' before {app_config.name!r} in INSTALLED_APPS (first "
                    "is simplest).",
                    id="bunws.E002",
                )
            ]
    return []


def _attribute(app: Any, name: str) -> Any:
    """``getattr(app, name, None)`` that survives a property raising: the walk only guesses."""
    try:
        return getattr(app, name, None)
    except Exception:
        return None


def _children(app: Any) -> Iterator[Any]:
    """The applications one layer inside ``app`` (routers, middleware, validators)."""
    mapping = _attribute(app, "application_mapping")  # ProtocolTypeRouter
    if isinstance(mapping, dict):
        yield mapping.get("websocket")
        return
    for attribute in ("inner", "application", "app"):  # middleware and validators
        inner = _attribute(app, attribute)
        if inner is not None and inner is not app:
            yield inner
    routes = _attribute(app, "routes")  # URLRouter
    for route in routes if isinstance(routes, list | tuple) else ():
        yield _attribute(route, "callback")
        patterns = _attribute(route, "url_patterns")  # include()d resolvers
        yield from patterns if isinstance(patterns, list | tuple) else ()
    callback = _attribute(app, "callback")  # a URLPattern inside a resolver
    if callback is not None:
        yield callback


def reaches_bunws(application: Any, depth: int = 12) -> bool:
    """Whether a WebSocket scope given to ``application`` can reach a bunws route."""
    from bunws.asgi.app import EndpointApp
    from bunws.asgi.routing import NoSuchEndpoint

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
    # A guess from the application's inner structure, so a Warning: an Error here would stop
    # every manage.py command of a project whose middleware keeps its inner app elsewhere.
    # Formerly bunws.E005; that id still silences it.
    if "bunws.E005" in settings.SILENCED_SYSTEM_CHECKS or reaches_bunws(application):
        return []
    return [
        Warning(
            f"ASGI_APPLICATION {path!r} does not route WebSocket connections to bunws, so "
            "handshakes to bunws endpoints never reach them.",
            hint=f"Wrap it in channels.routing.ProtocolTypeRouter with {_ASGI_EXAMPLE}. This "
            "check looks through ProtocolTypeRouter, URLRouter and middleware that keep the "
            "application they wrap as .inner, .application or .app; if yours keeps it under "
            "another name and handshakes do reach bunws (manage.py bunws_probe URL), "
            "silence bunws.W005.",
            id="bunws.W005",
        )
    ]


@register(Tags.urls)
def check_routes(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """No two endpoints on one route; ``bunws.urls`` included so plain HTTP gets the 426."""
    from bunws.endpoint import endpoints

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
    from bunws.cluster.layer import layer_settings

    layer = layer_settings()
    if layer.entry is not None and layer.backend != _IN_MEMORY_LAYER:
        return []
    what = (
        "no channel layer is configured"
        if layer.entry is None
        else "the channel layer is in-memory"
    )
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
def check_unbounded_payload_length(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """``max_payload_length=0`` leaves one message's size, and so its memory, unbounded.

    On daphne the endpoint's limit replaces daphne's ``--websocket-max-message-size`` for its
    sockets, so a limit above daphne's is fine; 0 means no limit there either.
    """
    from bunws.endpoint import endpoints

    return [
        Warning(
            f"endpoint {endpoint.name!r} sets max_payload_length to 0 (no limit): a client can "
            "make this process hold a message of any size in memory; daphne's "
            "--websocket-max-message-size does not apply to bunws sockets.",
            hint="Set a finite max_payload_length (Bun's default, 16 MiB, if you leave it "
            "out), or silence bunws.W003 if every client of this endpoint is trusted.",
            obj=endpoint.name,
            id="bunws.W003",
        )
        for endpoint in endpoints()
        if endpoint.config.max_payload_length == 0
    ]


@register(Tags.compatibility)
def check_autobahn_accelerators(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """autobahn unmasks and validates frames in pure Python when its CFFI module is missing."""
    from bunws.daphne.stack import autobahn_nvx

    in_use, built = autobahn_nvx()
    if in_use:
        return []
    why = "AUTOBAHN_USE_NVX turns them off" if built else "they did not build on this machine"
    return [
        Warning(
            f"autobahn is not using its NVX accelerators ({why}): daphne then unmasks and "
            "UTF-8-checks every incoming frame in pure Python, about 20x slower at 16 KiB.",
            hint="Unset AUTOBAHN_USE_NVX, or reinstall autobahn where cffi and a C compiler are "
            "available (pip install --force-reinstall --no-binary autobahn autobahn).",
            id="bunws.W004",
        )
    ]
