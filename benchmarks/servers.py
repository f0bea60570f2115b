"""Start and stop the server under test: a real daphne (or picows) subprocess on loopback.

Each server gets a free port on 127.0.0.1, its own process group, CPU 0, and a log file in the
run's temp dir. ``Server`` is a context manager whose exit always kills the whole group.
"""

from __future__ import annotations

import itertools
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

SERVER_CPU = 0
#: The open-file limit asked for, for server and client alike (each gets min(this, hard limit)).
WANT_NOFILE = 65_536
REPO_ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 30.0


class ServerError(RuntimeError):
    """The server did not start; the message carries the tail of its log."""


@dataclass(frozen=True)
class ServerSpec:
    """What to run: a daphne ``module:attr`` target, or the picows reference server."""

    key: str
    target: str
    baseline: bool = True
    picows: bool = False
    #: Extra environment for the server (the Redis workload's layer settings).
    env: tuple[tuple[str, str], ...] = ()

    @property
    def needs_db(self) -> bool:
        return not self.baseline


BARE = ServerSpec("bare", "benchmarks.asgi_bare:application")
STACKED = ServerSpec("stacked", "benchmarks.asgi_stacked:application", baseline=False)
CHANNELS = ServerSpec("channels", "benchmarks.asgi_channels:application")
BUNWS = ServerSpec("bunws", "benchmarks.asgi_bunws:application", baseline=False)
PICOWS = ServerSpec("picows", "benchmarks.picows_server", picows=True)


def raise_nofile(want: int = WANT_NOFILE) -> int:
    """Raise RLIMIT_NOFILE's soft limit as far as allowed; return the soft limit in force.

    Raising the hard limit needs CAP_SYS_RESOURCE; without it the soft limit goes up to the hard
    one. Runs in the server's child process before exec (``preexec_fn``) and in the client.
    """
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for new_hard in (max(hard, want), hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, new_hard), new_hard))
            break
        except (ValueError, OSError):
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def nofile_of(pid: int) -> int | None:
    """The soft open-file limit of a running process, from /proc/PID/limits."""
    try:
        with open(f"/proc/{pid}/limits") as limits:
            for line in limits:
                if line.startswith("Max open files"):
                    return int(line.split()[3])
    except (OSError, ValueError, IndexError):
        pass
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pin(pid: int, cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > cpu:
        os.sched_setaffinity(pid, {cpu})


def server_env(workdir: Path, spec: ServerSpec) -> dict[str, str]:
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
    env["BUNWS_BENCH_DIR"] = str(workdir)
    env["BUNWS_BENCH_BASELINE"] = "1" if spec.baseline else "0"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.update(spec.env)
    return env


def tail(path: Path, lines: int = 6) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:])


class Database:
    """Migrates the run's SQLite file once, the first time a non-baseline server needs it."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.error: str | None = None
        self.done = False

    def ensure(self) -> None:
        if not self.done:
            self.done = True
            spec = BUNWS
            log = self.workdir / "migrate.log"
            with log.open("wb") as out:
                code = subprocess.call(
                    [sys.executable, "-m", "django", "migrate", "--noinput", "-v", "0"],
                    env=server_env(self.workdir, spec),
                    cwd=REPO_ROOT,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=120,
                )
            if code:
                self.error = f"migrate failed: {tail(log, 3)}"
        if self.error:
            raise ServerError(self.error)


class Server:
    """A running server; ``url(path)`` gives its ws:// address."""

    _serial = itertools.count(1)

    def __init__(self, spec: ServerSpec, workdir: Path, db: Database, pin_cpu: bool) -> None:
        self.spec = spec
        self.workdir = workdir
        self.db = db
        self.pin_cpu = pin_cpu
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / f"server-{spec.key}-{next(self._serial)}.log"

    def command(self) -> list[str]:
        if self.spec.picows:
            return [sys.executable, "-m", self.spec.target, "-p", str(self.port)]
        # -v 0: no access log line per request, for every row alike.
        daphne = [sys.executable, "-m", "daphne", "-v", "0", "-b", "127.0.0.1"]
        return [*daphne, "-p", str(self.port), self.spec.target]

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise ServerError("the server is not running")
        return self.proc.pid

    def url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}/{path.lstrip('/')}"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        if self.spec.needs_db:
            self.db.ensure()
        self.port = free_port()
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                self.command(),
                env=server_env(self.workdir, self.spec),
                cwd=REPO_ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=raise_nofile,
            )
        try:
            if self.pin_cpu:
                pin(self.proc.pid, SERVER_CPU)
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise ServerError(f"server exited with {self.proc.returncode}: {tail(self.log)}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise ServerError(f"no listener on port {self.port} after {STARTUP_TIMEOUT:.0f} s")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
