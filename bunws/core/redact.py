"""Make request data safe to log and store: the one set of helpers for header access, the
client's IP and fitting text to a length, and the redaction of credentials in headers and URLs.

Plain strings and ASGI scopes in, plain strings out (standard library only), so the failed-upgrade
log, the diagnosis, the origin check and the core socket read requests the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import unquote_plus, urlsplit

__all__ = [
    "ELLIPSIS",
    "MAX_HEADERS",
    "MAX_HEADER_NAME",
    "MAX_HEADER_VALUE",
    "MAX_QUERY",
    "Client",
    "Headers",
    "as_text",
    "client_ip",
    "first_header",
    "fit",
    "header_pairs",
    "redact_headers",
    "redact_query",
    "redact_url",
    "scope_client",
]

#: Headers in any form a caller has them: a mapping (Django's ``request.headers``), ASGI's byte
#: pairs or text pairs.
Headers = Mapping[str, str] | Iterable[tuple[str | bytes, str | bytes]]
#: A client as servers report it: ``host``, ``host:port``, ``[v6]:port`` or a scope's pair.
Client = str | tuple[str, int] | list[Any] | None

ELLIPSIS = "…"
MAX_HEADERS = 32
MAX_HEADER_NAME = 64
MAX_HEADER_VALUE = 256
MAX_QUERY = 512

_REDACTED = "[redacted]"
_REDACTED_HEADERS = frozenset(
    {
        "cookie",
        "authorization",
        "proxy-authorization",
        "set-cookie",
        "x-api-key",
        "x-auth-token",
        "x-csrftoken",
        "sec-websocket-key",
    }
)
_REDACTED_HEADER_PARTS = (
    "token",
    "secret",
    "auth",
    "session",
    "cookie",
    "password",
    "csrf",
    "jwt",
    "credential",
    "api-key",
    "apikey",
)
# Browsers cannot set Authorization on a WebSocket, so apps often smuggle a token in as a
# subprotocol (``new WebSocket(url, ["bearer", token])``): items longer than this are dropped.
_MAX_SUBPROTOCOL = 24
# A valueless query part this long that looks like a token (``?eyJhbGciOi...``) is redacted.
_BARE_TOKEN = re.compile(r"[A-Za-z0-9._~+/=-]{20,}")
_REDACTED_PARAMS = frozenset(
    {
        "token",
        "access_token",
        "auth",
        "key",
        "api_key",
        "apikey",
        "password",
        "secret",
        "session",
        "sessionid",
        "code",
        "jwt",
        "signature",
        "sig",
        "sid",
        "ticket",
        "otp",
        "state",
        "nonce",
    }
)
_REDACTED_PARAM_PARTS = (
    "token",
    "secret",
    "password",
    "passwd",
    "key",
    "auth",
    "session",
    "csrf",
    "jwt",
    "credential",
    "bearer",
)


def as_text(value: str | bytes) -> str:
    """Return value as text; bytes (ASGI headers, query strings) are decoded as latin-1."""
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def fit(value: str | bytes | None, limit: int) -> str:
    """Return value as printable text of at most ``limit`` characters (None gives ``""``).

    Control characters become U+FFFD; a cut keeps ``limit - 1`` characters and ends with an
    ellipsis, so the result always fits a column of ``limit``.
    """
    if value is None:
        return ""
    text = as_text(value)
    if len(text) <= limit and text.isprintable():
        return text  # the common case, without a pass over every character
    text = "".join(ch if ch.isprintable() else "\ufffd" for ch in text[: limit + 1])
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def header_pairs(headers: Headers) -> Iterator[tuple[str, str]]:
    """Yield headers as (lowercase name, text value) pairs, whatever form they came in."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    for name, value in items:
        yield as_text(name).lower(), as_text(value)


def first_header(headers: Headers, name: str) -> str | None:
    """The first value of header ``name`` (lowercase), or None when the headers lack it."""
    for key, value in header_pairs(headers):
        if key == name:
            return value
    return None


def client_ip(client: Client) -> str:
    """Return the IP of a client given as ``host``, ``host:port``, ``[v6]:port`` or a scope's
    ``[host, port]``; ``""`` when unknown."""
    if client is None:
        return ""
    if not isinstance(client, str):
        return str(client[0]) if client else ""
    if client.startswith("["):
        return client[1:].partition("]")[0]
    if client.count(":") == 1:
        return client.partition(":")[0]
    return client


def scope_client(scope: Mapping[str, Any]) -> str | None:
    """The client's IP address in an ASGI scope, or None when the server did not report it."""
    return client_ip(scope.get("client")) or None


def _sensitive_header(name: str) -> bool:
    """Tell whether a lowercase header name may carry a credential."""
    return name in _REDACTED_HEADERS or any(part in name for part in _REDACTED_HEADER_PARTS)


def redact_headers(headers: Headers) -> dict[str, str]:
    """Return headers safe to log: lowercase names, credentials dropped, values bounded.

    The result holds at most ``MAX_HEADERS`` names of ``MAX_HEADER_NAME`` characters with
    values of ``MAX_HEADER_VALUE``, whatever the request sent.
    """
    result: dict[str, str] = {}
    for raw_name, raw_value in header_pairs(headers):
        name = fit(raw_name, MAX_HEADER_NAME)
        if _sensitive_header(name):
            continue
        if name not in result and len(result) >= MAX_HEADERS:
            continue
        value = fit(raw_value, MAX_HEADER_VALUE)
        if name in ("referer", "origin"):
            value = redact_url(value)
        elif name == "sec-websocket-protocol":
            value = _redact_subprotocols(value)
        if name in result:
            value = fit(f"{result[name]}, {value}", MAX_HEADER_VALUE)
        result[name] = value
    return result


def _redact_subprotocols(value: str) -> str:
    """Keep short subprotocol names; replace token-sized items, which may be credentials."""
    items = [item.strip() for item in value.split(",")]
    return ", ".join(item if len(item) <= _MAX_SUBPROTOCOL else _REDACTED for item in items)


def redact_url(value: str, limit: int = MAX_HEADER_VALUE) -> str:
    """Return a URL without user:password and with credential-like query values redacted, in
    at most ``limit`` characters."""
    value = value[: limit * 4]
    try:
        parts = urlsplit(value)
    except ValueError:
        return fit(value.partition("?")[0].rpartition("@")[2], limit)
    netloc = parts.netloc.rpartition("@")[2]
    url = f"{parts.scheme}://{netloc}{parts.path}" if parts.scheme else netloc + parts.path
    if parts.query:
        url += "?" + redact_query(parts.query)
    return fit(url, limit)


def _sensitive_param(name: str) -> bool:
    """Tell whether a query parameter name may carry a credential."""
    lowered = name.lower()
    return lowered in _REDACTED_PARAMS or any(part in lowered for part in _REDACTED_PARAM_PARTS)


def redact_query(query: str | bytes) -> str:
    """Return a query string with credential-like values replaced, in at most ``MAX_QUERY``
    characters.

    A parameter is redacted by name (``token``, ``access_token``, ``sessionid``, ...); a bare
    part without ``=`` is redacted when it looks like a token (20+ token characters).
    """
    parts = []
    for part in as_text(query).split("&"):
        name, sep, _value = part.partition("=")
        if sep and _sensitive_param(unquote_plus(name)):
            part = f"{name}={_REDACTED}"
        elif not sep and _BARE_TOKEN.fullmatch(part):
            part = _REDACTED
        parts.append(part)
    return fit("&".join(parts), MAX_QUERY)
