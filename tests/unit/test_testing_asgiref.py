"""Canary for the asgiref internals ``bunws.testing.sync`` relies on: if an asgiref release
renames or reshapes them, this fails with a name to look for, before the sync client hangs."""

from __future__ import annotations

import asyncio
import inspect
import threading

from asgiref.sync import AsyncToSync, SyncToAsync, sync_to_async

from bunws.testing import sync as sync_client


def test_async_to_sync_looks_up_a_per_loop_executor_in_loop_thread_executors() -> None:
    executors = AsyncToSync.loop_thread_executors
    assert isinstance(executors, dict)
    assert "loop_thread_executors" in inspect.getsource(AsyncToSync.__call__)


def test_sync_to_async_keeps_the_main_loop_in_its_threadlocal() -> None:
    assert isinstance(SyncToAsync.threadlocal, threading.local)
    seen: dict[str, bool] = {}

    def in_thread() -> None:
        local = SyncToAsync.threadlocal
        seen.update({key: hasattr(local, key) for key in sync_client._THREADLOCAL_KEYS})

    async def main() -> None:
        await sync_to_async(in_thread, thread_sensitive=False)()

    asyncio.run(main())
    # asgiref sets every key the sync client saves and restores; a new one would leak.
    assert seen == dict.fromkeys(sync_client._THREADLOCAL_KEYS, True)


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
