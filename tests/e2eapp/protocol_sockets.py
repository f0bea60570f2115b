"""Endpoints the protocol-fix tests drive through a real daphne: fragmented text, the endpoint's
payload limit in place of daphne's, and repeated upgrade headers."""

from __future__ import annotations

from django.http import HttpRequest

import bunws
from bunws import Endpoint, ServerWebSocket


async def measure(ws: ServerWebSocket, message: str | bytes) -> None:
    ws.send(f"len={len(message)}")


bunws.serve(
    "t/proto/2mib/",
    websocket={"message": measure, "max_payload_length": 2 * 1024 * 1024},
    name="t-proto-2mib",
)


def two_cookies(request: HttpRequest, server: Endpoint) -> None:
    server.upgrade(request, headers=[("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])


bunws.serve(
    "t/proto/cookies/", fetch=two_cookies, websocket={"message": measure}, name="t-proto-cookies"
)
