"""The demo's endpoints, discovered by bunws at startup."""

from __future__ import annotations

from django.http import HttpRequest

import bunws
from bunws import Endpoint, ServerWebSocket


async def echo_message(ws: ServerWebSocket, message: str | bytes) -> None:
    """Send every message back with its type kept (text stays text, binary stays binary)."""
    ws.send(message)


echo = bunws.serve("echo/", websocket={"message": echo_message}, name="echo")


def chat_fetch(request: HttpRequest, server: Endpoint) -> None:
    """Upgrade with the room and the user's name as ``ws.data``."""
    room = request.resolver_match.kwargs["room"] if request.resolver_match else "lobby"
    user = request.user.get_username() if request.user.is_authenticated else ""
    name = request.GET.get("name") or user or "anonymous"
    server.upgrade(request, data={"room": room, "name": name[:40]}, headers={"X-Chat-Room": room})


async def chat_open(ws: ServerWebSocket) -> None:
    ws.subscribe(ws.data["room"])
    ws.publish(ws.data["room"], f"* {ws.data['name']} joined")


async def chat_message(ws: ServerWebSocket, message: str | bytes) -> None:
    text = message if isinstance(message, str) else message.decode("utf-8", "replace")
    ws.publish(ws.data["room"], f"{ws.data['name']}: {text}")


def chat_close(ws: ServerWebSocket, code: int, reason: str) -> None:
    bunws.publish(ws.data["room"], f"* {ws.data['name']} left")


chat = bunws.serve(
    "chat/<str:room>/",
    fetch=chat_fetch,
    websocket={"open": chat_open, "message": chat_message, "close": chat_close},
    name="chat",
)
