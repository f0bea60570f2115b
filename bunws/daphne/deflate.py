"""permessage-deflate (RFC 7692) on daphne's autobahn connection, negotiated per endpoint.

daphne never configures autobahn's compression. autobahn negotiates it in ``succeedHandshake``,
which runs after daphne's ``onConnect`` once the handshake deferred fires, by calling the
protocol's ``perMessageCompressionAccept`` with the client's offers: ``DaphneTransport.accept``
sets that per connection (``accept_offers``) just before firing the deferred, and reads the outcome
(``negotiated_compressor``) right after. A client that offers nothing gets plain frames.

Outgoing messages sent with ``compress=True`` are framed here or in ``Frame``, never through
autobahn's ``sendMessage``, so they keep their place in the transport's corked queue: the shared
mode writes ``Frame.deflated_wire`` (one deflate per message, whatever the subscriber count);
the dedicated mode compresses with this connection's own autobahn compressor (context kept).
Incoming compressed messages are inflated by autobahn, which bounds the output by the
connection's ``maxMessagePayloadSize`` (the endpoint's ``max_payload_length``) as it inflates.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from autobahn.websocket.compress import (
    PerMessageDeflate,
    PerMessageDeflateOffer,
    PerMessageDeflateOfferAccept,
)

from bunws.core.deflate import MAX_WINDOW_BITS, DeflateConfig
from bunws.core.frame import Frame, encode_frame

#: Turns a frame sent with ``compress=True`` into the bytes to write.
Compressor = Callable[[Frame], bytes]


class _Accept(PerMessageDeflateOfferAccept):
    """autobahn's accept, also declaring ``server_no_context_takeover`` when bunws uses it
    unasked, which RFC 7692 7.1.1.1 allows (autobahn writes it only when the client asked)."""

    def get_extension_string(self) -> str:
        text: str = super().get_extension_string()  # type: ignore[no-untyped-call]
        if self.no_context_takeover and not self.offer.request_no_context_takeover:
            text += "; server_no_context_takeover"
        return text


class Deflate(PerMessageDeflate):
    """autobahn's permessage-deflate processor, dropping the inflater after each message when
    the client keeps no context (client_no_context_takeover): an idle socket holds no zlib
    state for its incoming side."""

    def end_decompress_message(self) -> None:
        super().end_decompress_message()  # type: ignore[no-untyped-call]
        if self.client_no_context_takeover:
            self._decompressor = None


def _accept(config: DeflateConfig, offer: Any) -> _Accept:
    """The parameters bunws answers ``offer`` with, for ``config`` (RFC 7692 7.1)."""
    # The client may ask for no context takeover on our side; honouring it is the shared mode.
    shared = config.compress != "dedicated" or offer.request_no_context_takeover
    client_cap = offer.request_max_window_bits or MAX_WINDOW_BITS  # server_max_window_bits
    bits = client_cap if shared else min(config.window_bits, client_cap)
    client_bits = 0
    if (
        config.decompress == "dedicated"
        and config.client_window_bits < MAX_WINDOW_BITS
        and offer.accept_max_window_bits
    ):
        client_bits = config.client_window_bits
    return _Accept(  # type: ignore[no-untyped-call]
        offer,
        request_no_context_takeover=config.decompress == "shared",
        request_max_window_bits=client_bits,
        no_context_takeover=bool(shared),
        window_bits=bits,
        mem_level=None if shared else config.mem_level,
    )


def accept_offers(protocol: Any, config: DeflateConfig) -> None:
    """Let ``protocol`` accept the client's first permessage-deflate offer, per ``config``."""

    def accept(offers: list[Any]) -> _Accept | None:
        for candidate in offers:
            if isinstance(candidate, PerMessageDeflateOffer):
                protocol.bunws_deflate_accept = chosen = _accept(config, candidate)
                return chosen
        return None

    protocol.perMessageCompressionAccept = accept


def negotiated_compressor(protocol: Any, config: DeflateConfig) -> Compressor | None:
    """After the handshake: how this connection writes compressed messages, or None when the
    client did not negotiate permessage-deflate (or the endpoint never compresses)."""
    accepted = getattr(protocol, "bunws_deflate_accept", None)
    if accepted is None or protocol._perMessageCompress is None:
        return None
    del protocol.bunws_deflate_accept
    pmce: Any = Deflate.create_from_offer_accept(True, accepted)  # type: ignore[no-untyped-call]
    protocol._perMessageCompress = pmce
    protocol.websocket_extensions_in_use = [pmce]
    if config.compress == "disable":
        return None
    if pmce.server_no_context_takeover:
        bits = pmce.server_max_window_bits
        if bits == MAX_WINDOW_BITS:
            return Frame.deflated_wire
        return functools.partial(Frame.deflated_wire, window_bits=bits)
    return functools.partial(_dedicated, pmce)


def _dedicated(pmce: Any, frame: Frame) -> bytes:
    """``frame`` deflated by this connection's own compressor (context takeover: the client
    inflates messages in order, so every compressed message must be written, and in order)."""
    pmce.start_compress_message()
    payload = pmce.compress_message_data(frame.payload) + pmce.end_compress_message()
    return encode_frame(payload, frame.binary, compressed=True)
