"""Canary for the two asgiref internals the sync test client (``bunws.testing.sync``) builds on.

``SocketClient`` registers its shared loop's executor in ``AsyncToSync.loop_thread_executors``
so thread-sensitive work runs in the test's thread, and saves and restores three attributes of
``SyncToAsync.threadlocal`` around that work. Neither is public API: these tests check asgiref's
own behaviour, so an asgiref release that changes it fails here, by name, instead of hanging the
sync client; the last test checks what the two buy, through the client's shared loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import asgiref
import pytest
from asgiref.sync import AsyncToSync, SyncToAsync, async_to_sync, sync_to_async

from bunws.testing import sync as sync_client

T = TypeVar("T")

#: What ``bunws.testing`` saves and restores on ``SyncToAsync.threadlocal``.
THREADLOCAL_KEYS = {"main_event_loop", "main_event_loop_pid", "task_context"}

CHANGED = f"asgiref {asgiref.__version__} changed an internal bunws.testing relies on: "


class InlineExecutor(concurrent.futures.Executor):
    """Runs submitted work at once in the submitting thread and counts it."""

    def __init__(self) -> None:
        self.calls = 0

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:  # fmt: skip
        self.calls += 1
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        future.set_result(fn(*args, **kwargs))
        return future


def test_loop_thread_executors_is_a_class_level_dict_keyed_by_loop() -> None:
    executors = getattr(AsyncToSync, "loop_thread_executors", None)
    assert isinstance(executors, dict), (
        CHANGED + f"AsyncToSync.loop_thread_executors is {executors!r}, not a class-level dict; "
        "bunws.testing registers its shared loop's executor there."
    )
    assert "loop_thread_executors" in inspect.getsource(AsyncToSync.__call__), (
        CHANGED + "AsyncToSync.__call__ no longer looks up AsyncToSync.loop_thread_executors."
    )


def test_thread_sensitive_work_on_a_registered_loop_runs_in_its_executor() -> None:
    """The registration bunws.testing makes steers ``sync_to_async(thread_sensitive=True)``."""
    executor = InlineExecutor()
    loop = asyncio.new_event_loop()
    AsyncToSync.loop_thread_executors[loop] = executor  # type: ignore[assignment]
    try:
        ran_in = loop.run_until_complete(
            asyncio.wait_for(sync_to_async(threading.get_ident, thread_sensitive=True)(), 5)
        )
    finally:
        AsyncToSync.loop_thread_executors.pop(loop, None)
        loop.close()
    assert executor.calls == 1 and ran_in == threading.get_ident(), (
        CHANGED + "sync_to_async(thread_sensitive=True) no longer runs in the executor found "
        "in AsyncToSync.loop_thread_executors[running loop] (bunws.testing's sync client needs "
        "it to run the ORM in the test's thread)."
    )


@pytest.mark.timeout(5, func_only=True)
async def test_threadlocal_holds_exactly_the_keys_bunws_testing_restores() -> None:
    assert set(sync_client._THREADLOCAL_KEYS) == THREADLOCAL_KEYS  # this file's copy is current
    local = getattr(SyncToAsync, "threadlocal", None)
    assert isinstance(local, threading.local), (
        CHANGED + f"SyncToAsync.threadlocal is {local!r}, not a threading.local."
    )
    seen: dict[str, Any] = {}

    def in_worker() -> None:
        seen.update(vars(SyncToAsync.threadlocal))

    await sync_to_async(in_worker, thread_sensitive=False)()
    loop = asyncio.get_running_loop()
    # asgiref sets every key the sync client saves and restores; a new one would leak.
    assert set(seen) == THREADLOCAL_KEYS, (
        CHANGED + f"a sync_to_async worker's SyncToAsync.threadlocal holds {sorted(seen)}; "
        f"bunws.testing saves and restores exactly {sorted(THREADLOCAL_KEYS)}."
    )
    assert seen["main_event_loop"] is loop and seen["main_event_loop_pid"] == os.getpid()


@pytest.mark.timeout(5, func_only=True)
async def test_async_to_sync_in_a_worker_goes_back_to_the_threadlocal_main_loop() -> None:
    """Why bunws.testing restores the thread-local: ``async_to_sync`` follows it to a loop."""

    async def running_loop() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    def in_worker() -> tuple[asyncio.AbstractEventLoop, asyncio.AbstractEventLoop]:
        followed = async_to_sync(running_loop)()
        for key in THREADLOCAL_KEYS:
            delattr(SyncToAsync.threadlocal, key)
        return followed, async_to_sync(running_loop)()

    outer = asyncio.get_running_loop()
    followed, without = await sync_to_async(in_worker, thread_sensitive=False)()
    assert followed is outer, (
        CHANGED + "async_to_sync in a sync_to_async worker no longer runs on the loop recorded "
        "in SyncToAsync.threadlocal.main_event_loop."
    )
    assert without is not outer, (
        CHANGED + "async_to_sync still finds the outer loop with SyncToAsync.threadlocal "
        "cleared, so the thread-local is no longer what steers it."
    )


def test_the_shared_loop_runs_thread_sensitive_work_in_the_calling_thread() -> None:
    """What the two internals buy: ``sync_to_async(thread_sensitive=True)`` on the shared loop
    runs in the test's thread (so it sees the test's database transaction)."""
    loop = sync_client._Loop.get()
    caller = threading.get_ident()

    def ident() -> int:
        return threading.get_ident()

    async def main() -> int:
        return await sync_to_async(ident, thread_sensitive=True)()

    assert loop.run(main(), 2) == caller
