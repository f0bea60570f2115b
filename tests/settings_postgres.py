"""Test settings on PostgreSQL instead of SQLite, for the tests that need a database server
(a terminated backend, a restart). ``BUNWS_PG_NAME`` names the database the test created;
``BUNWS_PG_HOST`` / ``BUNWS_PG_PORT`` / ``BUNWS_PG_USER`` default to a local trust-auth server.
``default`` has Django's default short-lived connections; ``persistent`` is the same database
with ``CONN_MAX_AGE`` and ``CONN_HEALTH_CHECKS``, the other setup a deployment uses."""

from __future__ import annotations

import os

from tests.settings import *  # noqa: F403

_POSTGRES = {
    "ENGINE": "django.db.backends.postgresql",
    "NAME": os.environ.get("BUNWS_PG_NAME", "bunws_test"),
    "USER": os.environ.get("BUNWS_PG_USER", "postgres"),
    "HOST": os.environ.get("BUNWS_PG_HOST", "127.0.0.1"),
    "PORT": os.environ.get("BUNWS_PG_PORT", "5432"),
}
DATABASES = {
    "default": _POSTGRES,
    "persistent": {**_POSTGRES, "CONN_MAX_AGE": 600, "CONN_HEALTH_CHECKS": True},
}
