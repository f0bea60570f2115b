"""Empty messages without a server (issue 10, item 4): an empty frame is two header bytes, and
sending or publishing an empty payload writes it and returns 0, its byte count, as in Bun."""

from __future__ import annotations

from bunws.cluster import publish as pubsub
from bunws.core.frame import Frame, encode_frame
from bunws.core.hub import Hub
from tests.support.fakes import make_socket


def test_an_empty_frame_is_two_header_bytes() -> None:
    """RFC 6455 5.2: FIN + opcode, then a zero payload length and no payload."""
    assert encode_frame(b"", binary=False) == b"\x81\x00"
    assert Frame(b"").wire() == b"\x82\x00"
    assert Frame("").asgi_message() == {"type": "websocket.send", "text": ""}


def test_send_of_an_empty_payload_writes_it_and_returns_zero_as_bun() -> None:
    ws, transport = make_socket()
    assert ws.send("") == 0
    assert ws.send(b"") == 0
    assert ws.send_text("") == 0
    assert ws.send_binary(bytearray()) == 0
    assert transport.texts() == ["", b"", "", b""]
    assert [frame.binary for batch in transport.writes for frame in batch] == [
        False,
        True,
        False,
        True,
    ]


def test_publish_of_an_empty_payload_reaches_the_other_subscribers() -> None:
    hub = Hub()
    sender, _ = make_socket(hub)
    other, transport = make_socket(hub)
    sender.subscribe("room")
    other.subscribe("room")
    original = pubsub.hub
    pubsub.hub = hub  # type: ignore[misc]
    try:
        assert sender.publish("room", "") == 0
        assert sender.publish("room", b"") == 0
    finally:
        pubsub.hub = original  # type: ignore[misc]
    assert transport.texts() == ["", b""]
