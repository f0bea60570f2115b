"""``AsyncSocketClient``: one in-process WebSocket connection for ``async def`` tests.

It wraps Channels' ``WebsocketCommunicator`` around the project's ASGI application
(``ASGI_APPLICATION``, else ``bunws_application()``), so ``fetch``, ``ws.data``, the origin check
and ``AuthMiddlewareStack`` run as they do under daphne. A refused handshake raises
``HandshakeRefused`` with the reason bunws noted in the scope (``bunws.asgi.refusal``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping
from typing import Any

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils.datastructures import MultiValueDict

from bunws.asgi.refusal import REFUSALS_KEY

__all__ = ["AsyncSocketClient", "HandshakeRefused", "Message", "SocketClosed", "bunws_application"]

Message = str | bytes
Headers = Mapping[str, str] | Iterable[tuple[str, str]]


class HandshakeRefused(AssertionError):
    """The handshake was refused; a real client gets HTTP ``status`` through daphne.

    ``reason`` says why, with the reason names of the failed-upgrade log: ``"origin_not_allowed"``,
    ``"fetch_declined"``, ``"no_such_endpoint"``, or ``"too_many_sockets"``
    (``MAX_SOCKETS_PER_CLIENT``); ``""`` when the application refused without telling bunws
    (a Channels consumer of your own). ``endpoint`` names the endpoint that refused, if any.
    ``status`` is 403, or the status of the response fetch returned (a 401, a 429), whose
    ``headers`` (name, value pairs) and ``body`` are here too.
    """

    def __init__(
        self,
        path: str,
        code: int,
        reason: str = "",
        endpoint: str = "",
        status: int = 403,
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
    ) -> None:
        why = f"{reason}, " if reason else ""
        by = f" by endpoint {endpoint!r}" if endpoint else ""
        super().__init__(
            f"the WebSocket handshake to {path!r} was refused{by} ({why}close code {code}; "
            f"daphne answers HTTP {status})"
        )
        self.code, self.reason, self.endpoint, self.status = code, reason, endpoint, status
        self.headers: list[tuple[str, str]] = headers or []
        self.body = body


class SocketClosed(AssertionError):
    """The server closed the socket where the test expected a message."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"the server closed the socket with {code} {reason!r}")
        self.code, self.reason = code, reason


def bunws_application() -> Any:
    """bunws's routes alone, behind ``OriginCheck`` and Channels' ``AuthMiddlewareStack``."""
    from channels.auth import AuthMiddlewareStack
    from channels.routing import URLRouter

    from bunws.asgi.routing import OriginCheck, websocket_urlpatterns

    return OriginCheck(AuthMiddlewareStack(URLRouter(websocket_urlpatterns())))


def _default_application() -> Any:
    from django.conf import settings

    if getattr(settings, "ASGI_APPLICATION", None):
        from channels.routing import get_default_application

        return get_default_application()
    return bunws_application()


def _session_cookie(user: Any) -> str:
    """Log ``user`` in as Django's test ``Client`` does and return the session cookie."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}"


class AsyncSocketClient:
    """One in-process WebSocket connection for ``async def`` tests."""

    def __init__(
        self,
        path: str,
        *,
        application: Any = None,
        user: Any = None,
        headers: Headers | None = None,
        cookies: Mapping[str, str] | None = None,
        origin: str | None = None,
        subprotocols: list[str] | None = None,
        client: tuple[str, int] = ("127.0.0.1", 50000),
        timeout: float = 1.0,
    ) -> None:
        self.path = "/" + path.lstrip("/")
        self.application = application
        self.user = user
        self.timeout = timeout
        self.client = client
        self.subprotocols = subprotocols or []
        pairs = list(headers.items() if isinstance(headers, Mapping) else headers or ())
        if origin is not None:
            pairs.append(("origin", origin))
        if cookies:
            pairs.append(("cookie", "; ".join(f"{k}={v}" for k, v in cookies.items())))
        if not any(name.lower() == "host" for name, _ in pairs):
            pairs.insert(0, ("host", "testserver"))  # Django's test Client host
        self.headers = pairs
        self.subprotocol: str | None = None
        #: The 101 response's extra headers (lower-cased names): ``response_headers[name]`` is
        #: the last value, ``response_headers.getlist(name)`` every value (two ``Set-Cookie``).
        self.response_headers: MultiValueDict[str, str] = MultiValueDict()
        self.close_code: int | None = None
        self.close_reason = ""
        self._communicator: WebsocketCommunicator | None = None

    async def connect(self) -> AsyncSocketClient:
        """Perform the handshake; raise ``HandshakeRefused`` if the endpoint refuses it."""
        headers = list(self.headers)
        if self.user is not None:
            headers.append(("cookie", await sync_to_async(_session_cookie)(self.user)))
        application = self.application or await sync_to_async(_default_application)()
        if self.subprotocols:  # offered in the header too, as a browser does
            headers.append(("sec-websocket-protocol", ", ".join(self.subprotocols)))
        encoded = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        communicator = WebsocketCommunicator(application, self.path, encoded, self.subprotocols)
        communicator.scope["client"] = list(self.client)
        communicator.scope["server"] = ["testserver", 80]
        # Like daphne (through bunws), let the app answer a refusal with fetch's own response.
        communicator.scope["extensions"] = {"websocket.http.response": {}}
        refusals: list[tuple[str, str]] = []
        communicator.scope[REFUSALS_KEY] = refusals  # bunws notes why it refuses
        self._communicator = communicator
        await communicator.send_input({"type": "websocket.connect"})
        event = await communicator.receive_output(self.timeout)
        if event["type"] != "websocket.accept":
            reason, endpoint = refusals[0] if refusals else ("", "")
            self.close_code = int(event.get("code", 1000))
            if event["type"] == "websocket.close":
                # An ASGI close before the accept is answered 403 by daphne (and uvicorn).
                raise HandshakeRefused(self.path, self.close_code, reason, endpoint, 403)
            body = await self._denial_body()
            status, raw = int(event["status"]), event.get("headers") or []
            pairs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw]
            raise HandshakeRefused(
                self.path, self.close_code, reason, endpoint, status, pairs, body
            )
        self.subprotocol = event.get("subprotocol")
        communicator.response_headers = event.get("headers") or []
        raw = communicator.response_headers or []
        for name, value in raw:
            self.response_headers.appendlist(name.decode("latin-1").lower(), value.decode())
        return self

    async def _denial_body(self) -> bytes:
        """The body of the HTTP response the application refused the handshake with."""
        body = b""
        while True:
            part = await self._comm.receive_output(self.timeout)
            body += bytes(part.get("body", b""))
            if not part.get("more_body"):
                return body

    @property
    def _comm(self) -> WebsocketCommunicator:
        if self._communicator is None:
            raise RuntimeError("call connect() (or use `async with`) before talking to a socket")
        return self._communicator

    async def send(self, data: Message) -> None:
        """Send a text (``str``) or binary (``bytes``) message to the endpoint."""
        key = "text" if isinstance(data, str) else "bytes"
        await self._comm.send_input({"type": "websocket.receive", key: data})

    async def send_json(self, value: Any) -> None:
        """Send ``value`` as a JSON text message."""
        await self.send(json.dumps(value))

    async def _next_event(self, timeout: float | None) -> dict[str, Any] | None:
        comm = self._comm
        if comm.future.done():
            comm.future.result()  # re-raise what crashed the application
        try:
            event: dict[str, Any] = await asyncio.wait_for(
                comm.output_queue.get(), self.timeout if timeout is None else timeout
            )
        except TimeoutError:
            if comm.future.done():
                comm.future.result()
            return None
        if event["type"] == "websocket.close" and self.close_code is None:
            self.close_code = int(event.get("code", 1000))
            self.close_reason = str(event.get("reason") or "")
            # The client completes the closing handshake, as a browser would.
            await comm.send_input({"type": "websocket.disconnect", "code": self.close_code})
        return event

    async def receive(self, timeout: float | None = None) -> Message:
        """The next message; fails if none arrives in time or the server closes instead."""
        if self.close_code is not None and self._comm.output_queue.empty():
            raise SocketClosed(self.close_code, self.close_reason)
        event = await self._next_event(timeout)
        if event is None:
            wait = self.timeout if timeout is None else timeout
            raise AssertionError(f"no message from {self.path!r} within {wait} s")
        if event["type"] == "websocket.close":
            raise SocketClosed(self.close_code or 1000, self.close_reason)
        text = event.get("text")
        return text if text is not None else bytes(event.get("bytes") or b"")

    async def receive_text(self, timeout: float | None = None) -> str:
        """The next message, which must be a text message."""
        message = await self.receive(timeout)
        if not isinstance(message, str):
            raise AssertionError(f"expected a text message, got binary {message!r}")
        return message

    async def receive_bytes(self, timeout: float | None = None) -> bytes:
        """The next message, which must be a binary message."""
        message = await self.receive(timeout)
        if not isinstance(message, bytes):
            raise AssertionError(f"expected a binary message, got text {message!r}")
        return message

    async def receive_json(self, timeout: float | None = None) -> Any:
        """The next message decoded as JSON."""
        return json.loads(await self.receive_text(timeout))

    async def assert_no_message(self, wait: float = 0.1) -> None:
        """Fail if a message (or a close) arrives within ``wait`` seconds."""
        event = await self._next_event(wait)
        if event is not None:
            raise AssertionError(f"expected no message from {self.path!r}, got {event!r}")

    async def assert_closed(
        self, code: int | None = None, reason: str | None = None, timeout: float | None = None
    ) -> int:
        """Wait for the server to close the socket; check and return the close code."""
        while self.close_code is None:
            event = await self._next_event(timeout)
            if event is None:
                raise AssertionError(f"the server did not close {self.path!r} in time")
        if code is not None and self.close_code != code:
            raise AssertionError(
                f"expected close code {code}, got {self.close_code} {self.close_reason!r}"
            )
        if reason is not None and self.close_reason != reason:
            raise AssertionError(f"expected close reason {reason!r}, got {self.close_reason!r}")
        await self._comm.wait(self.timeout)
        return self.close_code

    async def close(self, code: int = 1000) -> None:
        """Disconnect as a client would and wait for the endpoint's ``close`` handler."""
        comm = self._communicator
        if comm is None or comm.future.done():
            return
        if self.close_code is None:
            self.close_code = code
            await comm.send_input({"type": "websocket.disconnect", "code": code})
        await comm.wait(self.timeout + 4)

    async def __aenter__(self) -> AsyncSocketClient:
        return await self.connect()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
