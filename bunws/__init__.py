"""bunws: Bun-style WebSocket endpoints for Django, served by daphne under Channels routing.

Declare endpoints in any installed app's ``sockets.py``::

    import bunws

    async def message(ws, message):
        ws.send(message)

    echo = bunws.serve("echo/", websocket={"message": message})
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "BunwsError",
    "ConfigurationError",
    "Endpoint",
    "OriginCheck",
    "ServerWebSocket",
    "SocketStateError",
    "UnsupportedFeature",
    "apresence",
    "apublish",
    "presence",
    "publish",
    "serve",
    "subscriber_count",
    "websocket_urlpatterns",
]

# Lazy exports: ``bunws`` is imported while INSTALLED_APPS load, before settings and the app
# registry are usable, so nothing heavy is imported until a name is first used.
_EXPORTS = {
    "BunwsError": "bunws.exceptions",
    "ConfigurationError": "bunws.exceptions",
    "SocketStateError": "bunws.exceptions",
    "UnsupportedFeature": "bunws.exceptions",
    "Endpoint": "bunws.endpoint",
    "ServerWebSocket": "bunws.core.socket",
    "serve": "bunws.endpoint",
    "publish": "bunws.cluster.publish",
    "apublish": "bunws.cluster.publish",
    "subscriber_count": "bunws.cluster.counts",
    "presence": "bunws.cluster.presence_lists",
    "apresence": "bunws.cluster.presence_lists",
    "OriginCheck": "bunws.asgi.routing",
    "websocket_urlpatterns": "bunws.asgi.routing",
}

if TYPE_CHECKING:
    from bunws.asgi.routing import OriginCheck, websocket_urlpatterns
    from bunws.cluster.counts import cluster_subscriber_count as subscriber_count
    from bunws.cluster.presence_lists import apresence, presence
    from bunws.cluster.publish import apublish, publish
    from bunws.core.socket import ServerWebSocket
    from bunws.endpoint import Endpoint, serve
    from bunws.exceptions import (
        BunwsError,
        ConfigurationError,
        SocketStateError,
        UnsupportedFeature,
    )


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'bunws' has no attribute {name!r}")
    import importlib

    module = importlib.import_module(module_name)
    value = getattr(module, "cluster_subscriber_count" if name == "subscriber_count" else name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
