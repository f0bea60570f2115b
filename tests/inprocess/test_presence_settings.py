"""The presence settings are validated with the others and have Phoenix's defaults."""

from __future__ import annotations

import pytest
from django.test import override_settings

from bunws.conf import get_config
from bunws.exceptions import ConfigurationError


def test_presence_periods_default_to_phoenix_values() -> None:
    with override_settings(BUNWS={}):
        config = get_config()
    assert (config.presence_broadcast_period, config.presence_down_period) == (1.5, 30.0)


@pytest.mark.parametrize(
    ("key", "value"),
    [("PRESENCE_DOWN_PERIOD", 1), ("PRESENCE_DOWN_PERIOD", 61), ("PRESENCE_BROADCAST_PERIOD", 0)],
)
def test_out_of_range_presence_periods_name_the_key_and_the_fix(key: str, value: float) -> None:
    with override_settings(BUNWS={key: value}), pytest.raises(ConfigurationError, match=key):
        get_config()
