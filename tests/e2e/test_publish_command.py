"""``manage.py bunws_publish``: what it prints and when it refuses (Redis runs are e2e)."""

from __future__ import annotations

import io
import uuid

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from bunws.asgi import threads


def test_publish_command_with_in_memory_layer_explains_that_nobody_can_receive() -> None:
    with pytest.raises(CommandError) as caught:
        call_command("bunws_publish", "room", "hello")
    message = str(caught.value)
    assert "not delivered" in message
    assert "channels.layers.InMemoryChannelLayer" in message
    assert "docs/scaling.md" in message


def test_publish_command_over_redis_reports_the_path_and_binary_kind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The command runs in a process without sockets; in-process tests that ran before may have
    left this process a socket loop whose bridge was chosen under the in-memory layer."""
    from tests.support.services import require_redis

    require_redis()
    monkeypatch.setattr(threads, "socket_loop", lambda: None)
    layers = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": ["redis://127.0.0.1:6379/0"],
                "prefix": f"bunwsunit-{uuid.uuid4().hex[:8]}",
            },
        }
    }
    out = io.StringIO()
    with override_settings(CHANNEL_LAYERS=layers):
        call_command("bunws_publish", "nobody-listens", "héllo", "--binary", stdout=out)
    text = out.getvalue()
    assert "published 6 bytes (binary) to topic 'nobody-listens'" in text
    assert "channels_redis.core.RedisChannelLayer" in text
    assert "0 subscribers across processes" in text


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
