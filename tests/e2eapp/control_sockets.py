"""Endpoints for ping/pong handlers, ``ws.ping``/``ws.pong`` and paused reading (issue 12).

``t/ctl/pingpong/`` reports every ping and pong the client sends as a text message and sends
pings and pongs on command. ``t/ctl/pause/<key>/`` pauses on "pause" and records the binary
messages it receives; since a paused socket reads nothing, a second socket on ``t/ctl/admin/``
looks at it and resumes or closes it (both live on the same daphne loop).
"""

from __future__ import annotations

import json
from typing import Any

import bunws
from bunws import ServerWebSocket

#: Paused sockets by the key in their path, with what each received.
STATE: dict[str, dict[str, Any]] = {}


async def on_ping(ws: ServerWebSocket, data: bytes) -> None:
    if data == b"boom":
        raise RuntimeError("ping handler exploded")
    ws.send(f"ping:{data.hex()}")


def on_pong(ws: ServerWebSocket, data: bytes) -> None:
    """Sync: runs in a worker thread, its send handed to the loop."""
    ws.send(f"pong:{data.hex()}")


async def on_error(ws: ServerWebSocket, exc: BaseException) -> None:
    ws.send(f"error:{exc}")


async def pingpong_message(ws: ServerWebSocket, message: str | bytes) -> None:
    """``ping HEX`` / ``pong HEX``: send one and report its status; ``big``: a 126-byte ping."""
    command, _, arg = str(message).partition(" ")
    if command in ("ping", "pong"):
        status = getattr(ws, command)(bytes.fromhex(arg))
        ws.send(f"{command}-status:{status}")
    elif command == "text-ping":
        ws.send(f"ping-status:{ws.ping(arg)}")
    elif command == "big":
        try:
            ws.ping(b"x" * 126)
        except ValueError as exc:
            ws.send(f"refused:{exc}")


bunws.serve(
    "t/ctl/pingpong/",
    websocket={"message": pingpong_message, "ping": on_ping, "pong": on_pong, "error": on_error},
    name="t-ctl-pingpong",
)


def key_of(ws: ServerWebSocket) -> str:
    return str(ws.scope["url_route"]["kwargs"]["key"])


async def pause_open(ws: ServerWebSocket) -> None:
    STATE[key_of(ws)] = {"ws": ws, "seq": [], "bytes": 0}


async def pause_message(ws: ServerWebSocket, message: str | bytes) -> None:
    state = STATE[key_of(ws)]
    if isinstance(message, bytes):  # numbered: 4 bytes of sequence number, then padding
        state["seq"].append(int.from_bytes(message[:4], "big"))
        state["bytes"] += len(message)
    elif message == "pause":
        ws.pause()
        ws.send(f"paused:{ws.is_paused}")
    elif message == "done":
        seq = state["seq"]
        ws.send(
            json.dumps({"count": len(seq), "in_order": seq == sorted(seq), "bytes": state["bytes"]})
        )
    else:
        ws.send(message)


async def pause_close(ws: ServerWebSocket, code: int, reason: str) -> None:
    STATE[key_of(ws)].update(closed={"code": code, "reason": reason, "is_paused": ws.is_paused})


pause_handlers = {"open": pause_open, "message": pause_message, "close": pause_close}
bunws.serve("t/ctl/pause/<str:key>/", websocket=pause_handlers, name="t-ctl-pause")
bunws.serve(
    "t/ctl/pause-idle/<str:key>/",
    websocket={**pause_handlers, "idle_timeout": 1, "send_pings": False},
    name="t-ctl-pause-idle",
)


async def admin_message(ws: ServerWebSocket, message: str | bytes) -> None:
    """``look KEY``, ``resume KEY``, ``close KEY``: act on a paused socket, answer its state."""
    command, _, key = str(message).partition(" ")
    state = STATE[key]
    target: ServerWebSocket = state["ws"]
    if command == "resume":
        target.resume()
    elif command == "close":
        target.close(4000, "closed while paused")
    ws.send(
        json.dumps(
            {
                "count": len(state["seq"]),
                "is_paused": target.is_paused,
                "ready_state": target.ready_state,
                "closed": state.get("closed"),
            }
        )
    )


bunws.serve("t/ctl/admin/", websocket={"message": admin_message}, name="t-ctl-admin")
