"""The demo's endpoints, discovered by bunws at startup."""

from __future__ import annotations

import json
import os
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
    if not ws.recovered:  # a resumed session (docs/recovery.md) kept its topic and presence
        ws.subscribe(ws.data["room"])
        ws.publish(ws.data["room"], f"* {ws.data['name']} joined")
        # Who is in the room: the list now, then batched diffs; one entry per tab.
        ws.track(ws.data["room"], key=ws.data["name"], meta={"since": int(time.time())})
    if not ws.protocol:  # a plain WebSocket; bunws.v1 clients get presence in the protocol
        ws.send(json.dumps({"presence_state": await bunws.apresence(ws.data["room"])}))


def chat_presence(ws: ServerWebSocket, topic: str, diff: dict[str, Any]) -> None:
    if not ws.protocol:
        ws.send(json.dumps({"presence_diff": diff}))


async def chat_message(ws: ServerWebSocket, message: str | bytes) -> None:
    text = message if isinstance(message, str) else message.decode("utf-8", "replace")
    ws.publish(ws.data["room"], f"{ws.data['name']}: {text}", compress=True)


def chat_close(ws: ServerWebSocket, code: int, reason: str) -> None:
    if code == 1000 or not ws.protocol:  # a bunws.v1 client that dropped may resume
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
    # bunws.v1 clients (the page's bunws/client.js) resume within the window and get what they
    # missed; the browser tests shorten it through the environment.
    recovery={"window": int(os.environ.get("BUNWS_DEMO_RECOVERY_WINDOW", "120"))},
)
