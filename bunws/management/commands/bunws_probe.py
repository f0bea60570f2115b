"""``manage.py bunws_probe URL``: a real WebSocket handshake against a running server, explained.

Speaks HTTP/1.1 over a plain socket (TLS for ``wss://``) so every header sent and received can
be shown. ``--as-fetch`` sends what a browser's ``fetch()`` sends instead, to show the 426 and
its diagnosis. The probe runs inside the project, so when a request is refused it matches the
path against the declared routes (naming a trailing-slash typo) and reads the failed-upgrade row
the server wrote for it to name the actual reason. It runs no system checks: it exists to explain
the misconfigurations they report. Exits non-zero when the probe fails.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import ssl
import struct
import time
from datetime import timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from bunws.management.probe_project import (
    http_endpoint,
    logged_failure,
    route_verdict,
    row_summary,
    serving_endpoint,
)

# RFC 6455 1.3: the GUID the server appends to the key before hashing it.
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_HEAD = 64 * 1024
#: How long frames the server sends on its own right after the upgrade (a greeting from
#: ``open``) are awaited before ``--send``, so that the reply shown answers what was sent.
GREETING_WAIT = 0.3
#: A failed-upgrade row is this probe's if last seen at most this long before the request.
LOG_SLACK = timedelta(seconds=2)

#: Why a handshake gets a status other than 101, for the people reading the probe's output.
STATUS_HELP = {
    400: "The WebSocket server (autobahn, inside daphne) rejected the handshake itself: a bad "
    "Sec-WebSocket-Key, a Sec-WebSocket-Version other than 13 or a malformed header. bunws never "
    "sees such a request, so it is not in the failed-upgrade log; fix the client.",
    403: "The application refused the handshake. Look in the admin under 'Failed upgrade "
    "attempts' or in the 'bunws' log lines of the server.",
    404: "Nothing serves this path. For a bunws endpoint check the route (`manage.py "
    "bunws_routes`); if the server is plain Django (WSGI), WebSockets never reach Channels.",
    426: "The request reached bunws's HTTP side as plain HTTP: the Upgrade/Connection headers "
    "were lost on the way (a proxy that does not forward them) or the client did not send them.",
    502: "A proxy could not reach the application server; check that daphne is running.",
    504: "A proxy timed out waiting for the application server.",
}


class ProbeFailed(CommandError):
    """The probe found a problem; the message says which."""


def _sentence(text: str) -> str:
    return text if text.endswith(("?", ".")) else text + "."


def parse_frame(buffer: bytes) -> tuple[int, bytes, bytes] | None:
    """``(opcode, payload, rest)`` of the first whole server frame in ``buffer``, else None
    (RFC 6455 5.2; a server's frames are not masked)."""
    if len(buffer) < 2:
        return None
    opcode, length, offset = buffer[0] & 0x0F, buffer[1] & 0x7F, 2
    if length == 126:
        if len(buffer) < 4:
            return None
        length, offset = struct.unpack("!H", buffer[2:4])[0], 4
    elif length == 127:
        if len(buffer) < 10:
            return None
        length, offset = struct.unpack("!Q", buffer[2:10])[0], 10
    if len(buffer) < offset + length:
        return None
    return opcode, buffer[offset : offset + length], buffer[offset + length :]


def shown_message(opcode: int, payload: bytes) -> str:
    if opcode == 0x1:
        return f"text {payload.decode('utf-8', 'replace')!r}"
    return f"binary {payload!r}"


def accept_for(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` value a server must answer to ``key`` (RFC 6455 4.2.2)."""
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked, final client frame (RFC 6455 5.2: clients must mask)."""
    mask = os.urandom(4)
    length = len(payload)
    if length < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


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
            if options["as_fetch"]:
                self.fetch(sock, host, target, options)
            else:
                self.handshake(sock, host, target, options)

    def send_request(self, sock: socket.socket, lines: list[str]) -> None:
        self.say("2. Request sent:")
        for line in lines:
            self.say(f"     > {line}")
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def read_head(self, sock: socket.socket) -> tuple[int, str, dict[str, str], bytes]:
        data = b""
        while b"\r\n\r\n" not in data:
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                raise ProbeFailed("the server sent no complete response in time") from None
            if not chunk:
                raise ProbeFailed(f"the server closed the connection; got {data[:200]!r}")
            data += chunk
            if len(data) > MAX_HEAD:
                raise ProbeFailed("the response head is larger than 64 KiB")
        head, _, rest = data.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        self.say("3. Response received:")
        self.say(f"     < {status_line}")
        headers: dict[str, str] = {}
        for line in header_lines:
            self.say(f"     < {line}")
            name, _, value = line.partition(":")
            key = name.strip().lower()
            headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
        parts = status_line.split(" ", 2)
        try:
            status = int(parts[1])
        except (IndexError, ValueError):
            raise ProbeFailed(f"not an HTTP response: {status_line!r}") from None
        return status, status_line, headers, rest

    def read_body(self, sock: socket.socket, headers: dict[str, str], rest: bytes) -> bytes:
        length = int(headers.get("content-length", "0") or 0)
        body = rest
        while len(body) < min(length, MAX_HEAD):
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                break
            if not chunk:
                break
            body += chunk
        return body[:MAX_HEAD]

    def base_lines(self, host: str, target: str, options: dict[str, Any]) -> list[str]:
        lines = [f"GET {target} HTTP/1.1", f"Host: {host}"]
        if options["origin"]:
            lines.append(f"Origin: {options['origin']}")
        for header in options["header"]:
            name, sep, value = header.partition(":")
            if not sep:
                raise ProbeFailed(f"--header {header!r} is not 'Name: value'.")
            lines.append(f"{name.strip()}: {value.strip()}")
        return lines

    def handshake(
        self, sock: socket.socket, host: str, target: str, options: dict[str, Any]
    ) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            *self.base_lines(host, target, options),
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
        if options["subprotocol"]:
            lines.append(f"Sec-WebSocket-Protocol: {', '.join(options['subprotocol'])}")
        self.send_request(sock, lines)
        status, status_line, headers, rest = self.read_head(sock)
        if status != 101:
            body = self.read_body(sock, headers, rest).decode("utf-8", "replace").strip()
            if body:
                self.say("     body: " + body[:1000].replace("\n", "\n           "))
            raise ProbeFailed(self.refusal(status, status_line, options))
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
                "browsers then fail the connection (RFC 6455 4.1). bunws endpoints do not "
                "negotiate subprotocols: do not pass protocols to new WebSocket(url)"
            )
        elif chosen is not None and chosen not in requested:
            problems.append(f"the server chose subprotocol {chosen!r}, which was not requested")
        else:
            self.say(f"6. Subprotocol: {chosen or 'none requested, none chosen'}")
        if problems:
            raise ProbeFailed("the handshake is not valid: " + "; ".join(problems) + ".")
        if options["send"] is not None:
            self.exchange(sock, options["send"], rest, options["timeout"])
        sock.sendall(client_frame(0x8, struct.pack("!H", 1000)))
        self.say(self.style.SUCCESS("OK: a browser's new WebSocket(url) would connect here."))

    def refusal(self, status: int, status_line: str, options: dict[str, Any]) -> str:
        """Why the handshake got ``status``: from the server's log row where there is one, else
        from the declared routes, else the status alone."""
        path = options["path"]
        verdict = route_verdict(path)
        self.say(f"4. Route in this project: {verdict}")
        failed = f"handshake failed with {status_line!r}"
        if status == 400:  # autobahn refused it; bunws never saw it, so there is no row
            return f"{failed}. {STATUS_HELP[400]}"
        # Under a guessed prefix there is nothing certain to say about the endpoint.
        found = serving_endpoint(path, prefixed=False)
        row, missing = logged_failure(path, options["since"], options["client"])
        if row is not None:
            self.say(f"5. The server logged this refusal: {row_summary(row)}")
            self.say(f"     diagnosis: {row.diagnosis}")
            self.say(f"     hint: {row.hint}")
            typo = "" if found else f"{_sentence(verdict)} "
            return (
                f"{failed}: {typo}bunws logged the refusal as {row_summary(row)}: "
                f"{row.diagnosis} {row.hint}"
            )
        self.say(f"5. Failed-upgrade log: {missing}")
        if status != 403:
            explanation = STATUS_HELP.get(status, "A WebSocket handshake must be answered 101.")
            where = "" if found else f" In this project, {_sentence(verdict)}"
            return f"{failed}. {explanation}{where}"
        if found is None:
            return (
                f"{failed}: {_sentence(verdict)} bunws refuses a handshake to a path no "
                "endpoint serves (logged as no_such_endpoint)."
            )
        endpoint = found[0]
        origin = repr(options["origin"]) if options["origin"] else "none sent"
        if endpoint.fetch is None:
            why = (
                f"it has no fetch, so the origin check most likely refused the Origin ({origin}) "
                "(the endpoint's allowed_origins, else BUNWS['ALLOWED_ORIGINS'], else "
                "ALLOWED_HOSTS)"
            )
        else:
            why = (
                f"the origin check refused the Origin ({origin}) or its fetch declined the upgrade"
            )
        return f"{failed}: endpoint {endpoint.name!r} serves {path}, so {why}. {STATUS_HELP[403]}"

    def exchange(self, sock: socket.socket, text: str, pending: bytes, timeout: float) -> None:
        """Send ``text`` and show the reply to it, not a frame the server sent on its own."""
        buffer = pending
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # a greeting from open arrives right after the 101
            message, buffer = self.next_message(sock, buffer, min(GREETING_WAIT, timeout))
            if message is None:
                break
            self.say(f"   before the send, the server sent {shown_message(*message)} (not a reply)")
        sock.sendall(client_frame(0x1, text.encode("utf-8")))
        self.say(f"7. Sent text {text!r}")
        message, buffer = self.next_message(sock, buffer, None)
        if message is not None:
            self.say(f"8. Received {shown_message(*message)}")

    def next_message(
        self, sock: socket.socket, buffer: bytes, wait: float | None
    ) -> tuple[tuple[int, bytes] | None, bytes]:
        """The next text or binary message and what is left of ``buffer``; None once ``wait``
        seconds pass with nothing arriving (``wait=None``: the timeout fails the probe)."""
        while True:
            parsed = parse_frame(buffer)
            if parsed is None:
                chunk = self._recv(sock, wait if not buffer else None)
                if chunk is None:
                    return None, buffer
                buffer += chunk
                continue
            opcode, payload, buffer = parsed
            if opcode in (0x9, 0xA):  # RFC 6455 5.5.2-3: a ping or pong; daphne pings on its own
                continue
            if opcode == 0x8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                raise ProbeFailed(f"the server closed the socket with {code} {payload[2:]!r}")
            return (opcode, payload), buffer

    def _recv(self, sock: socket.socket, wait: float | None) -> bytes | None:
        timeout = sock.gettimeout()
        if wait is not None:
            sock.settimeout(wait)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            if wait is not None:
                return None
            raise ProbeFailed(
                "no message arrived in time after --send (this endpoint may not answer it)"
            ) from None
        finally:
            sock.settimeout(timeout)
        if not chunk:
            raise ProbeFailed("the server dropped the connection after the handshake")
        return chunk

    def fetch(self, sock: socket.socket, host: str, target: str, options: dict[str, Any]) -> None:
        lines = [
            *self.base_lines(host, target, options),
            "Accept: application/json",
            "Connection: close",
        ]
        self.say("   (as fetch(): a plain GET, no Upgrade header)")
        self.send_request(sock, lines)
        status, status_line, headers, rest = self.read_head(sock)
        body = self.read_body(sock, headers, rest)
        if status != 426:
            self.not_426(status, status_line, options)
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

    def not_426(self, status: int, status_line: str, options: dict[str, Any]) -> None:
        """A plain request answered otherwise than 426: by the endpoint's own fetch (fine), or
        because bunws's HTTP side does not serve the path (a failure)."""
        path = options["path"]
        failed = f"fetch() got {status_line!r}, not 426 Upgrade Required"
        try:
            name = http_endpoint(path)
        except Exception as exc:  # a broken URLconf is one of the things the probe explains
            raise ProbeFailed(
                f"{failed}, and this project's URLconf cannot be loaded to tell why: "
                f"{type(exc).__name__}: {exc}"
            ) from None
        if name is not None and status < 500:
            self.say(
                f"4. This project's URLconf sends {path} to bunws endpoint {name!r}, whose fetch "
                f"answered this request itself with {status_line}, not bunws's 426."
            )
            row, missing = logged_failure(path, options["since"], options["client"])
            if row is not None:
                self.say(f"5. The server logged it: {row_summary(row)}")
                self.say(f"     diagnosis: {row.diagnosis}")
            else:
                self.say(f"5. Failed-upgrade log: {missing}")
            self.say(
                self.style.SUCCESS(
                    f"OK: this is WebSocket endpoint {name!r}; its fetch answered this request "
                    f"itself with {status} (its own decision, for example a login required). "
                    "new WebSocket(url) performs the handshake, which fetch can still upgrade."
                )
            )
            return
        if name is not None:
            raise ProbeFailed(
                f"{failed}: bunws endpoint {name!r}'s view failed; its fetch probably raised. "
                "See the server's log for the traceback."
            )
        found = serving_endpoint(path, prefixed=False)
        if found is not None:
            raise ProbeFailed(
                f"{failed}: {route_verdict(path)}, but this project's URLconf does not send {path} "
                "to bunws's HTTP side. Include path('', include('bunws.urls')) so plain requests "
                "get the 426."
            )
        raise ProbeFailed(
            f"{failed}: {route_verdict(path)}. "
            + STATUS_HELP.get(status, "This path is not served by bunws's HTTP side.")
        )
