from __future__ import annotations

from django.apps import AppConfig


class BenchAppConfig(AppConfig):
    name = "benchmarks.benchapp"
    label = "bunws_benchapp"
    default_auto_field = "django.db.models.BigAutoField"
