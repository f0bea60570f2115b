"""The 426 Upgrade Required response sent when plain HTTP reaches a WebSocket endpoint."""

from __future__ import annotations

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import patch_vary_headers

from bunws.core.diagnosis import Diagnosis

__all__ = ["upgrade_required", "wants_json", "websocket_url"]

_JSON = "application/json"
_TEXT = "text/plain"


def wants_json(request: HttpRequest) -> bool:
    """Tell whether the client named application/json in Accept and prefers it to plain text."""
    explicit = any(
        accepted.main_type == "application" and accepted.sub_type == "json"
        for accepted in request.accepted_types
    )
    return explicit and request.get_preferred_type([_JSON, _TEXT]) == _JSON


def websocket_url(request: HttpRequest) -> str | None:
    """The ``ws://`` or ``wss://`` URL of the request's host and path (no query), as a client
    should open it, or None when the host is not one ALLOWED_HOSTS accepts.

    ``wss`` when the request is secure, so ``SECURE_PROXY_SSL_HEADER`` behind a TLS proxy counts;
    the host is ``request.get_host()`` (``USE_X_FORWARDED_HOST`` included).
    """
    try:
        http_url = request.build_absolute_uri(request.path)
    except DisallowedHost:
        return None
    return ("wss" if request.is_secure() else "ws") + http_url[http_url.index(":") :]


def upgrade_required(request: HttpRequest, diagnosis: Diagnosis, *, endpoint: str) -> HttpResponse:
    """Return 426 with the RFC 6455 upgrade headers and an explanation in JSON or plain text:
    what went wrong, what to do, and the WebSocket URL to connect to."""
    url = websocket_url(request)
    response: HttpResponse
    if wants_json(request):
        response = JsonResponse(
            {
                "error": "upgrade_required",
                "reason": diagnosis.reason,
                "detail": diagnosis.summary,
                "hint": diagnosis.hint,
                "endpoint": endpoint,
                "path": request.path,
                "url": url,
            },
            status=426,
            json_dumps_params={"ensure_ascii": False},
        )
        response["Content-Type"] = "application/json; charset=utf-8"
    else:
        name = f" ('{endpoint}')" if endpoint else ""
        where = (
            f"URL of this endpoint{name} is {url}" if url is not None else f"path is {request.path}"
        )
        body = (
            f"426 Upgrade Required\n\n{diagnosis.summary}\n\n{diagnosis.hint}\n\n"
            f"The WebSocket {where}\n"
        )
        response = HttpResponse(body, status=426, content_type="text/plain; charset=utf-8")
    # RFC 7231 6.5.15: a 426 names the protocol to switch to; RFC 6455 4.4: the version is 13.
    response["Upgrade"] = "websocket"
    response["Connection"] = "Upgrade"
    response["Sec-WebSocket-Version"] = "13"
    response["Cache-Control"] = "no-store"
    patch_vary_headers(response, ["Accept"])
    # bunws logs every failed upgrade with its reason (bunws.failures.log); django.request's
    # "Upgrade Required: /path" line for the same request would only repeat it, at twice the cost.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response
