"""ASGI entry point: ``daphne project.asgi:application``.

Django serves HTTP (including each endpoint's 426 answer); WebSockets go through bunws's
origin check, Channels' session/auth middleware and the endpoints' routes.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
# First: sets Django up, which discovers every app's sockets.py.
django_asgi_app = get_asgi_application()
if settings.DEBUG:
    # daphne serves no static files; in the demo, Django does (the admin's CSS and JS).
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    django_asgi_app = ASGIStaticFilesHandler(django_asgi_app)

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from bunws import OriginCheck, websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": OriginCheck(AuthMiddlewareStack(URLRouter(websocket_urlpatterns()))),
    }
)
