"""The demo app: an echo endpoint, a chat room and a page that uses them."""

from __future__ import annotations

from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "project.demo"
    label = "demo"
