"""The built distributions, installed as a user installs them (issue 15).

``python -m build`` makes a wheel and an sdist that ``twine check --strict`` accepts; the wheel,
installed with pip (not ``-e``) into one fresh venv on the newest combination of noxfile.py's
matrix (Python 3.13, Django 6.1), serves the demo project (project/ and manage.py are not in
the wheel: they are copied beside it, so ``bunws`` can only come from the venv) and a new
``django-admin startproject`` wired with the README's own code blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from noxfile import MATRIX, interpreter
from tests.support.clients import connect, recv
from tests.support.http import failed_upgrade_rows, http_get
from tests.support.servers import ROOT, Server, free_port, wait_for_port

PYTHON, DJANGO = MATRIX[-1]
# Files of the package that must ship (what setuptools' package-data has to name besides .py).
SHIPPED = re.compile(r".*\.(py|html|css|js|typed)$")


def _run(*args: str | Path, cwd: Path = ROOT, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"{args}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python -m build``'s output: the sdist, and the wheel built from it."""
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "build", "--outdir", out, ROOT)
    return out


@pytest.fixture(scope="module")
def venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv on Python 3.13 with the wheel and Django 6.1 installed by pip."""
    path = tmp_path_factory.mktemp("venv")
    python = interpreter(PYTHON)
    assert shutil.which(python), f"Python {PYTHON} not found (pyenv's versions/ or PATH)"
    _run(python, "-m", "venv", path)
    [wheel] = dist.glob("bunws-*.whl")
    _run(path / "bin/python", "-m", "pip", "install", "-q", wheel, f"django~={DJANGO}.0")
    return path


def user_env(venv: Path) -> dict[str, str]:
    """The environment of a user's shell with the venv activated: none of the suite's settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "PYTHONPATH"} and not key.startswith("BUNWS_")
    }
    env.update(VIRTUAL_ENV=str(venv), PYTHONUNBUFFERED="1")
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    return env


@contextlib.contextmanager
def daphne(venv: Path, site: Path, application: str) -> Iterator[Server]:
    """``daphne -b 127.0.0.1 -p PORT application`` run from ``site`` with the venv's daphne."""
    port = free_port()
    log_path = site / "daphne.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [venv / "bin/daphne", "-b", "127.0.0.1", "-p", str(port), application],
            cwd=site,
            env=user_env(venv),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(port, process, log_path, site / "db.sqlite3")
    try:
        wait_for_port(port, process, timeout=30)
        yield server
    finally:
        server.stop()


def test_build_makes_a_wheel_and_an_sdist_that_twine_accepts(dist: Path) -> None:
    [wheel] = dist.glob("bunws-*.whl")
    [sdist] = dist.glob("bunws-*.tar.gz")
    _run(sys.executable, "-m", "twine", "check", "--strict", wheel, sdist)
    package = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "bunws").rglob("*")
        if SHIPPED.fullmatch(path.name) and "__pycache__" not in path.parts
    }
    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    assert package - in_wheel == set()
    assert not {name for name in in_wheel if name.startswith(("tests/", "project/"))}
    with tarfile.open(sdist) as archive:
        in_sdist = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"README.md", "pyproject.toml"} | package <= in_sdist
    [metadata_name] = [name for name in in_wheel if name.endswith(".dist-info/METADATA")]
    metadata = zipfile.ZipFile(wheel).read(metadata_name)
    for python, django in MATRIX:
        assert f"Programming Language :: Python :: {python}".encode() in metadata
        assert f"Framework :: Django :: {django}".encode() in metadata


async def test_the_installed_wheel_runs_the_demo(venv: Path, tmp_path: Path) -> None:
    """bunws from the venv's site-packages (migrations, templates and all), the demo from a
    copy of project/: migrate, daphne, a handshake with an echo, and a plain GET's 426 row."""
    site = tmp_path / "demo"
    shutil.copytree(ROOT / "project", site / "project", ignore=shutil.ignore_patterns("__pyc*"))
    shutil.copy(ROOT / "manage.py", site)
    env = user_env(venv)
    python = venv / "bin/python"
    where = _run(python, "-c", "import bunws; print(bunws.__file__)", cwd=site, env=env)
    assert Path(where.strip()).is_relative_to(venv), where
    _run(python, "manage.py", "migrate", "-v0", cwd=site, env=env)
    with daphne(venv, site, "project.asgi:application") as server:
        ws = await connect(server, "echo/")
        await ws.send("from the wheel")
        assert await recv(ws) == "from the wheel"
        await ws.close()
        with await asyncio.to_thread(http_get, server, "echo/") as answer:
            assert answer.status == 426
            assert "WebSocket" in answer.read().decode()
        assert len(failed_upgrade_rows(server, "path = ?", "/echo/")) == 1


async def test_a_new_django_project_wired_as_the_readme_says_works(
    venv: Path, tmp_path: Path
) -> None:
    """``django-admin startproject`` on Django 6.1, then the README's settings, urls and asgi
    wiring and its example endpoint: ``check`` passes, and two sockets chat through daphne."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    wiring = re.search(r"## Wiring\n+```python\n(.*?)```", readme, re.S)
    endpoint = re.search(r"## Writing an endpoint\n+```python\n(.*?)```", readme, re.S)
    assert wiring and endpoint, "README's Wiring or Writing an endpoint block moved"
    asgi_wiring = wiring.group(1).split("# asgi.py\n", 1)[1]
    assert 'include("bunws.urls")' in wiring.group(1) and '"daphne", ...' in wiring.group(1)

    env = user_env(venv)
    _run(venv / "bin/django-admin", "startproject", "mysite", tmp_path, env=env)
    site = tmp_path
    package = site / "mysite"
    with (package / "settings.py").open("a") as settings:  # README: daphne first, then ...
        settings.write(
            '\nINSTALLED_APPS = ["daphne", *INSTALLED_APPS, "channels", "bunws", "chat"]\n'
            'ASGI_APPLICATION = "mysite.asgi.application"\n'
        )
    with (package / "urls.py").open("a") as urls:
        urls.write(
            '\nfrom django.urls import include\n\nurlpatterns += [path("", include("bunws.urls"))]\n'
        )
    generated = (package / "asgi.py").read_text()
    settings_line = re.search(r"os\.environ\.setdefault\(.*\)\n", generated)
    assert settings_line, generated
    (package / "asgi.py").write_text("import os\n\n" + settings_line.group(0) + "\n" + asgi_wiring)
    (site / "chat").mkdir()
    (site / "chat/__init__.py").write_text("")
    (site / "chat/sockets.py").write_text(endpoint.group(1))

    python = venv / "bin/python"
    checked = _run(python, "manage.py", "check", cwd=site, env=env)
    assert "System check identified no issues" in checked, checked
    _run(python, "manage.py", "migrate", "-v0", cwd=site, env=env)
    with daphne(venv, site, "mysite.asgi:application") as server:
        first = await connect(server, "chat/lobby/")
        second = await connect(server, "chat/lobby/")
        # The README's open handler subscribes; resend until the second socket's open has run.
        for _ in range(25):
            await first.send("hello from 6.1")
            with contextlib.suppress(AssertionError):
                assert await recv(second, timeout=0.2) == "hello from 6.1"
                break
        else:
            raise AssertionError(f"the publish never reached the other socket:\n{server.log()}")
        await first.close()
        await second.close()
        with await asyncio.to_thread(http_get, server, "chat/lobby/") as answer:
            assert answer.status == 426, server.log()
