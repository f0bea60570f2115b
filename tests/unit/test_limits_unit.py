"""The idle sweeper, per-client counter and rate window without a server (fake clock), and the
per-loop singleton both the sweeper and daphne's flusher use."""

from __future__ import annotations

import asyncio

import pytest

from bunws.core.limits import (
    CLOSE,
    PING,
    ClientSockets,
    IdleSweeper,
    RateWindow,
    idle_action,
    idle_sweeper,
    sweep,
    tick_for,
)
from bunws.core.loops import PerLoop
from bunws.daphne.cork import Flusher, flusher


class IdleFake:
    def __init__(self, timeout: int, pings: bool, last: float = 0.0) -> None:
        self.idle_timeout, self.sends_pings = timeout, pings
        self.last_received, self.pinged_at = last, -1.0
        self.closed: tuple[int, str] | None = None
        self.pings = 0
        self.is_paused = False

    def ping(self, data: bytes = b"") -> int:
        self.pings += 1
        return 2

    def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = (code, reason)


@pytest.mark.parametrize(
    ("idle_for", "pings", "pinged", "expected"),
    [
        (4.9, True, False, None),
        (5.0, True, False, PING),
        (7.0, True, True, None),  # already pinged since the last message
        (7.0, False, False, None),
        (10.0, True, True, CLOSE),
        (10.0, False, False, CLOSE),
    ],
)
def test_idle_action(idle_for: float, pings: bool, pinged: bool, expected: str | None) -> None:
    action = idle_action(
        idle_for=idle_for, timeout=10, send_pings=pings, pinged_since_receive=pinged
    )
    assert action == expected


def test_idle_timeout_zero_never_acts() -> None:
    assert idle_action(idle_for=1e9, timeout=0, send_pings=True, pinged_since_receive=False) is None


def test_sweep_pings_once_then_closes_with_1001() -> None:
    ws = IdleFake(timeout=10, pings=True)
    assert sweep([ws], now=6.0) == (1, 0)
    assert sweep([ws], now=8.0) == (0, 0)  # one ping per silence
    assert sweep([ws], now=10.0) == (0, 1)
    assert ws.pings == 1 and ws.closed == (1001, "idle timeout")


def test_a_message_after_the_ping_restarts_the_cycle() -> None:
    ws = IdleFake(timeout=10, pings=True)
    sweep([ws], now=6.0)
    ws.last_received = 7.0  # a message (or the pong) arrived
    assert sweep([ws], now=12.0) == (1, 0)
    assert sweep([ws], now=16.9) == (0, 0)
    assert ws.closed is None and ws.pings == 2


def test_tick_is_at_most_a_second_and_a_quarter_timeout() -> None:
    assert tick_for(120) == 1.0
    assert tick_for(1) == 0.25


@pytest.mark.timeout(5, func_only=True)
async def test_one_sweeper_timer_serves_every_socket_and_stops_when_none_is_left() -> None:
    loop = asyncio.get_running_loop()
    now = [0.0]
    sweeper = IdleSweeper(loop, clock=lambda: now[0])
    sockets = [IdleFake(timeout=1, pings=False) for _ in range(3)]
    for ws in sockets:
        sweeper.track(ws)
    assert sweeper._handle is not None
    sweeper.untrack(sockets[2])
    now[0] = 1.0
    await asyncio.sleep(0.3)  # one 0.25 s tick
    assert [ws.closed for ws in sockets] == [(1001, "idle timeout")] * 2 + [None]
    for ws in sockets:
        sweeper.untrack(ws)
    await asyncio.sleep(0.3)
    assert sweeper._handle is None and len(sweeper) == 0


def test_client_sockets_caps_each_address_separately() -> None:
    counter = ClientSockets()
    assert all(counter.acquire("1.2.3.4", 2) for _ in range(2))
    assert counter.acquire("1.2.3.4", 2) is False
    assert counter.acquire("5.6.7.8", 2) is True
    counter.release("1.2.3.4")
    assert counter.count("1.2.3.4") == 1
    assert counter.acquire("1.2.3.4", 2) is True
    for _ in range(3):
        counter.release("1.2.3.4")
    assert counter.count("1.2.3.4") == 0 and "1.2.3.4" not in counter._counts


def test_rate_window_allows_the_limit_per_second() -> None:
    window = RateWindow(3, now=0.0)
    assert [window.over(0.1 * i) for i in range(4)] == [False, False, False, True]
    assert window.over(1.05) is False  # a new window


def test_per_loop_gives_one_instance_per_loop_and_forgets_closed_loops() -> None:
    """Sync, with loops of its own: what it checks is what happens as loops come and go."""
    made: list[asyncio.AbstractEventLoop] = []

    def factory(loop: asyncio.AbstractEventLoop) -> list[asyncio.AbstractEventLoop]:
        made.append(loop)
        return [loop]

    per_loop = PerLoop(factory)

    async def twice() -> tuple[list[asyncio.AbstractEventLoop], list[asyncio.AbstractEventLoop]]:
        return per_loop(), per_loop()

    first, again = asyncio.run(twice())
    assert first is again and len(made) == 1
    second, _ = asyncio.run(twice())  # a new loop: a new instance, the closed loop's dropped
    assert second is not first and len(made) == 2 and len(per_loop) == 1
    with pytest.raises(RuntimeError):
        per_loop()  # outside a running loop there is no "this loop"


async def test_idle_sweeper_and_flusher_are_per_loop_singletons() -> None:
    sweeper, sweeper_again, found, found_again = (
        idle_sweeper(),
        idle_sweeper(),
        flusher(),
        flusher(),
    )
    assert isinstance(sweeper, IdleSweeper) and sweeper is sweeper_again
    assert isinstance(found, Flusher) and found is found_again
