"""The HTTP side of every endpoint: run ``fetch`` for plain requests, else answer 426, and log.

A plain request that fetch answered with a page or a redirect (status below 400) is served as
it is, as Bun serves what fetch returns: nothing failed. Every other plain request is logged as a
failed upgrade: as ``fetch_answered`` with fetch's status when fetch refused it with its own
response (a 403 to a visitor), else with the reason for the 426 that bunws sends.

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

from bunws.core.diagnosis import FETCH_ANSWERED, diagnose, diagnosis_for
from bunws.endpoint import Endpoint, Handshake
from bunws.failures.log import arecord_failed_upgrade
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
        # fetch's own answer (a 403 to a visitor, a page) is logged as such, not as bunws's 426.
        answer = response if isinstance(response, HttpResponseBase) else None
        if answer is not None and answer.status_code < 400:
            return answer
        if answer is not None:
            status = answer.status_code
            diagnosis = diagnosis_for(FETCH_ANSWERED, path=request.path, status=status)
        else:
            status = 426
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
            status=status,
        )
        if answer is not None:
            return answer
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
