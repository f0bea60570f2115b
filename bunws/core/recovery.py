"""Recovery without a server: the endpoint option, and the per-topic delivery order.

``parse_recovery`` validates ``serve(recovery=...)`` into a ``RecoveryConfig`` (docs/recovery.md).
``Sequence`` keeps one process's delivery of a recorded topic in offset order: messages arrive
from the channel layer in any order (several publishers), a message that is early waits for the
ones before it, one that is late or lost is read from the store after a short wait, and a
duplicate is dropped. Standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from bunws.core.options import MappingError

__all__ = ["DEFAULTS", "RecoveryConfig", "Sequence", "parse_recovery"]

#: Defaults of ``serve(recovery=...)``.
DEFAULTS: dict[str, Any] = {
    "window": 120,
    "max_per_topic": 10_000,
    "refetch": False,
    "presence": True,
}
_RANGES = {"window": (1, 86_400, "seconds"), "max_per_topic": (1, 1_000_000, "messages")}


@dataclass(frozen=True)
class RecoveryConfig:
    """An endpoint's validated ``recovery`` option."""

    window: int = 120
    max_per_topic: int = 10_000
    refetch: bool = False
    presence: bool = True


def parse_recovery(endpoint: str, value: object) -> RecoveryConfig | None:
    """``serve(recovery=...)`` as a ``RecoveryConfig``; None for None/False. ``MappingError``
    naming the endpoint, the key and the fix for anything else."""
    if value is None or value is False:
        return None
    if value is True:
        return RecoveryConfig()
    where = f"recovery option of endpoint {endpoint!r}"
    if not isinstance(value, Mapping):
        raise MappingError(
            f"{where}: expected True or a dict such as {{'window': 120}}, got {value!r}."
        )
    values = dict(DEFAULTS)
    for key, item in value.items():
        if key not in DEFAULTS:
            known = ", ".join(repr(k) for k in DEFAULTS)
            raise MappingError(f"{where}: unknown key {key!r}; the keys are {known}.")
        if key in _RANGES:
            low, high, unit = _RANGES[key]
            if isinstance(item, bool) or not isinstance(item, int) or not low <= item <= high:
                raise MappingError(
                    f"{where}: {key!r} must be a whole number of {unit} from {low} to "
                    f"{high:,}, got {item!r}."
                )
        elif not isinstance(item, bool):
            raise MappingError(f"{where}: {key!r} must be True or False, got {item!r}.")
        values[key] = item
    return RecoveryConfig(**values)


T = TypeVar("T")

#: Early messages one topic may hold before the missing ones are read from the store at once.
MAX_PENDING = 10_000


class Sequence(Generic[T]):
    """One recorded topic's delivery in this process: ``last`` is the offset delivered last
    (None until the store said where the topic stands); items are whatever the caller delivers."""

    __slots__ = ("last", "pending", "waiting_since")

    def __init__(self, last: int | None = None) -> None:
        self.last = last
        self.pending: dict[int, T] = {}
        self.waiting_since: float | None = None

    def start(self, last: int) -> list[T]:
        """The store's offset at the topic's start here: what was waiting after it, in order."""
        if self.last is None:
            self.last = last
        return self._drain()

    def offer(self, offset: int, item: T, now: float) -> list[T]:
        """A message arrived: the items now deliverable, in offset order (maybe none)."""
        last = self.last
        if last is not None:
            if offset <= last:
                return []  # a duplicate, or published before the topic started here
            if offset == last + 1 and not self.pending:
                self.last = offset
                return [item]
        self.pending[offset] = item
        if self.waiting_since is None:
            self.waiting_since = now
        return self._drain()

    def missing(self, now: float, wait: float) -> tuple[int, int] | None:
        """``(first, last)`` offsets to read from the store: the gap before the earliest
        waiting message, once it has waited ``wait`` seconds (or too many are waiting)."""
        if self.last is None or not self.pending or self.waiting_since is None:
            return None
        if now - self.waiting_since < wait and len(self.pending) < MAX_PENDING:
            return None
        return self.last + 1, min(self.pending) - 1

    def fill(self, found: Iterable[tuple[int, T]], upto: int) -> list[T]:
        """Deliver what the store had for the gap (``found``, in order) and give up on the
        rest of it up to ``upto``: the items now deliverable, in order."""
        out: list[T] = []
        for offset, item in found:
            if self.last is None or offset > self.last:
                out.append(item)
                self.last = offset
        if self.last is None or upto > self.last:
            self.last = upto
        return out + self._drain()

    def _drain(self) -> list[T]:
        last = self.last
        pending = self.pending
        if last is None or not pending:
            return []
        out = []
        for offset in sorted(pending):
            if offset <= last:
                del pending[offset]
            elif offset == last + 1:
                out.append(pending.pop(offset))
                last = offset
            else:
                break
        self.last = last
        self.waiting_since = None if not pending else self.waiting_since
        return out
