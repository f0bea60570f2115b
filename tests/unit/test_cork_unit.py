"""``ws.cork`` without a server (issue 10, item 8): from a sync handler's worker thread the callback
runs in that thread and its sends leave as one batch written on the loop; a close inside cork
goes out after the corked messages."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bunws.asgi.threads import ThreadSafeWebSocket
from bunws.core.socket import ServerWebSocket
from tests.support.fakes import make_socket


@pytest.mark.timeout(10, func_only=True)
async def test_cork_from_a_worker_thread_runs_the_callback_there_and_writes_one_batch() -> None:
    # Created on this loop, as bunws creates sockets.
    ws, transport = make_socket(socket_class=ThreadSafeWebSocket)
    loop_thread = threading.get_ident()
    written_on: list[int] = []
    write_many = transport.write_many
    transport.write_many = lambda frames: (written_on.append(threading.get_ident()), write_many(frames))  # type: ignore[method-assign]  # fmt: skip

    def sync_handler() -> tuple[str, int, int]:
        callback_threads: list[int] = []

        def batch(sock: ServerWebSocket) -> str:
            callback_threads.append(threading.get_ident())
            assert sock.send("a") == 1 and sock.send("b") == 1
            assert transport.writes == []  # corked on the loop until the callback returns
            return "result"

        return ws.cork(batch), callback_threads[0], threading.get_ident()

    result, callback_thread, handler_thread = await asyncio.to_thread(sync_handler)
    assert result == "result"
    assert callback_thread == handler_thread != loop_thread
    assert [[frame.data for frame in batch] for batch in transport.writes] == [["a", "b"]]
    assert written_on == [loop_thread]  # the batch is written on the loop


@pytest.mark.timeout(10, func_only=True)
async def test_cork_from_a_worker_thread_uncorks_when_the_callback_raises() -> None:
    ws, transport = make_socket(socket_class=ThreadSafeWebSocket)

    def sync_handler() -> None:
        def batch(sock: ServerWebSocket) -> None:
            sock.send("before")
            raise RuntimeError("boom")

        ws.cork(batch)

    with pytest.raises(RuntimeError, match="boom"):
        await asyncio.to_thread(sync_handler)
    assert transport.texts() == ["before"]
    assert ws.send("after") == 5 and transport.texts() == ["before", "after"]


def test_close_inside_cork_writes_the_corked_messages_before_the_close_frame() -> None:
    ws, transport = make_socket()
    events: list[object] = []
    transport_close = transport.close

    def close(code: int, reason: str) -> None:
        events.append(("close", transport.texts()))
        transport_close(code, reason)

    transport.close = close  # type: ignore[method-assign]
    ws.cork(lambda sock: [sock.send("last words"), sock.close(4000, "done")])
    assert events == [("close", ["last words"])]
