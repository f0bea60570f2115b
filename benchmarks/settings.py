"""Minimal Django settings for the benchmark servers.

The database is a SQLite file under ``BUNWS_BENCH_DIR`` (a temp dir the harness makes and
migrates once), the channel layer is in memory. Baseline servers (bare ASGI, Channels) set
``BUNWS_BENCH_BASELINE=1`` so they boot without the library under test; everything else is
identical between rows.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

BASE_DIR = Path(os.environ.get("BUNWS_BENCH_DIR") or tempfile.gettempdir())
BASELINE = os.environ.get("BUNWS_BENCH_BASELINE") == "1"

SECRET_KEY = "bunws-benchmarks-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True

INSTALLED_APPS = [
    "daphne",
    "channels",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
]
if not BASELINE:
    INSTALLED_APPS += ["bunws", "benchmarks.benchapp"]

MIDDLEWARE: list[str] = []
ROOT_URLCONF = "benchmarks.urls"
ASGI_APPLICATION = "benchmarks.asgi_bunws.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(BASE_DIR / "bench.sqlite3"),
    }
}

# Default capacity is 100 per channel; a chat burst overflows that and the in-memory layer
# drops the overflow silently, so a round would never complete. Raised for every row alike.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels.layers.InMemoryChannelLayer",
        "CONFIG": {"capacity": 100_000},
    }
}
# The cross-process workload: the same switch as the demo project. BUNWS_REDIS_URL selects Redis,
# BUNWS_REDIS_LAYER the class (default: the pub/sub layer), BUNWS_REDIS_PREFIX keeps this run's
# keys and pub/sub channels (which Redis does not scope by DB number) apart from concurrent tests.
_REDIS_URL = os.environ.get("BUNWS_REDIS_URL")
if _REDIS_URL:
    _LAYER = os.environ.get("BUNWS_REDIS_LAYER", "channels_redis.pubsub.RedisPubSubChannelLayer")
    _CONFIG: dict[str, object] = {"hosts": [_REDIS_URL]}
    if os.environ.get("BUNWS_REDIS_PREFIX"):
        _CONFIG["prefix"] = os.environ["BUNWS_REDIS_PREFIX"]
    if _LAYER == "channels_redis.core.RedisChannelLayer":
        _CONFIG["capacity"] = 100_000  # the default 100 drops chat bursts, as in memory
    CHANNEL_LAYERS = {"default": {"BACKEND": _LAYER, "CONFIG": _CONFIG}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
