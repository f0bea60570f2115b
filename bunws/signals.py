"""Django signals for bunws's per-connection events, for apps that keep their own telemetry.

Every signal's ``sender`` is the endpoint's name (a ``str``; ``""`` when a refused handshake
or failed upgrade matched no endpoint), so ``@receiver(socket_opened, sender="chat")`` listens
to one endpoint. They are sent for connection events only, never per message (the per-message
figures are counters: ``bunws.core.stats``, exported by ``bunws.metrics``), and only when a
receiver is connected: with none, an event costs one check of ``signal.receivers``.

Sent from the socket's event loop with ``Signal.asend_robust``: an ``async def`` receiver runs on
that loop (keep it short), a sync receiver in a worker thread (the ORM is fine there). A receiver
that raises is logged and does not affect the connection.

- ``socket_opened(sender, ws)``: a handshake was accepted, before the ``open`` handler.
- ``socket_closed(sender, ws, code, reason)``: the socket is gone, after the ``close`` handler,
  with the code and reason it got.
- ``handshake_refused(sender, reason, scope)``: a WebSocket handshake was refused; ``reason`` is
  a ``bunws.core.diagnosis`` code (``origin_not_allowed``, ``fetch_declined``, ...) or
  ``too_many_sockets``.
- ``failed_upgrade(sender, reason, path, status, client)``: an attempt entered the failed-upgrade
  log: a refused handshake, or a plain HTTP request to a WebSocket URL (``status`` 426, or
  fetch's own status).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.dispatch import Signal

if TYPE_CHECKING:
    from bunws.failures.fields import Attempt

__all__ = ["failed_upgrade", "handshake_refused", "socket_closed", "socket_opened"]

logger = logging.getLogger("bunws")

socket_opened = Signal()
socket_closed = Signal()
handshake_refused = Signal()
failed_upgrade = Signal()


async def emit(signal: Signal, sender: str, **kwargs: Any) -> None:
    """Send ``signal`` if anyone listens; a receiver's exception is logged, not raised."""
    if not signal.receivers:
        return
    for receiver, result in await signal.asend_robust(sender, **kwargs):
        if isinstance(result, Exception):
            _log(receiver, result)


def emit_sync(signal: Signal, sender: str, **kwargs: Any) -> None:
    """``emit`` from synchronous code."""
    if not signal.receivers:
        return
    for receiver, result in signal.send_robust(sender, **kwargs):
        if isinstance(result, Exception):
            _log(receiver, result)


def _log(receiver: Any, exc: Exception) -> None:
    logger.error(
        "bunws: a signal receiver %r raised %s: %s",
        receiver,
        type(exc).__name__,
        exc,
        exc_info=exc,
    )


def _upgrade(attempt: Attempt) -> dict[str, Any]:
    row = attempt.row
    return {
        "reason": row["reason"],
        "path": row["path"],
        "status": attempt.status,
        "client": row["client_address"] or None,
    }


async def upgrade_failed(attempt: Attempt) -> None:
    """Signal ``failed_upgrade`` for an attempt the failure log took (from the event loop)."""
    if failed_upgrade.receivers:
        await emit(failed_upgrade, attempt.row["endpoint"], **_upgrade(attempt))


def upgrade_failed_sync(attempt: Attempt) -> None:
    """``upgrade_failed`` from synchronous code."""
    if failed_upgrade.receivers:
        emit_sync(failed_upgrade, attempt.row["endpoint"], **_upgrade(attempt))
