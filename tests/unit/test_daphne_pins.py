"""Pins ``bunws.daphne.transport`` to the daphne, autobahn and Twisted versions it reaches into.

If one of these fails after an upgrade, the adapter must be revisited before the version range
in pyproject.toml is widened. On a live connection, ``tests/e2e/test_write_path.py`` checks that
bunws's producer replaced daphne's.
"""

from __future__ import annotations

import inspect
from typing import Any

import daphne
import pytest
from autobahn.twisted.websocket import WebSocketAdapterProtocol as AutobahnTwistedProtocol
from autobahn.twisted.websocket import WebSocketServerFactory
from autobahn.websocket.protocol import WebSocketProtocol as AutobahnProtocol
from daphne.server import Server as DaphneServer
from daphne.ws_protocol import WebSocketProtocol
from twisted.internet.abstract import FileDescriptor
from twisted.internet.tcp import Connection
from twisted.web.http import HTTPChannel
from txaio import tx as txaio_tx

from bunws.core.frame import encode_frame


def test_supported_daphne_version() -> None:
    major, minor = (int(part) for part in daphne.__version__.split(".")[:2])
    assert (4, 1) <= (major, minor) < (4, 3), daphne.__version__


def test_daphne_passes_its_protocol_as_the_first_argument_of_send() -> None:
    source = inspect.getsource(DaphneServer.create_application)
    assert "partial(self.handle_reply, protocol)" in source.replace("functools.", "")


def test_daphne_leaves_the_http_channel_registered_as_producer() -> None:
    """Why the adapter replaces the transport's producer after the upgrade."""
    assert "registerProducer(self, True)" in inspect.getsource(HTTPChannel.connectionMade)


def test_autobahn_methods_the_adapter_calls_exist() -> None:
    for name in (
        "sendPreparedMessage",
        "sendData",
        "sendCloseFrame",
        "sendPing",
        "dropConnection",
        "onPong",
        "STATE_OPEN",
        "STATE_CLOSED",
    ):
        assert hasattr(WebSocketProtocol, name), name
    factory: Any = WebSocketServerFactory()  # type: ignore[no-untyped-call]
    prepared = factory.prepareMessage(b"hi", False)
    assert prepared.payloadHybi == b"\x81\x02hi"  # RFC 6455 5.2: FIN + text, unmasked


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70_000])
@pytest.mark.parametrize("binary", [False, True])
def test_bunws_frames_match_autobahns_at_every_length_boundary(size: int, binary: bool) -> None:
    factory: Any = WebSocketServerFactory()  # type: ignore[no-untyped-call]
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    assert encode_frame(payload, binary) == factory.prepareMessage(payload, binary).payloadHybi


def test_twisted_internals_of_the_direct_write_exist() -> None:
    """The direct ``send()`` reads Twisted's buffer state; a rename must fail here first."""
    for name in ("_tempDataLen", "offset", "dataBuffer", "connected", "disconnecting"):
        assert hasattr(FileDescriptor, name) or name in inspect.getsource(FileDescriptor), name
    assert "_tempDataLen" in inspect.getsource(FileDescriptor.write)
    assert "self.offset" in inspect.getsource(FileDescriptor.doWrite)
    assert hasattr(Connection, "writeSomeData") and hasattr(Connection, "TLS")


def test_autobahn_and_daphne_internals_of_the_fast_paths_exist() -> None:
    """The inbox replaces daphne's onMessage/onClose; dataReceived is skipped for _dataReceived
    only because autobahn's version just formats a debug line first."""
    source = inspect.getsource(AutobahnTwistedProtocol.dataReceived)
    assert "self.log.debug(" in source and "self._dataReceived(data)" in source
    assert "self.onMessage(payload, isBinary)" in inspect.getsource(
        AutobahnTwistedProtocol._onMessage
    )
    daphne_on_message = inspect.getsource(WebSocketProtocol.onMessage)
    assert "self.muted" in daphne_on_message and "self.last_ping" in daphne_on_message
    assert 'payload.decode("utf8")' in daphne_on_message
    assert "application_queue" in inspect.getsource(WebSocketProtocol.onClose)
    assert "utf8validateIncoming" in WebSocketProtocol.CONFIG_ATTRS  # copied per connection
    assert "self.utf8validateIncoming" in inspect.getsource(AutobahnProtocol.onFrameBegin)
    assert "CLOSE_STATUS_CODE_INVALID_PAYLOAD" in inspect.getsource(
        AutobahnProtocol._invalid_payload
    )
    send_data = inspect.getsource(AutobahnProtocol.sendData)
    for name in ("self.send_queue", "self.logOctets", "self.trafficStats"):
        assert name in send_data, name
    assert "self._perMessageCompress" in inspect.getsource(AutobahnProtocol.sendPreparedMessage)
    assert txaio_tx._no_op.__name__ == "_no_op"


def test_autobahn_internals_of_fragment_validation_and_the_payload_limit_exist() -> None:
    """The inbox replaces autobahn's onMessageBegin (three assignments) and switches its UTF-8
    validator on per fragmented message; the endpoint's limit is set on autobahn's per-connection
    copy of daphne's options, 0 meaning no limit, and reported through one overridable hook."""
    begin = inspect.getsource(AutobahnProtocol.onMessageBegin).split('"""')[-1]
    assigned = {line.split("=")[0].split(":")[0].strip() for line in begin.strip().splitlines()}
    assert assigned == {
        "self.message_is_binary",
        "self.message_data",
        "self.message_data_total_length",
    }
    frame_begin = inspect.getsource(AutobahnProtocol.onFrameBegin)
    assert "self._onMessageBegin(" in frame_begin and "self.current_frame" in frame_begin
    frame_data = inspect.getsource(AutobahnProtocol.onFrameData)
    assert "if self.utf8validateIncomingCurrentMessage:" in frame_data
    assert "self.utf8validateLast = self.utf8validator.validate(payload)" in frame_data
    assert "if not self.utf8validateLast[1]:" in inspect.getsource(AutobahnProtocol.onFrameEnd)
    for name in ("maxMessagePayloadSize", "maxFramePayloadSize"):
        assert name in WebSocketProtocol.CONFIG_ATTRS, name  # copied per connection
    limit_check = inspect.getsource(AutobahnProtocol.onMessageFrameBegin)
    assert "0 < self.maxMessagePayloadSize < self.message_data_total_length" in limit_check
    assert "self._max_message_size_exceeded(" in limit_check
    params = inspect.signature(AutobahnProtocol._max_message_size_exceeded).parameters
    assert list(params) == ["self", "msg_size", "max_msg_size", "reason"]


def test_autobahn_writes_one_header_line_per_value_of_a_list() -> None:
    """accept() passes repeated upgrade headers as a list per name."""
    source = inspect.getsource(WebSocketProtocol.succeedHandshake)  # daphne's, from autobahn
    assert "header_values = iter(uh[1])" in source
    assert "for header_value in header_values:" in source


def test_daphne_reaps_and_cancels_application_instances_through_its_connections_dict() -> None:
    """What ``DaphneTransport.run_detached`` relies on in daphne's Server."""
    checker = inspect.getsource(DaphneServer.application_checker)
    assert 'details.get("application_instance", None)' in checker
    assert "application_instance.cancel()" in checker
    assert 'details["application_instance"]' in inspect.getsource(
        DaphneServer.kill_all_applications
    )
