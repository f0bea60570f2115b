"""Endpoints the failed-upgrade tests drive through a real daphne (a fetch that answers itself)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseForbidden

import bunws
from bunws import Endpoint, ServerWebSocket


def members_fetch(request: HttpRequest, server: Endpoint) -> HttpResponse | None:
    """Login-only: an anonymous request gets fetch's own 403, a member's handshake is upgraded."""
    if not request.user.is_authenticated:
        return HttpResponseForbidden("members only")
    server.upgrade(request)
    return None


async def members_message(ws: ServerWebSocket, message: str | bytes) -> None:
    ws.send(message)


def page_fetch(request: HttpRequest, server: Endpoint) -> HttpResponse | None:
    """Bun's usual shape: one URL upgrades a handshake and serves a page to a plain request."""
    if server.upgrade(request):
        return None
    return HttpResponse("the lobby page")


bunws.serve("t/page/", fetch=page_fetch, websocket={"message": members_message}, name="t-page")

bunws.serve(
    "t/members/<str:room>/",
    fetch=members_fetch,
    websocket={"message": members_message},
    name="t-members",
)
