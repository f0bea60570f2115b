"""``bunws_probe`` names what actually went wrong, against the session daphne (``server``).

The probe runs inside the project: it matches the path against the declared routes and reads
the failed-upgrade row the server wrote. Tests that need that row run the probe as
``manage.py bunws_probe`` with the server's database; the others call it in-process.
"""

from __future__ import annotations

import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.e2eapp.probe_sockets import GREETING
from tests.support.servers import ROOT, Server, django_env


def probe_cli(
    server: Server, *args: str, settings: str = "tests.settings"
) -> subprocess.CompletedProcess[str]:
    """``manage.py bunws_probe ARGS`` with the server's database and ``settings``."""
    return subprocess.run(
        [sys.executable, "manage.py", "bunws_probe", *args, "--timeout", "3"],
        cwd=ROOT,
        env=django_env(server.db_path, DJANGO_SETTINGS_MODULE=settings),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_probe_runs_in_a_project_whose_system_checks_fail(server: Server) -> None:
    """The probe exists to explain misconfigurations, so a failing check must not stop it."""
    check = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=django_env(server.db_path, DJANGO_SETTINGS_MODULE="tests.probe_settings"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 1 and "bunws.E004" in check.stderr, check.stderr
    result = probe_cli(
        server, server.url("t/echo/"), "--send", "hi", settings="tests.probe_settings"
    )
    assert result.returncode == 0, result.stderr
    assert "Received text 'hi'" in result.stdout


def test_probe_names_a_trailing_slash_typo_against_the_declared_routes(server: Server) -> None:
    result = probe_cli(server, server.url("chat/lobby"))
    assert result.returncode == 1
    assert "< HTTP/1.1 403" in result.stdout
    said = result.stdout + result.stderr
    assert "no endpoint matches /chat/lobby; did you mean /chat/lobby/ (endpoint 'chat')?" in said
    assert "no_such_endpoint" in said  # and the server's own record of the refusal


def test_probe_without_the_servers_log_still_names_the_typo(server: Server) -> None:
    """In-process the probe reads another database, so the routes alone must name the slip."""
    out = StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("bunws_probe", server.url("chat/lobby"), "--timeout", "3", stdout=out)
    assert "5. Failed-upgrade log: " in out.getvalue()  # no row: not the server's database
    assert "did you mean /chat/lobby/ (endpoint 'chat')?" in str(failure.value)


def test_probe_names_an_origin_refusal_from_the_failed_upgrade_log(server: Server) -> None:
    result = probe_cli(server, server.url("t/probe/strict/"), "--origin", "http://evil.example")
    assert result.returncode == 1
    said = result.stdout + result.stderr
    assert "< HTTP/1.1 403" in result.stdout
    assert "origin_not_allowed" in said
    assert "'http://evil.example'" in said  # the row's diagnosis names the refused origin
    assert "endpoint 't-probe-strict'" in said
    assert "or fetch declined" not in said  # not the same three-way guess for every refusal


def test_probe_as_fetch_says_when_fetch_answered_with_its_own_response(server: Server) -> None:
    result = probe_cli(server, server.url("t/probe/members/", "http"), "--as-fetch")
    said = result.stdout + result.stderr
    assert "< HTTP/1.1 403 Forbidden" in result.stdout
    assert "fetch answered this request itself with 403" in said
    assert "include('bunws.urls')" not in said
    assert result.returncode == 0, said


def test_probe_send_prints_the_reply_not_the_greeting_sent_on_open(server: Server) -> None:
    out = StringIO()
    call_command(
        "bunws_probe",
        server.url("t/probe/greet/"),
        "--send",
        "ping-1",
        "--timeout",
        "3",
        stdout=out,
    )
    said = out.getvalue()
    assert "Received text 'echo: ping-1'" in said
    assert f"Received text {GREETING!r}" not in said
    assert GREETING in said  # shown, as what arrived before the send
