"""The origin policy: which ``Origin`` a WebSocket handshake may come from, and the decision that
``OriginCheck`` hands down the scope to the endpoint that serves the socket.

``OriginCheck`` sits outside Channels' routing, so it cannot know which endpoint a path reaches
once routes are nested under a prefix or served with a ``root_path``. It therefore decides only
the settings' policy (``BUNWS["ALLOWED_ORIGINS"]``, else ``ALLOWED_HOSTS``) and stores an
``OriginDecision`` in the scope; the endpoint's own ASGI app, which routing did reach, claims
the decision and applies the endpoint's ``allowed_origins`` (or the settings' verdict).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from channels.security.websocket import OriginValidator
from django.conf import settings

from bunws.conf import Config, get_config
from bunws.core.redact import first_header

#: Scope key under which ``OriginCheck`` stores the ``OriginDecision`` for a handshake.
ORIGIN_KEY = "bunws.origin"


@dataclass
class OriginDecision:
    """``OriginCheck``'s verdict for one handshake, shared by every copy of its scope."""

    #: The handshake's ``Origin`` header, or None when it had none.
    origin: str | None
    #: Whether the settings' policy allows it (an endpoint's own ``allowed_origins`` may differ).
    allowed: bool
    #: Set by the bunws endpoint that routing reached, before it reads the handshake: from
    #: then on that endpoint decides, with its own ``allowed_origins`` or else ``allowed``.
    endpoint: str | None = None


def scope_origin(scope: dict[str, Any]) -> str | None:
    """The handshake's ``Origin`` header as text, or None."""
    return first_header(scope.get("headers", ()), "origin")


@functools.lru_cache(maxsize=8)
def _validator(config: Config, hosts: tuple[str, ...], debug: bool) -> OriginValidator:
    allowed: list[str]
    if config.allowed_origins is not None:
        allowed = list(config.allowed_origins)
    else:
        allowed = list(hosts)
        if debug and not allowed:  # Django's own default for DEBUG with empty ALLOWED_HOSTS
            allowed = ["localhost", "127.0.0.1", "[::1]"]
    return OriginValidator(None, allowed)


def origin_allowed(origin: str | None, allowed_origins: tuple[str, ...] | None = None) -> bool:
    """Whether a handshake with this ``Origin`` may proceed: against ``allowed_origins`` when
    given (an endpoint's own list), else the settings' policy."""
    config = get_config()
    if origin is None:
        return config.allow_missing_origin
    if allowed_origins is not None:
        config = Config(allowed_origins=allowed_origins)
    validator = _validator(config, tuple(settings.ALLOWED_HOSTS), bool(settings.DEBUG))
    parsed = urlparse(origin.lower())
    if not parsed.hostname:
        return False
    return bool(validator.valid_origin(parsed))


def claim(scope: dict[str, Any], endpoint: str) -> OriginDecision | None:
    """Take ``OriginCheck``'s decision over for ``endpoint`` (before reading the handshake);
    the decision, or None when no ``OriginCheck`` ran."""
    decision: OriginDecision | None = scope.get(ORIGIN_KEY)
    if decision is not None:
        decision.endpoint = endpoint
    return decision


def endpoint_allows(
    scope: dict[str, Any], decision: OriginDecision | None, allowed_origins: tuple[str, ...] | None
) -> bool:
    """Whether an endpoint with ``allowed_origins`` may accept this handshake.

    An endpoint's own list always applies, ``OriginCheck`` or not; without one, the settings'
    policy applies only under ``OriginCheck``, as it always has.
    """
    if allowed_origins is not None:
        origin = decision.origin if decision is not None else scope_origin(scope)
        return origin_allowed(origin, allowed_origins)
    return decision is None or decision.allowed
