"""daphne target ``benchmarks.asgi_bunws:application``: the bunws public API, full stack."""

from __future__ import annotations

from django.core.asgi import get_asgi_application

django_asgi = get_asgi_application()  # django.setup(); bunws then finds benchapp/sockets.py

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from bunws.asgi.routing import OriginCheck, websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi,
        "websocket": OriginCheck(AuthMiddlewareStack(URLRouter(websocket_urlpatterns()))),
    }
)
