"""The declared routes, in process: ``bunws_routes`` lists every endpoint (as a table or JSON), and
the probe's route verdict matches a path against them, naming slips and prefixed mounts."""

from __future__ import annotations

import json
from io import StringIO

from django.core.management import call_command


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


def test_route_verdict_names_slips_and_routes_mounted_under_a_prefix() -> None:
    from bunws.management.probe_project import route_verdict

    assert route_verdict("/t/echo/") == "/t/echo/ is endpoint 't-echo' (route 't/echo/')"
    assert "did you mean /t/echo/ (endpoint 't-echo')?" in route_verdict("/t//echo/")
    assert "did you mean /t/echo (endpoint" not in route_verdict("/t/echo")
    assert "if the routes are mounted under 'ws/'" in route_verdict("/ws/t/echo/")
    assert "the declared routes are 'echo/', 'chat/<str:room>/'" in route_verdict("/nowhere/")
