"""daphne target ``benchmarks.asgi_channels:application``: Channels consumers."""

from __future__ import annotations

from django.core.asgi import get_asgi_application

django_asgi = get_asgi_application()  # runs django.setup() before any consumer import

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from benchmarks.apps import ChatConsumer, EchoConsumer  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi,
        "websocket": URLRouter(
            [path("echo/", EchoConsumer.as_asgi()), path("chat/", ChatConsumer.as_asgi())]
        ),
    }
)
