"""``settings.BUNWS`` is checked by type and range at startup, and each error names the key, the
bad value and the fix."""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from bunws.conf import Config, get_config
from bunws.core.age import AGE_FORMS
from bunws.exceptions import ConfigurationError


def refused(bunws: Any, **settings: Any) -> str:
    with override_settings(BUNWS=bunws, **settings), pytest.raises(ConfigurationError) as raised:
        get_config()
    assert isinstance(raised.value, ImproperlyConfigured)
    return str(raised.value)


@pytest.mark.parametrize("bunws", [None, {}])
def test_no_settings_give_the_documented_defaults(bunws: Any) -> None:
    with override_settings(BUNWS=bunws):
        assert get_config() == Config()


def test_valid_values_are_kept_and_origins_become_a_tuple() -> None:
    valid = {
        "ALLOWED_ORIGINS": ["https://example.com", ".example.com"],
        "ALLOW_MISSING_ORIGIN": False,
        "SOCKETS_MODULE": "ws.endpoints",
        "FAILED_UPGRADE_WINDOW": 30,
        "FAILED_UPGRADE_FLUSH_INTERVAL": 0.5,
        "FAILED_UPGRADE_RETENTION": "2w",
        "FAILED_UPGRADE_ROWS_PER_WINDOW": 0,
        "FAILED_UPGRADE_MAX_ROWS": 10,
        "MAX_SOCKETS_PER_CLIENT": 20,
        "MAX_MESSAGES_PER_SECOND": 50,
    }
    with override_settings(BUNWS=valid):
        config = get_config()
    assert config.allowed_origins == ("https://example.com", ".example.com")
    assert config.allow_missing_origin is False and config.sockets_module == "ws.endpoints"
    assert (config.failed_upgrade_flush_interval, config.failed_upgrade_retention) == (0.5, "2w")
    assert (config.max_sockets_per_client, config.max_messages_per_second) == (20, 50)


@pytest.mark.parametrize(
    ("key", "value", "fix"),
    [
        ("ALLOWED_ORIGINS", "https://example.com", "None or a list of origins"),
        ("ALLOWED_ORIGINS", ["https://example.com", 443], "None or a list of origins"),
        ("ALLOW_MISSING_ORIGIN", "no", "True or False"),
        ("ALLOW_MISSING_ORIGIN", 0, "True or False"),
        ("SOCKETS_MODULE", "my-sockets", "a module name such as 'sockets'"),
        ("SOCKETS_MODULE", None, "a module name such as 'sockets'"),
        ("FAILED_UPGRADE_WINDOW", -1, "a number of seconds >= 0"),
        ("FAILED_UPGRADE_WINDOW", "60", "a number of seconds >= 0"),
        ("FAILED_UPGRADE_FLUSH_INTERVAL", True, "a number of seconds >= 0"),
        ("FAILED_UPGRADE_RETENTION", "7 days", f"an age string: {AGE_FORMS}"),
        ("FAILED_UPGRADE_RETENTION", 7, f"an age string: {AGE_FORMS}"),
        ("FAILED_UPGRADE_RETENTION", "99999999999999d", f"an age string: {AGE_FORMS}"),
        ("FAILED_UPGRADE_ROWS_PER_WINDOW", 2.5, "a whole number >= 0"),
        ("FAILED_UPGRADE_MAX_ROWS", -10, "a whole number >= 0"),
        ("CHANNEL_LAYER", "", "the alias of a CHANNEL_LAYERS entry"),
        ("CHANNEL_LAYER", None, "the alias of a CHANNEL_LAYERS entry"),
        ("MAX_SOCKETS_PER_CLIENT", True, "a whole number >= 0"),
        ("MAX_SOCKETS_PER_CLIENT", "20", "a whole number >= 0"),
        ("MAX_MESSAGES_PER_SECOND", -1, "a whole number >= 0"),
    ],
)
def test_a_wrong_type_or_range_names_the_key_the_value_and_the_fix(
    key: str, value: object, fix: str
) -> None:
    text = refused({key: value})
    assert f"BUNWS[{key!r}] must be {fix}" in text
    assert f"got {value!r} ({type(value).__name__})" in text


def test_bools_are_not_numbers_and_numbers_are_not_bools() -> None:
    assert "got True (bool)" in refused({"MAX_MESSAGES_PER_SECOND": True})
    assert "got 1 (int)" in refused({"ALLOW_MISSING_ORIGIN": 1})


def test_a_channel_layer_alias_missing_from_channel_layers_is_refused() -> None:
    layers = {"redis": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    text = refused({"CHANNEL_LAYER": "default"}, CHANNEL_LAYERS=layers)
    assert "BUNWS['CHANNEL_LAYER'] is 'default', but CHANNEL_LAYERS has no such alias" in text
    assert "(defined: 'redis')" in text
    with override_settings(BUNWS={"CHANNEL_LAYER": "redis"}, CHANNEL_LAYERS=layers):
        assert get_config().channel_layer == "redis"
    assert "defined: none" in refused({"CHANNEL_LAYER": "other"}, CHANNEL_LAYERS={})


def test_default_alias_without_channel_layers_is_like_leaving_the_key_out() -> None:
    with override_settings(BUNWS={"CHANNEL_LAYER": "default"}, CHANNEL_LAYERS={}):
        assert get_config() == Config()


def test_unknown_key_lists_the_known_keys() -> None:
    text = refused({"MAX_SOCKETS": 3})
    assert "unknown bunws setting BUNWS['MAX_SOCKETS']" in text
    assert "MAX_SOCKETS_PER_CLIENT" in text


def test_bunws_must_be_a_dict() -> None:
    text = refused([("MAX_SOCKETS_PER_CLIENT", 3)])
    assert "settings.BUNWS must be a dict" in text and "(list)" in text


def test_app_ready_checks_the_settings() -> None:
    with (
        override_settings(BUNWS={"MAX_SOCKETS_PER_CLIENT": "20"}),
        pytest.raises(ConfigurationError, match=r"BUNWS\['MAX_SOCKETS_PER_CLIENT'\]"),
    ):
        apps.get_app_config("bunws").ready()
