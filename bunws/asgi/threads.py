"""The socket loop and the one hand-off to it from other threads.

Under daphne every socket of a process lives on one event loop (daphne's, which is also Twisted's
reactor thread). Sync handlers run in worker threads, sync views and management commands in
others; what they do to sockets and topics is handed to the socket's loop and waited for, here
and nowhere else. ``ThreadSafeWebSocket`` is the socket endpoints create: the core socket, whose
public methods hand themselves to the loop when called from another thread.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from bunws.core.socket import ServerWebSocket

T = TypeVar("T")

#: Longest wait, in seconds, for the socket loop to run something handed to it.
HANDOFF_TIMEOUT = 30.0

_bound: dict[str, Any] = {"loop": None, "thread": None}


def bind_loop() -> bool:
    """Remember the running loop as the one that owns this process's sockets; True if new."""
    loop = asyncio.get_running_loop()
    if _bound["loop"] is loop:
        return False
    _bound["loop"], _bound["thread"] = loop, threading.get_ident()
    return True


def socket_loop() -> asyncio.AbstractEventLoop | None:
    """The running event loop that serves this process's sockets, if any."""
    loop: asyncio.AbstractEventLoop | None = _bound["loop"]
    if loop is None or loop.is_closed() or not loop.is_running():
        return None
    return loop


def on_socket_loop() -> bool:
    """Whether the caller runs on the socket loop's thread."""
    return bool(threading.get_ident() == _bound["thread"])


def _submit(loop: asyncio.AbstractEventLoop, fn: Callable[..., T], *args: Any) -> Future[T]:
    """Schedule ``fn(*args)`` on ``loop`` from another thread; its result arrives in a future."""
    if loop.is_closed():
        raise RuntimeError("the event loop of these sockets is gone")
    future: Future[T] = Future()

    def run() -> None:
        try:
            future.set_result(fn(*args))
        except BaseException as exc:
            future.set_exception(exc)

    loop.call_soon_threadsafe(run)
    return future


def call_on(
    loop: asyncio.AbstractEventLoop, fn: Callable[..., T], *args: Any, timeout: float | None = None
) -> T:
    """Run ``fn(*args)`` on ``loop`` from another thread and wait for its result (or error)."""
    return _submit(loop, fn, *args).result(HANDOFF_TIMEOUT if timeout is None else timeout)


async def acall_on(loop: asyncio.AbstractEventLoop, fn: Callable[..., T], *args: Any) -> T:
    """``call_on`` for async code running on another event loop."""
    return await asyncio.wait_for(asyncio.wrap_future(_submit(loop, fn, *args)), HANDOFF_TIMEOUT)


def call_on_socket_loop(fn: Callable[..., T], *args: Any, timeout: float | None = None) -> T:
    """Run ``fn(*args)`` on the socket loop: directly when already there or when no loop runs
    (a shell, a command), else handed to it and waited for."""
    loop = socket_loop()
    if loop is None or on_socket_loop():
        return fn(*args)
    return call_on(loop, fn, *args, timeout=timeout)


def _handed_off(method: Callable[..., T]) -> Callable[..., T]:
    """``method`` of ``ServerWebSocket``, run on the socket's loop when called elsewhere."""

    @functools.wraps(method)
    def wrapper(self: ThreadSafeWebSocket, *args: Any, **kwargs: Any) -> T:
        if threading.get_ident() == self._thread:
            return method(self, *args, **kwargs)
        return call_on(self._loop, functools.partial(method, self, *args, **kwargs))

    return wrapper


class ThreadSafeWebSocket(ServerWebSocket):
    """A ``ServerWebSocket`` usable from sync handlers: calls from another thread run on the
    socket's loop and are waited for; ``cork`` runs its callback in the caller's thread."""

    __slots__ = ("_loop", "_thread")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()

    # send_text/send_binary and publish_text/publish_binary check their payload's type in the
    # caller's thread and go through send/publish, which hand themselves off: one check each.
    send = _handed_off(ServerWebSocket.send)
    subscribe = _handed_off(ServerWebSocket.subscribe)
    unsubscribe = _handed_off(ServerWebSocket.unsubscribe)
    publish = _handed_off(ServerWebSocket.publish)
    track = _handed_off(ServerWebSocket.track)
    untrack = _handed_off(ServerWebSocket.untrack)
    update_presence = _handed_off(ServerWebSocket.update_presence)
    close = _handed_off(ServerWebSocket.close)
    terminate = _handed_off(ServerWebSocket.terminate)
    ping = _handed_off(ServerWebSocket.ping)
    pong = _handed_off(ServerWebSocket.pong)
    pause = _handed_off(ServerWebSocket.pause)
    resume = _handed_off(ServerWebSocket.resume)

    def cork(self, callback: Callable[[ServerWebSocket], T]) -> T:
        """Run ``callback(ws)`` and write what it sent in one batch; from a sync handler the
        callback runs in the handler's own thread (so it may use the ORM), and only corking and
        the final write run on the loop."""
        if threading.get_ident() == self._thread:
            return super().cork(callback)
        if not call_on(self._loop, self._begin_cork):  # already corked: nest transparently
            return callback(self)
        try:
            return callback(self)
        finally:
            call_on(self._loop, self._end_cork)
