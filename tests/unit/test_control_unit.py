"""Pings, pongs and paused reading without a server: the payload check, the socket's send
statuses and pause state against a fake transport, the idle sweeper skipping a paused socket,
and the daphne pieces against autobahn's real protocol over Twisted's ``StringTransport``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from bunws.asgi.threads import ThreadSafeWebSocket
from bunws.core.close import CLOSED, CLOSING
from bunws.core.control import MAX_CONTROL_PAYLOAD, control_payload
from bunws.core.hub import Hub
from bunws.core.limits import sweep
from bunws.core.options import compile_mapping
from bunws.core.socket import ServerWebSocket
from bunws.core.transport import Control, Disconnected
from bunws.daphne.inbox import Inbox
from bunws.daphne.transport import DaphneTransport
from tests.support.autobahn import handshaken_protocol
from tests.support.fakes import FakeTransport
from tests.support.frames import PING, TEXT, client_frame

PONG = 0xA


class ControlTransport(FakeTransport):
    """``FakeTransport`` that also records pongs and paused reading (its ``pong`` attribute,
    the idle-clock callback, moves to ``on_pong_callback``)."""

    def __init__(self, can_pause: bool = True) -> None:
        super().__init__()
        del self.pong  # the method below, not the callback FakeTransport keeps there
        self.on_pong_callback: Callable[[], None] | None = None
        self.sent_pings: list[bytes] = []
        self.sent_pongs: list[bytes] = []
        self.can_pause = can_pause
        self.reading = True

    def on_pong(self, callback: Callable[[], None]) -> None:
        self.on_pong_callback = callback

    def ping(self, data: bytes) -> bool:
        self.sent_pings.append(data)
        return True

    def pong(self, data: bytes) -> bool:
        self.sent_pongs.append(data)
        return True

    def pause_reading(self) -> bool:
        if self.can_pause:
            self.reading = False
        return self.can_pause

    def resume_reading(self) -> None:
        self.reading = True


def control_socket(can_pause: bool = True, **options: Any) -> tuple[ServerWebSocket, Any]:
    transport = ControlTransport(can_pause)
    config = compile_mapping("unit", {"message": lambda ws, message: None, **options})
    return ServerWebSocket(transport=transport, config=config, hub=Hub()), transport


# -- the payload of a ping or pong -----------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", b""),
        (b"\x00\xff", b"\x00\xff"),
        (bytearray(b"ab"), b"ab"),
        (memoryview(b"abc")[1:], b"bc"),
        ("é", "é".encode()),
        (b"x" * MAX_CONTROL_PAYLOAD, b"x" * 125),
    ],
)
def test_a_control_payload_is_bytes_like_or_utf8_text(data: Any, expected: bytes) -> None:
    assert control_payload("ping", data) == expected


def test_a_control_payload_over_125_bytes_names_its_size_and_the_limit() -> None:
    with pytest.raises(ValueError, match=r"ws.pong\(\) payload is 126 bytes, over the 125-byte"):
        control_payload("pong", b"x" * 126)
    with pytest.raises(ValueError, match="is 126 bytes"):  # 63 two-byte characters
        control_payload("ping", "é" * 63)
    with pytest.raises(TypeError, match=r"ws.ping\(\) takes bytes or a str, got int"):
        control_payload("ping", 7)


# -- ws.ping and ws.pong --------------------------------------------------------------------


def test_ping_and_pong_return_buns_send_status() -> None:
    ws, transport = control_socket()
    assert ws.ping(b"abc") == 3
    assert ws.pong("é") == 2
    assert ws.ping() == 0 and ws.pong() == 0  # sent, and an empty payload counts 0 as in Bun
    assert transport.sent_pings == [b"abc", b""]
    assert transport.sent_pongs == ["é".encode(), b""]
    transport.flow.pause_writing()  # the write buffer is backed up
    assert ws.pong(b"z") == -1 and transport.sent_pongs[-1] == b"z"
    ws.close()
    assert ws.ping(b"late") == 0 and ws.pong(b"late") == 0
    assert transport.sent_pings[-1] == b""


def test_an_oversize_ping_raises_even_on_a_closed_socket_and_sends_nothing() -> None:
    ws, transport = control_socket()
    with pytest.raises(ValueError, match="126 bytes"):
        ws.ping(b"x" * 126)
    ws.close()
    with pytest.raises(ValueError, match="126 bytes"):
        ws.pong(b"x" * 126)
    assert transport.sent_pings == [] and transport.sent_pongs == []


def test_the_thread_safe_socket_hands_the_new_methods_to_the_loop() -> None:
    for name in ("pong", "pause", "resume"):
        assert getattr(ThreadSafeWebSocket, name) is not getattr(ServerWebSocket, name)


# -- pause and resume -----------------------------------------------------------------------


def test_pause_stops_reading_and_resume_restarts_it_and_the_idle_clock() -> None:
    ws, transport = control_socket()
    assert ws.is_paused is False
    ws.pause()
    ws.pause()  # twice: still one pause
    assert ws.is_paused is True and transport.reading is False
    ws.last_received = 0.0
    ws.resume()
    assert ws.is_paused is False and transport.reading is True
    assert ws.last_received > time.monotonic() - 5
    ws.resume()  # not paused: nothing to do
    assert transport.reading is True


def test_pause_where_the_server_cannot_is_a_no_op() -> None:
    ws, transport = control_socket(can_pause=False)
    ws.pause()
    assert ws.is_paused is False and transport.reading is True


def test_close_resumes_reading_so_the_close_reply_is_read() -> None:
    ws, transport = control_socket()
    ws.pause()
    ws.close(4000, "bye")
    assert ws.ready_state == CLOSING and ws.is_paused is False and transport.reading is True
    ws.pause()  # a socket that is not open does not pause
    assert ws.is_paused is False and transport.reading is True


@pytest.mark.parametrize("end", ["terminate", "mark_closed"])
def test_is_paused_is_false_once_the_connection_is_gone(end: str) -> None:
    ws, _ = control_socket()
    ws.pause()
    getattr(ws, end)()
    assert ws.is_paused is False
    if end == "mark_closed":
        assert ws.ready_state == CLOSED


def test_the_idle_sweeper_leaves_a_paused_socket_alone() -> None:
    ws, transport = control_socket(idle_timeout=10)
    ws.pause()
    ws.last_received = 0.0
    assert sweep([ws], now=1000.0) == (0, 0)
    assert transport.closed is None and transport.sent_pings == []
    ws.resume()  # the clock starts afresh: not idle now
    assert sweep([ws], now=time.monotonic()) == (0, 0)
    assert sweep([ws], now=time.monotonic() + 10) == (0, 1)
    assert transport.closed == (1001, "idle timeout")


# -- the daphne side, against autobahn's real protocol ---------------------------------------


def autobahn_protocol() -> tuple[Any, Any]:
    """An autobahn server protocol past its handshake, with autobahn's own defaults."""
    return handshaken_protocol()


async def test_pings_and_pongs_join_the_inbox_in_order_and_pings_are_still_answered() -> None:
    protocol, wire = autobahn_protocol()
    transport = DaphneTransport(protocol)
    inbox = transport._inbox = Inbox(protocol, asyncio.get_running_loop())
    assert transport.receive_control(pings=True, pongs=True) is True
    protocol.dataReceived(
        client_frame(TEXT, b"before")
        + client_frame(PING, b"hi")
        + client_frame(PONG, b"yo")
        + client_frame(TEXT, b"after")
    )
    assert wire.value() == b"\x8a\x02hi"  # autobahn's own pong answers the ping
    items = [await inbox.next_message() for _ in range(4)]
    assert items[0] == "before" and items[3] == "after"
    assert [(c.is_ping, c.data) for c in items[1:3] if isinstance(c, Control)] == [
        (True, b"hi"),
        (False, b"yo"),
    ]


async def test_without_handlers_pings_and_pongs_stay_out_of_the_inbox() -> None:
    protocol, wire = autobahn_protocol()
    transport = DaphneTransport(protocol)
    inbox = transport._inbox = Inbox(protocol, asyncio.get_running_loop())
    assert transport.receive_control(pings=False, pongs=True) is True
    protocol.dataReceived(client_frame(PING, b"hi") + client_frame(TEXT, b"msg"))
    assert await inbox.next_message() == "msg"
    assert wire.value() == b"\x8a\x02hi"
    protocol.onClose(True, 1000, "")
    assert isinstance(await inbox.next_message(), Disconnected)


def test_the_daphne_transport_sends_pongs_and_pauses_twisteds_reading() -> None:
    protocol, wire = autobahn_protocol()
    transport = DaphneTransport(protocol)
    assert transport.pong(b"y") is True and transport.ping(b"") is True
    assert wire.value() == b"\x8a\x01y" + b"\x89\x00"
    assert transport.pause_reading() is True
    assert wire.producerState == "paused"  # Twisted's transport stopped producing reads
    transport.resume_reading()
    assert wire.producerState == "producing"
    protocol.state = protocol.STATE_CLOSED
    assert transport.pause_reading() is False and transport.pong(b"y") is False
    assert DaphneTransport(protocol).receive_control(True, True) is False  # never accepted


class Timer:
    """autobahn's pending auto-ping timeout call."""

    cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


def test_a_paused_connection_is_not_dropped_by_daphnes_ping_timeout() -> None:
    """daphne's keep-alive (--ping-timeout) would take the unread pong for a dead peer."""
    protocol, _ = autobahn_protocol()
    protocol.factory.autoPingTimeout = 30  # daphne sets it on the factory; autobahn copies it
    protocol.autoPingTimeout = 30
    protocol.autoPingTimeoutCall = pending = Timer()
    transport = DaphneTransport(protocol)
    assert transport.pause_reading() is True
    assert pending.cancelled and protocol.autoPingTimeoutCall is None
    assert protocol.autoPingTimeout == 0  # autobahn's next auto-ping sets no timeout
    transport.resume_reading()
    assert protocol.autoPingTimeout == 30


def test_ping_and_pong_handlers_may_leave_out_the_payload() -> None:
    seen: list[Any] = []
    config = compile_mapping("unit", {"ping": lambda ws: seen.append(ws), "pong": print})
    assert config.handler_names() == ["ping", "pong"]
    assert config.ping is not None
    config.ping("ws", b"payload")  # wrapped to pass only what it takes, as for other handlers
    assert seen == ["ws"]
