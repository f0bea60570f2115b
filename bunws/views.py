"""The HTTP side of every endpoint: run ``fetch`` for plain requests, else answer 426, and log.

The view is async so a 426 is answered on the event loop: logging the attempt and counting a
repeat need no query, and only ``fetch`` (if sync) or a database write goes to a thread.
Django refuses ``ATOMIC_REQUESTS`` around async views, so the view opts out of it and runs a
sync ``fetch`` inside ``transaction.atomic`` for each database that asks for it instead.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from contextlib import ExitStack
from typing import Any

from asgiref.sync import sync_to_async
from django.db import connections, transaction
from django.http import HttpRequest, HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from bunws.diagnosis import diagnose
from bunws.endpoint import Endpoint, Handshake
from bunws.failures import arecord_failed_upgrade
from bunws.responses import upgrade_required


def endpoint_view(endpoint: Endpoint) -> Callable[..., Coroutine[Any, Any, HttpResponseBase]]:
    """The Django view for ``endpoint``'s route: a plain request can never be upgraded."""

    @csrf_exempt
    async def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        request.bunws = Handshake(is_handshake=False)  # type: ignore[attr-defined]
        response: Any = None
        fetch = endpoint.fetch
        if fetch is not None:
            if inspect.iscoroutinefunction(fetch):
                response = await fetch(request, endpoint)
            else:  # Django's main sync thread, as for a sync view (sessions, the ORM)
                response = await sync_to_async(_atomic_fetch, thread_sensitive=True)(
                    fetch, request, endpoint
                )
        diagnosis = diagnose(request.method or "GET", request.headers)
        await arecord_failed_upgrade(
            reason=diagnosis.reason,
            path=request.path,
            method=request.method or "",
            endpoint=endpoint.name,
            client=request.META.get("REMOTE_ADDR"),
            headers=request.headers,
            query=request.META.get("QUERY_STRING", ""),
            diagnosis=diagnosis,
        )
        if isinstance(response, HttpResponseBase):
            return response
        return upgrade_required(request, diagnosis, endpoint=endpoint.name)

    view.__name__ = view.__qualname__ = f"bunws_{endpoint.name.replace('-', '_')}"
    view._non_atomic_requests = set(connections)  # type: ignore[attr-defined]
    return view


def _atomic_fetch(fetch: Callable[..., Any], request: HttpRequest, endpoint: Endpoint) -> Any:
    """Call a sync ``fetch`` as Django would call a sync view: atomic where ATOMIC_REQUESTS."""
    with ExitStack() as stack:
        for alias in connections:
            if connections.settings[alias].get("ATOMIC_REQUESTS"):
                stack.enter_context(transaction.atomic(using=alias))
        return fetch(request, endpoint)
