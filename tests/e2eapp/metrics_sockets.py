"""An endpoint for the metrics tests: echoes, publishes, closes on request, refuses
``?refuse=1``."""

from __future__ import annotations

from django.http import HttpRequest

import bunws
from bunws import Endpoint, ServerWebSocket


def metered_fetch(request: HttpRequest, server: Endpoint) -> None:
    """Upgrades unless the query asks to be refused (a ``fetch_declined`` refusal)."""
    if request.GET.get("refuse") != "1":
        server.upgrade(request)


async def metered_open(ws: ServerWebSocket) -> None:
    ws.subscribe("t-metered-room")


async def metered_message(ws: ServerWebSocket, message: str | bytes) -> None:
    """Echo; ``close-4001`` closes with 4001; ``pub <text>`` publishes to the others."""
    if message == "close-4001":
        ws.close(4001, "asked to")
    elif isinstance(message, str) and message.startswith("pub "):
        ws.publish("t-metered-room", message[4:])
    else:
        ws.send(message)


metered = bunws.serve(
    "t/metered/",
    fetch=metered_fetch,
    websocket={"open": metered_open, "message": metered_message},
    name="t-metered",
)
