"""``ServerWebSocket`` without any server: a fake transport records what the socket writes."""

from __future__ import annotations

import pytest

from bunws.core.close import CLOSED, CLOSING, OPEN, check_close_code
from bunws.core.hub import Hub
from bunws.core.socket import ServerWebSocket
from tests.support.fakes import make_socket


def test_send_returns_the_byte_count_and_keeps_the_frame_type() -> None:
    ws, transport = make_socket()
    assert ws.send("héllo") == len("héllo".encode())
    assert ws.send(b"\x00\x01") == 2
    assert ws.send(bytearray(b"abc")) == 3
    assert transport.texts() == ["héllo", b"\x00\x01", b"abc"]


def test_empty_payload_is_sent_and_returns_zero_bytes() -> None:
    """As in Bun (see tests/e2e/test_empty_messages.py)."""
    ws, transport = make_socket()
    assert ws.send("") == 0
    assert ws.send(b"") == 0
    assert transport.texts() == ["", b""]


def test_send_to_a_closed_socket_returns_zero() -> None:
    ws, transport = make_socket()
    ws.close()
    assert ws.ready_state == CLOSING
    assert ws.send("late") == 0
    ws.mark_closed()
    assert ws.ready_state == CLOSED
    assert ws.send("later") == 0
    assert transport.writes == []


def test_send_rejects_what_is_not_text_or_bytes() -> None:
    ws, _ = make_socket()
    with pytest.raises(TypeError, match=r"json\.dumps"):
        ws.send({"a": 1})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="send_binary"):
        ws.send_text(b"x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="send_text"):
        ws.send_binary("x")  # type: ignore[arg-type]


def test_send_returns_minus_one_behind_backpressure_then_zero_past_the_limit() -> None:
    ws, transport = make_socket(backpressure_limit=250)
    assert ws.send("a" * 80) == 80  # 80 pending, under the transport's 100
    assert ws.send("b" * 80) == -1  # this write filled the buffer: queued, backpressure
    assert ws.buffered_amount == 80
    assert ws.send("c" * 80) == -1  # 160 of 250 buffered
    assert ws.send("d" * 80) == -1  # 240
    assert ws.send("e" * 80) == 0  # 320 > 250: dropped, not written
    assert ws.ready_state == OPEN
    assert transport.texts()[-1] == "d" * 80


def test_backpressure_limit_zero_never_drops() -> None:
    ws, transport = make_socket(backpressure_limit=0)
    codes = [ws.send("x" * 1000) for _ in range(50)]
    assert codes[0] == -1 and set(codes[1:]) == {-1}
    assert len(transport.writes) == 50


def test_close_on_backpressure_limit_aborts_the_connection() -> None:
    ws, transport = make_socket(backpressure_limit=100, close_on_backpressure_limit=True)
    ws.subscribe("room")
    assert ws.send("x" * 150) == -1
    assert ws.send("y" * 10) == 0
    assert transport.aborted
    assert ws.ready_state == CLOSING
    assert ws.closed_by_server() == (1006, "backpressure limit exceeded")
    assert ws.subscriptions == []


def test_drain_runs_when_the_buffer_empties_after_backpressure() -> None:
    drains: list[ServerWebSocket] = []
    ws, transport = make_socket(drains=drains)
    transport.flush()  # no backpressure before: no drain
    assert drains == []
    ws.send("x" * 150)
    transport.flush()
    assert drains == [ws]
    assert ws.buffered_amount == 0
    assert ws.send("again") == 5


def test_cork_batches_sends_into_one_write_and_returns_the_callback_result() -> None:
    ws, transport = make_socket()

    def burst(sock: ServerWebSocket) -> str:
        assert [sock.send(f"m{i}") for i in range(3)] == [2, 2, 2]
        assert transport.writes == []  # nothing written inside the callback
        return "result"

    assert ws.cork(burst) == "result"
    assert [[frame.data for frame in batch] for batch in transport.writes] == [["m0", "m1", "m2"]]


def test_cork_writes_what_was_sent_even_if_the_callback_raises() -> None:
    ws, transport = make_socket()

    def fails(sock: ServerWebSocket) -> None:
        sock.send("before")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        ws.cork(fails)
    assert transport.texts() == ["before"]


def test_nested_cork_is_one_batch() -> None:
    ws, transport = make_socket()
    ws.cork(lambda a: a.cork(lambda b: [b.send("x"), b.send("y")]))
    assert len(transport.writes) == 1


@pytest.mark.parametrize("code", [1000, 1001, 1008, 1009, 1011, 1014, 3000, 4999])
def test_close_codes_a_server_may_send(code: int) -> None:
    assert check_close_code(code) == code


@pytest.mark.parametrize("code", [999, 1004, 1005, 1006, 1015, 2000, 2999, 5000])
def test_close_codes_reserved_by_rfc_6455_are_refused(code: int) -> None:
    with pytest.raises(ValueError, match=r"RFC 6455 7\.4"):
        check_close_code(code)


def test_close_code_must_be_an_int() -> None:
    with pytest.raises(TypeError):
        check_close_code(True)
    ws, transport = make_socket()
    with pytest.raises(ValueError):
        ws.close(1006)
    assert transport.closed is None and ws.ready_state == OPEN


def test_close_sends_code_and_reason_once() -> None:
    ws, transport = make_socket()
    ws.close(4000, "bye")
    ws.close(4001, "again")
    assert transport.closed == (4000, "bye")
    assert ws.closed_by_server() == (4000, "bye")


def test_subscriptions_are_cleaned_on_close_and_on_disconnect() -> None:
    hub = Hub()
    a, _ = make_socket(hub)
    b, _ = make_socket(hub)
    a.subscribe("t1")
    a.subscribe("t2")
    b.subscribe("t1")
    assert a.subscriptions == ["t1", "t2"] and a.is_subscribed("t2")
    a.close()
    assert a.subscriptions == [] and hub.count("t1") == 1 and hub.count("t2") == 0
    a.subscribe("t3")  # closing: subscribing does nothing
    assert hub.count("t3") == 0
    b.mark_closed()
    assert hub.count("t1") == 0 and list(hub.topics()) == []


def test_unsubscribe_and_topic_type_check() -> None:
    hub = Hub()
    ws, _ = make_socket(hub)
    ws.subscribe("")  # any string is a topic, the empty one included
    ws.unsubscribe("")
    ws.unsubscribe("never")
    assert hub.count("") == 0
    with pytest.raises(TypeError, match="topic is a str"):
        ws.subscribe(b"bytes")  # type: ignore[arg-type]


def test_pong_resets_the_idle_clock_when_send_pings() -> None:
    ws, transport = make_socket(idle_timeout=10, send_pings=True)
    assert transport.pong is not None
    ws.last_received = 0.0
    transport.pong()
    assert ws.last_received > 0.0
    _, silent = make_socket(idle_timeout=10, send_pings=False)
    assert silent.pong is None  # without send_pings only messages count


def test_ping_and_terminate() -> None:
    ws, transport = make_socket()
    assert ws.ping(b"abc") == 3  # Bun's send status: the payload's size
    assert transport.pings == 1
    ws.terminate()
    assert transport.aborted and ws.closed_by_server() == (1006, "terminated by the server")
    assert ws.ping() == 0
