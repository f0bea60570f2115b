"""The services every machine runs for the tests (Redis on 127.0.0.1:6379): check, or fail in CI."""

from __future__ import annotations

import os
import socket

import pytest


def redis_reachable(port: int = 6379) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), 1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def require_redis() -> None:
    if redis_reachable():
        return
    message = "Redis is not reachable on 127.0.0.1:6379"
    if os.environ.get("CI"):
        pytest.fail(f"{message}, and CI is set: these tests must run in CI.")
    pytest.skip(f"{message}; start one to run the cross-process tests.")
