from __future__ import annotations

from django.apps import AppConfig


class E2EAppConfig(AppConfig):
    name = "tests.e2eapp"
    label = "e2eapp"
