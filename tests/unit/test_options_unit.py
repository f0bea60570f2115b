"""Startup errors for every bad ``websocket`` mapping, asserting the message (no server).

Each mistake is checked twice: the pure core raises ``MappingError``/``UnsupportedOption``, and
the public path (``Endpoint``, what ``bunws.serve`` builds) raises ``ConfigurationError``/
``UnsupportedFeature`` (Django's ``ImproperlyConfigured``) with the very same message.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

import bunws
from bunws.core.options import OPTION_DEFAULTS, MappingError, UnsupportedOption, compile_mapping
from bunws.endpoint import Endpoint
from bunws.exceptions import ConfigurationError, UnsupportedFeature


async def message(ws: Any, message: Any) -> None:
    """A valid handler."""


def fails(mapping: Any) -> str:
    """The message of the core's ``MappingError``, after checking the public path raises a
    ``ConfigurationError`` (not ``UnsupportedFeature``) with the same text."""
    with pytest.raises(MappingError) as raised:
        compile_mapping("chat", mapping)
    assert not isinstance(raised.value, UnsupportedOption)
    with pytest.raises(ImproperlyConfigured) as public:
        Endpoint("chat/", websocket=mapping, name="chat")
    assert isinstance(public.value, ConfigurationError)
    assert not isinstance(public.value, UnsupportedFeature)
    assert str(public.value) == str(raised.value)
    return str(raised.value)


def unsupported(mapping: Any) -> str:
    """Like ``fails``, for what daphne cannot do: ``UnsupportedOption`` in the core and
    ``UnsupportedFeature`` through ``bunws.serve`` (the public name), same message."""
    with pytest.raises(UnsupportedOption) as raised:
        compile_mapping("chat", mapping)
    with pytest.raises(bunws.UnsupportedFeature) as public:
        bunws.serve("chat/", websocket=mapping, name="chat")
    assert isinstance(public.value, ConfigurationError)
    assert str(public.value) == str(raised.value)
    return str(raised.value)


def test_defaults_are_buns() -> None:
    config = compile_mapping("chat", {"message": message})
    assert config.options() == {
        "max_payload_length": 16 * 1024 * 1024,
        "idle_timeout": 120,
        "backpressure_limit": 16 * 1024 * 1024,
        "close_on_backpressure_limit": False,
        "publish_to_self": False,
        "send_pings": True,
        "per_message_deflate": False,
    }
    assert config.handler_names() == ["message"]
    assert set(config.options()) == set(OPTION_DEFAULTS)


def test_unknown_key_names_endpoint_key_and_the_known_keys() -> None:
    text = fails({"message": message, "frobnicate": 1})
    assert "endpoint 'chat'" in text and "'frobnicate'" in text
    assert "max_payload_length" in text  # lists the known keys


def test_misspelled_key_suggests_the_right_one() -> None:
    text = fails({"message": message, "idle_timout": 3})
    assert "did you mean 'idle_timeout'?" in text


@pytest.mark.parametrize(
    ("camel", "snake"),
    [
        ("maxPayloadLength", "max_payload_length"),
        ("publishToSelf", "publish_to_self"),
        ("idleTimeout", "idle_timeout"),
        ("backpressureLimit", "backpressure_limit"),
        ("closeOnBackpressureLimit", "close_on_backpressure_limit"),
        ("sendPings", "send_pings"),
        ("perMessageDeflate", "per_message_deflate"),
    ],
)
def test_camel_case_key_gets_the_snake_case_hint(camel: str, snake: str) -> None:
    text = fails({"message": message, camel: 1})
    assert (
        f"unknown key {camel!r}: bunws spells options in snake_case: did you mean {snake!r}?"
        in (text)
    )


@pytest.mark.parametrize("key", ["ping", "pong"])
def test_ping_and_pong_handlers_are_accepted(key: str) -> None:
    config = compile_mapping("chat", {"message": message, key: lambda ws, data: None})
    assert config.handler_names() == ["message", key]


def test_non_callable_handler_shows_the_expected_signature() -> None:
    text = fails({"message": "echo"})
    assert "handler 'message' must be a function like `def message(ws, message)`" in text
    assert "'echo'" in text


@pytest.mark.parametrize(
    ("key", "handler", "signature"),
    [
        ("message", lambda ws, message, extra: None, "message(ws, message)"),
        ("open", lambda ws, extra: None, "open(ws)"),
        ("close", lambda ws, code, reason, extra: None, "close(ws, code, reason)"),
        ("drain", lambda ws, extra: None, "drain(ws)"),
        ("error", lambda ws, exc, extra: None, "error(ws, exc)"),
    ],
)
def test_more_required_parameters_than_bunws_passes_names_the_signature(
    key: str, handler: Any, signature: str
) -> None:
    """Fewer are fine (``close(ws)``, as in JavaScript): tests/unit/test_handler_signatures.py."""
    text = fails({key: handler})
    assert f"handler {key!r}" in text and f"define it as `{signature}`" in text


def test_handlers_with_defaults_or_star_args_are_accepted() -> None:
    config = compile_mapping("chat", {"message": lambda ws, message=None, *rest: None})
    assert config.message is not None


def test_mapping_without_any_handler_is_refused() -> None:
    text = fails({"idle_timeout": 10})
    assert "it defines no handler" in text and "{'message': message}" in text
    assert "defines no handler" in fails({})


def test_mapping_must_be_a_dict() -> None:
    assert "expected a dict of handlers and options" in fails([("message", message)])


def test_non_string_key_is_refused() -> None:
    assert "key 1 is not a string" in fails({"message": message, 1: 2})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("max_payload_length", "16MB"),
        ("max_payload_length", -1),
        ("max_payload_length", 1.5),
        ("idle_timeout", True),
        ("backpressure_limit", None),
    ],
)
def test_size_and_time_options_must_be_whole_numbers(key: str, value: object) -> None:
    text = fails({"message": message, key: value})
    unit = "seconds" if key == "idle_timeout" else "bytes"
    assert f"option {key!r} must be a whole number of {unit} >= 0 (0 disables it)" in text
    assert repr(value) in text


@pytest.mark.parametrize(
    "key", ["publish_to_self", "send_pings", "close_on_backpressure_limit", "per_message_deflate"]
)
def test_flag_options_must_be_booleans(key: str) -> None:
    assert f"option {key!r} must be True or False, got 1" in fails({"message": message, key: 1})


def test_per_message_deflate_true_and_false_are_accepted() -> None:
    # Negotiated since issue 12 (tests/unit/test_deflate_unit.py has the values and errors).
    assert compile_mapping("chat", {"message": message, "per_message_deflate": True}).deflate
    assert compile_mapping("chat", {"message": message, "per_message_deflate": False})


def test_zero_disables_a_limit() -> None:
    config = compile_mapping(
        "chat",
        {"message": message, "idle_timeout": 0, "max_payload_length": 0, "backpressure_limit": 0},
    )
    assert (config.idle_timeout, config.max_payload_length, config.backpressure_limit) == (0, 0, 0)
