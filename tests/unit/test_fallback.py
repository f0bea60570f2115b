"""A feature the server cannot give is said once per process, never per socket."""

from __future__ import annotations

import logging

import pytest

from bunws.asgi import fallback


def test_a_fallback_is_logged_once_per_feature(caplog: pytest.LogCaptureFixture) -> None:
    fallback.reset()
    with caplog.at_level(logging.WARNING, logger="bunws"):
        for _ in range(3):
            fallback.note_fallback("per_message_deflate", "messages are sent uncompressed")
        fallback.note_fallback("ws.pause()", "reading goes on")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "bunws: per_message_deflate needs daphne, and this socket is not served by daphne: "
        "messages are sent uncompressed",
        "bunws: ws.pause() needs daphne, and this socket is not served by daphne: reading goes on",
    ]
    fallback.reset()
