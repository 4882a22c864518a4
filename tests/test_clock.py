"""FakeClock moves only when told to, and wakes sleepers in deadline order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio
import pytest

from digitorn_notify import FakeClock, SystemClock
from digitorn_notify.clock import utc

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


async def test_advance_wakes_sleepers_in_order() -> None:
    clock = FakeClock(T0)
    woke: list[tuple[str, datetime]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.now()))

    async with anyio.create_task_group() as group:
        group.start_soon(sleeper, "late", 60)
        group.start_soon(sleeper, "early", 10)
        group.start_soon(sleeper, "never", 3600)
        await anyio.wait_all_tasks_blocked()
        assert clock.pending_sleepers == 3
        assert clock.next_deadline() == T0 + timedelta(seconds=10)
        await clock.advance(120)
        assert woke == [("early", T0 + timedelta(seconds=10)), ("late", T0 + timedelta(seconds=60))]
        assert clock.now() == T0 + timedelta(seconds=120)
        group.cancel_scope.cancel()
    assert clock.pending_sleepers == 0


async def test_sleep_until_past_returns_at_once() -> None:
    clock = FakeClock(T0)
    with anyio.fail_after(1):
        await clock.sleep_until(T0 - timedelta(hours=1))
    assert clock.now() == T0


async def test_autojump_moves_time_to_each_deadline() -> None:
    clock = FakeClock(T0, autojump=True)
    await clock.sleep(5)
    await clock.sleep_until(T0 + timedelta(seconds=65))
    assert clock.now() == T0 + timedelta(seconds=65)
    assert clock.sleeps == [5, 60]
    assert clock.monotonic() == 65


async def test_time_never_goes_backwards() -> None:
    clock = FakeClock(T0)
    with pytest.raises(ValueError, match="backwards"):
        await clock.advance(-1)
    with pytest.raises(ValueError, match="backwards"):
        await clock.advance_to(T0 - timedelta(seconds=1))


async def test_system_clock_is_aware_and_sleeps() -> None:
    clock = SystemClock()
    before = clock.now()
    assert before.tzinfo is UTC
    await clock.sleep_until(before + timedelta(milliseconds=5))
    assert clock.now() >= before + timedelta(milliseconds=5)
    start = clock.monotonic()
    await clock.sleep(0.001)
    assert clock.monotonic() > start


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        utc(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="naive"):
        FakeClock(datetime(2026, 1, 1))


async def test_advance_never_moves_back_over_a_set_made_meanwhile() -> None:
    clock = FakeClock(T0)
    later = T0 + timedelta(hours=1)

    async def jump() -> None:
        await clock.sleep(1)
        clock.set(later)

    async with anyio.create_task_group() as group:
        group.start_soon(jump)
        await anyio.wait_all_tasks_blocked()
        await clock.advance(10)
    assert clock.now() == later
