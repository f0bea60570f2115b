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


async def zchat_message(ws: Any, message: str | bytes) -> None:
    ws.publish(ws.endpoint.name, message, compress=True)


async def zchat_open(ws: Any) -> None:
    ws.subscribe(ws.endpoint.name)


# permessage-deflate: every publish asks for compression; a client that did not offer the
# extension gets plain frames, so one endpoint serves the plain and the compressed rows.
zchat = bunws.serve(
    "zchat/",
    websocket={
        "open": zchat_open,
        "message": zchat_message,
        "publish_to_self": True,
        "per_message_deflate": True,
    },
    name="bench-zchat",
)
zchat_dedicated = bunws.serve(
    "zchat-dedicated/",
    websocket={
        "open": zchat_open,
        "message": zchat_message,
        "publish_to_self": True,
        "per_message_deflate": {"compress": "dedicated", "decompress": "dedicated"},
    },
    name="bench-zchat-dedicated",
)


async def rchat_open(ws: Any) -> None:
    ws.subscribe("rroom")


async def rchat_message(ws: Any, message: str | bytes) -> None:
    ws.publish("rroom", message)


# The chat with recovery (docs/recovery.md): clients that offer bunws.v1 get envelopes and a
# session, and every publish is recorded in Redis first (the "recovery" workload).
rchat = bunws.serve(
    "rchat/",
    websocket={"open": rchat_open, "message": rchat_message, "publish_to_self": True},
    name="bench-rchat",
    recovery={"window": 120, "presence": False},
)
