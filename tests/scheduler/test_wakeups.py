"""No tick: the scheduler sleeps until the earliest due job and nothing else wakes it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from digitorn_notify import ChannelRegistry, FakeClock
from digitorn_notify.scheduler import Scheduler
from tests.scheduler.conftest import APP, T0, recorded

pytestmark = pytest.mark.anyio


async def test_with_no_jobs_it_sleeps_without_a_deadline(
    registry: ChannelRegistry, clock: FakeClock
) -> None:
    async with Scheduler(registry):
        await clock.advance(timedelta(days=30))
        assert clock.sleeps == []
        assert clock.pending_sleepers == 0


async def test_a_job_due_tomorrow_is_one_sleep(registry: ChannelRegistry, clock: FakeClock) -> None:
    async with Scheduler(registry) as scheduler:
        await scheduler.schedule_once(
            timedelta(days=1), app_id=APP, prompt="p", output_channel="rec"
        )
        await clock.advance(0)
        assert clock.next_deadline() == T0 + timedelta(days=1)
        await clock.advance(timedelta(hours=23, minutes=59))
        # One sleep, for the whole day: nothing woke the scheduler in between.
        assert clock.sleeps == [86_400.0]
        assert recorded(registry) == []
        await clock.advance(60)
        assert len(recorded(registry)) == 1
        assert clock.pending_sleepers == 0  # nothing left: no deadline at all


async def test_an_earlier_job_wakes_it_a_later_one_does_not(
    registry: ChannelRegistry, clock: FakeClock
) -> None:
    async with Scheduler(registry) as scheduler:
        await scheduler.schedule_once(
            timedelta(days=1), app_id=APP, prompt="tomorrow", output_channel="rec"
        )
        await clock.advance(0)
        await scheduler.schedule_once(
            timedelta(days=2), app_id=APP, prompt="later", output_channel="rec"
        )
        await clock.advance(0)
        assert clock.sleeps == [86_400.0]  # the later job did not disturb the sleep
        await scheduler.schedule_once(
            timedelta(minutes=5), app_id=APP, prompt="soon", output_channel="rec"
        )
        await clock.advance(0)
        assert clock.next_deadline() == T0 + timedelta(minutes=5)
        await clock.advance(300)
        assert [p.message for p in recorded(registry)] == ["soon"]
        assert clock.next_deadline() == T0 + timedelta(days=1)


async def test_cancelling_the_next_job_moves_the_deadline(
    registry: ChannelRegistry, clock: FakeClock
) -> None:
    async with Scheduler(registry) as scheduler:
        soon = await scheduler.schedule_once(
            "in 5m", app_id=APP, prompt="soon", output_channel="rec"
        )
        await scheduler.schedule_once("in 1h", app_id=APP, prompt="later", output_channel="rec")
        await clock.advance(0)
        assert clock.next_deadline() == T0 + timedelta(minutes=5)
        await scheduler.cancel(soon.job_id, app_id=APP)
        await clock.advance(0)
        assert clock.next_deadline() == T0 + timedelta(hours=1)
        await scheduler.pause(
            (await scheduler.list(app_id=APP, status="active"))[0].job_id, app_id=APP
        )
        await clock.advance(0)
        assert clock.pending_sleepers == 0


async def test_a_recurring_job_sleeps_from_run_to_run(
    registry: ChannelRegistry, clock: FakeClock
) -> None:
    async with Scheduler(registry) as scheduler:
        await scheduler.schedule_cron("0 9 * * *", app_id=APP, prompt="daily", output_channel="rec")
        await clock.advance(timedelta(days=3))
    # 15:30 -> 09:00 is 17.5 hours, then a day at a time.
    assert clock.sleeps == [63_000.0, 86_400.0, 86_400.0, 86_400.0]
    assert len(recorded(registry)) == 3
