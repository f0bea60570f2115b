"""Refused WebSocket handshakes: logged and stored as failed upgrades, and told to test clients.

daphne answers a refusal with a bare 403 (unless fetch returned its own response, which
``bunws.asgi.denial`` sends), so a client cannot tell why it was refused. The endpoint's ASGI
app and the routing (``NoSuchEndpoint``, ``OriginCheck``) record each refusal in the
failed-upgrade log here, and note its reason where ``bunws.testing`` asked for it.
"""

from __future__ import annotations

from typing import Any

from bunws.asgi import telemetry
from bunws.core.diagnosis import diagnosis_for
from bunws.core.redact import first_header, scope_client
from bunws.failures.log import arecord_failed_upgrade

Scope = dict[str, Any]

#: Scope key of a list that ``bunws.testing`` puts in the scope to learn why a handshake was
#: refused (daphne answers every refusal with a bare 403, so a client cannot tell them apart).
REFUSALS_KEY = "bunws.refusals"

#: The refusal reason for a client over ``BUNWS["MAX_SOCKETS_PER_CLIENT"]`` (logged as a
#: WARNING line, not as a failed-upgrade row).
TOO_MANY_SOCKETS = "too_many_sockets"


def note_refusal(scope: Scope, reason: str, endpoint: str = "") -> None:
    """Tell a test client that asked (``REFUSALS_KEY``) why this handshake is refused."""
    refusals = scope.get(REFUSALS_KEY)
    if refusals is not None:
        refusals.append((reason, endpoint))


async def refused(scope: Scope, reason: str, endpoint: str = "") -> None:
    """A refused handshake without a log row: told to a test client, counted, signalled."""
    note_refusal(scope, reason, endpoint)
    await telemetry.refused(endpoint, reason, scope)


async def record_refusal(
    scope: Scope, reason: str, endpoint: str = "", status: int | None = None
) -> None:
    """Log and store a refused handshake; ``status`` when the client got another answer than
    the reason's usual 403 (fetch's own response)."""
    await refused(scope, reason, endpoint)
    headers = scope.get("headers", ())
    origin = first_header(headers, "origin")
    await arecord_failed_upgrade(
        reason=reason,
        path=scope.get("path", ""),
        method="GET",
        endpoint=endpoint,
        client=scope_client(scope),
        headers=headers,
        query=scope.get("query_string", b"").decode("latin-1"),
        diagnosis=diagnosis_for(reason, origin=origin, path=scope.get("path"), status=status),
        status=status,
    )
