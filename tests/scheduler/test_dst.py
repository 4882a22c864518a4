"""DST: a daily job fires once on the spring-forward day (shifted) and once on fall-back.

2026 changes: Paris springs forward on 29 March (02:00 -> 03:00) and falls back on
25 October (03:00 -> 02:00); New York on 8 March (02:00 -> 03:00) and 1 November
(02:00 -> 01:00).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from digitorn_notify import ChannelRegistry, FakeClock
from digitorn_notify.scheduler import Scheduler
from tests.helpers import RecordingChannel

pytestmark = pytest.mark.anyio

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


async def fire_times(cron: str, zone: ZoneInfo, start: datetime, days: float) -> list[str]:
    """Run ``cron`` (or recurring text) in ``zone`` from ``start`` for ``days``; local fire times."""
    clock = FakeClock(start)
    async with ChannelRegistry(clock=clock, load_plugins=False) as registry:
        registry.register_type(RecordingChannel)
        await registry.deploy_app("app", {"rec": {"type": "recording"}})
        async with Scheduler(registry, timezone=str(zone)) as scheduler:
            await scheduler.schedule_cron(cron, app_id="app", prompt="p", output_channel="rec")
            await clock.advance(timedelta(days=days))
        channel = registry.instances("app")["rec"]
        assert isinstance(channel, RecordingChannel)
        return [
            datetime.fromisoformat(payload.metadata["timestamp"])
            .astimezone(zone)
            .strftime("%d %H:%M%z")
            for _, payload, _ in channel.calls
        ]


async def test_paris_spring_forward_gap_fires_once_shifted() -> None:
    times = await fire_times("30 2 * * *", PARIS, datetime(2026, 3, 27, 12, tzinfo=PARIS), 4)
    assert times == ["28 02:30+0100", "29 03:30+0200", "30 02:30+0200", "31 02:30+0200"]


async def test_paris_fall_back_overlap_fires_once_at_the_first() -> None:
    times = await fire_times("30 2 * * *", PARIS, datetime(2026, 10, 23, 12, tzinfo=PARIS), 4)
    assert times == ["24 02:30+0200", "25 02:30+0200", "26 02:30+0100", "27 02:30+0100"]


async def test_new_york_spring_forward_gap_fires_once_shifted() -> None:
    times = await fire_times("30 2 * * *", NEW_YORK, datetime(2026, 3, 6, 12, tzinfo=NEW_YORK), 4)
    assert times == ["07 02:30-0500", "08 03:30-0400", "09 02:30-0400", "10 02:30-0400"]


async def test_new_york_fall_back_overlap_fires_once_at_the_first() -> None:
    times = await fire_times("30 1 * * *", NEW_YORK, datetime(2026, 10, 30, 12, tzinfo=NEW_YORK), 4)
    assert times == ["31 01:30-0400", "01 01:30-0400", "02 01:30-0500", "03 01:30-0500"]


async def test_plain_croniter_fires_the_overlap_twice_the_scheduler_once() -> None:
    # What the scheduler guards against: croniter stepping through aware local times
    # yields 01:30 twice on New York's fall-back night.
    steps = croniter("30 1 * * *", datetime(2026, 10, 31, 12, tzinfo=NEW_YORK))
    raw = [steps.get_next(datetime).strftime("%d %H:%M%z") for _ in range(2)]
    assert raw == ["01 01:30-0400", "01 01:30-0500"]
    times = await fire_times("30 1 * * *", NEW_YORK, datetime(2026, 10, 31, 12, tzinfo=NEW_YORK), 2)
    assert times == ["01 01:30-0400", "02 01:30-0500"]


async def test_every_day_at_9am_keeps_local_time_across_the_change() -> None:
    times = await fire_times(
        "every day at 9am", NEW_YORK, datetime(2026, 3, 6, 12, tzinfo=NEW_YORK), 4
    )
    assert times == ["07 09:00-0500", "08 09:00-0400", "09 09:00-0400", "10 09:00-0400"]
    french = await fire_times(
        "tous les jours à 9h", PARIS, datetime(2026, 10, 24, 12, tzinfo=PARIS), 3
    )
    assert french == ["25 09:00+0100", "26 09:00+0100", "27 09:00+0100"]


async def test_interval_of_days_keeps_local_time_across_the_change() -> None:
    times = await fire_times(
        "every 2 days at 9am", PARIS, datetime(2026, 3, 26, 12, tzinfo=PARIS), 7
    )
    assert times == ["27 09:00+0100", "29 09:00+0200", "31 09:00+0200", "02 09:00+0200"]


async def test_hourly_job_on_fall_back_night_runs_each_wall_time_once() -> None:
    # 01:00 happens twice that night; it runs at the first, and the hourly job then
    # waits for 02:00 (rule 13 of the time expressions: each wall time fires once).
    start = datetime(2026, 10, 31, 23, 30, tzinfo=NEW_YORK)
    times = await fire_times("0 * * * *", NEW_YORK, start, 0.25)
    assert times == [
        "01 00:00-0400",
        "01 01:00-0400",
        "01 02:00-0500",
        "01 03:00-0500",
        "01 04:00-0500",
    ]
