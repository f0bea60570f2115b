"""The pieces of a handshake's answer without a server: subprotocol selection and validation
(``bunws.core.handshake``), fetch's response as HTTP bytes (``bunws.core.denial``), and the
daphne refusal hook (``bunws.daphne.reject``) on a stand-in protocol."""

from __future__ import annotations

from typing import Any

import pytest

from bunws.core.denial import Denial, http_response
from bunws.core.handshake import (
    check_subprotocols,
    choose_subprotocol,
    is_token,
    normalize_headers,
    offered_subprotocols,
    take_subprotocol,
)
from bunws.core.options import MappingError
from bunws.daphne.reject import deny
from bunws.endpoint import Endpoint
from bunws.exceptions import ConfigurationError


async def noop(ws: Any) -> None:
    """A handler."""


@pytest.mark.parametrize("name", ["chat", "chat.v2", "graphql-transport-ws", "v1_!#$%&'*+^`|~"])
def test_rfc_6455_tokens_are_subprotocol_names(name: str) -> None:
    assert is_token(name)


@pytest.mark.parametrize("name", ["", "two words", "a,b", "semi;colon", "é", "q=1", 3, None])
def test_anything_else_is_not_a_subprotocol_name(name: object) -> None:
    assert not is_token(name)


def test_the_offer_is_read_from_every_header_line_in_the_clients_order() -> None:
    scope = {
        "headers": [
            (b"sec-websocket-protocol", b"chat.v2, chat.v1"),
            (b"origin", b"https://example.com"),
            (b"sec-websocket-protocol", b" wamp "),
        ],
        "subprotocols": ["ignored"],
    }
    assert offered_subprotocols(scope) == ("chat.v2", "chat.v1", "wamp")


def test_the_offer_falls_back_to_the_scope_list_without_the_header() -> None:
    assert offered_subprotocols({"headers": [], "subprotocols": ["a", "b"]}) == ("a", "b")
    assert offered_subprotocols({}) == ()


def test_upgrade_headers_select_an_offered_subprotocol_and_keep_the_others() -> None:
    headers = normalize_headers({"X-Room": "lobby", "Sec-WebSocket-Protocol": "chat.v1"})
    assert take_subprotocol(headers, ("chat.v2", "chat.v1")) == (
        [(b"X-Room", b"lobby")],
        "chat.v1",
    )
    assert take_subprotocol(headers[:1], ("chat.v1",)) == (headers[:1], None)


def test_selecting_what_the_client_did_not_offer_names_the_offer() -> None:
    headers = normalize_headers({"sec-websocket-protocol": "chat.v3"})
    with pytest.raises(ValueError, match=r"'chat.v3', which the client did not offer \(it "):
        take_subprotocol(headers, ("chat.v2", "chat.v1"))
    with pytest.raises(ValueError, match="it offered none"):
        take_subprotocol(headers, ())


@pytest.mark.parametrize(
    "headers",
    [
        [("Sec-WebSocket-Protocol", "chat.v1, chat.v2")],
        [("Sec-WebSocket-Protocol", "chat.v1"), ("Sec-WebSocket-Protocol", "chat.v2")],
        [("Sec-WebSocket-Protocol", "")],
    ],
)
def test_the_selection_is_exactly_one_subprotocol(headers: list[tuple[str, str]]) -> None:
    with pytest.raises(ValueError, match="must be exactly one subprotocol"):
        take_subprotocol(normalize_headers(headers), ("chat.v1", "chat.v2"))


def test_the_endpoint_list_is_searched_in_the_servers_order() -> None:
    assert choose_subprotocol(("chat.v2", "chat.v1"), ("chat.v1", "chat.v2")) == "chat.v2"
    assert choose_subprotocol(("chat.v2", "chat.v1"), ("x", "chat.v1")) == "chat.v1"
    assert choose_subprotocol(("chat.v2",), ("x",)) is None
    assert choose_subprotocol((), ("x",)) is None


def test_the_endpoint_list_is_validated() -> None:
    assert check_subprotocols("e", None) == ()
    assert check_subprotocols("e", ["chat.v2", "chat.v1"]) == ("chat.v2", "chat.v1")
    with pytest.raises(MappingError, match=r"must be a list of subprotocol names .* 'chat'"):
        check_subprotocols("e", "chat")
    with pytest.raises(MappingError, match="'chat v2' is not a valid subprotocol name"):
        check_subprotocols("e", ["chat v2"])
    with pytest.raises(MappingError, match="lists 'a' more than once"):
        check_subprotocols("e", ["a", "b", "a"])


def test_serve_refuses_a_bad_subprotocol_list_at_startup() -> None:
    with pytest.raises(ConfigurationError, match="subprotocols of endpoint 'chat'"):
        Endpoint("chat/", websocket={"open": noop}, name="chat", subprotocols=["ok", ""])
    endpoint = Endpoint("chat/", websocket={"open": noop}, subprotocols=("b", "a"))
    assert endpoint.subprotocols == ("b", "a")


def test_the_response_bytes_frame_fetchs_answer_and_close_the_connection() -> None:
    denial = Denial(
        401,
        "Unauthorized",
        (
            (b"WWW-Authenticate", b'Bearer realm="chat"'),
            (b"Content-Length", b"999"),  # the writer frames the body itself
            (b"Connection", b"keep-alive"),
            (b"Set-Cookie", b"a=1"),
            (b"Set-Cookie", b"b=2"),
            (b"X-Evil", b"x\r\nInjected: 1"),
        ),
        b"Log in first.",
    )
    assert http_response(denial) == (
        b"HTTP/1.1 401 Unauthorized\r\n"
        b'WWW-Authenticate: Bearer realm="chat"\r\n'
        b"Set-Cookie: a=1\r\n"
        b"Set-Cookie: b=2\r\n"
        b"X-Evil: x  Injected: 1\r\n"
        b"Content-Length: 13\r\n"
        b"Connection: close\r\n"
        b"\r\n"
        b"Log in first."
    )
    assert (b"Content-Length", b"999") not in denial.asgi_headers()


class StandInProtocol:
    """daphne's rejection path as autobahn runs it: ``serverReject`` -> ``failHandshake`` ->
    ``self.sendHttpErrorResponse(403, "Access denied")`` -> drop."""

    def __init__(self) -> None:
        self.handshake_deferred: object | None = object()
        self.transport = type("T", (), {"connected": True})()
        self.sent: list[bytes] = []
        self.dropped = False

    def sendData(self, data: bytes) -> None:
        self.sent.append(data)

    def sendHttpErrorResponse(self, code: int, reason: str, headers: Any = None) -> None:
        self.sent.append(f"HTTP/1.1 {code} {reason}\r\n\r\n".encode())

    def serverReject(self) -> None:
        self.sendHttpErrorResponse(403, "Access denied")
        self.dropped = True
        self.handshake_deferred = None


def test_deny_sends_fetchs_response_through_daphnes_own_rejection() -> None:
    protocol = StandInProtocol()
    denial = Denial(429, "Too Many Requests", ((b"Retry-After", b"30"),), b"later")
    assert deny(protocol, denial)
    assert protocol.sent == [http_response(denial)]
    assert protocol.dropped


def test_deny_leaves_an_answered_or_abandoned_handshake_alone() -> None:
    protocol = StandInProtocol()
    protocol.handshake_deferred = None  # daphne's connect timeout rejected it already
    assert not deny(protocol, Denial(401, "Unauthorized", (), b""))
    gone = StandInProtocol()
    gone.transport.connected = False  # type: ignore[attr-defined]
    assert not deny(gone, Denial(401, "Unauthorized", (), b""))
    assert protocol.sent == gone.sent == []
