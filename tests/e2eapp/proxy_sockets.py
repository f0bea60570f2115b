"""The endpoint the nginx tests drive: ``p/whoami/`` says, on open, the client address bunws saw,
the X-Forwarded-For header the handshake carried, and the daphne port that serves it."""

from __future__ import annotations

import json

import bunws
from bunws import ServerWebSocket


async def whoami_open(ws: ServerWebSocket) -> None:
    forwarded = [
        value.decode("latin-1")
        for name, value in ws.scope.get("headers", ())
        if name.lower() == b"x-forwarded-for"
    ]
    port = (ws.scope.get("server") or (None, None))[1]
    ws.send(json.dumps({"client": ws.remote_address, "x_forwarded_for": forwarded, "port": port}))


bunws.serve("p/whoami/", websocket={"open": whoami_open}, name="p-whoami")
