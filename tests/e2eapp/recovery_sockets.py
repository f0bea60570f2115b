"""Endpoints for the recovery tests (docs/recovery.md): a room that records its topic, one
with a 2 s window (for "too late"), and one that needs a logged-in user."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse

import bunws
from bunws import Endpoint, ServerWebSocket


def room_fetch(request: HttpRequest, server: Endpoint) -> None:
    room = request.resolver_match.kwargs["room"] if request.resolver_match else "lobby"
    server.upgrade(request, data={"room": room, "name": request.GET.get("name", "anon")})


async def room_open(ws: ServerWebSocket) -> None:
    if not ws.recovered:
        ws.subscribe(ws.data["room"])
        ws.track(ws.data["room"], key=ws.data["name"])
    ws.send(json.dumps({"opened": ws.recovered, "gaps": list(ws.gaps)}))


async def room_message(ws: ServerWebSocket, message: str | bytes) -> None:
    """``pub <text>``, ``pubbin <text>`` (binary), ``data <json>``, ``state``."""
    command, _, argument = str(message).partition(" ")
    if command == "pub":
        ws.publish(ws.data["room"], argument)
    elif command == "pubbin":
        ws.publish(ws.data["room"], argument.encode())
    elif command == "data":
        ws.data = json.loads(argument)
    elif command == "state":
        state = {"data": ws.data, "subscriptions": ws.subscriptions, "recovered": ws.recovered}
        ws.send(json.dumps(state))


HANDLERS = {"open": room_open, "message": room_message}

bunws.serve(
    "t/recovery/<str:room>/",
    fetch=room_fetch,
    websocket=HANDLERS,
    name="t-recovery",
    recovery={"window": 30},
)
bunws.serve(
    "t/recovery-short/<str:room>/",
    fetch=room_fetch,
    websocket=HANDLERS,
    name="t-recovery-short",
    recovery={"window": 2},
)


async def member_fetch(request: HttpRequest, server: Endpoint) -> HttpResponse | None:
    user = await request.auser()
    if not user.is_authenticated:
        return HttpResponse("log in first", status=403)
    room = request.resolver_match.kwargs["room"] if request.resolver_match else "lobby"
    server.upgrade(request, data={"room": room, "name": user.get_username()})
    return None


bunws.serve(
    "t/recovery-members/<str:room>/",
    fetch=member_fetch,
    websocket=HANDLERS,
    name="t-recovery-members",
    recovery=True,
)
