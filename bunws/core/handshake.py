"""What a server adds to a WebSocket handshake's 101 response: the headers ``upgrade()`` was
given and the subprotocol (RFC 6455 1.9, 4.2.2), picked by ``fetch`` or by the endpoint's
``subprotocols=`` list; and the client's offer they are checked against. No I/O, no Django.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bunws.core.options import MappingError

__all__ = [
    "PROTOCOL_HEADER",
    "RESERVED_HEADERS",
    "check_subprotocols",
    "choose_subprotocol",
    "is_token",
    "normalize_headers",
    "offered_subprotocols",
    "take_subprotocol",
]

#: The header that offers (request) and selects (response) a subprotocol.
PROTOCOL_HEADER = "sec-websocket-protocol"

# RFC 6455 4.2.2: headers the handshake itself owns; fetch may not override them.
RESERVED_HEADERS = frozenset(
    {"upgrade", "connection", "sec-websocket-accept", "sec-websocket-extensions"}
)

# RFC 6455 4.1 step 10: a subprotocol is an RFC 2616 token (RFC 7230 3.2.6 tchar).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def is_token(value: object) -> bool:
    """Whether ``value`` is a legal subprotocol name (a non-empty HTTP token)."""
    return isinstance(value, str) and _TOKEN.fullmatch(value) is not None


def normalize_headers(headers: object) -> list[tuple[bytes, bytes]]:
    """``upgrade(headers=...)`` (a dict or pairs of str) as the latin-1 pairs a server sends."""
    if headers is None:
        return []
    items: Iterable[Any]
    if isinstance(headers, Mapping):
        items = headers.items()
    elif isinstance(headers, Iterable) and not isinstance(headers, str | bytes):
        items = headers
    else:
        raise TypeError(f"upgrade(headers=...) takes a dict of str, got {headers!r}.")
    result = []
    for item in items:
        name, value = item
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(
                f"upgrade(headers=...) names and values must be str, got {name!r}: {value!r}."
            )
        if name.lower() in RESERVED_HEADERS:
            raise ValueError(
                f"upgrade(headers=...) cannot set {name!r}: the WebSocket handshake owns it."
            )
        if "\r" in value or "\n" in value:
            raise ValueError(f"upgrade(headers=...) value of {name!r} contains a line break.")
        result.append((name.encode("latin-1"), value.encode("latin-1")))
    return result


def offered_subprotocols(scope: Mapping[str, Any]) -> tuple[str, ...]:
    """The subprotocols the client offered, in its order of preference.

    Read from the ``Sec-WebSocket-Protocol`` request headers as autobahn reads them (daphne's
    ``scope["subprotocols"]`` percent-decodes them, autobahn does not); the scope's list where
    the headers do not carry them (Channels' test communicator).
    """
    values = [
        value.decode("latin-1")
        for name, value in scope.get("headers") or ()
        if name.lower() == PROTOCOL_HEADER.encode()
    ]
    if not values:
        return tuple(str(item) for item in scope.get("subprotocols") or ())
    return tuple(item.strip() for value in values for item in value.split(",") if item.strip())


def take_subprotocol(
    headers: list[tuple[bytes, bytes]], offered: Sequence[str]
) -> tuple[list[tuple[bytes, bytes]], str | None]:
    """Split ``upgrade(headers=...)`` into the other headers and the subprotocol it selects.

    RFC 6455 4.2.2: the server selects exactly one of the values the client offered, or none;
    anything else would make the client fail the connection, so it is the developer's error,
    raised here with the offer to choose from.
    """
    selected = [value for name, value in headers if name.lower() == PROTOCOL_HEADER.encode()]
    if not selected:
        return headers, None
    rest = [(name, value) for name, value in headers if name.lower() != PROTOCOL_HEADER.encode()]
    choice = selected[-1].decode("latin-1").strip()
    offer = ", ".join(repr(item) for item in offered) or "none"
    if len(selected) > 1 or not is_token(choice):
        raise ValueError(
            f"upgrade(headers=...) Sec-WebSocket-Protocol must be exactly one subprotocol "
            f"(RFC 6455 4.2.2), got {b', '.join(selected).decode('latin-1')!r}; the client "
            f"offered {offer}."
        )
    if choice not in offered:
        raise ValueError(
            f"upgrade(headers=...) selects subprotocol {choice!r}, which the client did not "
            f"offer (it offered {offer}); RFC 6455 4.2.2 lets a server select only an offered "
            f"one: pick one of those, or leave the header out to accept without a subprotocol."
        )
    return rest, choice


def choose_subprotocol(preferred: Sequence[str], offered: Sequence[str]) -> str | None:
    """The first of the endpoint's ``preferred`` subprotocols that the client offered."""
    for name in preferred:
        if name in offered:
            return name
    return None


def check_subprotocols(endpoint: str, value: object) -> tuple[str, ...]:
    """Validate ``serve(subprotocols=...)``: a list of distinct RFC 6455 subprotocol tokens."""
    if value is None:
        return ()
    where = f"bunws.serve() subprotocols of endpoint {endpoint!r}"
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise MappingError(
            f"{where} must be a list of subprotocol names in order of preference, such as "
            f"['chat.v2', 'chat.v1'], got {value!r}."
        )
    names = tuple(value)
    for name in names:
        if not is_token(name):
            raise MappingError(
                f"{where}: {name!r} is not a valid subprotocol name: RFC 6455 4.1 allows a "
                f'non-empty str of printable ASCII without spaces or any of ()<>@,;:\\"/[]?={{}}.'
            )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise MappingError(f"{where} lists {', '.join(map(repr, repeated))} more than once.")
    return names
