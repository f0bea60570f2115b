"""``proxy_dropped_upgrade``: a handshake that came through a proxy which dropped Upgrade or
Connection is told apart from a plain request, and the texts carry the nginx fix."""

from __future__ import annotations

import pytest

from bunws.core import diagnosis as d
from bunws.core.diagnosis import NGINX_UPGRADE_LINES, diagnose, expected_status, log_note

KEY = {"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13"}
# What nginx sends upstream for a handshake with its default proxy settings.
NGINX_DEFAULT = {"Host": "backend", "Connection": "close", "X-Forwarded-For": "127.0.0.2", **KEY}


def test_nginx_defaults_are_diagnosed_as_a_proxy_that_dropped_the_upgrade() -> None:
    result = diagnose("GET", NGINX_DEFAULT)
    assert result.reason == d.PROXY_DROPPED_UPGRADE
    assert "through a proxy (it carries X-Forwarded-For)" in result.summary
    assert "the Upgrade header was missing" in result.summary
    assert "the Connection header was 'close'" in result.summary
    for line in NGINX_UPGRADE_LINES:
        assert f"\n    {line}\n" in result.hint
    assert expected_status(d.PROXY_DROPPED_UPGRADE) == 426


@pytest.mark.parametrize("header", ["X-Forwarded-For", "Forwarded", "X-Real-IP", "Via"])
def test_any_forwarding_header_marks_the_proxy(header: str) -> None:
    result = diagnose("GET", {header: "for=10.0.0.1", **KEY})
    assert result.reason == d.PROXY_DROPPED_UPGRADE
    assert f"(it carries {header})" in result.summary


def test_only_the_connection_header_dropped_names_it() -> None:
    headers = {"Upgrade": "websocket", "Connection": "close", "Via": "1.1 nginx", **KEY}
    result = diagnose("GET", headers)
    assert result.reason == d.PROXY_DROPPED_UPGRADE
    assert "Upgrade header was missing" not in result.summary
    assert "the Connection header was 'close'" in result.summary


def test_a_plain_request_through_a_proxy_stays_no_upgrade_header() -> None:
    """Without Sec-WebSocket-Key it was no handshake: a fetch() or a link through the proxy."""
    result = diagnose("GET", {"X-Forwarded-For": "127.0.0.2", "Connection": "close"})
    assert result.reason == d.NO_UPGRADE_HEADER


def test_a_handshake_without_a_proxy_keeps_its_reason() -> None:
    assert diagnose("GET", {"Connection": "close", **KEY}).reason == d.NO_UPGRADE_HEADER
    headers = {"Upgrade": "websocket", "Connection": "keep-alive", **KEY}
    assert diagnose("GET", headers).reason == d.CONNECTION_NOT_UPGRADE


def test_both_headers_forwarded_is_not_the_proxys_fault() -> None:
    headers = {"Upgrade": "websocket", "Connection": "upgrade", "X-Real-IP": "1.2.3.4", **KEY}
    assert diagnose("GET", headers).reason == d.HANDSHAKE_NOT_UPGRADED


def test_a_rewritten_upgrade_value_is_upgrade_not_websocket() -> None:
    headers = {"Upgrade": "h2c", "Connection": "upgrade", "Via": "1.1 proxy", **KEY}
    assert diagnose("GET", headers).reason == d.UPGRADE_NOT_WEBSOCKET


def test_wrong_method_comes_first() -> None:
    assert diagnose("POST", NGINX_DEFAULT).reason == d.WRONG_METHOD


def test_the_log_line_note_carries_the_nginx_lines_only_for_this_reason() -> None:
    note = log_note(diagnose("GET", NGINX_DEFAULT))
    assert "a proxy dropped the upgrade" in note
    assert all(line in note for line in NGINX_UPGRADE_LINES)
    assert "\n" not in note
    assert log_note(diagnose("GET", {})) == ""
