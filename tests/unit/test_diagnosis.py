"""The sans-I/O diagnosis and redaction helpers, tested without a server or database, and
docs/diagnostics.md explaining every reason and check."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bunws.core import diagnosis as d
from bunws.core.diagnosis import Diagnosis, diagnose, diagnosis_for
from bunws.core.redact import redact_headers, redact_query
from tests.support.servers import ROOT

KNOWN = {code for code, _ in d.REASONS}
HANDSHAKE = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version": "13",
}


def test_reason_codes_are_unique_and_labelled() -> None:
    codes = [code for code, _ in d.REASONS]
    assert len(codes) == len(set(codes))
    assert all(label for _, label in d.REASONS)
    assert {
        d.NO_UPGRADE_HEADER,
        d.UPGRADE_NOT_WEBSOCKET,
        d.CONNECTION_NOT_UPGRADE,
        d.WRONG_METHOD,
        d.FETCH_DECLINED,
        d.ORIGIN_NOT_ALLOWED,
        d.NO_SUCH_ENDPOINT,
    } <= KNOWN


def test_wrong_method_is_checked_before_headers() -> None:
    result = diagnose("POST", {})
    assert result.reason == d.WRONG_METHOD
    assert "'POST'" in result.summary
    assert "new WebSocket(url)" in result.hint


def test_missing_upgrade_header_points_at_websocket_client_and_proxy() -> None:
    result = diagnose("GET", {"Accept": "text/html"})
    assert result.reason == d.NO_UPGRADE_HEADER
    assert "new WebSocket(url)" in result.hint
    assert "proxy_set_header Upgrade $http_upgrade" in result.hint


def test_upgrade_with_extra_protocols_is_not_websocket() -> None:
    result = diagnose("GET", {"Upgrade": "websocket, foo", "Connection": "Upgrade"})
    assert result.reason == d.UPGRADE_NOT_WEBSOCKET
    assert "'websocket, foo'" in result.summary


def test_upgrade_value_is_compared_case_insensitively_and_stripped() -> None:
    result = diagnose("get", {"upgrade": "  WebSocket ", "connection": "keep-alive, Upgrade"})
    assert result.reason == d.HANDSHAKE_NOT_UPGRADED


def test_connection_without_upgrade_token_blames_a_proxy() -> None:
    result = diagnose("GET", {"Upgrade": "websocket", "Connection": "keep-alive"})
    assert result.reason == d.CONNECTION_NOT_UPGRADE
    assert "'keep-alive'" in result.summary
    assert 'proxy_set_header Connection "upgrade"' in result.hint
    assert "proxy_http_version 1.1" in result.hint


def test_missing_connection_header_is_reported() -> None:
    result = diagnose("GET", {"Upgrade": "websocket"})
    assert result.reason == d.CONNECTION_NOT_UPGRADE
    assert "missing" in result.summary


def test_complete_handshake_as_plain_http_blames_the_server() -> None:
    result = diagnose("GET", HANDSHAKE)
    assert result.reason == d.HANDSHAKE_NOT_UPGRADED
    assert "daphne" in result.hint


@pytest.mark.parametrize("reason", sorted(KNOWN))
def test_every_reason_has_sentences(reason: str) -> None:
    result = diagnosis_for(reason)
    assert result.reason == reason
    assert result.summary.endswith(".")
    assert result.hint.endswith(".")
    assert result.summary[0].isupper()
    assert result.hint[0].isupper()


def test_diagnosis_for_names_origin_and_path() -> None:
    assert "'https://evil.example'" in (
        diagnosis_for(d.ORIGIN_NOT_ALLOWED, origin="https://evil.example").summary
    )
    assert "'/ws/nope/'" in diagnosis_for(d.NO_SUCH_ENDPOINT, path="/ws/nope/").summary


def test_fetch_answered_is_its_own_reason_and_names_the_status() -> None:
    """A plain request that fetch answered itself is not the 426 of no_upgrade_header."""
    assert d.FETCH_ANSWERED in KNOWN
    result = diagnosis_for(d.FETCH_ANSWERED, path="/ws/members/", status=403)
    assert result.reason == d.FETCH_ANSWERED
    assert "status 403" in result.summary
    assert "'/ws/members/'" in result.summary
    assert "426" not in result.summary
    assert "fetch" in result.hint


def test_diagnosis_for_unknown_reason_names_it() -> None:
    with pytest.raises(ValueError, match=r"'bogus'.*REASONS"):
        diagnosis_for("bogus")


def test_diagnosis_is_frozen() -> None:
    result = Diagnosis("r", "s", "h")
    with pytest.raises(AttributeError):
        result.reason = "other"  # type: ignore[misc]


def test_redact_headers_drops_credentials_and_lowercases() -> None:
    headers = {
        "Cookie": "sessionid=abc",
        "Authorization": "Bearer xyz",
        "Proxy-Authorization": "Basic 123",
        "X-Api-Key": "k",
        "X-CSRFToken": "c",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "X-My-Session-Id": "s",
        "X-Refresh-Token": "t",
        "User-Agent": "Mozilla/5.0",
        "Origin": "https://example.com",
    }
    result = redact_headers(headers)
    assert result == {"user-agent": "Mozilla/5.0", "origin": "https://example.com"}


def test_redact_headers_accepts_asgi_byte_pairs() -> None:
    result = redact_headers([(b"Host", b"example.com"), (b"cookie", b"a=b")])
    assert result == {"host": "example.com"}


def test_redact_headers_truncates_and_cleans_values() -> None:
    result = redact_headers({"X-Long": "a" * 1000, "X-Bin": "ok\x00\x1b[31m"})
    assert result["x-long"] == "a" * 255 + "…"
    assert "\x00" not in result["x-bin"]
    assert "\x1b" not in result["x-bin"]


def test_redact_headers_keeps_at_most_32() -> None:
    result = redact_headers([(f"x-h{i}", "v") for i in range(100)])
    assert len(result) == 32


def test_redact_headers_redacts_referer_query() -> None:
    result = redact_headers({"Referer": "https://a.example/page?token=s3cret&x=1"})
    assert "s3cret" not in result["referer"]
    assert "x=1" in result["referer"]


def test_redact_query_replaces_token_like_values() -> None:
    query = "room=1&token=abc&Access_Token=def&sig=ghi&my_api_key=jkl&code=mno&page=2"
    result = redact_query(query)
    for secret in ("abc", "def", "ghi", "jkl", "mno"):
        assert secret not in result
    assert result.startswith("room=1&token=[redacted]")
    assert result.endswith("page=2")


def test_redact_query_is_bounded() -> None:
    result = redact_query("x=" + "a" * 5000)
    assert len(result) <= 512
    assert result.endswith("…")


@given(
    method=st.text(max_size=20),
    headers=st.dictionaries(st.text(max_size=30), st.text(max_size=300), max_size=40),
)
def test_diagnose_never_raises_and_returns_a_known_reason(
    method: str, headers: dict[str, str]
) -> None:
    assert diagnose(method, headers).reason in KNOWN


@given(
    headers=st.dictionaries(
        st.one_of(
            st.sampled_from(["Cookie", "COOKIE", "Authorization", "authorization", "Host"]),
            st.text(max_size=80),
        ),
        st.text(max_size=2000),
        max_size=60,
    )
)
def test_redacted_headers_never_hold_credentials_or_long_values(headers: dict[str, str]) -> None:
    result = redact_headers(headers)
    assert "cookie" not in result
    assert "authorization" not in result
    assert len(result) <= 32
    assert all(len(value) <= 256 for value in result.values())


@given(query=st.text(max_size=2000))
def test_redact_query_is_always_bounded(query: str) -> None:
    assert len(redact_query(query)) <= 512


def test_diagnostics_doc_explains_every_failure_reason_and_check() -> None:
    from bunws.core.diagnosis import REASONS

    text = (ROOT / "docs" / "diagnostics.md").read_text()
    for code, _label in REASONS:
        assert f"| `{code}` |" in text, code
    checks = ("E001", "E002", "E003", "E004", "E006", "W001", "W002", "W003", "W004", "W005")
    for check in checks:
        assert f"`bunws.{check}`" in text, check
