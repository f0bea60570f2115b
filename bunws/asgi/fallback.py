"""One log line per process for each Bun feature that the server in use cannot give.

daphne gives everything bunws offers; another ASGI server (uvicorn, hypercorn, Channels' test
communicator) cannot give what needs daphne's connection (compression, ping and pong frames,
pausing reads, a custom rejection response). bunws then falls back to what ASGI allows and says
so once, at the first socket that asks, never silently and never per message.
"""

from __future__ import annotations

import logging

logger = logging.getLogger("bunws")

_noted: set[str] = set()


def note_fallback(feature: str, fallback: str) -> None:
    """Log, once per process, that ``feature`` is unavailable here and what bunws does instead."""
    if feature in _noted:
        return
    _noted.add(feature)
    logger.warning(
        "bunws: %s needs daphne, and this socket is not served by daphne: %s", feature, fallback
    )


def reset() -> None:
    """Forget what was logged (tests)."""
    _noted.clear()
