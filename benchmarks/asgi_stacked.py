"""daphne target ``benchmarks.asgi_stacked:application``: bare ASGI behind bunws's stack.

The same ``OriginCheck(AuthMiddlewareStack(URLRouter(...)))`` that bunws uses, with the bare
apps as the routes, so the cost of the stack can be told apart from the cost of bunws.
"""

from __future__ import annotations

from django.core.asgi import get_asgi_application

django_asgi = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from benchmarks.apps import bare_echo, bare_fanout  # noqa: E402
from bunws.asgi.routing import OriginCheck  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi,
        "websocket": OriginCheck(
            AuthMiddlewareStack(URLRouter([path("echo/", bare_echo), path("chat/", bare_fanout)]))
        ),
    }
)
