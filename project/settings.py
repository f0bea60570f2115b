"""Settings for the bunws demo project: SQLite and the in-memory channel layer by default.

Environment variables switch the embedded defaults for real deployments and multi-process tests:
``BUNWS_REDIS_URL`` selects the Redis channel layer, ``DJANGO_DATABASE`` a database URL-less path.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

# Demo only: a real deployment sets DJANGO_SECRET_KEY.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "bunws-demo-insecure-key-change-me")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "bunws",
    "project.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "project.urls"
ASGI_APPLICATION = "project.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("BUNWS_DB_PATH", str(BASE_DIR / "db.sqlite3")),
        # Several daphne processes may share the file: wait instead of failing at once.
        "OPTIONS": {"timeout": 20},
        "TEST": {"NAME": os.environ.get("BUNWS_TEST_DB_PATH") or None},
    }
}

_REDIS_URL = os.environ.get("BUNWS_REDIS_URL")
if _REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": os.environ.get(
                "BUNWS_REDIS_LAYER", "channels_redis.pubsub.RedisPubSubChannelLayer"
            ),
            "CONFIG": {"hosts": [_REDIS_URL]},
        }
    }
    # Tests give each run its own key prefix so concurrent runs on one Redis stay apart.
    if os.environ.get("BUNWS_REDIS_PREFIX"):
        CHANNEL_LAYERS["default"]["CONFIG"] = {
            "hosts": [_REDIS_URL],
            "prefix": os.environ["BUNWS_REDIS_PREFIX"],
        }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

AUTH_PASSWORD_VALIDATORS: list[dict[str, str]] = []

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # bunws's lines propagate to the root handler daphne installs (or Python's last resort).
    "loggers": {"bunws": {"level": "INFO"}},
}
