"""A ``bunws.v1`` client (docs/recovery.md) for the end-to-end tests, written from the spec:
it keeps the session id and the last offset per topic, and resumes with them."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from tests.support.clients import TIMEOUT


def parse(message: str | bytes) -> tuple[str, Any, str | bytes]:
    """``(kind, header, payload)`` exactly as the spec describes the frames."""
    if isinstance(message, str):
        kind, rest = message[0], message[1:]
        if kind == "p":
            head, _, payload = rest.partition("\n")
            return kind, json.loads(head), payload
        if kind == "c":
            return kind, json.loads(rest), ""
        assert kind == "m", message
        return kind, None, rest
    kind_byte, rest_bytes = message[:1], message[1:]
    if kind_byte == b"p":
        head_bytes, _, data = rest_bytes.partition(b"\n")
        return "p", json.loads(head_bytes), data
    assert kind_byte == b"m", message
    return "m", None, rest_bytes


@dataclass
class Client:
    """One client across its connections."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    session: str | None = None
    offsets: dict[str, int] = field(default_factory=dict)
    published: list[tuple[str, int | None, str | bytes]] = field(default_factory=list)
    direct: list[str | bytes] = field(default_factory=list)
    controls: list[dict[str, Any]] = field(default_factory=list)
    ws: ClientConnection | None = None

    async def connect(self, resume: bool = True) -> dict[str, Any]:
        """Connect (resuming when it has a session); the ``welcome``."""
        protocols = ["bunws.v1"]
        resuming = resume and self.session is not None
        if resuming:
            protocols.append(f"bunws.resume.{self.session}")
        self.ws = await asyncio.wait_for(
            websockets.connect(
                self.url,
                subprotocols=protocols,  # type: ignore[arg-type]
                additional_headers=self.headers,
            ),
            TIMEOUT,
        )
        assert self.ws.subprotocol == "bunws.v1"
        if resuming:
            await self.ws.send(json.dumps({"type": "resume", "offsets": self.offsets}))
        return await self.until("welcome")

    async def receive(self, timeout: float = TIMEOUT) -> tuple[str, Any, str | bytes]:
        assert self.ws is not None
        try:
            message = await asyncio.wait_for(self.ws.recv(), timeout)
        except TimeoutError:
            raise AssertionError(f"no message within {timeout} s") from None
        kind, header, payload = parse(message)
        if kind == "p":
            topic, offset = header
            self.published.append((topic, offset, payload))
            if offset is not None:
                self.offsets[topic] = max(offset, self.offsets.get(topic, offset))
        elif kind == "c":
            self.controls.append(header)
            if header["type"] == "welcome":
                self.session = header["session"]
                for topic, offset in header["offsets"].items():
                    self.offsets[topic] = max(offset, self.offsets.get(topic, offset))
            elif header["type"] == "sub":
                self.offsets.setdefault(header["topic"], header["offset"])
        else:
            self.direct.append(payload)
        return kind, header, payload

    async def until(self, control: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        """Receive until the control message of type ``control``; return it."""
        while True:
            kind, header, _ = await self.receive(timeout)
            if kind == "c" and header["type"] == control:
                return dict(header)

    async def texts(self, count: int, timeout: float = TIMEOUT) -> list[str | bytes]:
        """Receive until ``count`` published payloads have arrived in all; return them all."""
        while len(self.published) < count:
            await self.receive(timeout)
        return [payload for _, _, payload in self.published]

    async def drop(self) -> None:
        """Lose the connection without a closing handshake (as a network drop)."""
        assert self.ws is not None
        self.ws.transport.abort()
        await asyncio.sleep(0.05)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
