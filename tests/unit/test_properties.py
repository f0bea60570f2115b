"""Property-based tests (hypothesis) for every piece that takes outside input, without a server:
the ``websocket`` mapping validator, topic names, payloads, and the failed-upgrade diagnosis."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bunws.core import diagnosis as d
from bunws.core import redact
from bunws.core.close import CLOSED
from bunws.core.frame import Frame
from bunws.core.hub import Hub
from bunws.core.options import HANDLER_PARAMS, OPTION_DEFAULTS, MappingError, compile_mapping
from tests.support.fakes import make_socket

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def on_open(ws: Any) -> None: ...
def on_message(ws: Any, message: Any) -> None: ...
def on_close(ws: Any, code: int, reason: str) -> None: ...
def on_drain(ws: Any) -> None: ...
def on_error(ws: Any, exc: BaseException) -> None: ...
def takes_nothing() -> None: ...
def takes_many(a: Any, b: Any, c: Any, d: Any) -> None: ...


GOOD_HANDLERS = {
    "open": on_open,
    "message": on_message,
    "close": on_close,
    "drain": on_drain,
    "error": on_error,
}
KNOWN_KEYS = [*HANDLER_PARAMS, *OPTION_DEFAULTS, "ping", "pong", "maxPayloadLength"]
ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.binary(max_size=20),
    st.sampled_from([*GOOD_HANDLERS.values(), takes_nothing, takes_many, print, len]),
    st.lists(st.integers(), max_size=3),
)


# -- the websocket mapping validator -------------------------------------------------------------


@FAST
@given(
    st.one_of(
        st.dictionaries(
            st.one_of(st.sampled_from(KNOWN_KEYS), st.text(max_size=30), st.integers()),
            ANY_VALUE,
            max_size=8,
        ),
        ANY_VALUE,
    )
)
def test_mapping_validator_raises_only_configuration_errors(mapping: Any) -> None:
    try:
        config = compile_mapping("prop", mapping)
    except MappingError as exc:
        assert "'prop'" in str(exc)  # every message names the endpoint
    else:
        assert config.handler_names()


@st.composite
def valid_mappings(draw: st.DrawFn) -> dict[str, Any]:
    handlers = draw(st.sets(st.sampled_from(sorted(GOOD_HANDLERS)), min_size=1))
    mapping: dict[str, Any] = {key: GOOD_HANDLERS[key] for key in handlers}
    for key, default in OPTION_DEFAULTS.items():
        if key == "per_message_deflate" or not draw(st.booleans()):
            continue
        if isinstance(default, bool):
            mapping[key] = draw(st.booleans())
        else:
            mapping[key] = draw(st.integers(min_value=0, max_value=2**40))
    return mapping


@FAST
@given(valid_mappings())
def test_valid_mapping_round_trips_into_its_config(mapping: dict[str, Any]) -> None:
    config = compile_mapping("prop", mapping)
    expected_options = {
        **OPTION_DEFAULTS,
        **{k: v for k, v in mapping.items() if k in OPTION_DEFAULTS},
    }
    assert config.options() == expected_options
    assert set(config.handler_names()) == {k for k in mapping if k in HANDLER_PARAMS}
    for key in config.handler_names():
        assert getattr(config, key) is mapping[key]
    assert compile_mapping("prop", {**mapping}) == config


# -- topics --------------------------------------------------------------------------------------


TOPICS = st.one_of(
    st.text(max_size=50),
    # 10 KB topics: a short random text repeated (hypothesis cannot draw 10,000 characters).
    st.text(min_size=1, max_size=8).map(lambda t: (t * (10_240 // len(t) + 1))[:10_240]),
    st.sampled_from(["", " ", "\x00", "a" * 10_240, "é" * 5000, "🙂" * 2600, "\ud800"]),
)


@FAST
@given(st.lists(TOPICS, min_size=1, max_size=4, unique=True))
def test_any_topic_subscribes_publishes_and_unsubscribes_cleanly(topics: list[str]) -> None:
    hub = Hub()
    listener, received = make_socket(hub)
    other, _ = make_socket(hub)
    for topic in topics:
        listener.subscribe(topic)
        listener.subscribe(topic)  # idempotent
        other.subscribe(topic)
        assert listener.is_subscribed(topic)
        assert hub.count(topic) == 2
    assert listener.subscriptions == topics
    for i, topic in enumerate(topics):
        assert hub.publish(topic, Frame(f"m{i}"), skip=other) == 1
    assert received.texts() == [f"m{i}" for i in range(len(topics))]
    listener.unsubscribe(topics[0])
    assert not listener.is_subscribed(topics[0]) and hub.count(topics[0]) == 1
    listener.close(1000, "")
    other.mark_closed()
    assert listener.subscriptions == [] and other.ready_state == CLOSED
    assert dict(hub.topics()) == {}  # nothing left behind


# -- payloads ------------------------------------------------------------------------------------

PAYLOADS = st.one_of(
    st.text(max_size=2000),
    st.binary(max_size=2000),
    st.binary(max_size=2000).map(bytearray),
    st.binary(max_size=2000).map(lambda b: memoryview(b)),
)


@FAST
@given(PAYLOADS)
@example("x" * (1024 * 1024))
@example(b"\x00" * (4 * 1024 * 1024))
@example("")
@example("\ud800")  # a lone surrogate cannot be UTF-8 encoded
def test_frame_keeps_type_and_bytes_of_any_payload(data: Any) -> None:
    try:
        frame = Frame(data)
    except UnicodeEncodeError:
        assert isinstance(data, str)
        return
    if isinstance(data, str):
        assert not frame.binary and frame.data == data
        assert frame.payload.decode("utf-8") == data
        assert frame.asgi_message() == {"type": "websocket.send", "text": data}
    else:
        assert frame.binary and frame.data == bytes(data) == frame.payload
        assert frame.asgi_message() == {"type": "websocket.send", "bytes": bytes(data)}
    assert frame.size == len(frame.payload)


@FAST
@given(
    st.one_of(
        st.integers(),
        st.floats(),
        st.none(),
        st.lists(st.integers()),
        st.dictionaries(st.text(), st.text()),
    )
)
def test_frame_refuses_anything_but_text_or_bytes_with_a_type_error(data: Any) -> None:
    try:
        Frame(data)
    except TypeError as exc:
        assert "str (text frame) or bytes-like" in str(exc)
    else:
        raise AssertionError(f"Frame accepted {data!r}")


# -- diagnosis of arbitrary header sets ----------------------------------------------------------

HEADER_NAMES = st.one_of(
    st.sampled_from(
        ["Upgrade", "Connection", "Cookie", "Authorization", "X-Auth-Token", "Origin", "Referer"]
    ),
    st.text(min_size=1, max_size=80),
)
HEADER_VALUES = st.one_of(
    st.sampled_from(["websocket", "Upgrade", "keep-alive, Upgrade", "h2c", ""]),
    st.text(max_size=600),
)


@FAST
@given(
    st.text(max_size=40),
    st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=50),
)
def test_diagnosis_of_any_request_is_a_known_reason_with_bounded_text(
    method: str, headers: dict[str, str]
) -> None:
    diagnosis = d.diagnose(method, headers)
    assert diagnosis.reason in {code for code, _ in d.REASONS}
    assert 0 < len(diagnosis.summary) < 800 and 0 < len(diagnosis.hint) < 800


# Prefixed so that no other drawn header or parameter can contain it by chance.
SECRET = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ23456789", min_size=12, max_size=40).map(
    lambda s: "SeCrEt-" + s
)


@FAST
@given(
    st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=80),
    SECRET,
    st.sampled_from(
        [
            "Cookie",
            "Authorization",
            "Proxy-Authorization",
            "X-CSRFToken",
            "X-Api-Key",
            "X-Session-Id",
        ]
    ),
)
def test_redacted_headers_are_bounded_and_never_hold_a_credential(
    pairs: list[tuple[str, str]], secret: str, secret_header: str
) -> None:
    pairs = [*pairs, (secret_header, f"Bearer {secret}")]
    redacted = redact.redact_headers(pairs)
    assert len(redacted) <= redact.MAX_HEADERS
    assert all(len(name) <= redact.MAX_HEADER_NAME for name in redacted)
    assert all(len(value) <= redact.MAX_HEADER_VALUE for value in redacted.values())
    assert secret_header.lower() not in redacted
    assert all(secret not in value for value in redacted.values())


@FAST
@given(
    st.lists(
        st.tuples(st.text(alphabet="abcdefgh_", min_size=1, max_size=8), st.text(max_size=30)),
        max_size=30,
    ),
    st.sampled_from(["token", "access_token", "sessionid", "api_key", "password", "jwt", "X-Auth"]),
    SECRET,
)
def test_redacted_query_is_bounded_and_never_holds_a_credential(
    params: list[tuple[str, str]], name: str, secret: str
) -> None:
    query = "&".join(f"{k}={v}" for k, v in [*params, (name, secret)])
    redacted = redact.redact_query(query)
    assert len(redacted) <= redact.MAX_QUERY
    assert secret not in redacted
