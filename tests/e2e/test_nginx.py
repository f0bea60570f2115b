"""Debian's nginx in front of daphne (``--proxy-headers``): configured right, sockets work and
bunws sees the real client address; without the upgrade headers forwarded, the 426 body, the log
line and the admin row say that a proxy dropped the upgrade and give the nginx lines that fix it.

When ``/usr/sbin/nginx`` is missing the setup runs ``apt-get install -y nginx`` (as the browser
test does for chromium). nginx runs in the foreground with its configuration, pid, logs and
temporary files in the test's directory, on free loopback ports. The client connects from
127.0.0.2, so the address nginx forwards (``$remote_addr``) differs from nginx's own 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from tests.support.clients import TIMEOUT, recv, recv_json
from tests.support.http import failed_upgrade_rows
from tests.support.servers import Server, daphne_server, free_port, wait_for_port
from tests.support.services import apt_install

NGINX = "/usr/sbin/nginx"
CLIENT_ADDRESS = "127.0.0.2"
FIX_LINES = (
    "proxy_http_version 1.1;",
    "proxy_set_header Upgrade $http_upgrade;",
    'proxy_set_header Connection "upgrade";',
)
CONFIG = """
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    upstream daphne {{ server 127.0.0.1:{backend}; }}
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    # Right: the upgrade forwarded over HTTP/1.1, and the client's address for --proxy-headers.
    server {{
        listen 127.0.0.1:{good};
        location / {{
            proxy_pass http://daphne;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_read_timeout 1h;
        }}
    }}
    # The seed problem: nginx's defaults drop Upgrade and send Connection: close over HTTP/1.0.
    server {{
        listen 127.0.0.1:{bad};
        location / {{
            proxy_pass http://daphne;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
        }}
    }}
}}
"""
# Two daphne processes behind one upstream; a 503 (a draining process) is retried on the other.
ROLLING = CONFIG.replace(
    "upstream daphne {{ server 127.0.0.1:{backend}; }}",
    "upstream daphne {{ server 127.0.0.1:{one}; server 127.0.0.1:{two}; }}",
).replace(
    "proxy_read_timeout 1h;",
    "proxy_read_timeout 1h;\n            proxy_next_upstream error timeout http_503;",
)


def ensure_nginx() -> None:
    if not apt_install("nginx", NGINX):
        pytest.fail(f"{NGINX} is missing and `apt-get install -y nginx` did not provide it")


@contextlib.contextmanager
def nginx(tmp: Path, config: str, **ports: int) -> Iterator[dict[str, int]]:
    """nginx running ``config`` (``{tmp}`` and a free port for each ``{name}`` filled in)."""
    ensure_nginx()
    tmp.mkdir(exist_ok=True)
    listen = {name: free_port() for name in ("good", "bad") if "{" + name + "}" in config}
    conf = tmp / "nginx.conf"
    conf.write_text(config.format(tmp=tmp, **ports, **listen))
    log = (tmp / "nginx.out").open("wb")
    process = subprocess.Popen(
        [NGINX, "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(conf)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        try:
            for port in listen.values():
                wait_for_port(port, process)
        except RuntimeError:
            errors = (tmp / "error.log").read_text(errors="replace")
            raise AssertionError(f"nginx did not start: {errors}") from None
        yield listen
    finally:
        process.send_signal(signal.SIGQUIT)  # nginx's graceful stop
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, int, int]]:
    tmp = tmp_path_factory.mktemp("nginx")
    with (
        daphne_server(tmp, args=("--proxy-headers",)) as server,
        nginx(tmp / "nginx", CONFIG, backend=server.port) as ports,
    ):
        yield server, ports["good"], ports["bad"]


async def through(port: int, path: str, **kwargs: Any) -> ClientConnection:
    """A WebSocket to ``path`` through nginx on ``port``, from 127.0.0.2."""
    return await asyncio.wait_for(
        websockets.connect(
            f"ws://127.0.0.1:{port}/{path}", local_addr=(CLIENT_ADDRESS, 0), **kwargs
        ),
        TIMEOUT,
    )


async def recv_text(ws: ClientConnection, wanted: str) -> str:
    """The next text message starting with ``wanted``, skipping the chat's presence JSON."""
    while True:
        message = await recv(ws)
        if isinstance(message, str) and message.startswith(wanted):
            return message


async def test_sockets_work_through_nginx_and_see_the_real_client_address(
    proxied: tuple[Server, int, int],
) -> None:
    server, good, _ = proxied
    async with await through(good, "p/whoami/") as ws:
        seen = await recv_json(ws)
    assert seen == {
        "client": CLIENT_ADDRESS,
        "x_forwarded_for": [CLIENT_ADDRESS],
        "port": server.port,
    }
    async with await through(good, "echo/") as echo:
        await echo.send("through nginx")
        assert await recv(echo) == "through nginx"
        await echo.send(b"\x00\xff")
        assert await recv(echo) == b"\x00\xff"
    async with (
        await through(good, "chat/nginx/?name=ann") as ann,
        await through(good, "chat/nginx/?name=bob") as bob,
    ):
        await recv_text(ann, "* bob joined")
        await ann.send("hello through nginx")
        assert await recv_text(bob, "ann: ") == "ann: hello through nginx"
    assert "proxy_dropped_upgrade" not in server.log()


def test_a_proxy_that_drops_the_upgrade_is_named_with_the_nginx_fix(
    proxied: tuple[Server, int, int],
) -> None:
    server, _, bad = proxied

    async def handshake() -> Any:
        try:
            ws = await through(bad, "echo/")
        except websockets.InvalidStatus as refused:
            return refused.response
        await ws.close()
        raise AssertionError("the handshake through the misconfigured nginx succeeded")

    response = asyncio.run(handshake())
    body = response.body.decode()
    assert response.status_code == 426, body
    assert "came through a proxy (it carries X-Forwarded-For)" in body
    assert "the proxy dropped its upgrade" in body
    for line in FIX_LINES:
        assert f"\n    {line}\n" in body

    # A plain request through the same proxy is no handshake: its usual diagnosis.
    plain = http.client.HTTPConnection(
        "127.0.0.1", bad, timeout=5, source_address=(CLIENT_ADDRESS, 0)
    )
    plain.request("GET", "/echo/", headers={"Accept": "application/json"})
    answer = plain.getresponse()
    assert answer.status == 426
    assert json.loads(answer.read())["reason"] == "no_upgrade_header"
    plain.close()

    lines = [line for line in server.log().splitlines() if "reason=proxy_dropped_upgrade" in line]
    assert len(lines) == 1, server.log()
    assert f"client={CLIENT_ADDRESS}" in lines[0]
    assert "a proxy dropped the upgrade; nginx fix: " + " ".join(FIX_LINES) in lines[0]

    rows = failed_upgrade_rows(server, "reason = ?", "proxy_dropped_upgrade")
    assert len(rows) == 1, rows
    row = rows[0]
    assert (row["path"], row["status"], row["client_address"]) == ("/echo/", 426, CLIENT_ADDRESS)
    assert "the proxy dropped its upgrade" in row["diagnosis"]
    assert all(line in row["hint"] for line in FIX_LINES)
    headers = json.loads(row["headers"])
    assert "upgrade" not in headers and headers.get("connection") == "close"


async def test_a_rolling_restart_behind_nginx_moves_sockets_to_the_other_process(
    tmp_path: Path,
) -> None:
    """SIGTERM to one of two daphnes: its sockets get 1012, and every handshake made during its
    drain succeeds through nginx (the 503 is retried on the other process), so clients that
    reconnect at once all land on the process that stays."""
    env = {"BUNWS_DRAIN_SECONDS": "1.5"}
    with (
        daphne_server(tmp_path, args=("--proxy-headers",), **env) as one,
        daphne_server(tmp_path, args=("--proxy-headers",), **env) as two,
        nginx(tmp_path / "nginx", ROLLING, one=one.port, two=two.port) as ports,
    ):
        sockets = [await through(ports["good"], "p/whoami/") for _ in range(20)]
        served = [(await recv_json(ws))["port"] for ws in sockets]
        assert sorted(set(served)) == sorted({one.port, two.port})
        one.process.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.3)
        during = [await through(ports["good"], "p/whoami/") for _ in range(10)]
        assert {(await recv_json(ws))["port"] for ws in during} == {two.port}
        on_one = [ws for ws, port in zip(sockets, served, strict=True) if port == one.port]
        for ws in on_one:
            await asyncio.wait_for(ws.wait_closed(), 10)
        assert {ws.close_code for ws in on_one} == {1012}
        back = [await through(ports["good"], "p/whoami/") for _ in on_one]
        assert {(await recv_json(ws))["port"] for ws in back} == {two.port}
        assert await asyncio.to_thread(one.process.wait, 10) == 0, one.log()
        for ws in [*sockets, *during, *back]:
            await ws.close()
    assert "new handshakes get 503" in one.log()
