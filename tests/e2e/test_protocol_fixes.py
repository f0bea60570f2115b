"""Protocol behaviour of bunws on daphne that a conformance suite checks, through a real daphne:
fail fast on invalid UTF-8 in a fragmented text message (RFC 6455 8.1), the endpoint's
``max_payload_length`` as the only message limit of its sockets, and repeated upgrade headers."""

from __future__ import annotations

import asyncio
import socket

import pytest
from websockets.exceptions import ConnectionClosed

from tests.support.clients import TIMEOUT, connect, recv
from tests.support.frames import (
    BINARY,
    CLOSE,
    CONTINUATION,
    TEXT,
    FrameReader,
    client_frame,
    closed_with,
    raw_connect,
)
from tests.support.servers import Server

pytestmark = pytest.mark.timeout(30, func_only=True)

MiB = 1024 * 1024
#: Well under TIMEOUT: a close that waits for the rest of the message never comes in time.
PROMPTLY = 2.0


async def close_frame(sock: socket.socket, timeout: float = PROMPTLY) -> tuple[int, str]:
    """The close frame the server sends next (code, reason), skipping nothing else."""
    opcode, body = await FrameReader(sock).frame(timeout)
    assert opcode == CLOSE, (opcode, body[:40])
    return int.from_bytes(body[:2], "big"), body[2:].decode()


async def send_then_close_frame(server: Server, path: str, *frames: bytes) -> tuple[int, str]:
    sock = await raw_connect(server, path)
    try:
        for frame in frames:
            await asyncio.get_running_loop().sock_sendall(sock, frame)
        return await close_frame(sock)
    finally:
        sock.close()


# -- item 5: invalid UTF-8 in a fragmented text message fails fast --------------------------


@pytest.mark.parametrize(
    "fragments",
    [
        # Autobahn 6.4.1: valid first fragment, invalid second one, and no final fragment.
        [b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", b"\xf4\x90\x80\x80"],
        # Invalid bytes in the first, non-final fragment.
        [b"valid, then \xc3\x28"],
        # A code point begun in one fragment and broken in the next.
        [b"price \xe2\x82", b"\x41 and more"],
    ],
    ids=["bad-second-fragment", "bad-first-fragment", "broken-split-code-point"],
)
async def test_invalid_utf8_in_a_fragmented_text_message_closes_with_1007_before_it_ends(
    server: Server, fragments: list[bytes]
) -> None:
    """RFC 6455 8.1: the connection fails as soon as the bad bytes arrive, not at the final
    fragment (which is never sent here)."""
    frames = [
        client_frame(TEXT if i == 0 else CONTINUATION, fragment, fin=False)
        for i, fragment in enumerate(fragments)
    ]

    code, reason = await send_then_close_frame(server, "t/echo/", *frames)
    assert code == 1007, reason
    assert "UTF-8" in reason


async def test_a_message_ending_inside_a_code_point_after_fragments_closes_with_1007(
    server: Server,
) -> None:
    frames = [client_frame(TEXT, b"cut ", fin=False), client_frame(CONTINUATION, b"short \xe2\x82")]

    code, _ = await send_then_close_frame(server, "t/echo/", *frames)
    assert code == 1007


async def test_fragmented_text_and_binary_after_a_fragmented_text_are_delivered_whole(
    server: Server,
) -> None:
    """Validation switched on for one fragmented message does not leak into the next ones."""
    euro = "€".encode()

    sock = await raw_connect(server, "t/echo/")
    try:
        send = asyncio.get_running_loop().sock_sendall
        reader = FrameReader(sock)
        await send(sock, client_frame(TEXT, b"a" + euro[:1], fin=False))
        await send(sock, client_frame(CONTINUATION, euro[1:2], fin=False))
        await send(sock, client_frame(CONTINUATION, euro[2:]))
        assert await reader.frame() == (TEXT, "a€".encode())
        await send(sock, client_frame(BINARY, b"\xff\xfe", fin=False))
        await send(sock, client_frame(CONTINUATION, b"\xc3"))
        assert await reader.frame() == (BINARY, b"\xff\xfe\xc3")
        await send(sock, client_frame(TEXT, "single €".encode()))
        assert await reader.frame() == (TEXT, "single €".encode())
    finally:
        sock.close()


# -- item 6: the endpoint's max_payload_length is the limit on daphne ------------------------
# (a 2 MiB message to a default endpoint: tests/e2e/test_limits_e2e.py)


async def test_a_message_over_the_endpoint_limit_gets_1009_with_a_reason(server: Server) -> None:
    async with await connect(server, "t/proto/2mib/", max_size=None) as ws:
        await ws.send(b"x" * (2 * MiB))  # exactly the limit passes
        assert await recv(ws) == f"len={2 * MiB}"
        await ws.send(b"x" * (2 * MiB + 1))
        code, reason = await closed_with(ws)
    assert (code, reason) == (1009, f"message of {2 * MiB + 1} bytes exceeds {2 * MiB}")


async def test_an_oversize_frame_gets_1009_from_its_header_before_its_payload(
    server: Server,
) -> None:
    """The limit is checked when a frame announces its length: a client is not read to the end
    of a message that is already too big."""
    header_only = client_frame(BINARY, b"abc", length=4096)  # 4093 announced bytes never come

    code, reason = await send_then_close_frame(server, "t/lim/small/", header_only)
    assert (code, reason) == (1009, "message of 4096 bytes exceeds 1024")


async def test_fragments_adding_up_past_the_limit_get_1009_at_the_fragment_that_crosses_it(
    server: Server,
) -> None:
    frames = [
        client_frame(TEXT, b"a" * 1000, fin=False),
        client_frame(CONTINUATION, b"b" * 10, fin=False, length=100),  # 1100 > 1024
    ]

    code, reason = await send_then_close_frame(server, "t/lim/small/", *frames)
    assert (code, reason) == (1009, "message of at least 1100 bytes exceeds 1024")


# -- item 7 (daphne): repeated upgrade headers all reach the client --------------------------


async def test_repeated_upgrade_headers_each_reach_the_client(server: Server) -> None:
    async with await connect(server, "t/proto/cookies/") as ws:
        assert ws.response is not None
        assert ws.response.headers.get_all("Set-Cookie") == ["a=1", "b=2"]
        await ws.send("x")
        assert await recv(ws) == "len=1"


async def test_the_client_close_reply_after_1009_ends_the_connection(server: Server) -> None:
    """What a client observes after an oversize message: a 1009 close frame, then a clean
    closing handshake (the connection ends without waiting for a timeout)."""

    async with await connect(server, "t/lim/small/") as ws:
        await ws.send(b"y" * 5000)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        assert closed.value.sent is not None  # the client replied: a clean close
