"""Endpoints for the presence tests: track on open, report every diff, list on request."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest

import bunws
from bunws import Endpoint, ServerWebSocket


def presence_fetch(request: HttpRequest, server: Endpoint) -> None:
    """``?key=alice&device=web``: the socket's presence key and meta."""
    topic = request.resolver_match.kwargs["topic"] if request.resolver_match else "lobby"
    data = {
        "topic": topic,
        "key": request.GET.get("key", "anon"),
        "device": request.GET.get("device", "web"),
    }
    server.upgrade(request, data=data)


async def presence_open(ws: ServerWebSocket) -> None:
    ws.subscribe(ws.data["topic"])
    ref = ws.track(ws.data["topic"], key=ws.data["key"], meta={"device": ws.data["device"]})
    ws.send(json.dumps({"ref": ref}))


async def presence_message(ws: ServerWebSocket, message: str | bytes) -> None:
    """``list`` (async), ``slist`` (sync list), ``update <device>``, ``untrack``."""
    topic = ws.data["topic"]
    command, _, argument = str(message).partition(" ")
    if command == "list":
        ws.send(json.dumps({"list": await bunws.apresence(topic)}))
    elif command == "update":
        ws.update_presence(topic, meta={"device": argument})
    elif command == "untrack":
        ws.untrack(topic)


def sync_list(ws: ServerWebSocket, message: str | bytes) -> None:
    ws.send(json.dumps({"list": ws.endpoint.presence(ws.data["topic"])}))


def presence_diff(ws: ServerWebSocket, topic: str, diff: dict[str, Any]) -> None:
    ws.send(json.dumps({"diff": diff, "topic": topic}))


bunws.serve(
    "t/presence/<str:topic>/",
    fetch=presence_fetch,
    websocket={"open": presence_open, "message": presence_message, "presence": presence_diff},
    name="t-presence",
)
bunws.serve(
    "t/presence-sync/<str:topic>/",
    fetch=presence_fetch,
    websocket={"open": presence_open, "message": sync_list, "presence": presence_diff},
    name="t-presence-sync",
)
