"""A test-only ASGI application: bunws's routes mounted under ``ws/``, beside a plain Channels
consumer at ``plain/``, all behind ``OriginCheck`` (``tests/e2e/test_origin_prefix.py``)."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from bunws import OriginCheck, websocket_urlpatterns  # noqa: E402


class PlainConsumer(AsyncWebsocketConsumer):
    """A Channels consumer that is not a bunws endpoint: accepts and echoes."""

    async def connect(self) -> None:
        await self.accept()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.send(text_data=text_data, bytes_data=bytes_data)


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": OriginCheck(
            AuthMiddlewareStack(
                URLRouter(
                    [
                        path("plain/", PlainConsumer.as_asgi()),
                        path("ws/", URLRouter(websocket_urlpatterns())),
                    ]
                )
            )
        ),
    }
)
