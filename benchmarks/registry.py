"""Every workload by name, in the order a full run measures them."""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.deflate import deflate
from benchmarks.metrics import metrics
from benchmarks.presence import presence
from benchmarks.recovery import recovery
from benchmarks.redis_chat import redis_chat
from benchmarks.report import Table
from benchmarks.scale import scale
from benchmarks.workloads import Context, connect, echo, fanout, headroom, upgrade

WORKLOADS: dict[str, Callable[[Context], list[Table]]] = {
    "headroom": headroom,
    "echo": echo,
    "fanout": fanout,
    "deflate": deflate,
    "connect": connect,
    "upgrade": upgrade,
    "scale": scale,
    "redis": redis_chat,
    "presence": presence,
    "metrics": metrics,
    "recovery": recovery,
}
