"""bunws's daphne I/O pieces without a server: the inbox, the per-iteration flusher and the
transport's queue and writes, against the stand-ins for autobahn's protocol and Twisted's TCP
transport in ``tests/support/autobahn.py``, and against autobahn's real protocol in process."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from bunws.core.frame import Frame, encode_frame
from bunws.core.transport import Disconnected
from bunws.daphne.connection import find_protocol
from bunws.daphne.cork import Flusher
from bunws.daphne.inbox import Inbox
from bunws.daphne.transport import DaphneTransport, encode_reason
from tests.support.autobahn import FakeProtocol, handshaken_protocol
from tests.support.frames import BINARY, CONTINUATION, TEXT, client_frame

MiB = 1024 * 1024


def corked_transport(
    loop: asyncio.AbstractEventLoop, flusher: Flusher | None = None
) -> tuple[DaphneTransport, FakeProtocol]:
    """A transport corking as accept() sets it up, without a handshake."""
    protocol = FakeProtocol()
    transport = DaphneTransport(protocol)
    transport.start_corking(flusher or Flusher(loop))
    return transport, protocol


async def test_one_iterations_sends_leave_in_one_write_at_its_end() -> None:
    transport, protocol = corked_transport(asyncio.get_running_loop())
    for text in ("a", "b", "c"):
        transport.write(Frame(text))
    assert protocol.wire == []  # nothing before the iteration ends
    await asyncio.sleep(0)
    assert protocol.wire == [b"".join(encode_frame(t.encode(), False) for t in "abc")]


async def test_a_close_frame_from_anyone_goes_out_after_the_queued_messages() -> None:
    """autobahn's reply to the client's close calls sendCloseFrame too, mid-iteration."""

    transport, protocol = corked_transport(asyncio.get_running_loop())
    transport.write(Frame("last"))
    protocol.sendCloseFrame(code=1000, isReply=True)  # as autobahn's onCloseFrame does
    await asyncio.sleep(0)
    assert protocol.wire == [encode_frame(b"last", False), b"CLOSE 1000"]


async def test_abort_drops_what_was_queued() -> None:
    transport, protocol = corked_transport(asyncio.get_running_loop())
    transport.write(Frame("never sent"))
    transport.abort()
    await asyncio.sleep(0)
    assert protocol.wire == [] and protocol.state == protocol.STATE_CLOSED


async def test_a_flood_is_handed_to_twisted_before_the_iteration_ends() -> None:
    """Over 64 KiB queued goes to Twisted at once, so its buffer can push back."""

    transport, protocol = corked_transport(asyncio.get_running_loop())
    chunk = "x" * 20_000
    for _ in range(4):
        transport.write(Frame(chunk))
    assert len(protocol.wire) == 1 and len(protocol.wire[0]) > 64 * 1024


async def test_one_failing_transport_does_not_hold_back_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken:
        def flush(self) -> None:
            raise RuntimeError("boom")

    loop = asyncio.get_running_loop()
    flusher = Flusher(loop)
    transport, protocol = corked_transport(loop, flusher)
    flusher.add(Broken())
    transport.write(Frame("fine"))
    with caplog.at_level(logging.ERROR, logger="bunws"):
        await asyncio.sleep(0)
    assert protocol.wire == [encode_frame(b"fine", False)]
    assert "writing to" in caplog.text and "boom" in caplog.text


async def test_the_inbox_hands_out_messages_in_order_and_keeps_none_it_handed_out() -> None:
    protocol = FakeProtocol()
    inbox = Inbox(protocol, asyncio.get_running_loop())
    received = []
    for i in range(500):  # the reader never fully catches up: always one behind
        protocol.onMessage(f"m{i}".encode(), False)  # type: ignore[attr-defined]
        if i:
            received.append(await inbox.next_message())
        assert len(inbox._items) - inbox._next <= 2
        assert len(inbox._items) <= 130  # compacted, not every message since the start
    received.append(await inbox.next_message())
    assert received == [f"m{i}" for i in range(500)]


async def test_invalid_utf8_fails_through_autobahn_and_closing_always_reaches_the_reader() -> None:
    protocol = FakeProtocol()
    inbox = Inbox(protocol, asyncio.get_running_loop())
    protocol.onMessage(b"\xc3\x28", False)  # type: ignore[attr-defined]
    assert protocol.invalid and "invalid UTF-8" in protocol.invalid[0]
    protocol.onMessage(b"\xc3\x28", True)  # binary: any bytes  # type: ignore[attr-defined]
    assert await inbox.next_message() == b"\xc3\x28"

    def daphne_fails(*args: Any) -> None:
        raise RuntimeError("daphne's onClose failed")

    inbox._daphne_on_close = daphne_fails
    with pytest.raises(RuntimeError):
        protocol.onClose(False, 1006, None)  # type: ignore[attr-defined]
    closed = await inbox.next_message()
    assert isinstance(closed, Disconnected) and closed.code == 1006


# -- the transport without corking: writes, closes, pongs ------------------------------------------


def test_write_many_sends_every_frame_in_one_write() -> None:
    protocol = FakeProtocol()
    DaphneTransport(protocol).write_many([Frame("a"), Frame(b"\x00"), Frame("é")])
    assert protocol.data == [b"\x81\x01a" + b"\x82\x01\x00" + b"\x81\x02" + "é".encode()]


def test_writes_stop_once_the_protocol_left_the_open_state() -> None:
    protocol = FakeProtocol()
    protocol.state = protocol.STATE_CLOSED
    transport = DaphneTransport(protocol)
    transport.write(Frame("a"))
    transport.write_many([Frame("b")])
    assert transport.ping(b"") is False
    assert protocol.data == [] and protocol.pings == []


def test_on_pong_calls_back_and_keeps_autobahns_handler() -> None:
    protocol = FakeProtocol()
    seen: list[str] = []
    DaphneTransport(protocol).on_pong(lambda: seen.append("pong"))
    protocol.onPong(b"x")
    assert seen == ["pong"] and protocol.pongs == [b"x"]


def test_close_reason_is_truncated_on_a_character_boundary() -> None:
    reason = encode_reason("é" * 100)  # 200 bytes of UTF-8
    assert len(reason) <= 123
    assert reason.decode("utf-8") == "é" * 61


def test_find_protocol_ignores_sends_that_are_not_daphnes() -> None:
    async def send(message: Any) -> None:
        """An ASGI send of another server."""

    assert find_protocol(send) is None


# -- against autobahn's real protocol, in process: fragmented UTF-8 and the payload limit -----


class RecordingValidator:
    """autobahn's incremental UTF-8 validator, recording what it is asked to check."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.checked: list[bytes] = []

    def reset(self) -> None:
        self.inner.reset()

    def validate(self, data: bytes) -> Any:
        self.checked.append(bytes(data))
        return self.inner.validate(data)


def autobahn_connection(max_payload_length: int | None) -> tuple[Any, Any]:
    """An autobahn server protocol past its handshake, with daphne's 1 MiB limits set on its
    factory and bunws's transport attached; returns the protocol and Twisted's fake transport."""
    protocol, wire = handshaken_protocol(maxMessagePayloadSize=MiB, maxFramePayloadSize=MiB)
    DaphneTransport(protocol, max_payload_length)
    return protocol, wire


async def test_single_frame_text_skips_autobahns_validator_and_fragmented_text_uses_it() -> None:
    """No added cost to a one-frame message: only a message spanning frames is checked as it
    arrives (the decode into str validates the one-frame kind)."""

    protocol, wire = autobahn_connection(None)
    inbox = Inbox(protocol, asyncio.get_running_loop())
    validator = protocol.utf8validator = RecordingValidator(protocol.utf8validator)
    protocol.dataReceived(client_frame(TEXT, "one frame €".encode()))
    assert await inbox.next_message() == "one frame €"
    assert validator.checked == []
    protocol.dataReceived(client_frame(TEXT, b"two \xe2", fin=False))
    protocol.dataReceived(client_frame(CONTINUATION, b"\x82\xac frames"))
    assert await inbox.next_message() == "two € frames"
    assert validator.checked == [b"two \xe2", b"\x82\xac frames"]
    protocol.dataReceived(client_frame(BINARY, b"\xff", fin=False))
    protocol.dataReceived(client_frame(CONTINUATION, b"\xfe"))
    assert await inbox.next_message() == b"\xff\xfe"
    protocol.dataReceived(client_frame(TEXT, b"again"))
    assert await inbox.next_message() == "again"
    assert len(validator.checked) == 2 and wire.value() == b""


async def test_a_bad_fragment_fails_with_1007_before_the_message_ends() -> None:
    protocol, wire = autobahn_connection(None)
    Inbox(protocol, asyncio.get_running_loop())
    protocol.dataReceived(client_frame(TEXT, b"fine so far", fin=False))
    assert wire.value() == b""
    protocol.dataReceived(client_frame(CONTINUATION, b"\xc3\x28", fin=False))
    assert wire.value()[:4] == b"\x88" + bytes([len(wire.value()) - 2]) + b"\x03\xef"  # 1007


@pytest.mark.parametrize(
    ("limit", "size", "closed"),
    [
        (None, MiB + 1, b"message of 1048577 bytes exceeds 1048576"),  # daphne's, not bunws's
        (2 * MiB, 2 * MiB, None),  # the endpoint's limit replaces daphne's 1 MiB
        (0, 3 * MiB, None),  # 0: no limit, in autobahn as in bunws
        (10, 11, b"message of 11 bytes exceeds 10"),
    ],
)
async def test_the_endpoints_payload_limit_replaces_daphnes_on_its_connection(
    limit: int | None, size: int, closed: bytes | None
) -> None:
    protocol, wire = autobahn_connection(limit)
    inbox = Inbox(protocol, asyncio.get_running_loop())
    protocol.dataReceived(client_frame(BINARY, b"x" * size))
    if closed is None:
        assert len(await inbox.next_message()) == size
        assert wire.value() == b""
    else:
        assert wire.value() == b"\x88" + bytes([2 + len(closed)]) + b"\x03\xf1" + closed
        assert inbox._items == []  # never delivered
