"""``bunws_routes`` in-process; ``bunws_probe`` and ``runserver`` against real servers."""

from __future__ import annotations

import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.support.servers import ROOT, Server, django_env, free_port, wait_for_port


def probe(*args: str) -> str:
    out = StringIO()
    call_command("bunws_probe", *args, "--timeout", "3", stdout=out)
    return out.getvalue()


def failed_probe(*args: str) -> tuple[str, str]:
    out = StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("bunws_probe", *args, "--timeout", "3", stdout=out)
    return out.getvalue(), str(failure.value)


def test_routes_lists_every_endpoint_with_route_fetch_handlers_and_options() -> None:
    out = StringIO()
    call_command("bunws_routes", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == [
        "ENDPOINT",
        "ROUTE",
        "FETCH",
        "HANDLERS",
        "OPTIONS",
        "(non-default)",
    ]
    [chat] = [line for line in lines if line.startswith("chat ")]
    assert chat.split(None, 3)[:3] == ["chat", "chat/<str:room>/", "chat_fetch"]
    assert "open, message, close" in chat
    [room_self] = [line for line in lines if line.startswith("t-room-self ")]
    assert "publish_to_self=True" in room_self


def test_routes_json_format_is_machine_readable() -> None:
    out = StringIO()
    call_command("bunws_routes", "--format", "json", stdout=out)
    rows = {row["name"]: row for row in json.loads(out.getvalue())}
    assert rows["echo"]["handlers"] == ["message"] and rows["echo"]["fetch"] is None
    assert rows["chat"]["options"]["max_payload_length"] == 16 * 1024 * 1024


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


def test_runserver_serves_websockets_through_daphne(tmp_path: Path) -> None:
    """'daphne' first in INSTALLED_APPS makes runserver daphne's, so WebSockets work."""
    port = free_port()
    log = (tmp_path / "runserver.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=django_env(tmp_path / "db.sqlite3"),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, process)
        out = probe(f"ws://127.0.0.1:{port}/echo/", "--send", "via runserver")
        assert "Received text 'via runserver'" in out
    finally:
        process.terminate()
        process.wait(15)
        log.close()
    assert "Starting ASGI/Daphne" in (tmp_path / "runserver.log").read_text()


def test_diagnostics_doc_explains_every_failure_reason_and_check() -> None:
    from bunws.core.diagnosis import REASONS

    text = (ROOT / "docs" / "diagnostics.md").read_text()
    for code, _label in REASONS:
        assert f"| `{code}` |" in text, code
    checks = ("E001", "E002", "E003", "E004", "E006", "W001", "W002", "W003", "W004", "W005")
    for check in checks:
        assert f"`bunws.{check}`" in text, check
