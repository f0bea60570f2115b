"""permessage-deflate (RFC 7692): the endpoint option in Bun's spelling, and the shared deflate.

``per_message_deflate`` takes Bun's values: ``False`` (default), ``True`` (shared compressor and
decompressor), or ``{"compress": ..., "decompress": ...}`` where each side is ``True``/``False``
or one of Bun's ``WebSocketCompressor`` names. ``DeflateConfig`` is what they mean in RFC 7692
terms; ``bunws.daphne.deflate`` negotiates it.

The shared mode writes every message with no context takeover (RFC 7692 7.1.1.1, which a server
may declare unilaterally), so one deflate of a published payload serves every subscriber:
``Frame.deflated_wire`` caches it. Standard library only.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

#: Bun's dedicated compressor sizes -> (LZ77 window bits, zlib memLevel), as uWS defines them.
COMPRESSOR_SIZES: dict[str, tuple[int, int]] = {
    "3KB": (9, 1),
    "4KB": (9, 2),
    "8KB": (10, 3),
    "16KB": (11, 4),
    "32KB": (12, 5),
    "64KB": (13, 6),
    "128KB": (14, 7),
    "256KB": (15, 8),
}
#: Bun's sizes for the decompressor -> the largest client window (bits) that fits in it; the
#: client's LZ77 window is ``2**bits`` bytes (RFC 7692 7.1.2.1).
DECOMPRESSOR_SIZES: dict[str, int] = {
    "3KB": 11,
    "4KB": 12,
    "8KB": 13,
    "16KB": 14,
    "32KB": 15,
    "64KB": 15,
    "128KB": 15,
    "256KB": 15,
}
_MODES = ("disable", "shared", "dedicated")
MAX_WINDOW_BITS = 15


@dataclass(frozen=True, slots=True)
class DeflateConfig:
    """What one endpoint negotiates, per direction, in RFC 7692 terms.

    ``compress`` (server to client): ``"disable"`` (never compress, even when asked),
    ``"shared"`` (server_no_context_takeover: one deflate per message, shared by every socket) or
    ``"dedicated"`` (a per-socket compressor with context takeover, ``window_bits``/``mem_level``).
    ``decompress`` (client to server): ``"shared"`` requests client_no_context_takeover (no
    inflate state kept between messages); ``"dedicated"`` lets the client keep its context, with
    ``client_window_bits`` requested when the client allows it.
    """

    compress: str = "shared"
    window_bits: int = MAX_WINDOW_BITS
    mem_level: int = 8
    decompress: str = "shared"
    client_window_bits: int = MAX_WINDOW_BITS


def _side(endpoint: str, side: str, value: object, sizes: Mapping[str, object]) -> str:
    """One side's value as a mode name or a size name; raises ValueError with the fix."""
    if value is True:
        return "shared"
    if value is False or value is None:
        return "disable"
    if isinstance(value, str) and (value in _MODES or value in sizes):
        return value
    choices = ", ".join(repr(v) for v in (True, False, *_MODES, *sizes))
    raise ValueError(
        f"websocket mapping of endpoint {endpoint!r}: option 'per_message_deflate' has "
        f"{side!r}: {value!r}, which is not one of Bun's values: use one of {choices}."
    )


def parse_per_message_deflate(endpoint: str, value: object) -> DeflateConfig | None:
    """Bun's ``perMessageDeflate`` value as a ``DeflateConfig`` (None: not negotiated).

    Raises ValueError naming the endpoint, the bad value and the values Bun takes.
    """
    if value is False:
        return None
    if value is True:
        return DeflateConfig()
    if not isinstance(value, Mapping):
        raise ValueError(
            f"websocket mapping of endpoint {endpoint!r}: option 'per_message_deflate' must be "
            f"True or False, got {value!r} (or Bun's mapping, e.g. "
            f"{{'compress': 'shared', 'decompress': 'shared'}})."
        )
    unknown = sorted(str(key) for key in value if key not in ("compress", "decompress"))
    if unknown:
        raise ValueError(
            f"websocket mapping of endpoint {endpoint!r}: option 'per_message_deflate' has "
            f"unknown key(s) {', '.join(map(repr, unknown))}: it takes 'compress' and "
            f"'decompress' (each True, False, 'shared', 'dedicated', 'disable' or a size)."
        )
    compress = _side(endpoint, "compress", value.get("compress", False), COMPRESSOR_SIZES)
    decompress = _side(endpoint, "decompress", value.get("decompress", False), DECOMPRESSOR_SIZES)
    if compress == "disable" and decompress == "disable":
        return None
    bits, level = COMPRESSOR_SIZES.get(compress, COMPRESSOR_SIZES["256KB"])
    # RFC 7692 has no one-way mode: once negotiated a client may compress, so a disabled
    # decompressor still inflates, with no context kept between messages (the cheapest).
    decompress_mode = "shared" if decompress in ("disable", "shared") else "dedicated"
    return DeflateConfig(
        compress=compress if compress in _MODES else "dedicated",
        window_bits=bits,
        mem_level=level,
        decompress=decompress_mode,
        client_window_bits=DECOMPRESSOR_SIZES.get(decompress, MAX_WINDOW_BITS),
    )


# RFC 7692 7.2.1: a message's compressed data ends with the empty stored block of a flush,
# whose last four octets (0x00 0x00 0xff 0xff) are removed before sending.
_TAIL = b"\x00\x00\xff\xff"
_local = threading.local()


def deflate_payload(payload: bytes, window_bits: int = MAX_WINDOW_BITS) -> bytes:
    """``payload`` compressed with no context takeover (RFC 7692 7.2.1), tail removed.

    One compressor per window size and thread is reused: a full flush ends each message and
    resets the compressor's history, so no message refers to another and any subscriber can
    inflate it, and no compressor (some 256 KiB for zlib's defaults) is set up per message.
    """
    compressors: dict[int, zlib._Compress] | None = getattr(_local, "compressors", None)
    if compressors is None:
        compressors = _local.compressors = {}
    compressor = compressors.get(window_bits)
    if compressor is None:
        compressor = compressors[window_bits] = zlib.compressobj(
            zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -window_bits
        )
    data = compressor.compress(payload) + compressor.flush(zlib.Z_FULL_FLUSH)
    return data[:-4] if data.endswith(_TAIL) else data
