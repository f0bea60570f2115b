"""``manage.py bunws_publish`` in process: when it refuses (an in-memory layer, an unreachable
Redis, an empty message). What it prints over a real Redis: ``tests/e2e/test_cluster_redis.py``."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings


def test_publish_command_with_in_memory_layer_explains_that_nobody_can_receive() -> None:
    with pytest.raises(CommandError) as caught:
        call_command("bunws_publish", "room", "hello")
    message = str(caught.value)
    assert "not delivered" in message
    assert "channels.layers.InMemoryChannelLayer" in message
    assert "docs/scaling.md" in message


def test_publish_command_over_unreachable_redis_fails_with_the_reason() -> None:
    layers = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},  # nothing listens on port 1
        }
    }
    with override_settings(CHANNEL_LAYERS=layers), pytest.raises(CommandError) as caught:
        call_command("bunws_publish", "room", "hello")
    assert "is unreachable" in str(caught.value)


def test_publish_command_refuses_an_empty_message() -> None:
    layers = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {}}}
    with override_settings(CHANNEL_LAYERS=layers), pytest.raises(CommandError) as caught:
        call_command("bunws_publish", "room", "")
    assert "empty message" in str(caught.value)
