"""Graceful shutdown on daphne: close every socket still open before the reactor stops.

SIGTERM first drains (``bunws.daphne.drain``: new handshakes refused, open sockets closed in
batches with 1012 over ``BUNWS["DRAIN_SECONDS"]``), then stops the reactor; what this module
does below is the last step, for the sockets still open then (a second SIGTERM, SIGINT, or a
drain that could not run): 1012 after a drain began, else 1001. The failure log is flushed and
presence leaves in the same "before shutdown" phase.

When the Twisted reactor stops, daphne's own "before shutdown" trigger cancels every
application instance and waits for them, so each socket's ``close`` handler runs, but the clients
only see the TCP connection drop (1006). The trigger installed here also sends every open
socket a close frame (1001, "going away", RFC 6455 7.4.1; 1012 after a drain) and waits, at
most ``GRACE_SECONDS``, for the closing handshakes to finish, so clients see a clean close and
the ``close`` handlers receive its code. It is installed from the first connection, on the reactor
thread, and only when the process runs under Twisted (daphne); elsewhere ``install()`` does
nothing. It reaches sockets through their endpoints (``Endpoint.sockets`` maps each open socket
to its transport) and asks only the ``Transport`` interface whether a connection is over.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TYPE_CHECKING, Any

from bunws.daphne import drain
from bunws.endpoint import endpoints

if TYPE_CHECKING:
    from bunws.core.socket import ServerWebSocket
    from bunws.core.transport import Transport

__all__ = ["GRACE_SECONDS", "close_all", "install"]

logger = logging.getLogger("bunws")

#: Longest wait, after SIGTERM, for clients to answer the 1001 close frames.
GRACE_SECONDS = 5.0
_POLL_SECONDS = 0.02
_REASON = "server shutting down"

_state: dict[str, bool] = {"installed": False}


def install() -> None:
    """Register the shutdown trigger with the running Twisted reactor, once per process."""
    if _state["installed"]:
        return
    # Importing twisted.internet.reactor would install a default reactor; only use one that
    # daphne (or another Twisted server) already installed and is running.
    reactor: Any = sys.modules.get("twisted.internet.reactor")
    if reactor is None or not getattr(reactor, "running", False):
        return
    _state["installed"] = True
    drain.install(reactor)  # SIGTERM drains first (1012 in batches), then stops the reactor
    reactor.addSystemEventTrigger("before", "shutdown", _before_shutdown, reactor)
    reactor.addSystemEventTrigger("before", "shutdown", _presence_leaves)
    reactor.addSystemEventTrigger("before", "shutdown", _flush_failures)


def _flush_failures() -> Any:
    """The failed-upgrade repeats counted in memory are written before the process exits; a
    Deferred that fires when they are (the ORM runs in a worker thread)."""
    import asyncio

    from twisted.internet import defer

    from bunws.failures.log import flush_pending

    future = asyncio.get_running_loop().run_in_executor(None, flush_pending)
    return defer.Deferred.fromFuture(future)


def _presence_leaves() -> Any:
    """This process's presence entries leave at once (in Redis and as diffs), not after the
    others' down period; a Deferred that fires when that is done."""
    import asyncio

    from twisted.internet import defer

    from bunws.cluster.presence import leave_all

    return defer.Deferred.fromFuture(asyncio.ensure_future(leave_all()))


def close_all(code: int = 1001, reason: str = _REASON) -> list[tuple[ServerWebSocket, Transport]]:
    """Close every open socket of every endpoint in this process; return the sockets closed,
    each with its transport."""
    closed = []
    for endpoint in endpoints():
        for ws, transport in list(endpoint.sockets.items()):
            try:
                ws.close(code, reason)
            except Exception:
                logger.exception("bunws: closing %r at shutdown failed", ws)
            closed.append((ws, transport))
    return closed


def _before_shutdown(reactor: Any) -> Any:
    """Close every socket with 1001 and return a Deferred that fires once they are all gone."""
    from twisted.internet import defer

    code, reason = drain.close_code()  # 1012 after a drain (a second SIGTERM), else 1001
    closed = close_all(code, reason)
    logger.info("bunws: shutting down: closed %d open socket(s) with %d", len(closed), code)
    if not closed:
        return None
    done: Any = defer.Deferred()
    deadline = time.monotonic() + GRACE_SECONDS

    def check() -> None:
        pending = [ws for ws, transport in closed if not _finished(ws, transport)]
        if not pending:
            done.callback(None)
        elif time.monotonic() >= deadline:
            logger.warning(
                "bunws: %d socket(s) did not finish closing within %.0f s of shutdown",
                len(pending),
                GRACE_SECONDS,
            )
            done.callback(None)
        else:
            reactor.callLater(_POLL_SECONDS, check)

    reactor.callLater(0, check)
    return done


def _finished(ws: ServerWebSocket, transport: Transport) -> bool:
    """Whether the socket left its endpoint and its connection is over."""
    if ws.endpoint is not None and ws in ws.endpoint.sockets:
        return False
    return transport.closed
