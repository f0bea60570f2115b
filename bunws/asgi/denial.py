"""Answering a handshake that ``fetch`` declined with the ``HttpResponse`` fetch returned.

As Bun sends the Response its fetch returns, the client gets fetch's status, headers (cookies
included) and body: on daphne written to the connection (``bunws.daphne.reject``); on a server
that offers ASGI's ``websocket.http.response`` extension through it; elsewhere the ASGI close
before accept (403), said once in the log. A decline without a response, a streaming response
or a 1xx status gets the usual 403.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpResponse, HttpResponseBase

from bunws.asgi.fallback import note_fallback
from bunws.asgi.transport import RAW_SEND_KEY
from bunws.core.denial import Denial
from bunws.daphne.connection import find_protocol
from bunws.daphne.reject import deny

logger = logging.getLogger("bunws")

Scope = dict[str, Any]

#: ASGI's extension that lets an application answer a handshake with an HTTP response.
DENIAL_EXTENSION = "websocket.http.response"


async def denial_from(response: Any, endpoint: str, scope: Scope, send: Any) -> Denial | None:
    """fetch's return value as a ``Denial``; None (the usual 403) when it is not a response or
    not one the server in use can send in place of the handshake (said once in the log)."""
    if not isinstance(response, HttpResponseBase):
        return None
    if not isinstance(response, HttpResponse):
        logger.error(
            "bunws: fetch of endpoint %r returned a streaming response (%s) to a WebSocket "
            "handshake; bunws sends only a complete HttpResponse there, so the client gets "
            "403: return an HttpResponse or JsonResponse instead",
            endpoint,
            type(response).__name__,
        )
        await sync_to_async(response.close)()  # frees its iterator or file, as Django does
        return None
    if response.status_code < 200:
        logger.error(
            "bunws: fetch of endpoint %r returned status %d to a WebSocket handshake; only "
            "server.upgrade() switches protocols, so the client gets 403",
            endpoint,
            response.status_code,
        )
        return None
    if find_protocol(scope.get(RAW_SEND_KEY) or send) is None and not _extension(scope):
        note_fallback(
            "fetch's own response to a refused handshake",
            "the client gets 403 (the ASGI close before accept) instead of fetch's status, "
            "headers and body",
        )
        return None
    headers = [
        (name.encode("latin-1"), value.encode("latin-1")) for name, value in response.items()
    ]
    for cookie in response.cookies.values():
        headers.append((b"Set-Cookie", cookie.output(header="").strip().encode("latin-1")))
    return Denial(response.status_code, response.reason_phrase, tuple(headers), response.content)


def _extension(scope: Scope) -> bool:
    return DENIAL_EXTENSION in (scope.get("extensions") or {})


async def send_denial(scope: Scope, send: Any, denial: Denial | None) -> None:
    """Refuse the handshake: with ``denial`` (from ``denial_from``), else with daphne's 403."""
    if denial is not None:
        protocol = find_protocol(scope.get(RAW_SEND_KEY) or send)
        if protocol is not None:
            if deny(protocol, denial):
                return
        elif _extension(scope):
            start = {"status": denial.status, "headers": denial.asgi_headers()}
            await send({"type": "websocket.http.response.start", **start})
            await send({"type": "websocket.http.response.body", "body": denial.body})
            return
    await send({"type": "websocket.close", "code": 1000})
