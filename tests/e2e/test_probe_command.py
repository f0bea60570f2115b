"""``bunws_probe`` step by step against the session daphne: a successful handshake, the 426 of a
plain request, and the failures it exits non-zero for (a refusal, an unchosen subprotocol, a path
that is no bunws endpoint, nothing listening)."""

from __future__ import annotations

import subprocess
import sys

from tests.support.commands import failed_probe, probe
from tests.support.servers import ROOT, Server, django_env, free_port


def test_probe_explains_a_successful_handshake_step_by_step(server: Server) -> None:
    out = probe(server.url("t/data/blue/"), "--send", "hi")
    assert "> Upgrade: websocket" in out and "> Sec-WebSocket-Version: 13" in out
    assert "< HTTP/1.1 101 Switching Protocols" in out
    assert "< X-Bunws-Test: upgraded" in out
    assert "Sec-WebSocket-Accept verified" in out
    assert "Subprotocol: none requested, none chosen" in out
    assert 'Received text \'{"room": "blue", "q": "", "seen": 1}\'' in out


def test_probe_as_fetch_shows_the_426_and_its_diagnosis(server: Server) -> None:
    out = probe(server.url("t/echo/", "http"), "--as-fetch")
    assert "< HTTP/1.1 426 Upgrade Required" in out
    assert "reason: no_upgrade_header" in out
    assert "new WebSocket(url)" in out


def test_probe_fails_nonzero_on_a_refused_handshake(server: Server) -> None:
    out, error = failed_probe(server.url("t/decline/"))
    assert "< HTTP/1.1 403" in out
    assert "Failed upgrade attempts" in error


def test_probe_fails_when_a_requested_subprotocol_is_not_chosen(server: Server) -> None:
    _, error = failed_probe(server.url("t/echo/"), "--subprotocol", "chat")
    assert "chose none" in error and "RFC 6455 4.1" in error


def test_probe_as_fetch_fails_when_the_path_is_not_a_bunws_endpoint(server: Server) -> None:
    _, error = failed_probe(server.url("no-such-page/", "http"), "--as-fetch")
    assert "not 426" in error and "404" in error


def test_probe_fails_when_nothing_listens() -> None:
    _, error = failed_probe(f"ws://127.0.0.1:{free_port()}/echo/")
    assert "could not connect" in error


def test_probe_exits_with_status_1_from_the_command_line(server: Server) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "bunws_probe", server.url("t/no-such-thing/")],
        cwd=ROOT,
        env=django_env(server.db_path),
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert b"403" in result.stdout
