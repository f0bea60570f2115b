"""The 426 Upgrade Required response sent when plain HTTP reaches a WebSocket endpoint."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import patch_vary_headers

from bunws.diagnosis import Diagnosis

__all__ = ["upgrade_required", "wants_json"]

_JSON = "application/json"
_TEXT = "text/plain"


def wants_json(request: HttpRequest) -> bool:
    """Tell whether the client named application/json in Accept and prefers it to plain text."""
    explicit = any(
        accepted.main_type == "application" and accepted.sub_type == "json"
        for accepted in request.accepted_types
    )
    return explicit and request.get_preferred_type([_JSON, _TEXT]) == _JSON


def upgrade_required(request: HttpRequest, diagnosis: Diagnosis, *, endpoint: str) -> HttpResponse:
    """Return 426 with the RFC 6455 upgrade headers and an explanation in JSON or plain text."""
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
            },
            status=426,
            json_dumps_params={"ensure_ascii": False},
        )
        response["Content-Type"] = "application/json; charset=utf-8"
    else:
        what = f"the WebSocket endpoint '{endpoint}'" if endpoint else "a WebSocket endpoint"
        body = (
            f"426 Upgrade Required\n\n"
            f"The address {request.path} is {what}, which only talks to "
            f"WebSocket clients and does not serve ordinary web requests. {diagnosis.summary} "
            f"{diagnosis.hint}\n"
        )
        response = HttpResponse(body, status=426, content_type="text/plain; charset=utf-8")
    # RFC 7231 6.5.15: a 426 names the protocol to switch to; RFC 6455 4.4: the version is 13.
    response["Upgrade"] = "websocket"
    response["Connection"] = "Upgrade"
    response["Sec-WebSocket-Version"] = "13"
    response["Cache-Control"] = "no-store"
    patch_vary_headers(response, ["Accept"])
    # bunws logs every failed upgrade with its reason (bunws.failures); django.request's
    # "Upgrade Required: /path" line for the same request would only repeat it, at twice the cost.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response
