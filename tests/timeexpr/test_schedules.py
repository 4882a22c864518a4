"""next_after(): what a scheduler asks a recurring schedule, right across DST."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from digitorn_notify.timeexpr import CronSchedule, IntervalSchedule

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def local(text: str, zone: ZoneInfo) -> datetime:
    """A wall-clock time in ``zone`` (first occurrence if ambiguous)."""
    return datetime.fromisoformat(text).replace(tzinfo=zone)


def firings(
    schedule: CronSchedule | IntervalSchedule, start: datetime, count: int
) -> list[datetime]:
    out, current = [], start
    for _ in range(count):
        current = schedule.next_after(current)
        out.append(current)
    return out


def on_local_day(instants: list[datetime], zone: ZoneInfo, day: str) -> list[str]:
    return [
        instant.astimezone(zone).isoformat(timespec="minutes")
        for instant in instants
        if instant.astimezone(zone).date().isoformat() == day
    ]


# -- the four cases the architecture names ----------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "expected"),
    [
        (PARIS, "2026-03-29", "2026-03-29T03:30+02:00"),
        (NEW_YORK, "2026-03-08", "2026-03-08T03:30-04:00"),
    ],
)
def test_a_0230_job_fires_once_on_spring_forward_day(
    zone: ZoneInfo, day: str, expected: str
) -> None:
    schedule = CronSchedule("30 2 * * *", zone.key)
    runs = firings(schedule, local(f"{day}T00:00", zone) - timedelta(days=2), 5)
    # 02:30 does not exist that night: it runs once, moved forward by the gap.
    assert on_local_day(runs, zone, day) == [expected]


@pytest.mark.parametrize(
    ("zone", "day", "wall", "expected"),
    [
        (NEW_YORK, "2026-11-01", "01:30", "2026-11-01T01:30-04:00"),
        (PARIS, "2026-10-25", "02:30", "2026-10-25T02:30+02:00"),
    ],
)
def test_an_ambiguous_daily_job_fires_once_on_fall_back_day(
    zone: ZoneInfo, day: str, wall: str, expected: str
) -> None:
    hour, minute = wall.split(":")
    schedule = CronSchedule(f"{int(minute)} {int(hour)} * * *", zone.key)
    runs = firings(schedule, local(f"{day}T00:00", zone) - timedelta(days=2), 5)
    # The wall time happens twice; the job runs at the first, daylight-time one.
    assert on_local_day(runs, zone, day) == [expected]


def test_every_quarter_hour_across_the_paris_gap() -> None:
    schedule = CronSchedule("*/15 * * * *", "Europe/Paris")
    runs = firings(schedule, local("2026-03-29T01:20", PARIS), 5)
    assert [run.astimezone(PARIS).isoformat(timespec="minutes") for run in runs] == [
        "2026-03-29T01:30+01:00",
        "2026-03-29T01:45+01:00",
        "2026-03-29T03:00+02:00",  # 02:00 moved forward; 02:15-02:45 fold into 03:15-03:45
        "2026-03-29T03:15+02:00",
        "2026-03-29T03:30+02:00",
    ]


def test_hourly_across_the_new_york_repeated_hour() -> None:
    schedule = CronSchedule("0 * * * *", "America/New_York")
    runs = firings(schedule, local("2026-11-01T00:30", NEW_YORK), 3)
    assert [run.isoformat() for run in runs] == [
        "2026-11-01T05:00:00+00:00",  # 01:00 EDT
        "2026-11-01T07:00:00+00:00",  # 02:00 EST: 01:00 EST is the same wall time, not rerun
        "2026-11-01T08:00:00+00:00",
    ]


def test_from_inside_the_repeated_hour_the_next_firing_is_still_ahead() -> None:
    schedule = CronSchedule("*/15 * * * *", "America/New_York")
    second_0110 = datetime(2026, 11, 1, 6, 10, tzinfo=UTC)  # 01:10 EST, the second 01:10
    assert schedule.next_after(second_0110) == datetime(2026, 11, 1, 7, 0, tzinfo=UTC)


def test_next_after_accepts_any_aware_datetime_and_returns_utc() -> None:
    schedule = CronSchedule("0 9 * * 1", "Europe/Paris")
    expected = datetime(2026, 3, 16, 8, 0, tzinfo=UTC)
    for after in (
        datetime(2026, 3, 13, 12, 0, tzinfo=UTC),
        datetime(2026, 3, 13, 8, 0, tzinfo=NEW_YORK),
        local("2026-03-16T08:59:59", PARIS),
    ):
        assert schedule.next_after(after) == expected
        assert schedule.next_after(after).tzinfo is UTC
    # Strictly after: a firing time itself gives the next one.
    assert schedule.next_after(expected) == expected + timedelta(days=7)
    with pytest.raises(ValueError, match="naive"):
        schedule.next_after(datetime(2026, 3, 13, 12, 0))


# -- a brute-force oracle around every 2026 DST change ---------------------------


def cron_matcher(expression: str) -> Callable[[datetime], bool]:
    """Match a naive wall time against cron fields, as croniter expands them."""
    fields, _ = croniter.expand(expression)
    minute, hour, dom, month, dow = (None if f == ["*"] else set(f) for f in fields)

    def matches(wall: datetime) -> bool:
        if (minute and wall.minute not in minute) or (hour and wall.hour not in hour):
            return False
        if month and wall.month not in month:
            return False
        day_ok = dom is None or wall.day in dom
        weekday_ok = dow is None or (wall.weekday() + 1) % 7 in dow
        # cron ORs the two day fields when both are restricted
        return (day_ok or weekday_ok) if dom and dow else (day_ok and weekday_ok)

    return matches


@pytest.mark.parametrize(
    ("zone", "change"),
    [
        (PARIS, "2026-03-29"),
        (PARIS, "2026-10-25"),
        (NEW_YORK, "2026-03-08"),
        (NEW_YORK, "2026-11-01"),
    ],
)
@pytest.mark.parametrize(
    "expression",
    [
        "*/15 * * * *",
        "0 * * * *",
        "30 2 * * *",
        "30 1 * * *",
        "0 2 * * *",
        "59 1 * * *",
        "0 3 * * *",
        "*/20 1-3 * * *",
        "45 2 * * 0",
        "0 9 * * 1-5",
    ],
)
def test_next_after_agrees_with_brute_force(zone: ZoneInfo, change: str, expression: str) -> None:
    """Each matching wall minute fires once: its first occurrence, or moved out of a gap."""
    start_wall = datetime.fromisoformat(change) - timedelta(days=1)
    end_wall = start_wall + timedelta(days=3)
    matches = cron_matcher(expression)
    expected = sorted(
        {
            (start_wall + timedelta(minutes=m)).replace(tzinfo=zone).astimezone(UTC)
            for m in range(int((end_wall - start_wall).total_seconds() // 60))
            if matches(start_wall + timedelta(minutes=m))
        }
    )
    schedule = CronSchedule(expression, zone.key)
    got: list[datetime] = []
    current = start_wall.replace(tzinfo=zone) - timedelta(microseconds=1)
    while True:
        current = schedule.next_after(current)
        if current.astimezone(zone).replace(tzinfo=None) >= end_wall and current > expected[-1]:
            break
        got.append(current)
    assert got == expected


# -- intervals --------------------------------------------------------------------


def test_exact_interval_counts_elapsed_time_across_dst() -> None:
    start = local("2026-03-29T00:30", PARIS)
    schedule = IntervalSchedule(every=timedelta(minutes=90), start=start, timezone="Europe/Paris")
    runs = [schedule.next_after(start - timedelta(seconds=1)), *firings(schedule, start, 2)]
    assert [run.astimezone(PARIS).isoformat(timespec="minutes") for run in runs] == [
        "2026-03-29T00:30+01:00",
        "2026-03-29T03:00+02:00",  # 90 minutes of real time across the gap
        "2026-03-29T04:30+02:00",
    ]


def test_day_interval_keeps_the_wall_clock_time_across_dst() -> None:
    # The first firing falls in the gap and moves to 03:30; the next ones are 02:30 again.
    schedule = IntervalSchedule(
        every=timedelta(days=1),
        start=local("2026-03-29T03:30", PARIS),
        timezone="Europe/Paris",
        time_of_day=time(2, 30),
    )
    runs = firings(schedule, local("2026-03-28T12:00", PARIS), 3)
    assert [run.astimezone(PARIS).isoformat(timespec="minutes") for run in runs] == [
        "2026-03-29T03:30+02:00",
        "2026-03-30T02:30+02:00",
        "2026-03-31T02:30+02:00",
    ]


def test_day_interval_without_time_of_day_keeps_the_start_time() -> None:
    schedule = IntervalSchedule(
        every=timedelta(days=2), start=local("2026-10-30T01:30", NEW_YORK), timezone=NEW_YORK.key
    )
    runs = firings(schedule, local("2026-10-29T00:00", NEW_YORK), 3)
    assert [run.astimezone(NEW_YORK).isoformat(timespec="minutes") for run in runs] == [
        "2026-10-30T01:30-04:00",
        "2026-11-01T01:30-04:00",  # ambiguous: the first occurrence
        "2026-11-03T01:30-05:00",
    ]


def test_interval_far_from_its_start() -> None:
    start = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    schedule = IntervalSchedule(every=timedelta(days=7), start=start, timezone="Europe/Paris")
    after = datetime(2030, 6, 5, 12, 0, tzinfo=UTC)
    result = schedule.next_after(after)
    assert result > after
    assert result - after <= timedelta(days=7)
    assert result.astimezone(PARIS).time() == time(10, 0)  # the start's wall time, 10:00
