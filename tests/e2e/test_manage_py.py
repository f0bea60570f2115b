"""The project's ``manage.py`` as a real process: ``runserver`` serves WebSockets through daphne,
and a bad ``BUNWS`` setting stops startup itself (any management command), not a later request."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.commands import probe
from tests.support.servers import ROOT, django_env, free_port, wait_for_port


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


def test_manage_py_check_fails_on_a_bad_setting(tmp_path: Path) -> None:
    """A bad value stops startup itself (any management command), not a later request."""
    (tmp_path / "bad_settings.py").write_text(
        "from tests.settings import *  # noqa: F403\n"
        "BUNWS = {'FAILED_UPGRADE_RETENTION': '7 days'}\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bad_settings",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "BUNWS['FAILED_UPGRADE_RETENTION'] must be an age string" in result.stderr
    assert "'7 days'" in result.stderr
