"""Endpoints for fetch's own answer to a handshake it declines, and for subprotocols."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse

import bunws
from bunws import Endpoint, ServerWebSocket


def answer_fetch(request: HttpRequest, server: Endpoint) -> HttpResponse | None:
    """``t/answer/<kind>/``: declines with the response ``kind`` names, or upgrades (``ok``)."""
    kind = request.resolver_match.kwargs["kind"] if request.resolver_match else ""
    if kind == "ok":
        server.upgrade(request)
        return None
    if kind == "auth":
        response = HttpResponse("Log in first.", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="chat"'
        response.set_cookie("seen", "1")
        response.set_cookie("next", "/chat/")
        return response
    if kind == "slow":
        response = HttpResponse("Too many connections; retry in 30 s.", status=429)
        response["Retry-After"] = "30"
        return response
    if kind == "json":
        body = {"error": "forbidden", "detail": "members only: é ✓", "items": list(range(50))}
        return JsonResponse(body, status=403, json_dumps_params={"ensure_ascii": False})
    if kind == "redirect":
        return HttpResponse(status=302, headers={"Location": "/login/"})
    if kind == "stream":
        return StreamingHttpResponse(iter([b"never ", b"sent"]), status=401)
    if kind == "switch":
        return HttpResponse(status=101)
    return None  # "none": declined without a response


async def send_protocol(ws: ServerWebSocket) -> None:
    ws.send(json.dumps({"protocol": ws.protocol}))


async def count_connections(ws: ServerWebSocket, message: str | bytes) -> None:
    """How many connections daphne's ``Server.connections`` records (refused ones included)."""
    protocol = ws._transport.protocol  # type: ignore[attr-defined]
    ws.send(json.dumps({"connections": len(protocol.server.connections)}))


bunws.serve(
    "t/answer/<str:kind>/",
    fetch=answer_fetch,
    websocket={"open": send_protocol, "message": count_connections},
    name="t-answer",
)


def pick_fetch(request: HttpRequest, server: Endpoint) -> None:
    """Selects ``?pick=`` (if given) as the subprotocol through upgrade's headers, as in Bun."""
    pick = request.GET.get("pick")
    server.upgrade(request, headers={"Sec-WebSocket-Protocol": pick} if pick else None)


bunws.serve("t/proto/pick/", fetch=pick_fetch, websocket={"open": send_protocol}, name="t-pick")

bunws.serve(
    "t/proto/auto/",
    websocket={"open": send_protocol},
    name="t-proto-auto",
    subprotocols=["chat.v2", "chat.v1"],
)

bunws.serve(
    "t/proto/both/",
    fetch=pick_fetch,
    websocket={"open": send_protocol},
    name="t-proto-both",
    subprotocols=["chat.v2", "chat.v1"],
)
