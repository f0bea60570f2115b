"""Start real daphne processes on free loopback ports for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited with {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"daphne did not listen on port {port} within {timeout} s")


def django_env(db_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        BUNWS_DB_PATH=str(db_path),
        PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def migrate(db_path: Path, **extra: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"],
        cwd=ROOT,
        env=django_env(db_path, **extra),
        check=True,
        timeout=120,
    )


@dataclass
class Server:
    """A running daphne: its port, log file and database."""

    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    db_path: Path

    def url(self, path: str, scheme: str = "ws") -> str:
        return f"{scheme}://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return int(self.process.returncode)


@contextlib.contextmanager
def daphne_server(
    tmp: Path,
    *,
    db_path: Path | None = None,
    args: tuple[str, ...] = (),
    application: str = "project.asgi:application",
    **env: str,
) -> Iterator[Server]:
    """Run daphne on ``application`` (default ``project.asgi:application``) with the test
    settings until the block ends."""
    db = db_path or tmp / "db.sqlite3"
    if not db.exists():
        migrate(db, **env)
    port = free_port()
    log_path = tmp / f"daphne-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                *args,
                application,
            ],
            cwd=ROOT,
            env=django_env(db, **env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(port, process, log_path, db)
    try:
        wait_for_port(port, process)
        yield server
    finally:
        server.stop()
