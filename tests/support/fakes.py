"""Fakes shared by the unit tests: a transport that records what a socket writes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bunws.core.frame import Frame
from bunws.core.hub import Hub
from bunws.core.options import compile_mapping
from bunws.core.socket import ServerWebSocket
from bunws.core.transport import FlowControl


class FakeTransport:
    """Records writes; pauses its socket when more than ``high_water`` bytes are unflushed."""

    full_fidelity = True

    def __init__(self, high_water: int = 100) -> None:
        self.high_water = high_water
        self.pending = 0
        self.writes: list[list[Frame]] = []
        self.closed: tuple[int, str] | None = None
        self.aborted = False
        self.pings = 0
        self.flow: FlowControl | None = None
        self.pong: Callable[[], None] | None = None

    async def accept(
        self, headers: list[tuple[bytes, bytes]], subprotocol: str | None = None
    ) -> None:
        """Nothing to do."""

    async def reject(self) -> None:
        """Nothing to do."""

    def set_flow_control(self, flow: FlowControl) -> None:
        self.flow = flow

    def write(self, frame: Frame) -> None:
        self.write_many([frame])

    def write_many(self, frames: list[Frame]) -> None:
        self.writes.append(frames)
        self.pending += sum(frame.size for frame in frames)
        if self.pending > self.high_water and self.flow is not None:
            self.flow.pause_writing()

    def flush(self) -> None:
        """The peer read everything (Twisted calls resumeProducing)."""
        self.pending = 0
        if self.flow is not None:
            self.flow.resume_writing()

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def abort(self) -> None:
        self.aborted = True

    def ping(self, data: bytes) -> bool:
        self.pings += 1
        return True

    def on_pong(self, callback: Callable[[], None]) -> None:
        self.pong = callback

    def remote_close(self) -> tuple[int | None, str | None]:
        return None, None

    def texts(self) -> list[str | bytes]:
        return [frame.data for batch in self.writes for frame in batch]


def make_socket(
    hub: Hub | None = None,
    drains: list[ServerWebSocket] | None = None,
    socket_class: type[ServerWebSocket] = ServerWebSocket,
    **options: Any,
) -> tuple[ServerWebSocket, FakeTransport]:
    transport = FakeTransport()
    config = compile_mapping("unit", {"message": lambda ws, message: None, **options})
    on_drain = drains.append if drains is not None else None
    ws = socket_class(transport=transport, config=config, hub=hub or Hub(), on_drain=on_drain)
    return ws, transport
