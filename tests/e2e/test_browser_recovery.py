"""The demo chat's recovery in headless Chromium (Debian's ``chromium`` through Playwright):
two tabs, the daphne process stopped (SIGTERM, then ``kill -9``) and started again on the same
port while ``manage.py bunws_publish`` publishes over Redis; each tab shows every missed message
once, in order, and "recovered"; after a stop longer than the window it shows the gap.
The page's ``bunws/client.js`` is also checked on its own (backoff steps, envelopes)."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import ROOT, Server, django_env, free_port, migrate, wait_for_port
from tests.support.services import redis_env, require_redis

TIMEOUT_MS = 15_000
DAPHNE = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p"]

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.timeout(120, func_only=True)]


class Restartable:
    """One daphne on a fixed port, stopped and started again (a deploy, a crash)."""

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.tmp, self.env, self.port = tmp, env, free_port()
        self.server: Server | None = None
        self.starts = 0

    def start(self, **extra: str) -> Server:
        self.starts += 1
        log_path = self.tmp / f"daphne-{self.starts}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [*DAPHNE, str(self.port), "project.asgi:application"],
                cwd=ROOT,
                env=django_env(self.tmp / "db.sqlite3", **self.env, **extra),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.server = Server(self.port, process, log_path, self.tmp / "db.sqlite3")
        wait_for_port(self.port, process)
        return self.server

    def stop(self, sig: int) -> None:
        assert self.server is not None
        self.server.stop(sig)

    def publish(self, topic: str, text: str) -> None:
        done = subprocess.run(
            [sys.executable, "manage.py", "bunws_publish", topic, text],
            cwd=ROOT,
            env=django_env(self.tmp / "db.sqlite3", **self.env),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr


@pytest.fixture
def daphne(tmp_path: Path) -> Iterator[Restartable]:
    require_redis()
    env = {**redis_env("pubsub"), "BUNWS_DRAIN_SECONDS": "0"}
    migrate(tmp_path / "db.sqlite3", **env)
    running = Restartable(tmp_path, env)
    try:
        yield running
    finally:
        if running.server is not None:
            running.server.stop()


def join(browser: Any, server: Server, room: str, name: str) -> Any:
    page = browser.new_context().new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.add_init_script("window.bunwsTestOptions = {reconnectAfterMs: () => 150, jitter: 0};")
    page.goto(server.url("/", "http"))
    page.fill("#room", room)
    page.fill("#name", name)
    page.click("#join")
    page.wait_for_function("document.getElementById('chat-status').textContent === 'connected'")
    return page


def wait_status(page: Any, status: str) -> None:
    page.wait_for_function(
        "(status) => document.getElementById('chat-status').textContent === status", arg=status
    )


def log_lines(page: Any) -> list[str]:
    return [line for line in (page.text_content("#log") or "").splitlines() if line]


def wait_for_line(page: Any, text: str) -> None:
    page.wait_for_function(
        "(text) => document.getElementById('log').textContent.includes(text)", arg=text
    )


def missed_once_in_order(page: Any, texts: list[str]) -> None:
    wait_for_line(page, texts[-1])
    lines = log_lines(page)
    for text in texts:
        assert lines.count(text) == 1, lines
    positions = [lines.index(text) for text in texts]
    assert positions == sorted(positions), lines


def test_tabs_recover_every_missed_message_after_sigterm_and_kill_and_show_a_gap_when_late(
    browser: Any, daphne: Restartable
) -> None:
    server = daphne.start()
    ann = join(browser, server, "rec-room", "ann")
    ben = join(browser, server, "rec-room", "ben")
    ann.wait_for_function("document.getElementById('who').textContent.includes('ben')")
    ann.fill("#chat-input", "before the restart")
    ann.click("#send")
    wait_for_line(ben, "ann: before the restart")  # the sender does not get its own

    for round_, sig in (("term", signal.SIGTERM), ("kill", signal.SIGKILL)):
        daphne.stop(sig)
        for page in (ann, ben):
            wait_status(page, "reconnecting")
        missed = [f"{round_}-{i}" for i in range(3)]
        for text in missed:
            daphne.publish("rec-room", text)
        daphne.start()
        for page in (ann, ben):
            wait_status(page, "recovered")
            missed_once_in_order(page, missed)
    assert "ann" in (ben.text_content("#who") or "")  # presence came back with the session

    # Too late: a 2 s window, then a 4 s stop.
    daphne.stop(signal.SIGTERM)
    server = daphne.start(BUNWS_DEMO_RECOVERY_WINDOW="2")
    for page in (ann, ben):
        wait_status(page, "recovered")
    daphne.stop(signal.SIGTERM)
    daphne.publish("rec-room", "lost while away")
    ann.wait_for_timeout(4000)
    daphne.start(BUNWS_DEMO_RECOVERY_WINDOW="2")
    for page in (ann, ben):
        page.wait_for_function("document.getElementById('chat-gap').textContent.includes('gap')")
        wait_status(page, "connected")
        assert "lost while away" not in log_lines(page)
        assert any("gap (expired)" in line for line in log_lines(page))
    ann.fill("#chat-input", "after the gap")
    ann.click("#send")
    wait_for_line(ben, "ann: after the gap")
    ann.screenshot(path=str(ROOT / "artifacts" / "browser-recovery.png"), full_page=True)


def test_the_client_module_backoff_steps_and_envelopes_in_chromium(
    browser: Any, daphne: Restartable
) -> None:
    server = daphne.start()
    page = browser.new_context().new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(server.url("/", "http"))
    result = page.evaluate(
        """async () => {
            const b = await import("/static/bunws/client.js");
            const text = b.decode('p["lobby",17]\\nhi\\nthere');
            const bytes = new Uint8Array([...new TextEncoder().encode('p["t",3]\\n'), 1, 2]);
            const binary = b.decode(bytes.buffer);
            return {
                steps: [1, 2, 3, 9, 10, 50].map(b.reconnectAfterMs),
                low: b.backoff(9, {random: () => 0.999}), high: b.backoff(9, {random: () => 0}),
                text: [text.kind, text.topic, text.offset, text.data],
                direct: b.decode("mhello").data,
                binary: [binary.topic, binary.offset, [...new Uint8Array(binary.data)]],
                control: b.decode('c{"type":"welcome"}').control.type,
                diff: b.applyDiff({ann: [{ref: "a"}]},
                    {leaves: {ann: [{ref: "a"}]}, joins: {ann: [{ref: "b"}]}}),
                url: b.socketUrl("/chat/x/", "https://example.com/page"),
            };
        }"""
    )
    assert result["steps"] == [10, 50, 100, 2000, 5000, 5000]  # Phoenix.js's steps, then 5 s
    assert 1000 <= result["low"] <= 1002 and result["high"] == 2000  # jitter 0.5 by default
    assert result["text"] == ["p", "lobby", 17, "hi\nthere"]
    assert result["direct"] == "hello"
    assert result["binary"] == ["t", 3, [1, 2]]
    assert result["control"] == "welcome"
    assert result["diff"] == {"ann": [{"ref": "b"}]}
    assert result["url"] == "wss://example.com/chat/x/"
