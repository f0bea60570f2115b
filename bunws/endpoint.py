"""``Endpoint``: one declared WebSocket route, its handlers, and the ``server`` passed to fetch;
``serve()``, which declares one, and the process-wide registry of endpoints that routing reads."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from channels.db import DatabaseSyncToAsync
from django.core.exceptions import ImproperlyConfigured
from django.urls.resolvers import RoutePattern
from django.utils.module_loading import autodiscover_modules

from bunws.core.envelope import SUBPROTOCOL
from bunws.core.handshake import check_subprotocols, normalize_headers, take_subprotocol
from bunws.core.options import (
    HANDLER_PARAMS,
    MappingError,
    SocketConfig,
    UnsupportedOption,
    compile_mapping,
)
from bunws.core.recovery import RecoveryConfig, parse_recovery
from bunws.exceptions import ConfigurationError, SocketStateError, UnsupportedFeature

if TYPE_CHECKING:
    from django.http import HttpRequest

    from bunws.core.socket import ServerWebSocket
    from bunws.core.transport import Transport

Handler = Callable[..., Any]


@dataclass
class Handshake:
    """What ``fetch`` decided for one request; stored on the request as ``request.bunws``."""

    is_handshake: bool
    upgraded: bool = False
    data: Any = None
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    offered: tuple[str, ...] = ()  # the client's subprotocols, in its order
    subprotocol: str | None = None  # the one fetch selected (upgrade's headers)


def default_name(route: str) -> str:
    """A readable endpoint name from a route: ``"chat/<str:room>/"`` -> ``"chat"``."""
    name = re.sub(r"<[^>]*>", "", route).strip("/")
    name = re.sub(r"/+", "-", name)
    return name or "root"


def _as_async(handler: Handler) -> Handler:
    """Async handlers run as they are; sync ones in a worker thread (they may use the ORM).

    Like Channels' ``database_sync_to_async``, each sync call closes the thread's unusable or
    expired database connections before and after it, so a worker thread does not keep a
    connection the database has dropped (a restart, a failover) or one past ``CONN_MAX_AGE``.
    """
    if inspect.iscoroutinefunction(handler):
        return handler
    # thread_sensitive=False: a slow sync handler blocks only its own socket, not all of them.
    sync_handler: Handler = DatabaseSyncToAsync(handler, thread_sensitive=False)
    return sync_handler


def _check_route(route: object) -> str:
    if not isinstance(route, str):
        raise ConfigurationError(
            f"bunws.serve() route must be a Django path() string such as 'chat/<str:room>/', "
            f"got {route!r}."
        )
    if route.startswith("/"):
        raise ConfigurationError(
            f"bunws.serve() route {route!r} starts with '/': Django routes have no leading "
            f"slash; use {route.lstrip('/')!r}."
        )
    try:
        _ = RoutePattern(route).regex
    except ImproperlyConfigured as exc:
        raise ConfigurationError(f"bunws.serve() route {route!r} is invalid: {exc}") from None
    return route


def _compile(name: str, websocket: object) -> SocketConfig:
    """The core's ``compile_mapping``, its errors raised as the Django-facing ones (same text)."""
    try:
        return compile_mapping(name, websocket)
    except UnsupportedOption as exc:
        raise UnsupportedFeature(str(exc)) from None
    except MappingError as exc:
        raise ConfigurationError(str(exc)) from None


class Endpoint:
    """A WebSocket endpoint declared with ``bunws.serve()``; also the ``server`` given to fetch."""

    def __init__(
        self,
        route: str,
        *,
        websocket: Mapping[str, Any],
        fetch: Handler | None = None,
        name: str | None = None,
        allowed_origins: Sequence[str] | None = None,
        subprotocols: Sequence[str] | None = None,
        recovery: Mapping[str, Any] | bool | None = None,
    ) -> None:
        self.route = _check_route(route)
        if name is not None and (not isinstance(name, str) or not name):
            raise ConfigurationError(f"bunws.serve() name must be a non-empty str, got {name!r}.")
        self.name = name or default_name(route)
        self.config: SocketConfig = _compile(self.name, websocket)
        if fetch is not None and not callable(fetch):
            raise ConfigurationError(
                f"bunws.serve() fetch of endpoint {self.name!r} must be a function "
                f"`def fetch(request, server)`, got {fetch!r}."
            )
        if fetch is not None:
            try:
                inspect.signature(fetch).bind("request", "server")
            except TypeError:
                raise ConfigurationError(
                    f"bunws.serve() fetch of endpoint {self.name!r} must accept "
                    f"(request, server), got {inspect.signature(fetch)}."
                ) from None
        self.fetch = fetch
        if allowed_origins is not None and (
            isinstance(allowed_origins, str) or not all(isinstance(o, str) for o in allowed_origins)
        ):
            raise ConfigurationError(
                f"bunws.serve() allowed_origins of endpoint {self.name!r} must be a list of "
                f"origins or host patterns such as ['https://example.com', '.example.com'], "
                f"got {allowed_origins!r}."
            )
        #: Origins allowed for this endpoint; None uses BUNWS["ALLOWED_ORIGINS"]/ALLOWED_HOSTS.
        self.allowed_origins: tuple[str, ...] | None = (
            None if allowed_origins is None else tuple(allowed_origins)
        )
        try:  # when fetch selects none, the first of these the client offers (server's order)
            self.subprotocols: tuple[str, ...] = check_subprotocols(self.name, subprotocols)
            #: ``recovery=`` (docs/recovery.md): sessions and replay for ``bunws.v1`` clients.
            self.recovery: RecoveryConfig | None = parse_recovery(self.name, recovery)
        except MappingError as exc:
            raise ConfigurationError(str(exc)) from None
        if self.recovery is not None:
            from bunws.cluster.recovery import declare

            declare(self.recovery)
            if SUBPROTOCOL not in self.subprotocols:
                self.subprotocols = (*self.subprotocols, SUBPROTOCOL)
        #: This process's open sockets of the endpoint, each with its connection's transport.
        self.sockets: dict[ServerWebSocket, Transport] = {}
        self.handlers: dict[str, Handler] = {
            key: _as_async(getattr(self.config, key))
            for key in HANDLER_PARAMS
            if getattr(self.config, key) is not None
        }

    def __repr__(self) -> str:
        return f"<Endpoint {self.name!r} route={self.route!r}>"

    def upgrade(
        self,
        request: HttpRequest,
        data: Any = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    ) -> bool:
        """Accept this request's WebSocket handshake; True only for a genuine handshake.

        ``data`` becomes ``ws.data`` (default: a new empty dict) and ``headers`` are added to
        the 101 response; a ``Sec-WebSocket-Protocol`` header selects the subprotocol, which
        must be one the client offered (else ValueError). On plain HTTP it returns False and
        bunws answers 426.
        """
        state: Handshake | None = getattr(request, "bunws", None)
        if state is None or not state.is_handshake:
            return False
        if state.upgraded:
            raise SocketStateError(
                f"upgrade() was called twice for the same request to endpoint {self.name!r}."
            )
        state.headers, state.subprotocol = take_subprotocol(
            normalize_headers(headers), state.offered
        )
        state.data = {} if data is None else data
        state.upgraded = True
        return True

    def publish(
        self, topic: str, data: str | bytes | bytearray | memoryview, compress: bool = False
    ) -> int:
        """Publish to every subscriber of ``topic``, in every process the layer reaches;
        Bun's ``server.publish`` (return value and ``compress``: see ``bunws.publish``)."""
        from bunws.cluster.publish import publish

        return publish(topic, data, compress)

    def subscriber_count(self, topic: str) -> int:
        """Subscribers of ``topic`` (all endpoints share topics); see ``bunws.cluster.counts``."""
        from bunws.cluster.counts import cluster_subscriber_count

        return cluster_subscriber_count(topic)

    def presence(self, topic: str) -> dict[str, list[dict[str, Any]]]:
        """Who is on ``topic``, in every process (``bunws.presence``; see docs/presence.md)."""
        from bunws.cluster.presence_lists import presence

        return presence(topic)

    @property
    def pending_websockets(self) -> int:
        """Open sockets of this endpoint in this process."""
        return len(self.sockets)


_endpoints: dict[str, Endpoint] = {}


def serve(
    route: str,
    *,
    websocket: Mapping[str, Any],
    fetch: Callable[..., Any] | None = None,
    name: str | None = None,
    allowed_origins: Sequence[str] | None = None,
    subprotocols: Sequence[str] | None = None,
    recovery: Mapping[str, Any] | bool | None = None,
) -> Endpoint:
    """Declare a WebSocket endpoint at ``route`` (Django ``path()`` syntax) and register it.

    ``websocket`` mirrors Bun's handler object: ``open``, ``message``, ``close``, ``drain``,
    ``error`` and snake_case options. ``allowed_origins`` overrides the origin check for this
    endpoint; ``subprotocols`` (in order of preference) are selected when the client offers
    one and fetch selected none; ``recovery`` lets ``bunws.v1`` clients resume their session
    and get what they missed (docs/recovery.md). A mistake raises ``ImproperlyConfigured`` at startup.
    """
    endpoint = Endpoint(
        route,
        websocket=websocket,
        fetch=fetch,
        name=name,
        allowed_origins=allowed_origins,
        subprotocols=subprotocols,
        recovery=recovery,
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
