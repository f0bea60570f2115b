"""Endpoints the permessage-deflate tests drive through a real daphne (RFC 7692), and Bun's
``publish_text``/``publish_binary`` and ``server.publish`` return value.

Every echo answers with ``compress=True`` unless the message starts with ``plain:``; the room
endpoints publish what they receive with ``compress=True`` and report the return value.
"""

from __future__ import annotations

import bunws
from bunws import ServerWebSocket


async def echo(ws: ServerWebSocket, message: str | bytes) -> None:
    if isinstance(message, str):
        if message.startswith("plain:"):
            ws.send(message)
        else:
            ws.send_text(message, compress=True)
    else:
        ws.send_binary(message, compress=True)


async def join(ws: ServerWebSocket) -> None:
    ws.subscribe(ws.scope["url_route"]["kwargs"]["room"])


def publish(ws: ServerWebSocket, message: str | bytes) -> None:
    """A sync handler (worker thread): the handed-off publish_text/publish_binary."""
    room = ws.scope["url_route"]["kwargs"]["room"]
    if message == "count":  # Bun's server.publish value, to the sender only
        ws.send(f"returned {ws.endpoint.publish(room + '-nobody', 'x', compress=True)}")
        return
    if isinstance(message, str):
        returned = ws.publish_text(room, message, compress=True)
    else:
        returned = ws.publish_binary(room, message, compress=True)
    ws.send(f"returned {returned}")


async def measure(ws: ServerWebSocket, message: str | bytes) -> None:
    ws.send(f"len={len(message)}")


bunws.serve("t/z/echo/", websocket={"message": echo, "per_message_deflate": True}, name="t-z-echo")
bunws.serve(
    "t/z/dedicated/",
    websocket={
        "message": echo,
        "per_message_deflate": {"compress": "dedicated", "decompress": "8KB"},
    },
    name="t-z-dedicated",
)
bunws.serve("t/z/off/", websocket={"message": echo}, name="t-z-off")
bunws.serve(
    "t/z/room/<str:room>/",
    websocket={"open": join, "message": publish, "per_message_deflate": True},
    name="t-z-room",
)
bunws.serve(
    "t/z/small/",
    websocket={"message": measure, "per_message_deflate": True, "max_payload_length": 64 * 1024},
    name="t-z-small",
)
