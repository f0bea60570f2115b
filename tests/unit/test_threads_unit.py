"""The one hand-off to the socket loop: sync handlers' calls run on the loop, loop calls run directly."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bunws.asgi import threads
from bunws.asgi.threads import ThreadSafeWebSocket
from tests.support.fakes import make_socket


@pytest.mark.timeout(10, func_only=True)
async def test_a_send_from_a_worker_thread_is_written_on_the_sockets_loop() -> None:
    ws, transport = make_socket(socket_class=ThreadSafeWebSocket)
    written_on: list[int] = []
    write = transport.write

    def recording_write(frame: object) -> None:
        written_on.append(threading.get_ident())
        write(frame)  # type: ignore[arg-type]

    transport.write = recording_write  # type: ignore[method-assign]
    ws.send("from the loop")
    results = await asyncio.to_thread(lambda: [ws.send("from a thread"), ws.publish("t", "x")])
    loop_thread = threading.get_ident()
    assert written_on == [loop_thread, loop_thread]
    assert results == [len("from a thread"), 0]  # nobody subscribes to "t"


@pytest.mark.timeout(10, func_only=True)
async def test_an_error_raised_on_the_loop_reaches_the_calling_thread() -> None:
    ws, _ = make_socket(socket_class=ThreadSafeWebSocket)
    with pytest.raises(ValueError, match="close code 1006"):
        await asyncio.to_thread(ws.close, 1006)


@pytest.mark.timeout(10, func_only=True)
async def test_call_on_socket_loop_runs_directly_without_a_loop_and_hands_off_with_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A process without a socket loop yet (earlier tests may have bound a loop that still runs).
    monkeypatch.setattr(threads, "_bound", {"loop": None, "thread": None})
    assert threads.call_on_socket_loop(threading.get_ident) == threading.get_ident()
    threads.bind_loop()
    ran_on = await asyncio.to_thread(threads.call_on_socket_loop, threading.get_ident)
    assert ran_on == threading.get_ident()  # the loop's thread
