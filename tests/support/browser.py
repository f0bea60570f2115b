"""Debian's Chromium for the browser tests, driven by Playwright with ``executable_path``.

When ``/usr/bin/chromium`` is missing the setup runs ``apt-get install -y chromium``; if it is
still missing the test fails when ``CI`` is set and skips otherwise (a developer's machine
without Debian's packages).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.support.services import apt_install

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def ensure_chromium() -> None:
    """Install Debian's chromium when it is missing; fail under CI, skip elsewhere, if absent."""
    if not apt_install("chromium", CHROMIUM):
        message = f"{CHROMIUM} is missing and `apt-get install -y chromium` did not provide it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@contextmanager
def launched_chromium() -> Iterator[Any]:
    """A headless Chromium for the length of the block."""
    ensure_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()
