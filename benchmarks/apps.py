"""The baseline server applications: bare ASGI and Channels consumers.

Nothing here imports bunws, so the baselines run while the library is broken or absent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

PLAIN_RESPONSE = b"ok"


async def bare_echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Echo every text or binary message back to its sender."""
    while True:
        event = await receive()
        kind = event["type"]
        if kind == "websocket.receive":
            if event.get("text") is not None:
                await send({"type": "websocket.send", "text": event["text"]})
            else:
                await send({"type": "websocket.send", "bytes": event.get("bytes")})
        elif kind == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif kind == "websocket.disconnect":
            return


_room: set[Send] = set()


async def bare_fanout(scope: Scope, receive: Receive, send: Send) -> None:
    """One in-process room: every message goes to every member, the sender included."""
    try:
        while True:
            event = await receive()
            kind = event["type"]
            if kind == "websocket.receive":
                text = event.get("text")
                out: Message = (
                    {"type": "websocket.send", "text": text}
                    if text is not None
                    else {"type": "websocket.send", "bytes": event.get("bytes")}
                )
                for member in list(_room):
                    await member(out)
            elif kind == "websocket.connect":
                await send({"type": "websocket.accept"})
                _room.add(send)
            elif kind == "websocket.disconnect":
                return
    finally:
        _room.discard(send)


async def bare_http(scope: Scope, receive: Receive, send: Send) -> None:
    """The cheapest possible HTTP response, for the failed-upgrade baseline."""
    while (await receive()).get("more_body"):
        pass
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"2")],
        }
    )
    await send({"type": "http.response.body", "body": PLAIN_RESPONSE})


async def bare_application(scope: Scope, receive: Receive, send: Send) -> None:
    """Route by path by hand: ``/chat/`` fans out, any other socket path echoes."""
    if scope["type"] == "http":
        await bare_http(scope, receive, send)
    elif scope["type"] == "websocket":
        if scope["path"].rstrip("/").endswith("chat"):
            await bare_fanout(scope, receive, send)
        else:
            await bare_echo(scope, receive, send)
    elif scope["type"] == "lifespan":
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


class EchoConsumer(AsyncWebsocketConsumer):
    """Channels echo."""

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is not None:
            await self.send(text_data=text_data)
        else:
            await self.send(bytes_data=bytes_data)


class ChatConsumer(AsyncWebsocketConsumer):
    """Channels chat: one group, a ``group_send`` per message."""

    group = "room"

    async def connect(self) -> None:
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.channel_layer.group_send(
            self.group, {"type": "chat.message", "text": text_data, "bytes": bytes_data}
        )

    async def chat_message(self, event: dict[str, Any]) -> None:
        if event["text"] is not None:
            await self.send(text_data=event["text"])
        else:
            await self.send(bytes_data=event["bytes"])
