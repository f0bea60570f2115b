"""permessage-deflate without a server: Bun's option values and their startup errors, the shared
deflate (no context takeover, once per publish whatever the subscriber count), the negotiation
answers bunws gives autobahn, the dedicated compressor, and Bun's ``server.publish`` value."""

from __future__ import annotations

import asyncio
import logging
import zlib
from typing import Any

import pytest
from autobahn.websocket.compress import PerMessageDeflate, PerMessageDeflateOffer

from bunws.asgi import fallback
from bunws.asgi.transport import AsgiTransport
from bunws.cluster import bridge
from bunws.cluster import publish as cluster_publish
from bunws.core import frame as frame_module
from bunws.core.deflate import DeflateConfig, deflate_payload, parse_per_message_deflate
from bunws.core.frame import Frame
from bunws.core.hub import Hub, local_publisher
from bunws.daphne.deflate import accept_offers, negotiated_compressor
from bunws.daphne.transport import DaphneTransport
from bunws.endpoint import Endpoint
from bunws.exceptions import ConfigurationError

TAIL = b"\x00\x00\xff\xff"
PAYLOAD = b'{"user": "ada", "text": "hello, hello, hello"}' * 24


async def message(ws: Any, message: Any) -> None:
    """A valid handler."""


# -- the option ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (False, None),
        ({}, None),
        ({"compress": "disable", "decompress": False}, None),
        (True, DeflateConfig()),
        ({"compress": "shared", "decompress": "shared"}, DeflateConfig()),
        ({"compress": True}, DeflateConfig()),  # decompress off: RFC 7692 still lets the
        # client compress, so bunws inflates without context (shared)
        ({"compress": "dedicated"}, DeflateConfig(compress="dedicated")),
        ({"compress": "256KB"}, DeflateConfig(compress="dedicated")),
        ({"compress": "3KB"}, DeflateConfig(compress="dedicated", window_bits=9, mem_level=1)),
        ({"compress": "16KB"}, DeflateConfig(compress="dedicated", window_bits=11, mem_level=4)),
        (
            {"decompress": "8KB"},
            DeflateConfig(compress="disable", decompress="dedicated", client_window_bits=13),
        ),
        ({"decompress": "dedicated"}, DeflateConfig(compress="disable", decompress="dedicated")),
    ],
)
def test_bun_values_map_onto_rfc7692_parameters(value: object, expected: object) -> None:
    assert parse_per_message_deflate("chat", value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("shared", "must be True or False, got 'shared' (or Bun's mapping"),
        ({"compress": "1MB"}, "has 'compress': '1MB', which is not one of Bun's values: use one"),
        ({"decompress": 9}, "has 'decompress': 9, which is not one of Bun's values"),
        ({"compression": True}, "unknown key(s) 'compression': it takes 'compress' and"),
    ],
)
def test_a_bad_value_fails_at_startup_with_the_key_the_value_and_the_fix(
    value: object, expected: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Endpoint("chat/", websocket={"message": message, "per_message_deflate": value}, name="z")
    text = str(raised.value)
    assert text.startswith("websocket mapping of endpoint 'z': option 'per_message_deflate'")
    assert expected in text


def test_the_endpoint_keeps_the_value_as_given_and_what_it_negotiates() -> None:
    given = {"compress": "dedicated", "decompress": "shared"}
    endpoint = Endpoint("z/", websocket={"message": message, "per_message_deflate": given})
    assert endpoint.config.options()["per_message_deflate"] == given
    assert endpoint.config.deflate == DeflateConfig(compress="dedicated")


# -- the shared deflate ----------------------------------------------------------------------


def inflate(data: bytes, bits: int = 15, inflater: Any = None) -> bytes:
    inflater = inflater or zlib.decompressobj(-bits)
    return bytes(inflater.decompress(data + TAIL))


def payload_of(wire: bytes) -> bytes:
    """The payload of one unmasked server frame (RFC 6455 5.2)."""
    size = wire[1] & 0x7F
    start = {126: 4, 127: 10}.get(size, 2)
    return wire[start:]


def test_shared_deflate_keeps_no_context_between_messages() -> None:
    messages = [PAYLOAD + str(i).encode() for i in range(4)]
    deflated = [deflate_payload(m) for m in messages]
    assert all(len(d) < len(PAYLOAD) // 4 for d in deflated)
    assert [inflate(d) for d in deflated] == messages  # each alone (RFC 7692 7.1.1.1)
    keeping = zlib.decompressobj(-15)  # a client that keeps its context decodes them too
    assert [inflate(d, inflater=keeping) for d in deflated] == messages
    assert inflate(deflate_payload(PAYLOAD, 9), bits=9) == PAYLOAD


def test_a_frame_is_deflated_once_per_window_with_rsv1_set() -> None:
    frame = Frame(PAYLOAD.decode(), compress=True)
    wire = frame.deflated_wire()
    assert wire is frame.deflated_wire()
    assert wire[0] == 0x81 | 0x40  # FIN, RSV1 (RFC 7692 6), text
    assert inflate(payload_of(wire)) == PAYLOAD
    assert frame.deflated_wire(10) is not wire
    tiny = Frame(b"ab", compress=True)  # deflating would grow it: the plain frame
    assert tiny.deflated_wire() == tiny.wire() == b"\x82\x02ab"
    assert Frame("", compress=True).deflated_wire() == b"\x81\x00"


# -- negotiation and the write path ----------------------------------------------------------


class Protocol:
    """What DaphneTransport and the negotiation touch of autobahn's protocol."""

    STATE_OPEN = 3
    state = 3
    _perMessageCompress: Any = None

    def __init__(self) -> None:
        self.wire: list[bytes] = []

    def sendData(self, data: bytes) -> None:
        self.wire.append(data)


def negotiate(config: DeflateConfig, **params: Any) -> tuple[Protocol, Any, str]:
    """Run bunws's answer to a client offer as autobahn's succeedHandshake does."""
    protocol = Protocol()
    accept_offers(protocol, config)
    offer = PerMessageDeflateOffer.parse({k: [v] for k, v in params.items()})
    accepted = protocol.perMessageCompressionAccept([offer])  # type: ignore[attr-defined]
    protocol._perMessageCompress = PerMessageDeflate.create_from_offer_accept(True, accepted)
    return protocol, negotiated_compressor(protocol, config), accepted.get_extension_string()


def test_negotiation_answers_each_mode() -> None:
    _, compressor, header = negotiate(DeflateConfig(), client_max_window_bits=True)
    assert header == ("permessage-deflate; client_no_context_takeover; server_no_context_takeover")
    assert compressor is Frame.deflated_wire
    _, _, header = negotiate(DeflateConfig(), server_max_window_bits="10")
    assert header.endswith(
        "server_max_window_bits=10; client_no_context_takeover; server_no_context_takeover"
    )
    dedicated = DeflateConfig(compress="dedicated", decompress="dedicated", client_window_bits=12)
    _, _, header = negotiate(dedicated, client_max_window_bits=True)
    assert header == "permessage-deflate; client_max_window_bits=12"
    # A client that asks for no context takeover on our side gets the shared mode.
    _, compressor, header = negotiate(dedicated, server_no_context_takeover=True)
    assert compressor is Frame.deflated_wire and "server_no_context_takeover" in header
    protocol, compressor, _ = negotiate(DeflateConfig(compress="disable"))
    assert compressor is None and protocol._perMessageCompress is not None


class Writer:
    """A subscriber writing straight to its transport, as a socket's deliver does."""

    def __init__(self, transport: DaphneTransport) -> None:
        self.transport = transport

    def deliver(self, frame: Frame) -> int:
        self.transport.write(frame)
        return frame.size


def test_a_shared_publish_deflates_once_for_all_subscribers_of_a_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []

    def counting(payload: bytes, window_bits: int = 15) -> bytes:
        calls.append(window_bits)
        return deflate_payload(payload, window_bits)

    monkeypatch.setattr(frame_module, "deflate_payload", counting)
    hub, transports = Hub(), []
    for params in [{}] * 50 + [{"server_max_window_bits": "10"}] * 3:
        protocol, compressor, _ = negotiate(DeflateConfig(), **params)
        transport = DaphneTransport(protocol)
        transport._compress = compressor
        transports.append(transport)
        hub.subscribe(Writer(transport), "room")
    assert hub.publish("room", Frame(PAYLOAD, compress=True)) == 53
    assert sorted(calls) == [10, 15]  # one deflate per window size, not per subscriber
    wires = [t.protocol.wire[0] for t in transports]
    assert len({id(w) for w in wires}) == 2  # the very same bytes object, written to each
    assert wires[0][0] == 0x82 | 0x40 and inflate(payload_of(wires[0])) == PAYLOAD
    assert inflate(payload_of(wires[-1]), bits=10) == PAYLOAD
    hub.publish("room", Frame(PAYLOAD))  # without compress: no deflate
    assert len(calls) == 2


def test_dedicated_mode_keeps_the_socket_context() -> None:
    config = DeflateConfig(compress="dedicated", window_bits=9, mem_level=1)
    protocol, compressor, _ = negotiate(config, client_max_window_bits=True)
    transport = DaphneTransport(protocol)
    transport._compress = compressor
    transport.write_many([Frame(PAYLOAD, compress=True), Frame(b"plain"), Frame(PAYLOAD, True)])
    (data,) = protocol.wire
    first_size = data[1] & 0x7F  # under 126: one length byte
    first, rest = data[2 : 2 + first_size], data[2 + first_size :]
    assert rest[:7] == b"\x82\x05plain"
    second = rest[9:]
    assert len(second) < first_size  # the second refers back to the first (context kept)
    inflater = zlib.decompressobj(-15)
    assert inflate(first, inflater=inflater) == PAYLOAD
    assert inflate(second, inflater=inflater) == PAYLOAD


# -- Bun's server.publish return value -------------------------------------------------------


class Sink:
    def __init__(self, code: int | None = None) -> None:
        self.code = code

    def deliver(self, frame: Frame) -> int:
        return frame.size if self.code is None else self.code


@pytest.mark.parametrize(
    ("codes", "expected"),
    [([], 0), ([0, 0], 0), ([None, 0], 5), ([None, -1, None], -1), ([-1], -1)],
)
def test_publish_returns_buns_value(codes: list[int | None], expected: int) -> None:
    hub = Hub()
    for code in codes:
        hub.subscribe(Sink(code), "t")
    assert local_publisher(hub)("t", Frame("hello"), None) == expected
    monkeypatched = cluster_publish.hub
    try:
        cluster_publish.hub = hub  # type: ignore[misc]
        assert cluster_publish.publish_frame("t", Frame("hello")) == expected
    finally:
        cluster_publish.hub = monkeypatched  # type: ignore[misc]


# -- another ASGI server ---------------------------------------------------------------------


async def test_on_another_asgi_server_it_is_said_once_and_messages_go_plain(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def send(event: dict[str, Any]) -> None:
        """Never awaited here."""

    fallback.reset()
    with caplog.at_level(logging.WARNING, logger="bunws"):
        AsgiTransport(send)  # an endpoint without the option says nothing
        transports = [AsgiTransport(send, DeflateConfig()) for _ in range(3)]
    assert [r.getMessage() for r in caplog.records] == [
        "bunws: per_message_deflate needs daphne, and this socket is not served by daphne: the "
        "extension is not negotiated and every message is sent uncompressed (compress=True is "
        "ignored)"
    ]
    fallback.reset()
    transports[0].write(Frame("hello", compress=True))  # ASGI has no compression: plain text
    assert transports[0]._queue[0][0] == {"type": "websocket.send", "text": "hello"}


# -- across processes ------------------------------------------------------------------------


class Layer:
    """A channel layer that records sends and hands out what a test puts in its inbox."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def new_channel(self) -> str:
        return "fake!1"

    async def group_add(self, group: str, channel: str) -> None:
        """Nothing to record."""

    async def group_discard(self, group: str, channel: str) -> None:
        """Nothing to record."""

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        self.sent.append(message)

    async def receive(self, channel: str) -> dict[str, Any]:
        return await self.inbox.get()


class Compressing:
    def __init__(self) -> None:
        self.got: list[tuple[str | bytes, bool]] = []

    def deliver(self, frame: Frame) -> int:
        self.got.append((frame.data, frame.compress))
        return frame.size


@pytest.mark.timeout(10, func_only=True)
async def test_compress_crosses_the_channel_layer_and_batches_keep_it_apart() -> None:
    hub, layer, sub = Hub(), Layer(), Compressing()
    link = bridge.Bridge(layer, hub, asyncio.get_running_loop())
    try:
        hub.subscribe(sub, "room")
        for frame in (Frame("a", True), Frame("b", True), Frame("c"), Frame("d", True)):
            link.forward("room", frame)
        async with asyncio.timeout(3):
            while sum(len(m["m"]) for m in layer.sent) < 4:
                await asyncio.sleep(0.01)
        assert [(m["m"], m.get("z", False)) for m in layer.sent] == [
            (["a", "b"], True),
            (["c"], False),
            (["d"], True),
        ]
        for message in layer.sent:
            await layer.inbox.put(message | {"o": "another process"})
        async with asyncio.timeout(3):
            while len(sub.got) < 4:
                await asyncio.sleep(0.01)
        assert sub.got == [("a", True), ("b", True), ("c", False), ("d", True)]
    finally:
        link.close()
