"""The demo page in headless Chromium (Debian's ``chromium`` through Playwright) against daphne.

When ``/usr/bin/chromium`` is missing the setup runs ``apt-get install -y chromium``; if it is
still missing the test fails when ``CI`` is set and skips otherwise.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from tests.support.servers import ROOT, Server, django_env

ARTIFACTS = ROOT / "artifacts"
TIMEOUT_MS = 10_000

pytestmark = pytest.mark.browser


def join(browser: Any, server: Server, room: str, name: str) -> Any:
    page = browser.new_context().new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(server.url("/", "http"))
    page.fill("#room", room)
    page.fill("#name", name)
    page.click("#join")
    page.wait_for_function("document.getElementById('chat-status').textContent === 'connected'")
    return page


def say(page: Any, text: str) -> None:
    page.fill("#chat-input", text)
    page.click("#send")


def wait_for_text(page: Any, selector: str, text: str) -> None:
    page.wait_for_function(
        "([selector, text]) => document.querySelector(selector).textContent.includes(text)",
        arg=[selector, text],
    )


def test_demo_chat_fetch_426_and_admin_live_view_in_chromium(browser: Any, server: Server) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    ann = join(browser, server, "browser-room", "ann")
    ben = join(browser, server, "browser-room", "ben")
    wait_for_text(ann, "#log", "* ben joined")
    wait_for_text(ann, "#who", "ben")  # presence: the two tabs see each other in the list
    wait_for_text(ben, "#who", "ann")
    say(ann, "hello from ann")
    wait_for_text(ben, "#log", "ann: hello from ann")
    say(ben, "hi ann")
    wait_for_text(ann, "#log", "ben: hi ann")

    ann.fill("#echo-input", "echo me")
    ann.click("#echo-form button")
    wait_for_text(ann, "#echo-log", "echo: echo me")
    extensions = ann.evaluate(  # the chat endpoint sets per_message_deflate (RFC 7692)
        """() => new Promise((resolve, reject) => {
            const ws = new WebSocket(`ws://${location.host}/chat/deflate-room/?name=z`);
            ws.onopen = () => { resolve(ws.extensions); ws.close(); };
            ws.onerror = () => reject(new Error("the chat socket did not open"));
        })"""
    )
    assert extensions.startswith("permessage-deflate"), extensions

    ann.click("#fetch-button")
    wait_for_text(ann, "#fetch-result", "HTTP 426")
    result = ann.text_content("#fetch-result") or ""
    assert "Upgrade Required" in result
    assert "reason: no_upgrade_header" in result
    assert "new WebSocket(url)" in result
    ann.screenshot(path=str(ARTIFACTS / "browser-demo.png"), full_page=True)

    subprocess.run(
        [
            *(sys.executable, "manage.py", "createsuperuser", "--noinput"),
            *("--username", "browser", "--email", "browser@example.com"),
        ],
        cwd=ROOT,
        check=True,
        timeout=60,
        env=django_env(server.db_path, DJANGO_SUPERUSER_PASSWORD="browser-pw-for-tests"),
    )
    admin = browser.new_context().new_page()
    admin.set_default_timeout(TIMEOUT_MS)
    admin.goto(server.url("admin/login/?next=/admin/bunws/failedupgrade/", "http"))
    admin.fill("#id_username", "browser")
    admin.fill("#id_password", "browser-pw-for-tests")
    admin.click("input[type=submit]")
    admin.wait_for_url("**/admin/bunws/failedupgrade/")
    assert "/chat/lobby/" in (admin.text_content("#result_list") or "")

    admin.goto(server.url("admin/bunws/live/", "http"))
    chat_row = "#live-endpoints tr:has(td:text-is('chat')) td.num"
    assert admin.text_content(chat_row) == "2"
    assert "browser-room" in (admin.text_content("#live-topics") or "")
    assert "no_upgrade_header" in (admin.text_content("#live-reasons") or "")
    ben.context.close()  # the polling script shows the drop without a reload
    admin.wait_for_function(
        """() => [...document.querySelectorAll('#live-endpoints tr')].some(
            (tr) => tr.cells[0].textContent === 'chat' && tr.cells[2].textContent === '1')""",
        timeout=8000,
    )
    admin.screenshot(path=str(ARTIFACTS / "browser-live-admin.png"), full_page=True)
    ann.context.close()
