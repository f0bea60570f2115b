"""The HTTP side of every endpoint: run ``fetch`` for plain requests, else answer 426, and log.

The view is async so a 426 is answered on the event loop: logging the attempt and counting a
repeat need no query, and only ``fetch`` (if sync) or a database write goes to a thread.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any

from asgiref.sync import sync_to_async
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
                response = await sync_to_async(fetch, thread_sensitive=True)(request, endpoint)
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
    return view
