"""``BUNWS["DRAIN_SECONDS"]``: a few seconds by default, checked by type and range."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from bunws.conf import get_config
from bunws.exceptions import ConfigurationError


def test_drain_seconds_default_to_a_few_seconds() -> None:
    with override_settings(BUNWS={}):
        assert 1 <= get_config().drain_seconds <= 10


@pytest.mark.parametrize("value", [0, 2, 7.5, 600])
def test_drain_seconds_accept_numbers_from_0_to_600(value: float) -> None:
    with override_settings(BUNWS={"DRAIN_SECONDS": value}):
        assert get_config().drain_seconds == value


@pytest.mark.parametrize("value", [-1, 601, "3", True, None])
def test_drain_seconds_refuse_other_values_and_name_the_fix(value: Any) -> None:
    with override_settings(BUNWS={"DRAIN_SECONDS": value}), pytest.raises(ConfigurationError) as e:
        get_config()
    assert "BUNWS['DRAIN_SECONDS'] must be a number of seconds between 0 and 600" in str(e.value)
    assert "--application-close-timeout" in str(e.value)
