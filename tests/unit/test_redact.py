"""The one set of request helpers (``bunws.core.redact``): text fitting, header access and the
client's IP, tested without a server or database."""

from __future__ import annotations

import pytest

from bunws.core.redact import (
    ELLIPSIS,
    as_text,
    client_ip,
    first_header,
    fit,
    header_pairs,
    scope_client,
)


def test_fit_keeps_short_printable_text_as_it_is() -> None:
    assert fit("hello", 5) == "hello"
    assert fit(b"caf\xe9", 10) == "café"  # bytes are latin-1
    assert fit(None, 5) == ""


def test_fit_cuts_to_the_limit_with_the_ellipsis_in_the_last_place() -> None:
    result = fit("abcdefgh", 5)
    assert result == "abcd" + ELLIPSIS
    assert len(result) == 5


def test_fit_replaces_control_characters() -> None:
    assert fit("a\x00b\x1b", 10) == "a\ufffdb\ufffd"


@pytest.mark.parametrize("limit", [1, 2, 64, 256])
def test_fit_never_exceeds_the_limit(limit: int) -> None:
    assert len(fit("x\x01" * 300, limit)) <= limit


def test_header_pairs_lowercases_names_whatever_the_form() -> None:
    expected = [("origin", "https://a.example"), ("user-agent", "curl")]
    assert list(header_pairs({"Origin": "https://a.example", "User-Agent": "curl"})) == expected
    assert list(header_pairs([(b"Origin", b"https://a.example"), (b"user-agent", b"curl")])) == (
        expected
    )


def test_first_header_takes_the_first_value_and_ignores_case() -> None:
    headers = [(b"origin", b"https://first.example"), (b"Origin", b"https://second.example")]
    assert first_header(headers, "origin") == "https://first.example"
    assert first_header({"Upgrade": "websocket"}, "upgrade") == "websocket"
    assert first_header({}, "upgrade") is None


@pytest.mark.parametrize(
    ("client", "ip"),
    [
        ("203.0.113.5", "203.0.113.5"),
        ("203.0.113.5:51234", "203.0.113.5"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("2001:db8::1", "2001:db8::1"),
        (("198.51.100.7", 8000), "198.51.100.7"),
        (["198.51.100.7", 8000], "198.51.100.7"),
        (None, ""),
        ([], ""),
    ],
)
def test_client_ip_drops_the_port_in_every_form(client: object, ip: str) -> None:
    assert client_ip(client) == ip  # type: ignore[arg-type]


def test_scope_client_is_none_when_the_server_did_not_report_one() -> None:
    assert scope_client({"client": ["127.0.0.1", 5000]}) == "127.0.0.1"
    assert scope_client({"client": None}) is None
    assert scope_client({}) is None


def test_as_text_decodes_bytes_as_latin_1() -> None:
    assert as_text(b"\xff") == "ÿ"
    assert as_text("text") == "text"
