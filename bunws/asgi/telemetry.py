"""A socket's life as figures and signals: counted in ``bunws.core.stats``, announced through
``bunws.signals`` (only when someone listens). One call from the endpoint's app per event."""

from __future__ import annotations

import time
from typing import Any

from bunws.core.stats import EndpointStats, for_endpoint, process
from bunws.signals import emit, handshake_refused, socket_closed, socket_opened

__all__ = ["closed", "for_endpoint", "opened", "refused"]


async def opened(stats: EndpointStats, ws: Any, started: float) -> None:
    """A handshake that began at ``started`` (``time.monotonic()``) was accepted."""
    stats.opened += 1
    stats.observe_handshake(time.monotonic() - started)
    await emit(socket_opened, stats.name, ws=ws)


async def closed(stats: EndpointStats, ws: Any, code: int, reason: str) -> None:
    """A socket is gone with ``code`` (after its ``close`` handler ran)."""
    stats.socket_closed(code)
    await emit(socket_closed, stats.name, ws=ws, code=code, reason=reason)


async def refused(endpoint: str, reason: str, scope: dict[str, Any]) -> None:
    """A handshake was refused for ``reason`` (its log row, if any, is written elsewhere)."""
    process.handshake_refused(endpoint, reason)
    await emit(handshake_refused, endpoint, reason=reason, scope=scope)
