"""The test settings with a deliberate misconfiguration (bunws.E004: ASGI_APPLICATION cannot be
imported), to prove ``bunws_probe`` still runs in the project it has to explain."""

from __future__ import annotations

from tests.settings import *  # noqa: F403

ASGI_APPLICATION = "tests.nowhere.application"
