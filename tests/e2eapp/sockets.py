"""Endpoints the end-to-end tests drive through a real daphne.

Observations the client cannot see directly (close codes, errors) are published as JSON to
the ``events`` topic, which a test watches through the ``t-watch`` endpoint.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import HttpRequest, HttpResponse

import bunws
from bunws import Endpoint, ServerWebSocket


def report(event: str, **fields: Any) -> None:
    bunws.publish("events", json.dumps({"event": event, **fields}))


async def echo_message(ws: ServerWebSocket, message: str | bytes) -> None:
    ws.send(message)


bunws.serve("t/echo/", websocket={"message": echo_message}, name="t-echo")


async def burst_message(ws: ServerWebSocket, message: str | bytes) -> None:
    """``COUNT SIZE``: send COUNT numbered text messages of SIZE bytes in one handler call."""
    count, size = (int(part) for part in str(message).split())
    for i in range(count):
        ws.send(f"{i:05d}".ljust(size, "."))


bunws.serve("t/burst/", websocket={"message": burst_message}, name="t-burst")


async def tracked_message(ws: ServerWebSocket, message: str | bytes) -> None:
    """Whether daphne's record of this connection names the task running this handler."""
    protocol = ws._transport.protocol  # type: ignore[attr-defined]
    details = protocol.server.connections[protocol]
    ws.send(json.dumps({"tracked": details["application_instance"] is asyncio.current_task()}))


bunws.serve("t/tracked/", websocket={"message": tracked_message}, name="t-tracked")


def data_fetch(request: HttpRequest, server: Endpoint) -> HttpResponse | None:
    upgraded = server.upgrade(
        request,
        data={"room": request.resolver_match.kwargs["room"], "q": request.GET.get("q", "")}
        if request.resolver_match
        else None,
        headers={"X-Bunws-Test": "upgraded"},
    )
    if not upgraded and request.GET.get("custom"):
        return HttpResponse("fetch answered this plain request itself", status=400)
    return None


async def data_message(ws: ServerWebSocket, message: str | bytes) -> None:
    ws.data["seen"] = ws.data.get("seen", 0) + 1
    ws.send(json.dumps(ws.data))


bunws.serve(
    "t/data/<str:room>/", fetch=data_fetch, websocket={"message": data_message}, name="t-data"
)


def decline_fetch(request: HttpRequest, server: Endpoint) -> None:
    """Never upgrades: every handshake is refused with 'fetch declined'."""


bunws.serve(
    "t/decline/", fetch=decline_fetch, websocket={"message": echo_message}, name="t-decline"
)


async def room_open(ws: ServerWebSocket) -> None:
    ws.subscribe(ws.scope["url_route"]["kwargs"]["room"])


async def room_message(ws: ServerWebSocket, message: str | bytes) -> None:
    room = ws.scope["url_route"]["kwargs"]["room"]
    if message == "?count":
        ws.send(f"count={ws.endpoint.subscriber_count(room)}")
    elif isinstance(message, str) and message.startswith("server:"):
        ws.endpoint.publish(room, message)
    elif isinstance(message, str) and message.startswith("global:"):
        bunws.publish(room, message)
    else:
        ws.publish(room, message)


def room_close(ws: ServerWebSocket, code: int, reason: str) -> None:
    report(
        "close",
        endpoint=ws.endpoint.name,
        code=code,
        reason=reason,
        subscriptions=ws.subscriptions,
        sent=ws.send("late"),
    )


room_handlers = {"open": room_open, "message": room_message, "close": room_close}
bunws.serve("t/room/<str:room>/", websocket=room_handlers, name="t-room")
bunws.serve(
    "t/room-self/<str:room>/",
    websocket={**room_handlers, "publish_to_self": True},
    name="t-room-self",
)


async def close_message(ws: ServerWebSocket, message: str | bytes) -> None:
    if message == "close-me":
        ws.close(4002, "asked politely")
    elif message == "say-then-close":
        for i in range(3):
            ws.send(f"last words {i}")
        ws.close(4003, "said it")
    elif message == "terminate-me":
        ws.terminate()


bunws.serve(
    "t/close/",
    websocket={"message": close_message, "close": room_close},
    name="t-close",
)


async def boom_async(ws: ServerWebSocket, message: str | bytes) -> None:
    if message == "boom":
        raise RuntimeError("async handler exploded")
    ws.send(message)


def boom_sync(ws: ServerWebSocket, message: str | bytes) -> None:
    if message == "boom":
        raise RuntimeError("sync handler exploded")
    ws.send(f"users={get_user_model().objects.count()}")


def boom_error(ws: ServerWebSocket, exc: BaseException) -> None:
    report("error", endpoint=ws.endpoint.name, error=str(exc))


bunws.serve(
    "t/boom/",
    websocket={"message": boom_async, "error": boom_error, "close": room_close},
    name="t-boom",
)
bunws.serve(
    "t/boom-sync/",
    websocket={"message": boom_sync, "error": boom_error, "close": room_close},
    name="t-boom-sync",
)


async def watch_open(ws: ServerWebSocket) -> None:
    ws.subscribe(ws.scope["url_route"]["kwargs"]["topic"])


async def ignore(ws: ServerWebSocket, message: str | bytes) -> None:
    """Watchers only listen."""


bunws.serve(
    "t/watch/<str:topic>/", websocket={"open": watch_open, "message": ignore}, name="t-watch"
)
from tests.e2eapp import limits_sockets as limits_sockets  # noqa: E402
from tests.e2eapp import reliability_sockets as reliability_sockets  # noqa: E402


async def slow_fetch(request: HttpRequest, server: Endpoint) -> None:
    """Takes a while to decide, so a client can leave before the upgrade."""
    await asyncio.sleep(0.6)
    server.upgrade(request)


async def slow_open(ws: ServerWebSocket) -> None:
    report("open", endpoint="t-slowfetch")


bunws.serve(
    "t/slowfetch/",
    fetch=slow_fetch,
    websocket={"open": slow_open, "message": echo_message},
    name="t-slowfetch",
)


def orm_fetch(request: HttpRequest, server: Endpoint) -> HttpResponse | None:
    """A sync fetch that queries the database and answers plain requests itself."""
    if not server.upgrade(request):
        in_atomic = transaction.get_connection().in_atomic_block
        count = get_user_model().objects.count()
        return HttpResponse(f"users={count} atomic={in_atomic}", status=400)
    return None


bunws.serve("t/ormfetch/", fetch=orm_fetch, websocket={"message": echo_message}, name="t-ormfetch")
from tests.e2eapp import answers_sockets as answers_sockets  # noqa: E402
from tests.e2eapp import control_sockets as control_sockets  # noqa: E402
from tests.e2eapp import deflate_sockets as deflate_sockets  # noqa: E402
from tests.e2eapp import failures_sockets as failures_sockets  # noqa: E402
from tests.e2eapp import handlers_sockets as handlers_sockets  # noqa: E402
from tests.e2eapp import metrics_sockets as metrics_sockets  # noqa: E402
from tests.e2eapp import presence_sockets as presence_sockets  # noqa: E402
from tests.e2eapp import probe_sockets as probe_sockets  # noqa: E402
from tests.e2eapp import protocol_sockets as protocol_sockets  # noqa: E402
from tests.e2eapp import proxy_sockets as proxy_sockets  # noqa: E402
from tests.e2eapp import recovery_sockets as recovery_sockets  # noqa: E402
from tests.e2eapp import security_sockets as security_sockets  # noqa: E402
