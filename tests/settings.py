"""Test settings: the demo project plus the endpoints the end-to-end tests drive."""

from __future__ import annotations

import os

from project.settings import *  # noqa: F403
from project.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.e2eapp"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Write every repeat at once, so tests read exact counts (production batches them per second).
BUNWS: dict[str, float] = {"FAILED_UPGRADE_FLUSH_INTERVAL": 0}
# Tests set these periods through the environment (presence, the drain, the flush interval).
for _key in (
    "PRESENCE_BROADCAST_PERIOD",
    "PRESENCE_DOWN_PERIOD",
    "DRAIN_SECONDS",  # tests/e2e/test_drain.py
    "FAILED_UPGRADE_FLUSH_INTERVAL",
):
    if os.environ.get(f"BUNWS_{_key}"):
        BUNWS[_key] = float(os.environ[f"BUNWS_{_key}"])
