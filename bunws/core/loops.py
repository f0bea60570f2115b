"""``PerLoop``: one object per event loop, created on first use (the idle sweeper, the flusher).

Entries of closed loops are dropped whenever a new loop asks, so a process that opens many loops
(a test suite, ``asyncio.run`` in a thread) does not keep them, or their objects, alive.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerLoop(Generic[T]):
    """Calling it returns the running loop's instance, made by ``factory(loop)`` the first time."""

    __slots__ = ("_factory", "_instances")

    def __init__(self, factory: Callable[[asyncio.AbstractEventLoop], T]) -> None:
        self._factory = factory
        self._instances: dict[asyncio.AbstractEventLoop, T] = {}

    def __call__(self) -> T:
        loop = asyncio.get_running_loop()
        found = self._instances.get(loop)
        if found is None:
            for old in [old for old in self._instances if old.is_closed()]:
                del self._instances[old]
            found = self._instances[loop] = self._factory(loop)
        return found

    def __len__(self) -> int:
        """Loops holding an instance (closed ones included until the next new loop asks)."""
        return len(self._instances)
