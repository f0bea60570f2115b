"""The drain's schedule without a server: batches every tick, spread over the period, sized from
the sockets still open, so a late tick or a late socket only makes the next batches larger."""

from __future__ import annotations

import pytest

from bunws.core.drain import (
    MIN_BATCH,
    RESTART_CODE,
    TICK_SECONDS,
    DrainSchedule,
    retry_after,
)


def run(schedule: DrainSchedule, sockets: int, lateness: float = 0.0) -> list[tuple[float, int]]:
    """(time, batch size) for each tick until every socket is closed."""
    batches: list[tuple[float, int]] = []
    now, still_open = schedule.started, sockets
    while still_open:
        due = schedule.due(still_open, now)
        batches.append((now - schedule.started, due))
        still_open -= due
        now += TICK_SECONDS + lateness
        assert len(batches) < 1000
    return batches


def test_restart_code_is_1012_service_restart() -> None:
    assert RESTART_CODE == 1012


def test_1000_sockets_over_two_seconds_close_in_twenty_even_batches() -> None:
    batches = run(DrainSchedule(2.0, 100.0), 1000)
    assert [size for _, size in batches] == [50] * 20
    assert batches[-1][0] == pytest.approx(1.9)


def test_a_handful_of_sockets_close_at_once() -> None:
    assert run(DrainSchedule(3.0, 0.0), MIN_BATCH) == [(0.0, MIN_BATCH)]
    assert run(DrainSchedule(3.0, 0.0), 3) == [(0.0, 3)]


@pytest.mark.parametrize("seconds", [0, 0.01])
def test_no_drain_period_closes_everything_in_one_batch(seconds: float) -> None:
    assert run(DrainSchedule(seconds, 0.0), 5000) == [(0.0, 5000)]


def test_late_ticks_still_end_by_the_end_of_the_period() -> None:
    batches = run(DrainSchedule(2.0, 0.0), 1000, lateness=0.05)
    assert sum(size for _, size in batches) == 1000
    assert batches[-1][0] <= 2.0
    assert max(size for _, size in batches) <= 150  # 13 batches instead of 20, none huge


def test_the_last_tick_closes_whatever_is_left() -> None:
    schedule = DrainSchedule(1.0, 0.0)
    assert schedule.due(7, 0.95) == 7
    assert schedule.due(7, 5.0) == 7
    assert schedule.due(0, 0.0) == 0


def test_retry_after_counts_down_to_the_end_of_the_drain_and_is_at_least_one() -> None:
    schedule = DrainSchedule(5.0, 0.0)
    assert retry_after(schedule, 0.0) == 5
    assert retry_after(schedule, 3.2) == 2
    assert retry_after(schedule, 60.0) == 1
