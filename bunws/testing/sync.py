"""``SocketClient``: the synchronous twin of ``AsyncSocketClient``, for ``TestCase`` tests.

Every sync client runs its connection on one shared event loop thread, like daphne's single
loop. Thread-sensitive work the application hands to a thread (the ORM in ``fetch``, the session
lookup) runs in the test's own thread instead, so it sees the test's database transaction. That
takes two asgiref internals, ``AsyncToSync.loop_thread_executors`` and ``SyncToAsync.threadlocal``;
``tests/unit/test_asgiref_canary.py`` fails first if an asgiref release changes them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
import time
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, TypeVar

from asgiref.sync import AsyncToSync, SyncToAsync

from bunws.testing.client import AsyncSocketClient, Message

__all__ = ["SocketClient"]

T = TypeVar("T")


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
