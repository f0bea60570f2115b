"""Endpoints the ``bunws_probe`` tests drive through a real daphne (tests/e2e/test_probe_diagnosis.py).

A greeting on open (so ``--send`` must not mistake it for the reply), a fetch that answers plain
requests with its own 403, and an endpoint that allows one origin only.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

import bunws
from bunws import Endpoint, ServerWebSocket

GREETING = "welcome to t/probe/greet/"


async def greet_open(ws: ServerWebSocket) -> None:
    ws.send(GREETING)


async def greet_message(ws: ServerWebSocket, message: str | bytes) -> None:
    ws.send(f"echo: {message!s}")


bunws.serve(
    "t/probe/greet/",
    websocket={"open": greet_open, "message": greet_message},
    name="t-probe-greet",
)


def members_fetch(request: HttpRequest, server: Endpoint) -> HttpResponse | None:
    """Upgrades handshakes; answers a plain request itself with 403, as a login-only page would."""
    if server.upgrade(request):
        return None
    return HttpResponse("members only", status=403)


async def echo(ws: ServerWebSocket, message: str | bytes) -> None:
    ws.send(message)


bunws.serve(
    "t/probe/members/",
    fetch=members_fetch,
    websocket={"message": echo},
    name="t-probe-members",
)
bunws.serve(
    "t/probe/strict/",
    websocket={"message": echo},
    name="t-probe-strict",
    allowed_origins=["https://good.example"],
)
