"""Test settings: the demo project plus the endpoints the end-to-end tests drive."""

from __future__ import annotations

from project.settings import *  # noqa: F403
from project.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.e2eapp"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Write every repeat at once, so tests read exact counts (production batches them per second).
BUNWS = {"FAILED_UPGRADE_FLUSH_INTERVAL": 0}
