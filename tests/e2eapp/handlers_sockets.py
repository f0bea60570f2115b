"""Endpoints the handler and socket-object tests drive through a real daphne: empty messages,
``ws.cork`` from a sync handler, the ORM in sync handlers, short handler signatures and
announcing a leave from ``close``."""

from __future__ import annotations

import json
import threading
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connections

import bunws
from bunws import ServerWebSocket


def _room(ws: ServerWebSocket) -> str:
    return str(ws.scope["url_route"]["kwargs"]["room"])


async def pub_open(ws: ServerWebSocket) -> None:
    ws.subscribe(_room(ws))


async def pub_message(ws: ServerWebSocket, message: str | bytes) -> None:
    """``{"via": ..., "data": ..., "binary": ...}``: send or publish ``data`` (bytes when
    ``binary``) through ``via``, then answer ``{"returned": <the call's return value>}``."""
    command = json.loads(message)
    data: str | bytes = command["data"].encode() if command.get("binary") else command["data"]
    room, via = _room(ws), command["via"]
    returned: Any
    if via == "send":
        returned = ws.send(data)
    elif via == "ws":
        returned = ws.publish(room, data)
    elif via == "endpoint":
        returned = ws.endpoint.publish(room, data)
    elif via == "bunws":
        returned = bunws.publish(room, data)
    else:
        returned = await bunws.apublish(room, data)
    ws.send(json.dumps({"returned": returned}))


def pub_sync_message(ws: ServerWebSocket, message: str | bytes) -> None:
    """The same from a worker thread (a sync handler): every call crosses to the loop."""
    command = json.loads(message)
    data: str | bytes = command["data"].encode() if command.get("binary") else command["data"]
    room, via = _room(ws), command["via"]
    if via == "send":
        returned = ws.send(data)
    elif via == "ws":
        returned = ws.publish(room, data)
    elif via == "endpoint":
        returned = ws.endpoint.publish(room, data)
    else:
        returned = bunws.publish(room, data)
    ws.send(json.dumps({"returned": returned}))


bunws.serve("t/hs/pub/<str:room>/", websocket={"open": pub_open, "message": pub_message})
bunws.serve(
    "t/hs/pub-sync/<str:room>/",
    websocket={"open": pub_open, "message": pub_sync_message},
    name="t-hs-pub-sync",
)


def cork_sync_message(ws: ServerWebSocket, message: str | bytes) -> None:
    """A sync handler corking a callback that queries the ORM and sends twice."""
    caller = threading.get_ident()

    def batch(sock: ServerWebSocket) -> str:
        users = get_user_model().objects.count()  # SynchronousOnlyOperation on the loop
        sock.send(f"users={users}")
        sock.send(f"same-thread={threading.get_ident() == caller}")
        return "corked"

    ws.send(f"result={ws.cork(batch)}")


bunws.serve("t/hs/cork-sync/", websocket={"message": cork_sync_message}, name="t-hs-cork-sync")


def orm_sync_message(ws: ServerWebSocket, message: str | bytes) -> None:
    """A sync handler using the database alias named by the message (``default`` when it is
    not one): the user count and the id of the database session that answered."""
    alias = message if isinstance(message, str) and message in connections.settings else "default"
    users = get_user_model().objects.using(alias).count()
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_backend_pid()" if connection.vendor == "postgresql" else "SELECT 0"
        )
        backend = cursor.fetchone()[0]
    ws.send(json.dumps({"alias": alias, "users": users, "backend": backend}))


bunws.serve("t/hs/orm-sync/", websocket={"message": orm_sync_message}, name="t-hs-orm-sync")


def leave_close(ws: ServerWebSocket) -> None:
    """A Bun-style ``close(ws)`` (code and reason left out) announcing the leave both ways."""
    room = _room(ws)
    via_ws = ws.publish(room, "left (via ws.publish)")
    via_endpoint = ws.endpoint.publish(room, json.dumps({"left": ws.data.get("name")}))
    ws.endpoint.publish(room, json.dumps({"via_ws": via_ws, "via_endpoint": via_endpoint}))


def leave_open(ws: ServerWebSocket) -> None:
    ws.subscribe(_room(ws))


async def leave_message(ws: ServerWebSocket, message: str | bytes) -> None:
    ws.data["name"] = message
    ws.send(f"hello {message}")


bunws.serve(
    "t/hs/leave/<str:room>/",
    websocket={"open": leave_open, "message": leave_message, "close": leave_close},
    name="t-hs-leave",
)
