"""bunws endpoints for the benchmarks, discovered by bunws after ``django.setup()``."""

from __future__ import annotations

from typing import Any

import bunws


async def echo_message(ws: Any, message: str | bytes) -> None:
    ws.send(message)


async def chat_open(ws: Any) -> None:
    ws.subscribe("room")


async def chat_message(ws: Any, message: str | bytes) -> None:
    ws.publish("room", message)


echo = bunws.serve("echo/", websocket={"message": echo_message}, name="bench-echo")
chat = bunws.serve(
    "chat/",
    websocket={"open": chat_open, "message": chat_message, "publish_to_self": True},
    name="bench-chat",
)
