"""The drain on SIGTERM under daphne: refuse new handshakes, close open sockets in batches with 1012.

Twisted stops the reactor on SIGTERM, and daphne's first "before shutdown" trigger cancels every
application instance at once, so the drain has to happen before the reactor is asked to stop.
``install()`` puts a handler in front of Twisted's SIGTERM handler (only where Twisted installed
one: daphne with its signal handlers, on the main thread). On SIGTERM that handler:

1. refuses every new handshake with ``503 Service Unavailable`` and ``Retry-After`` (through
   daphne's own reject path, ``bunws.daphne.reject``), so a proxy can retry another backend
   (nginx: ``proxy_next_upstream error timeout http_503``); plain HTTP is still served;
2. closes the open sockets in batches spread over ``BUNWS["DRAIN_SECONDS"]``
   (``bunws.core.drain``), each with 1012 "server restarting", so clients come back, and not all
   at once; every socket's ``close`` handler runs once, as for any close;
3. waits, at most ``GRACE_SECONDS``, for the closing handshakes and the close handlers, then
   hands over to Twisted's handler, which stops the reactor: the "before shutdown" triggers
   (``bunws.daphne.shutdown``) flush the failure log and remove this process's presence.

daphne gives an application ``--application-close-timeout`` seconds (default 10) to finish after
its client left; the drain period is kept within it (a longer ``DRAIN_SECONDS`` is cut to it, with
a warning), so a deployment sized on daphne's timeouts also fits the drain. A second SIGTERM
stops at once: the sockets still open get 1012 together.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bunws.asgi.transport import RAW_SEND_KEY
from bunws.conf import get_config
from bunws.core.close import OPEN
from bunws.core.denial import Denial
from bunws.core.drain import (
    RESTART_CODE,
    RESTART_REASON,
    TICK_SECONDS,
    DrainSchedule,
    retry_after,
)
from bunws.daphne.connection import connection_details, find_protocol
from bunws.daphne.reject import deny
from bunws.endpoint import endpoints

if TYPE_CHECKING:
    from bunws.core.socket import ServerWebSocket
    from bunws.core.transport import Transport

__all__ = ["GRACE_SECONDS", "close_code", "draining", "install", "open_sockets", "refused"]

logger = logging.getLogger("bunws")

#: Longest wait, after the last batch, for clients to answer and close handlers to finish.
GRACE_SECONDS = 5.0
_POLL_SECONDS = 0.02
_BODY = (
    b"This server is restarting and accepts no new WebSocket connections. Connect again in a "
    b"few seconds: another server, or this one once restarted, will answer.\n"
)


class _State:
    installed = False
    requested = False  # SIGTERM arrived (set in the signal handler itself)
    stopping = False  # the reactor's shutdown began
    schedule: DrainSchedule | None = None
    refused = 0


_state = _State()


def draining() -> bool:
    """Whether this process is draining for a restart (new handshakes are refused)."""
    return _state.requested


def close_code() -> tuple[int, str]:
    """The close code and reason for sockets closed at shutdown: 1012 once a drain began."""
    if _state.requested:
        return RESTART_CODE, RESTART_REASON
    return 1001, "server shutting down"  # RFC 6455 7.4.1: going away


def install(reactor: Any) -> None:
    """Put the drain in front of Twisted's SIGTERM handler, once; nothing where there is none."""
    if _state.installed or threading.current_thread() is not threading.main_thread():
        return
    _state.installed = True
    previous = signal.getsignal(signal.SIGTERM)
    if not callable(previous):  # daphne without signal handlers (runserver's reloader)
        return
    reactor.addSystemEventTrigger("before", "shutdown", _stopping)

    def on_sigterm(number: int, frame: Any) -> None:
        if _state.requested:  # a second SIGTERM: stop now
            previous(number, frame)
            return
        _state.requested = True
        reactor.callFromThread(_start, reactor, lambda: previous(number, None))

    signal.signal(signal.SIGTERM, on_sigterm)


def _stopping() -> None:
    _state.stopping = True


def refused(scope: dict[str, Any], send: Any) -> bool:
    """During the drain, answer this handshake with 503 and ``Retry-After``; True if refused."""
    if not _state.requested:
        return False
    schedule = _state.schedule
    wait = 1 if schedule is None else retry_after(schedule, time.monotonic())
    denial = Denial(
        503,
        "Service Unavailable",
        ((b"Retry-After", b"%d" % wait), (b"Content-Type", b"text/plain; charset=utf-8")),
        _BODY,
    )
    protocol = find_protocol(scope.get(RAW_SEND_KEY) or send)
    if protocol is None or not deny(protocol, denial):
        return True  # the client already left, or no daphne: the caller's return drops it
    _state.refused += 1
    return True


def open_sockets() -> list[tuple[ServerWebSocket, Transport]]:
    """Every socket of this process still open, oldest first per endpoint."""
    return [
        (ws, transport)
        for endpoint in endpoints()
        for ws, transport in list(endpoint.sockets.items())
        if ws.ready_state == OPEN
    ]


def _period(sockets: list[tuple[ServerWebSocket, Transport]]) -> float:
    """``DRAIN_SECONDS``, cut to daphne's ``--application-close-timeout`` (warned)."""
    seconds = float(get_config().drain_seconds)
    protocol = getattr(sockets[0][1], "protocol", None) if sockets else None
    limit = getattr(getattr(protocol, "server", None), "application_close_timeout", None)
    if isinstance(limit, int | float) and seconds > limit:
        logger.warning(
            "bunws: BUNWS['DRAIN_SECONDS'] = %s exceeds daphne's --application-close-timeout "
            "(%s s), the time daphne gives an application to finish: draining over %s s instead. "
            "Raise --application-close-timeout (and the process manager's stop timeout) to "
            "drain longer.",
            seconds,
            limit,
            limit,
        )
        seconds = float(limit)
    return seconds


def _start(reactor: Any, stop: Callable[[], None]) -> None:
    if _state.stopping:
        return
    sockets = open_sockets()
    schedule = _state.schedule = DrainSchedule(_period(sockets), time.monotonic())
    logger.info(
        "bunws: SIGTERM: draining %d open socket(s) with %d over %.1f s, a batch every %.1f s; "
        "new handshakes get 503",
        len(sockets),
        RESTART_CODE,
        schedule.seconds,
        TICK_SECONDS,
    )
    closed: list[tuple[ServerWebSocket, Transport]] = []
    started = time.monotonic()

    def tick() -> None:
        if _state.stopping:
            return
        still_open = open_sockets()
        batch = still_open[: schedule.due(len(still_open), time.monotonic())]
        for ws, transport in batch:
            try:
                ws.close(RESTART_CODE, RESTART_REASON)
            except Exception:
                logger.exception("bunws: closing %r in the drain failed", ws)
            closed.append((ws, transport))
        if len(batch) < len(still_open):
            reactor.callLater(TICK_SECONDS, tick)
            return
        logger.info(
            "bunws: drain: closed %d socket(s) with %d in %.1f s; refused %d handshake(s)",
            len(closed),
            RESTART_CODE,
            time.monotonic() - started,
            _state.refused,
        )
        _wait(reactor, closed, stop)

    tick()


def _wait(
    reactor: Any, closed: list[tuple[ServerWebSocket, Transport]], stop: Callable[[], None]
) -> None:
    """Hand over to ``stop`` once every closed socket's task ended, or after ``GRACE_SECONDS``."""
    deadline = time.monotonic() + GRACE_SECONDS

    def check() -> None:
        if _state.stopping:
            return
        pending = [ws for ws, transport in closed if not _finished(ws, transport)]
        if pending and time.monotonic() < deadline:
            reactor.callLater(_POLL_SECONDS, check)
            return
        if pending:
            logger.warning(
                "bunws: drain: %d socket(s) did not finish closing within %.0f s",
                len(pending),
                GRACE_SECONDS,
            )
        stop()

    check()


def _finished(ws: ServerWebSocket, transport: Transport) -> bool:
    """Whether the socket left its endpoint and daphne's task for it (close handler included)
    ended."""
    if ws.endpoint is not None and ws in ws.endpoint.sockets:
        return False
    details = connection_details(getattr(transport, "protocol", None))
    task = None if details is None else details.get("application_instance")
    return task is None or task.done()
