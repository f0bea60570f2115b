"""The process-wide set of endpoints and their discovery in installed apps' ``sockets`` modules."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from django.utils.module_loading import autodiscover_modules

from bunws.endpoint import Endpoint
from bunws.exceptions import ConfigurationError

_endpoints: dict[str, Endpoint] = {}


def serve(
    route: str,
    *,
    websocket: Mapping[str, Any],
    fetch: Callable[..., Any] | None = None,
    name: str | None = None,
    allowed_origins: Sequence[str] | None = None,
) -> Endpoint:
    """Declare a WebSocket endpoint at ``route`` (Django ``path()`` syntax) and register it.

    ``websocket`` mirrors Bun's handler object: ``open``, ``message``, ``close``, ``drain``,
    ``error`` and snake_case options. ``allowed_origins`` overrides the origin check for this
    endpoint. A mistake raises ``ImproperlyConfigured`` at startup.
    """
    endpoint = Endpoint(
        route, websocket=websocket, fetch=fetch, name=name, allowed_origins=allowed_origins
    )
    existing = _endpoints.get(endpoint.name)
    if existing is not None:
        raise ConfigurationError(
            f"two bunws endpoints are named {endpoint.name!r} (routes {existing.route!r} and "
            f"{endpoint.route!r}): pass a distinct name=... to bunws.serve()."
        )
    _endpoints[endpoint.name] = endpoint
    return endpoint


def endpoints() -> list[Endpoint]:
    """Every registered endpoint, in declaration order."""
    return list(_endpoints.values())


def get(name: str) -> Endpoint:
    """The endpoint called ``name``."""
    try:
        return _endpoints[name]
    except KeyError:
        raise LookupError(f"no bunws endpoint is named {name!r}") from None


def unregister(name: str) -> None:
    """Forget an endpoint (tests); routes already built keep serving it."""
    _endpoints.pop(name, None)


@contextmanager
def isolated() -> Iterator[None]:
    """Restore the registry on exit, so a test can declare endpoints freely."""
    saved = dict(_endpoints)
    try:
        yield
    finally:
        _endpoints.clear()
        _endpoints.update(saved)


def autodiscover() -> None:
    """Import ``<app>.sockets`` (setting ``SOCKETS_MODULE``) for every installed app."""
    from bunws.conf import get_config

    autodiscover_modules(get_config().sockets_module)
