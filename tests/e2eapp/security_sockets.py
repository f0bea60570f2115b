"""Endpoints for the security and authentication tests: login-only endpoints with an async and a
sync ``fetch`` (the two styles docs/getting-started.md shows)."""

from __future__ import annotations

import json

from django.contrib.auth import SESSION_KEY
from django.http import HttpRequest, HttpResponse

import bunws
from bunws import Endpoint, ServerWebSocket


async def members_fetch(request: HttpRequest, server: Endpoint) -> HttpResponse | None:
    """Login-only, async: ``await request.auser()`` and the session's async methods."""
    user = await request.auser()
    if not user.is_authenticated:
        return HttpResponse("Log in to use this endpoint.", status=403)
    session_user = await request.session.aget(SESSION_KEY)
    server.upgrade(request, data={"user": user.get_username(), "session_user": session_user})
    return None


def members_sync_fetch(request: HttpRequest, server: Endpoint) -> HttpResponse | None:
    """Login-only, sync: ``request.user`` and ``request.session`` as in a sync view."""
    if not request.user.is_authenticated:
        return HttpResponse("Log in to use this endpoint.", status=403)
    session_user = request.session.get(SESSION_KEY)
    server.upgrade(
        request, data={"user": request.user.get_username(), "session_user": session_user}
    )
    return None


async def send_data(ws: ServerWebSocket, message: str | bytes) -> None:
    ws.send(json.dumps(ws.data))


bunws.serve("s/members/", fetch=members_fetch, websocket={"message": send_data}, name="s-members")
bunws.serve(
    "s/members-sync/",
    fetch=members_sync_fetch,
    websocket={"message": send_data},
    name="s-members-sync",
)


async def echo(ws: ServerWebSocket, message: str | bytes) -> None:
    ws.send(message)


bunws.serve(
    "s/strict/",
    websocket={"message": echo},
    allowed_origins=["https://good.example"],
    name="s-strict",
)
