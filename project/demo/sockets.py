"""The demo's endpoints, discovered by bunws at startup."""

from __future__ import annotations

import json
import time
from typing import Any

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
    # Who is in the room: the list now, then batched diffs (chat_presence); one entry per tab.
    ws.track(ws.data["room"], key=ws.data["name"], meta={"since": int(time.time())})
    ws.send(json.dumps({"presence_state": await bunws.apresence(ws.data["room"])}))


def chat_presence(ws: ServerWebSocket, topic: str, diff: dict[str, Any]) -> None:
    ws.send(json.dumps({"presence_diff": diff}))


async def chat_message(ws: ServerWebSocket, message: str | bytes) -> None:
    text = message if isinstance(message, str) else message.decode("utf-8", "replace")
    ws.publish(ws.data["room"], f"{ws.data['name']}: {text}", compress=True)


def chat_close(ws: ServerWebSocket, code: int, reason: str) -> None:
    bunws.publish(ws.data["room"], f"* {ws.data['name']} left")


chat = bunws.serve(
    "chat/<str:room>/",
    fetch=chat_fetch,
    websocket={
        "open": chat_open,
        "message": chat_message,
        "close": chat_close,
        "presence": chat_presence,
        # Negotiated with browsers that offer it (all do); messages published with
        # compress=True are deflated once per publish for every such subscriber.
        "per_message_deflate": True,
    },
    name="chat",
)
