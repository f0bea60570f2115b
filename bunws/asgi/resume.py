"""The handshake side of recovery: is this a ``bunws.v1`` client, and does it resume a session?

Runs before ``fetch`` (docs/recovery.md, "Handshake"): a resume offer is looked up in the store
(and taken: a session resumes once). The verdict rides in the scope under ``bunws.recovery`` for
the socket (``bunws.asgi.recovering``): the session's record, ``GAP`` (unknown or expired: a new
session whose ``welcome`` follows a ``gap`` frame) or a record marked ``refused`` (the user
changed: accepted, then closed with 4403). ``fetch`` is skipped on a resume unless the endpoint
sets ``refetch``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from bunws.cluster import recovery
from bunws.core.envelope import SUBPROTOCOL, resume_offer
from bunws.core.handshake import offered_subprotocols

if TYPE_CHECKING:
    from bunws.endpoint import Endpoint, Handshake

logger = logging.getLogger("bunws")

SCOPE_KEY = "bunws.recovery"
GAP = "gap"

RunFetch = Callable[[dict[str, Any]], Awaitable[tuple["Handshake | None", Any]]]


def user_key(scope: dict[str, Any]) -> str | None:
    """The user a session belongs to: the primary key of ``scope["user"]`` (Channels' auth
    middleware), None when anonymous or without auth middleware."""
    user = scope.get("user")
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return str(user.pk)


async def lookup(endpoint: Endpoint, scope: dict[str, Any]) -> Resume | None:
    """A resume to serve without ``fetch`` (or with it, ``refetch``); None when ``fetch``
    runs as for any handshake (a plain client, a new session, an unknown one)."""
    if endpoint.recovery is None:
        return None
    loaded = recovery.service().loaded  # a new process: learn the recorded topics first
    if not loaded.done():
        await asyncio.wait([loaded], timeout=2.0)
    offered = offered_subprotocols(scope)
    if SUBPROTOCOL not in offered:
        return None
    session = resume_offer(offered)
    if session is None:
        return None
    record: dict[str, Any] | None = None
    try:
        text = await recovery.service().store.take(session)
        record = None if text is None else json.loads(text)
    except Exception as exc:
        logger.error("bunws: %s: could not read session from the store (%s)", endpoint.name, exc)
    if record is None or record.get("endpoint") != endpoint.name:
        scope[SCOPE_KEY] = GAP
        return None
    if record.get("user") != user_key(scope):
        logger.info(
            "bunws: %s: refused to resume a session from %s: its user is no longer logged in",
            endpoint.name,
            (scope.get("client") or ["?"])[0],
        )
        record["refused"] = True
    scope[SCOPE_KEY] = record
    return Resume(endpoint, record)


class Resume:
    """A session found for this handshake."""

    def __init__(self, endpoint: Endpoint, record: dict[str, Any]) -> None:
        self.endpoint = endpoint
        self.record = record

    async def handshake(
        self, scope: dict[str, Any], run_fetch: RunFetch
    ) -> tuple[Handshake | None, Any]:
        """What the handshake is: the restored one, or fetch's (``refetch``) with the
        restored ``ws.data``."""
        from bunws.endpoint import Handshake

        config = self.endpoint.recovery
        if self.record.get("refused") or config is None or not config.refetch:
            data = self.record.get("data")
            state = Handshake(is_handshake=True, upgraded=True, data=data, subprotocol=SUBPROTOCOL)
            return state, None
        fetched, answer = await run_fetch(scope)
        if fetched is not None and fetched.upgraded:
            fetched.data = self.record.get("data")
        return fetched, answer


async def handshake(
    endpoint: Endpoint, scope: dict[str, Any], run_fetch: RunFetch
) -> tuple[Handshake | None, Any]:
    """The handshake's state: ``fetch``'s, or a resumed session's (see ``lookup``)."""
    resume = await lookup(endpoint, scope)
    if resume is None:
        return await run_fetch(scope)
    return await resume.handshake(scope, run_fetch)
