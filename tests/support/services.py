"""The services every machine runs for the tests (Redis on 127.0.0.1:6379): check, or fail in CI;
and what the cross-process tests need of Redis: a layer configuration, a private redis-server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

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


LAYERS = {
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
    "core": "channels_redis.core.RedisChannelLayer",
}


def redis_env(layer: str, url: str = "redis://127.0.0.1:6379/0") -> dict[str, Any]:
    """Settings for daphne processes sharing ``layer`` (a ``LAYERS`` key), with a key prefix of
    their own."""
    return {
        "BUNWS_REDIS_URL": url,
        "BUNWS_REDIS_LAYER": LAYERS[layer],
        "BUNWS_REDIS_PREFIX": f"bunwstest-{uuid.uuid4().hex[:12]}",
    }


def start_redis(port: int, tmp: Path) -> subprocess.Popen[bytes]:
    """A private, non-persistent redis-server: a restart comes back empty, like a lost node."""
    process = subprocess.Popen(
        [
            *("redis-server", "--port", str(port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--dir", str(tmp)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not redis_reachable(port):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"redis-server on port {port} did not start within 10 s")
        time.sleep(0.05)
    return process


def apt_install(package: str, binary: str) -> bool:
    """Install a Debian package when ``binary`` is missing (as root, like the test setup).

    A fresh machine has no package lists yet, so ``apt-get update`` runs first when the plain
    install fails. True when ``binary`` exists afterwards.
    """
    if Path(binary).exists():
        return True
    if shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", package]
        if subprocess.run(install, check=False, timeout=900, env=env).returncode != 0:
            subprocess.run(["apt-get", "update"], check=False, timeout=600, env=env)
            subprocess.run(install, check=False, timeout=900, env=env)
    return Path(binary).exists()
