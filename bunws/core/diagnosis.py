"""Explain why a request to a WebSocket endpoint did not become a WebSocket, without any I/O.

The reason codes, the summary and hint a person reads for each, and the status a client gets.
Everything here works on plain strings so it can be unit-tested without Django or a server; the
redaction of what is logged lives in ``bunws.core.redact``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bunws.core.redact import first_header, fit, redact_url

__all__ = [
    "CONNECTION_NOT_UPGRADE",
    "FETCH_ANSWERED",
    "FETCH_DECLINED",
    "HANDSHAKE_NOT_UPGRADED",
    "NGINX_UPGRADE_LINES",
    "NO_SUCH_ENDPOINT",
    "NO_UPGRADE_HEADER",
    "ORIGIN_NOT_ALLOWED",
    "PROXY_DROPPED_UPGRADE",
    "REASONS",
    "UPGRADE_NOT_WEBSOCKET",
    "WRONG_METHOD",
    "Diagnosis",
    "diagnose",
    "diagnosis_for",
    "expected_status",
    "log_note",
]

NO_UPGRADE_HEADER = "no_upgrade_header"
UPGRADE_NOT_WEBSOCKET = "upgrade_not_websocket"
CONNECTION_NOT_UPGRADE = "connection_not_upgrade"
HANDSHAKE_NOT_UPGRADED = "handshake_not_upgraded"
WRONG_METHOD = "wrong_method"
FETCH_DECLINED = "fetch_declined"
FETCH_ANSWERED = "fetch_answered"
ORIGIN_NOT_ALLOWED = "origin_not_allowed"
NO_SUCH_ENDPOINT = "no_such_endpoint"
PROXY_DROPPED_UPGRADE = "proxy_dropped_upgrade"

REASONS: tuple[tuple[str, str], ...] = (
    (NO_UPGRADE_HEADER, "no Upgrade header"),
    (UPGRADE_NOT_WEBSOCKET, "Upgrade header is not exactly 'websocket'"),
    (CONNECTION_NOT_UPGRADE, "Connection header lacks 'upgrade'"),
    (HANDSHAKE_NOT_UPGRADED, "handshake arrived as plain HTTP"),
    (WRONG_METHOD, "method is not GET"),
    (FETCH_DECLINED, "upgrade declined by the endpoint"),
    (FETCH_ANSWERED, "fetch answered the request itself"),
    (ORIGIN_NOT_ALLOWED, "origin not allowed"),
    (NO_SUCH_ENDPOINT, "no such endpoint"),
    (PROXY_DROPPED_UPGRADE, "a proxy dropped the upgrade"),
)

# What an nginx location needs to pass a handshake on (nginx's WebSocket proxying guide): HTTP/1.1
# and the hop-by-hop Upgrade and Connection headers, which a proxy never forwards by itself.
NGINX_UPGRADE_LINES = (
    "proxy_http_version 1.1;",
    "proxy_set_header Upgrade $http_upgrade;",
    'proxy_set_header Connection "upgrade";',
)
# Headers a proxy adds to what it forwards (RFC 7239 Forwarded, RFC 9110 7.6.3 Via, and the
# de facto X-Forwarded-For and X-Real-IP): a request that carries one came through a proxy.
_FORWARDING_HEADERS = {
    "x-forwarded-for": "X-Forwarded-For",
    "forwarded": "Forwarded",
    "x-real-ip": "X-Real-IP",
    "via": "Via",
}

_PROXY_HINT = (
    "behind a proxy, forward the Upgrade and Connection headers over HTTP/1.1 "
    "(nginx: proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; "
    'proxy_set_header Connection "upgrade";)'
)

# (summary, hint) for every reason; diagnose() adds the offending value where it has one.
_TEXTS: dict[str, tuple[str, str]] = {
    WRONG_METHOD: (
        "This address is a WebSocket endpoint, and a WebSocket handshake must be a GET request, "
        "but this request used another method.",
        "Open the connection with a WebSocket client, for example `new WebSocket(url)` in a "
        "browser, instead of submitting a form or calling `fetch()` on this address.",
    ),
    NO_UPGRADE_HEADER: (
        "This address is a WebSocket endpoint, but the request was ordinary HTTP without an "
        "Upgrade header, so there was no WebSocket handshake to accept.",
        "Connect with a WebSocket client such as `new WebSocket(url)` rather than `fetch()` or a "
        f"link; if your client does send a handshake, {_PROXY_HINT}.",
    ),
    UPGRADE_NOT_WEBSOCKET: (
        "The request asked for a protocol upgrade, but the Upgrade header was not exactly "
        "'websocket', so the server treated it as plain HTTP.",
        "Send `Upgrade: websocket` with no other protocols listed (a standard client such as "
        "`new WebSocket(url)` does this); if a proxy rewrites the header, pass the client's "
        "header through unchanged (nginx: proxy_set_header Upgrade $http_upgrade;).",
    ),
    CONNECTION_NOT_UPGRADE: (
        "The request carried `Upgrade: websocket`, but its Connection header lacks the "
        "'upgrade' token, which usually means a proxy stripped or replaced it.",
        f"Send `Connection: Upgrade` with the handshake; {_PROXY_HINT}.",
    ),
    HANDSHAKE_NOT_UPGRADED: (
        "The request looks like a complete WebSocket handshake, yet it reached Django as plain "
        "HTTP, so the server in front of Django did not perform the upgrade.",
        "Serve the project with an ASGI server that speaks WebSocket (daphne, or "
        "`manage.py runserver` with 'daphne' first in INSTALLED_APPS) and route this path "
        f"through Channels' websocket router; {_PROXY_HINT}.",
    ),
    FETCH_DECLINED: (
        "The endpoint's fetch handler declined to upgrade this request to a WebSocket.",
        "Check what the endpoint's fetch handler requires (for example a login, a query "
        "parameter or a header) and connect again with `new WebSocket(url)` once the request "
        "meets it.",
    ),
    FETCH_ANSWERED: (
        "The endpoint's fetch handler answered this plain HTTP request with its own response "
        "instead of a WebSocket upgrade.",
        "This is the endpoint's own answer, not a bunws error: if the client meant to open a "
        "WebSocket, connect with `new WebSocket(url)` and meet what fetch requires (for example "
        "a login); otherwise check why fetch answered with this status.",
    ),
    ORIGIN_NOT_ALLOWED: (
        "The WebSocket handshake came from an origin this endpoint does not allow, so it was "
        "refused to protect users from cross-site WebSocket hijacking.",
        "Open the page from an allowed origin, or, if the origin is trusted, add it to the "
        "endpoint's allowed origins.",
    ),
    PROXY_DROPPED_UPGRADE: (
        "This request is a WebSocket handshake (it carries Sec-WebSocket-Key) that came through "
        "a proxy, and the proxy dropped its upgrade: the Upgrade and Connection headers did not "
        "reach the server, so it arrived as plain HTTP.",
        "Make the proxy forward the upgrade for this path: in nginx, add these lines to its "
        "location block\n\n" + "".join(f"    {line}\n" for line in NGINX_UPGRADE_LINES) + "\nand "
        "reload nginx.",
    ),
    NO_SUCH_ENDPOINT: (
        "No WebSocket endpoint is registered at this path, so the handshake was refused.",
        "Check the URL passed to `new WebSocket(url)` against the paths in the project's "
        "WebSocket routing, including any trailing slash.",
    ),
}


@dataclass(frozen=True)
class Diagnosis:
    """Why a request did not become a WebSocket: a reason code and text for a person."""

    reason: str
    summary: str
    hint: str


def _quoted(value: str) -> str:
    """Quote a client-supplied value for inclusion in a sentence, bounded and printable."""
    return "'" + fit(value, 64) + "'"


def _tokens(value: str) -> set[str]:
    """Split a comma-separated header value into lowercase tokens."""
    return {part.strip().lower() for part in value.split(",") if part.strip()}


# What the client is answered for each reason when the caller does not say: a plain request gets
# bunws's 426; a refused handshake gets 403, the ASGI spec's answer to a close before accept.
# fetch_answered has no default: the status is whatever fetch's response carried.
_STATUS: dict[str, int] = {
    NO_UPGRADE_HEADER: 426,
    UPGRADE_NOT_WEBSOCKET: 426,
    CONNECTION_NOT_UPGRADE: 426,
    HANDSHAKE_NOT_UPGRADED: 426,
    PROXY_DROPPED_UPGRADE: 426,
    WRONG_METHOD: 426,
    FETCH_DECLINED: 403,
    ORIGIN_NOT_ALLOWED: 403,
    NO_SUCH_ENDPOINT: 403,
}


def expected_status(reason: str) -> int | None:
    """The HTTP status a client gets for ``reason`` (426 or 403), or None where it varies."""
    return _STATUS.get(reason)


def diagnosis_for(
    reason: str,
    *,
    origin: str | None = None,
    path: str | None = None,
    status: int | None = None,
) -> Diagnosis:
    """Return the standard summary and hint for a reason code, naming origin, path or the status
    fetch answered with, where given."""
    try:
        summary, hint = _TEXTS[reason]
    except KeyError:
        known = ", ".join(code for code, _ in REASONS)
        raise ValueError(
            f"unknown failed-upgrade reason {reason!r}: use one of the codes in "
            f"bunws.core.diagnosis.REASONS ({known})"
        ) from None
    if reason == ORIGIN_NOT_ALLOWED and origin is not None:
        summary = (
            f"The WebSocket handshake came from origin {_quoted(redact_url(origin))}, which this endpoint "
            "does not allow, so it was refused to protect users from cross-site WebSocket "
            "hijacking."
        )
    elif reason == NO_SUCH_ENDPOINT and path is not None:
        summary = (
            f"No WebSocket endpoint is registered at {_quoted(path)}, so the handshake was refused."
        )
    elif reason == FETCH_DECLINED and (path is not None or status is not None):
        where = "of the endpoint" if path is None else f"of the endpoint at {_quoted(path)}"
        answer = "" if status is None else f" (the client got HTTP {status})"
        summary = (
            f"The fetch handler {where} declined to upgrade this request to a WebSocket{answer}."
        )
    elif reason == FETCH_ANSWERED:
        where = "of the endpoint" if path is None else f"of the endpoint at {_quoted(path)}"
        answer = "its own response" if status is None else f"its own response, status {status},"
        summary = (
            f"The fetch handler {where} answered this plain HTTP request with {answer} "
            "instead of a WebSocket upgrade."
        )
    return Diagnosis(reason, summary, hint)


def _proxy_dropped(headers: Mapping[str, str]) -> Diagnosis | None:
    """A WebSocket handshake (it has ``Sec-WebSocket-Key``) that came through a proxy (it has a
    forwarding header) without ``Upgrade: websocket`` or ``Connection: upgrade``: the proxy
    dropped them, as nginx does by default. None when the request is not that."""
    proxy = next(
        (shown for name, shown in _FORWARDING_HEADERS.items() if first_header(headers, name)), None
    )
    if proxy is None or not (first_header(headers, "sec-websocket-key") or "").strip():
        return None
    upgrade = (first_header(headers, "upgrade") or "").strip()
    if upgrade and upgrade.lower() != "websocket":
        return None  # rewritten, not dropped: upgrade_not_websocket names the value
    connection = first_header(headers, "connection")
    lost = [] if upgrade else ["the Upgrade header was missing"]
    if connection is None or "upgrade" not in _tokens(connection):
        seen = "was missing" if connection is None else f"was {_quoted(connection)}"
        lost.append(f"the Connection header {seen}")
    if not lost:
        return None  # both arrived: the server in front of Django did not upgrade
    summary = (
        "This request is a WebSocket handshake (it carries Sec-WebSocket-Key) that came through "
        f"a proxy (it carries {proxy}), and the proxy dropped its upgrade: "
        f"{' and '.join(lost)}, so it reached the server as plain HTTP."
    )
    return Diagnosis(PROXY_DROPPED_UPGRADE, summary, _TEXTS[PROXY_DROPPED_UPGRADE][1])


def log_note(diagnosis: Diagnosis) -> str:
    """What the failed-upgrade log line adds for ``diagnosis`` (the fix, where it is short)."""
    if diagnosis.reason == PROXY_DROPPED_UPGRADE:
        return " (a proxy dropped the upgrade; nginx fix: " + " ".join(NGINX_UPGRADE_LINES) + ")"
    return ""


def diagnose(method: str, headers: Mapping[str, str]) -> Diagnosis:
    """Explain why a plain HTTP request that reached a WebSocket endpoint is not a handshake."""
    if method.upper() != "GET":
        base = diagnosis_for(WRONG_METHOD)
        summary = (
            "This address is a WebSocket endpoint, and a WebSocket handshake must be a GET "
            f"request, but this request used {_quoted(method)}."
        )
        return Diagnosis(WRONG_METHOD, summary, base.hint)
    dropped = _proxy_dropped(headers)
    if dropped is not None:
        return dropped
    upgrade = first_header(headers, "upgrade")
    if upgrade is None or not upgrade.strip():
        return diagnosis_for(NO_UPGRADE_HEADER)
    if upgrade.strip().lower() != "websocket":
        base = diagnosis_for(UPGRADE_NOT_WEBSOCKET)
        summary = (
            f"The request asked to upgrade to {_quoted(upgrade)}, but a WebSocket handshake "
            "needs the Upgrade header to be exactly 'websocket', so the server treated it as "
            "plain HTTP."
        )
        return Diagnosis(UPGRADE_NOT_WEBSOCKET, summary, base.hint)
    connection = first_header(headers, "connection")
    if connection is None or "upgrade" not in _tokens(connection):
        base = diagnosis_for(CONNECTION_NOT_UPGRADE)
        seen = "was missing" if connection is None else f"was {_quoted(connection)}"
        summary = (
            "The request carried `Upgrade: websocket`, but its Connection header "
            f"{seen} and lacks the 'upgrade' token, which usually means a proxy stripped or "
            "replaced it."
        )
        return Diagnosis(CONNECTION_NOT_UPGRADE, summary, base.hint)
    return diagnosis_for(HANDSHAKE_NOT_UPGRADED)
