"""Test clients for your own tests: talk to bunws endpoints in-process, without daphne.

``SocketClient`` (sync, for ``TestCase`` and plain pytest-django tests) and ``AsyncSocketClient``
(for ``async def`` tests) wrap Channels' ``WebsocketCommunicator`` around the project's ASGI
application (``ASGI_APPLICATION``), so ``fetch``, ``ws.data``, the origin check and
``AuthMiddlewareStack`` run as they do under daphne::

    with SocketClient("chat/lobby/", user=alice) as ws:
        ws.send("hi")
        assert ws.receive() == "alice: hi"

Every receive has a timeout (``timeout=``, default 1 s) and fails the test with a message.
``observe(topic)`` records what is published to a topic. See docs/testing.md.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import queue
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from types import TracebackType
from typing import Any, TypeVar

from asgiref.sync import AsyncToSync, SyncToAsync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils.datastructures import MultiValueDict

from bunws.asgi.app import REFUSALS_KEY
from bunws.core.frame import Frame
from bunws.core.hub import hub

__all__ = [
    "AsyncSocketClient",
    "HandshakeRefused",
    "Published",
    "SocketClient",
    "SocketClosed",
    "bunws_application",
    "observe",
]

T = TypeVar("T")
Message = str | bytes
Headers = Mapping[str, str] | Iterable[tuple[str, str]]


class HandshakeRefused(AssertionError):
    """The handshake was refused; daphne would answer ``status`` (403) to a real client.

    ``reason`` says why, with the reason names of the failed-upgrade log: ``"origin_not_allowed"``,
    ``"fetch_declined"``, ``"no_such_endpoint"``, or ``"too_many_sockets"``
    (``MAX_SOCKETS_PER_CLIENT``); ``""`` when the application refused without telling bunws
    (a Channels consumer of your own). ``endpoint`` names the endpoint that refused, if any.
    """

    def __init__(
        self, path: str, code: int, reason: str = "", endpoint: str = "", status: int = 403
    ) -> None:
        why = f"{reason}, " if reason else ""
        by = f" by endpoint {endpoint!r}" if endpoint else ""
        super().__init__(
            f"the WebSocket handshake to {path!r} was refused{by} ({why}close code {code}; "
            f"daphne answers HTTP {status})"
        )
        self.code, self.reason, self.endpoint, self.status = code, reason, endpoint, status


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
        encoded = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        communicator = WebsocketCommunicator(application, self.path, encoded, self.subprotocols)
        communicator.scope["client"] = list(self.client)
        communicator.scope["server"] = ["testserver", 80]
        refusals: list[tuple[str, str]] = []
        communicator.scope[REFUSALS_KEY] = refusals  # bunws notes why it refuses
        self._communicator = communicator
        accepted, detail = await communicator.connect(self.timeout)
        if not accepted:
            self.close_code = int(detail)
            reason, endpoint = refusals[0] if refusals else ("", "")
            # An ASGI close before the accept is answered 403 by daphne (and uvicorn).
            raise HandshakeRefused(self.path, self.close_code, reason, endpoint, 403)
        self.subprotocol = detail
        raw = communicator.response_headers or []
        for name, value in raw:
            self.response_headers.appendlist(name.decode("latin-1").lower(), value.decode())
        return self

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


class _ThreadExecutor(concurrent.futures.Executor):
    """Runs thread-sensitive work (the ORM in fetch, the session lookup) in the test's thread,
    so it sees the test's database transaction, as ``async_to_sync`` arranges for a request."""

    def __init__(self) -> None:
        self.owner = threading.get_ident()
        self._items: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:  # fmt: skip
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args, **kwargs))
                except BaseException as exc:
                    future.set_exception(exc)

        self._items.put(run)
        return future

    def run_until(self, future: concurrent.futures.Future[T], timeout: float) -> T:
        if threading.get_ident() != self.owner:
            return future.result(timeout)
        future.add_done_callback(lambda _: self._items.put(None))
        deadline = time.monotonic() + timeout
        while not future.done():
            try:
                item = self._items.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"the test client got no answer within {timeout} s") from None
            if item is not None:
                _run_keeping_threadlocal(item)
        return future.result()


_THREADLOCAL_KEYS = ("main_event_loop", "main_event_loop_pid", "task_context")


def _run_keeping_threadlocal(item: Callable[[], None]) -> None:
    """Run ``item`` but restore asgiref's thread-local afterwards: it records the shared loop
    as this thread's "main loop", which would send later ``async_to_sync`` calls there."""
    local = SyncToAsync.threadlocal
    saved = {key: getattr(local, key) for key in _THREADLOCAL_KEYS if hasattr(local, key)}
    try:
        item()
    finally:
        for key in _THREADLOCAL_KEYS:
            if key in saved:
                setattr(local, key, saved[key])
            elif hasattr(local, key):
                delattr(local, key)


class _Loop:
    """One event loop thread shared by every sync client, like daphne's single loop."""

    _lock = threading.Lock()
    _instance: _Loop | None = None

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.executor = _ThreadExecutor()
        AsyncToSync.loop_thread_executors[self.loop] = self.executor  # type: ignore[assignment]
        threading.Thread(target=self.loop.run_forever, name="bunws-testing", daemon=True).start()

    @classmethod
    def get(cls) -> _Loop:
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return self.executor.run_until(future, timeout + 5)


class SocketClient:
    """The synchronous twin of ``AsyncSocketClient`` (same arguments and methods)."""

    def __init__(self, path: str, **kwargs: Any) -> None:
        self._loop = _Loop.get()
        self._client = AsyncSocketClient(path, **kwargs)
        self.timeout: float = self._client.timeout

    def __getattr__(self, name: str) -> Any:
        # response_headers, subprotocol, close_code, close_reason, path, ...
        return getattr(self._client, name)

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return self._loop.run(coro, self.timeout if timeout is None else timeout)

    def connect(self) -> SocketClient:
        self._run(self._client.connect())
        return self

    def send(self, data: Message) -> None:
        self._run(self._client.send(data))

    def send_json(self, value: Any) -> None:
        self._run(self._client.send_json(value))

    def receive(self, timeout: float | None = None) -> Message:
        return self._run(self._client.receive(timeout), timeout)

    def receive_text(self, timeout: float | None = None) -> str:
        return self._run(self._client.receive_text(timeout), timeout)

    def receive_bytes(self, timeout: float | None = None) -> bytes:
        return self._run(self._client.receive_bytes(timeout), timeout)

    def receive_json(self, timeout: float | None = None) -> Any:
        return self._run(self._client.receive_json(timeout), timeout)

    def assert_no_message(self, wait: float = 0.1) -> None:
        self._run(self._client.assert_no_message(wait), wait)

    def assert_closed(
        self, code: int | None = None, reason: str | None = None, timeout: float | None = None
    ) -> int:
        return self._run(self._client.assert_closed(code, reason, timeout), timeout)

    def close(self, code: int = 1000) -> None:
        self._run(self._client.close(code))

    def __enter__(self) -> SocketClient:
        return self.connect()

    def __exit__(self, kind: type[BaseException] | None, *exc: TracebackType | object) -> None:
        self.close()


class Published:
    """What was published to one topic while ``observe()`` was active (any thread, any loop)."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.messages: list[Message] = []
        self._taken = 0
        self._changed = threading.Condition()

    def _record(self, frame: Frame) -> None:
        with self._changed:
            self.messages.append(frame.data)
            self._changed.notify_all()

    def next(self, timeout: float = 1.0) -> Message:
        """The next publish not yet returned by ``next``; fails after ``timeout`` seconds."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.messages) > self._taken, timeout):
                raise AssertionError(f"nothing was published to {self.topic!r} within {timeout} s")
            self._taken += 1
            return self.messages[self._taken - 1]

    async def anext(self, timeout: float = 1.0) -> Message:
        """``next`` for async tests: waits without blocking the event loop."""
        deadline = time.monotonic() + timeout
        while len(self.messages) <= self._taken and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return self.next(0)

    def __enter__(self) -> Published:
        _observers.append(self)
        if len(_observers) == 1:
            hub.publish = _observed_publish  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        _observers.remove(self)
        if not _observers:
            del hub.publish


_observers: list[Published] = []
_hub_publish = type(hub).publish


def _observed_publish(topic: str, frame: Frame, skip: Any = None) -> int:
    for observer in tuple(_observers):
        if observer.topic == topic:
            observer._record(frame)
    return _hub_publish(hub, topic, frame, skip)


def observe(topic: str) -> Published:
    """Record every publish to ``topic`` in this process: ``with observe("room") as seen:``."""
    return Published(topic)
