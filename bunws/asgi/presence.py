"""Calling endpoints' ``presence`` handlers with the diffs ``bunws.cluster.presence`` flushes.

Each endpoint app that defines the handler registers here when it accepts a socket; a diff then
becomes one task per subscribed socket of such an endpoint, run through the app's ``_call`` like
the other handlers (an exception is logged, reaches ``error`` and closes the socket with 1011).
Endpoints without the handler are never looked at on the message path.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bunws.cluster import presence
from bunws.core.close import OPEN

#: The app serving each endpoint with a ``presence`` handler, by endpoint.
_apps: dict[Any, Any] = {}
_tasks: set[asyncio.Task[Any]] = set()


def register(app: Any) -> None:
    """``app`` (an ``EndpointApp``) serves sockets whose endpoint has a ``presence`` handler."""
    if _apps.get(app.endpoint) is not app:
        _apps[app.endpoint] = app
        presence.set_dispatcher(dispatch)


def dispatch(ws: Any, topic: str, diff: dict[str, Any]) -> None:
    """Call ``ws``'s ``presence(ws, topic, diff)`` handler, if its endpoint has one."""
    relay = getattr(ws, "relay_presence", None)  # a bunws.v1 socket (docs/recovery.md)
    if relay is not None:
        relay(topic, diff)
    app = _apps.get(ws.endpoint)
    if app is None or ws.ready_state != OPEN:
        return
    handler = app.endpoint.handlers["presence"]
    task = asyncio.get_running_loop().create_task(
        app._call(ws, "presence", handler, ws, topic, diff)
    )
    _tasks.add(task)  # the loop holds tasks only weakly until they finish
    task.add_done_callback(_tasks.discard)
