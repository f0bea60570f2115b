"""permessage-deflate (RFC 7692) through a real daphne and the ``websockets`` client, which
offers the extension by default: negotiation per endpoint, compressed echo and publish (text
and binary, shared and dedicated modes), plain frames for a client without the extension,
Bun's ``server.publish`` return value, and a decompression bomb closed with 1009.

A recording extension factory notes the RSV1 bit ("compressed", RFC 7692 6) of every data
frame the client receives, so the tests see what went over the wire, not just the payloads.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.frames import Frame, Opcode

from tests.support.clients import connect, recv
from tests.support.frames import closed_with
from tests.support.servers import Server

TEXT = '{"user": "ada", "text": "hello hello hello hello"}' * 20  # compressible, ~1 KiB


class Recording(ClientPerMessageDeflateFactory):
    """websockets' permessage-deflate offer, recording the RSV1 bit of each data frame."""

    def __init__(self, rsv1: list[bool], **kwargs: Any) -> None:
        super().__init__(client_max_window_bits=True, **kwargs)
        self.rsv1 = rsv1

    def process_response_params(self, params: Any, accepted: Any) -> Any:
        extension = super().process_response_params(params, accepted)
        decode, rsv1 = extension.decode, self.rsv1

        def recording(frame: Frame, *, max_size: int | None = None) -> Frame:
            if frame.opcode in (Opcode.TEXT, Opcode.BINARY):
                rsv1.append(frame.rsv1)
            return decode(frame, max_size=max_size)

        extension.decode = recording
        return extension


async def connect_recording(server: Server, path: str, **kwargs: Any) -> tuple[Any, list[bool]]:
    rsv1: list[bool] = []
    ws = await connect(server, path, compression=None, extensions=[Recording(rsv1, **kwargs)])
    return ws, rsv1


def extensions_header(ws: Any) -> str:
    return str(ws.response.headers.get("Sec-WebSocket-Extensions", ""))


async def test_negotiated_only_on_endpoints_with_the_option(server: Server) -> None:
    async with await connect(server, "t/z/echo/") as on:
        header = extensions_header(on)
        assert header.startswith("permessage-deflate"), header
        # Shared mode: declared unilaterally (RFC 7692 7.1.1.1), inflation without context.
        assert "server_no_context_takeover" in header and "client_no_context_takeover" in header
        assert [type(e).__name__ for e in on.protocol.extensions] == ["PerMessageDeflate"]
    async with await connect(server, "t/z/off/") as off:
        assert extensions_header(off) == ""
        assert off.protocol.extensions == []
        await off.send(TEXT)  # compress=True on an endpoint without the option: plain
        assert await recv(off) == TEXT


async def test_compressed_echo_arrives_intact_text_and_binary(server: Server) -> None:
    ws, rsv1 = await connect_recording(server, "t/z/echo/")
    async with ws:
        binary = bytes(range(256)) * 8
        await ws.send(TEXT)
        assert await recv(ws) == TEXT
        await ws.send(binary)
        assert await recv(ws) == binary
        await ws.send("plain:" + TEXT)  # sent without compress: plain even when negotiated
        assert await recv(ws) == "plain:" + TEXT
        await ws.send("é")  # compress=True, but deflate would grow it: sent plain
        assert await recv(ws) == "é"
        assert rsv1 == [True, True, False, False]


async def test_dedicated_mode_keeps_context_across_messages(server: Server) -> None:
    ws, rsv1 = await connect_recording(server, "t/z/dedicated/")
    async with ws:
        header = extensions_header(ws)
        assert "server_no_context_takeover" not in header, header
        assert "client_max_window_bits=13" in header, header  # decompress "8KB"
        for _ in range(3):
            await ws.send(TEXT)
            assert await recv(ws) == TEXT
        assert rsv1 == [True, True, True]


async def test_client_without_the_extension_gets_plain_frames(server: Server) -> None:
    async with await connect(server, "t/z/echo/", compression=None) as ws:
        assert extensions_header(ws) == ""
        await ws.send(TEXT)
        assert await recv(ws) == TEXT  # websockets would fail on RSV1 it did not negotiate


async def test_compressed_publish_reaches_compressing_and_plain_subscribers(
    server: Server,
) -> None:
    first, first_rsv1 = await connect_recording(server, "t/z/room/zpub/")
    second, second_rsv1 = await connect_recording(server, "t/z/room/zpub/")
    plain = await connect(server, "t/z/room/zpub/", compression=None)
    async with first, second, plain:
        await first.send(TEXT)  # publish_text(room, TEXT, compress=True) from a sync handler
        assert await recv(first) == f"returned {len(TEXT.encode())}"
        assert await recv(second) == TEXT
        assert await recv(plain) == TEXT
        binary = b"\x00\x01" * 600
        await second.send(binary)  # publish_binary
        assert await recv(second) == f"returned {len(binary)}"
        assert await recv(first) == binary
        assert await recv(plain) == binary
        assert first_rsv1 == [False, True]  # its own "returned" reply is a plain send
        assert second_rsv1 == [True, False]


async def test_server_publish_returns_zero_when_nobody_receives(server: Server) -> None:
    async with await connect(server, "t/z/room/zcount/") as ws:
        await ws.send("count")
        assert await recv(ws) == "returned 0"


def rss(pid: int) -> int:
    """Resident memory of process ``pid`` in bytes (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for process {pid}")


async def test_deflate_bomb_is_closed_with_1009_without_inflating_it(server: Server) -> None:
    """16 KiB on the wire that inflates to 16 MiB, against a 64 KiB limit: the server stops
    inflating at the limit (its memory does not grow by the inflated size) and closes."""
    bomb = b"\x00" * (16 * 1024 * 1024)
    assert len(zlib.compress(bomb)) < 20 * 1024  # the frame header passes the 64 KiB check
    async with await connect(server, "t/z/small/", max_size=None) as ws:
        await ws.send(b"\x00" * 1000)
        assert await recv(ws) == "len=1000"
        before = rss(server.process.pid)
        await ws.send(bomb)
        code, reason = await closed_with(ws)
        grown = rss(server.process.pid) - before
    assert code == 1009  # RFC 6455 7.4.1: message too big
    assert reason == f"message of more than {64 * 1024} bytes exceeds {64 * 1024}"
    assert grown < 4 * 1024 * 1024, f"the server grew by {grown} bytes"
