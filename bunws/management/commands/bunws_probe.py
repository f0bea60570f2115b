"""``manage.py bunws_probe URL``: a real WebSocket handshake against a running server, explained.

Speaks HTTP/1.1 over a plain socket (TLS for ``wss://``) so every header sent and received can
be shown (``bunws.management.probe_wire``). ``--as-fetch`` sends what a browser's ``fetch()``
sends instead, to show the 426 and its diagnosis. The probe runs inside the project, so when a
request is refused it matches the path against the declared routes (naming a trailing-slash
typo) and reads the failed-upgrade row the server wrote for it to name the actual reason
(``bunws.management.probe_explain``). It runs no system checks: it exists to explain the
misconfigurations they report. Exits non-zero when the probe fails.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import ssl
import struct
import time
from datetime import timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from bunws.management.probe_explain import explain_plain_answer, explain_refusal
from bunws.management.probe_wire import (
    Head,
    ProbeFailed,
    accept_for,
    client_frame,
    next_message,
    read_body,
    read_head,
    request_lines,
    shown_message,
)

#: How long frames the server sends on its own right after the upgrade (a greeting from
#: ``open``) are awaited before ``--send``, so that the reply shown answers what was sent.
GREETING_WAIT = 0.3
#: A failed-upgrade row is this probe's if last seen at most this long before the request.
LOG_SLACK = timedelta(seconds=2)


class Command(BaseCommand):
    help = (
        "Perform a WebSocket handshake against a running server and explain each step; "
        "--as-fetch shows what a plain fetch() gets. Exits 1 on failure."
    )
    # The probe explains misconfigurations, so the checks that report them must not stop it.
    requires_system_checks: list[str] = []  # noqa: RUF012 (Django's documented spelling)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("url", help="ws://, wss://, http:// or https:// URL of the endpoint")
        parser.add_argument("--as-fetch", action="store_true", help="Send a plain GET as fetch().")
        parser.add_argument("--origin", help="Origin header to send (browsers always send one).")
        parser.add_argument(
            "--subprotocol", action="append", default=[], help="Request a subprotocol."
        )
        parser.add_argument(
            "-H", "--header", action="append", default=[], help="Extra 'Name: value' header."
        )
        parser.add_argument(
            "--send", help="After the handshake, send this text and show the reply to it."
        )
        parser.add_argument("--timeout", type=float, default=5.0, help="Seconds per step.")

    def say(self, text: str, style: Any = None) -> None:
        self.stdout.write(style(text) if style else text)

    def handle(self, *args: Any, **options: Any) -> None:
        url = urlsplit(options["url"])
        if url.scheme not in ("ws", "wss", "http", "https") or not url.hostname:
            raise ProbeFailed(
                f"{options['url']!r} is not a ws://, wss://, http:// or https:// URL."
            )
        secure = url.scheme in ("wss", "https")
        port = url.port or (443 if secure else 80)
        target = (url.path or "/") + (f"?{url.query}" if url.query else "")
        host = url.netloc.rsplit("@", 1)[-1]
        # The path as the server sees and logs it (ASGI's scope["path"] is percent-decoded).
        options["path"] = unquote(url.path or "/")
        options["since"] = timezone.now() - LOG_SLACK

        self.say(f"1. Connecting to {url.hostname} port {port}{' with TLS' if secure else ''}")
        try:
            sock = socket.create_connection((url.hostname, port), timeout=options["timeout"])
            if secure:
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=url.hostname)
        except OSError as exc:
            raise ProbeFailed(f"could not connect to {url.hostname}:{port}: {exc}") from None
        with sock:
            options["client"] = sock.getsockname()[0]
            lines = request_lines(host, target, options["origin"], options["header"])
            if options["as_fetch"]:
                self.fetch(sock, lines, options)
            else:
                self.handshake(sock, lines, options)

    def exchange_head(self, sock: socket.socket, lines: list[str]) -> tuple[Head, int]:
        """Send the request and show it, then read and show the response head."""
        self.say("2. Request sent:")
        for line in lines:
            self.say(f"     > {line}")
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        head = read_head(sock)
        self.say("3. Response received:")
        for line in [head.status_line, *head.lines]:
            self.say(f"     < {line}")
        return head, head.status

    def handshake(self, sock: socket.socket, lines: list[str], options: dict[str, Any]) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        lines += [
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
        if options["subprotocol"]:
            lines.append(f"Sec-WebSocket-Protocol: {', '.join(options['subprotocol'])}")
        head, status = self.exchange_head(sock, lines)
        headers = head.headers
        if status != 101:
            body = read_body(sock, head).decode("utf-8", "replace").strip()
            if body:
                self.say("     body: " + body[:1000].replace("\n", "\n           "))
            raise ProbeFailed(
                explain_refusal(
                    status,
                    head.status_line,
                    options["path"],
                    options["origin"],
                    options["since"],
                    options["client"],
                    self.say,
                )
            )
        self.say(self.style.SUCCESS("4. Status 101 Switching Protocols: the server upgraded."))
        problems = []
        if headers.get("upgrade", "").lower() != "websocket":
            problems.append(f"Upgrade is {headers.get('upgrade')!r}, not 'websocket'")
        if "upgrade" not in headers.get("connection", "").lower():
            problems.append(f"Connection is {headers.get('connection')!r}, without 'Upgrade'")
        expected = accept_for(key)
        if headers.get("sec-websocket-accept") == expected:
            self.say(f"5. Sec-WebSocket-Accept verified: base64(SHA-1(key + GUID)) = {expected}")
        else:
            problems.append(
                f"Sec-WebSocket-Accept is {headers.get('sec-websocket-accept')!r}, expected "
                f"{expected!r} (a proxy or cache may have answered instead of the server)"
            )
        chosen = headers.get("sec-websocket-protocol")
        requested = options["subprotocol"]
        if chosen is None and requested:
            problems.append(
                f"you requested subprotocol(s) {', '.join(requested)} but the server chose none; "
                "browsers then fail the connection (RFC 6455 4.1). Give the endpoint "
                "bunws.serve(..., subprotocols=[...]) naming one of them, or select one in fetch "
                "with server.upgrade(request, headers={'Sec-WebSocket-Protocol': ...})"
            )
        elif chosen is not None and chosen not in requested:
            problems.append(f"the server chose subprotocol {chosen!r}, which was not requested")
        else:
            self.say(f"6. Subprotocol: {chosen or 'none requested, none chosen'}")
        if problems:
            raise ProbeFailed("the handshake is not valid: " + "; ".join(problems) + ".")
        if options["send"] is not None:
            self.exchange(sock, options["send"], head.rest, options["timeout"])
        sock.sendall(client_frame(0x8, struct.pack("!H", 1000)))
        self.say(self.style.SUCCESS("OK: a browser's new WebSocket(url) would connect here."))

    def exchange(self, sock: socket.socket, text: str, pending: bytes, timeout: float) -> None:
        """Send ``text`` and show the reply to it, not a frame the server sent on its own."""
        buffer = pending
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # a greeting from open arrives right after the 101
            message, buffer = next_message(sock, buffer, min(GREETING_WAIT, timeout))
            if message is None:
                break
            self.say(f"   before the send, the server sent {shown_message(*message)} (not a reply)")
        sock.sendall(client_frame(0x1, text.encode("utf-8")))
        self.say(f"7. Sent text {text!r}")
        message, buffer = next_message(sock, buffer, None)
        if message is not None:
            self.say(f"8. Received {shown_message(*message)}")

    def fetch(self, sock: socket.socket, lines: list[str], options: dict[str, Any]) -> None:
        lines += ["Accept: application/json", "Connection: close"]
        self.say("   (as fetch(): a plain GET, no Upgrade header)")
        head, status = self.exchange_head(sock, lines)
        body = read_body(sock, head)
        if status != 426:
            verdict = explain_plain_answer(
                status,
                head.status_line,
                options["path"],
                options["since"],
                options["client"],
                self.say,
            )
            self.say(self.style.SUCCESS(verdict))
            return
        try:
            data = json.loads(body)
        except ValueError:
            data = {"detail": body.decode("utf-8", "replace")}
        self.say("4. bunws's diagnosis of this request:")
        for field in ("reason", "endpoint", "detail", "hint"):
            if field in data:
                self.say(f"     {field}: {data[field]}")
        self.say(
            self.style.SUCCESS(
                "OK: this is a WebSocket endpoint; fetch() gets 426 and the attempt is logged as "
                "a failed upgrade. Use new WebSocket(url) to connect."
            )
        )
