"""The run rules: first due time, catch-up once, misfire grace, strictly forward."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digitorn_notify import CronSchedule, IntervalSchedule, OneShot
from digitorn_notify.scheduler._timing import MAX_COUNTED, first_run_at, plan_run

T0 = datetime(2026, 3, 13, 15, 30, tzinfo=UTC)
HOURLY = CronSchedule("0 * * * *")


def test_first_run_of_each_kind() -> None:
    at = T0 + timedelta(minutes=5)
    assert first_run_at(OneShot(at), T0) == at
    assert first_run_at(HOURLY, T0) == datetime(2026, 3, 13, 16, tzinfo=UTC)
    # An interval starts at its start when that is still ahead, else on its grid.
    later = IntervalSchedule(timedelta(minutes=10), T0 + timedelta(minutes=3))
    assert first_run_at(later, T0) == T0 + timedelta(minutes=3)
    assert first_run_at(later, T0 + timedelta(minutes=3)) == T0 + timedelta(minutes=3)
    earlier = IntervalSchedule(timedelta(minutes=10), T0 - timedelta(minutes=25))
    assert first_run_at(earlier, T0) == T0 + timedelta(minutes=5)


def test_on_time_run_has_no_catch_up() -> None:
    due = datetime(2026, 3, 13, 16, tzinfo=UTC)
    plan = plan_run(HOURLY, due, due + timedelta(milliseconds=3), None)
    assert plan.run
    assert plan.coalesced == 0
    assert plan.scheduled_for == due
    assert plan.late_by == timedelta(milliseconds=3)
    assert plan.next_run_at == due + timedelta(hours=1)


def test_fifty_missed_runs_make_one_run_and_the_next_counts_from_now() -> None:
    due = datetime(2026, 3, 13, 16, tzinfo=UTC)
    now = due + timedelta(hours=49, minutes=20)  # 50 due times passed: 16:00 .. +49h
    plan = plan_run(HOURLY, due, now, None)
    assert plan.run
    assert plan.coalesced == 49
    assert plan.scheduled_for == due + timedelta(hours=49)
    assert plan.late_by == timedelta(minutes=20)
    assert plan.next_run_at == due + timedelta(hours=50)


def test_misfire_grace_is_measured_from_the_latest_due_time() -> None:
    due = datetime(2026, 3, 13, 16, tzinfo=UTC)
    assert plan_run(HOURLY, due, due + timedelta(hours=3, seconds=20), 30).run
    skipped = plan_run(HOURLY, due, due + timedelta(hours=3, seconds=40), 30)
    assert not skipped.run
    assert skipped.coalesced == 3
    assert skipped.next_run_at == due + timedelta(hours=4)
    assert plan_run(OneShot(due), due, due + timedelta(seconds=30), 30).run
    late = plan_run(OneShot(due), due, due + timedelta(seconds=31), 30)
    assert not late.run
    assert late.next_run_at is None


def test_years_of_downtime_stay_cheap_and_exact() -> None:
    every_minute = CronSchedule("* * * * *")
    due = datetime(2020, 1, 1, tzinfo=UTC)
    now = datetime(2026, 3, 13, 15, 30, 30, tzinfo=UTC)
    plan = plan_run(every_minute, due, now, None)
    assert plan.coalesced == MAX_COUNTED
    assert plan.scheduled_for == datetime(2026, 3, 13, 15, 30, tzinfo=UTC)
    assert plan.next_run_at == datetime(2026, 3, 13, 15, 31, tzinfo=UTC)


crons = st.sampled_from(
    [
        "* * * * *",
        "*/7 * * * *",
        "0 * * * *",
        "30 2 * * *",
        "30 1 * * *",
        "0 9 * * 1-5",
        "15 3 1 * *",
        "0 0 29 2 *",
    ]
)
zones = st.sampled_from(["UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe"])
instants = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)
downtimes = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400))


def schedules() -> st.SearchStrategy[CronSchedule | IntervalSchedule]:
    cron = st.builds(CronSchedule, crons, zones)
    interval = st.builds(
        IntervalSchedule,
        st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=9)),
        instants,
        zones,
    )
    return cron | interval


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(schedule=schedules(), start=instants, downtime=downtimes)
def test_catch_up_runs_at_most_once_and_moves_strictly_forward(
    schedule: CronSchedule | IntervalSchedule, start: datetime, downtime: timedelta
) -> None:
    due = first_run_at(schedule, start)
    now = due + downtime
    plan = plan_run(schedule, due, now, None)
    assert plan.run
    assert due <= plan.scheduled_for <= now
    assert plan.next_run_at is not None
    assert plan.next_run_at > now >= plan.scheduled_for
    # Nothing is due between the run and the next one: after the catch-up the job is
    # not due again until next_run_at, so downtime produces exactly one run.
    assert schedule.next_after(plan.scheduled_for) == plan.next_run_at
    if plan.coalesced < MAX_COUNTED:
        walked, count = due, 0
        while (walked := schedule.next_after(walked)) <= now:
            count += 1
        assert count == plan.coalesced


@pytest.mark.slow
@settings(max_examples=100, deadline=None)
@given(schedule=schedules(), start=instants, steps=st.lists(downtimes, min_size=1, max_size=8))
def test_successive_runs_are_strictly_increasing(
    schedule: CronSchedule | IntervalSchedule, start: datetime, steps: list[timedelta]
) -> None:
    due = first_run_at(schedule, start)
    fired: list[datetime] = []
    for lateness in steps:
        now = due + min(lateness, timedelta(days=2))
        plan = plan_run(schedule, due, now, None)
        fired.append(plan.scheduled_for)
        assert plan.next_run_at is not None
        due = plan.next_run_at
    assert fired == sorted(set(fired))


@pytest.mark.parametrize("grace", [0.0, 5.0, 3600.0])
@settings(max_examples=50, deadline=None)
@given(schedule=schedules(), start=instants, downtime=downtimes)
def test_grace_decides_on_the_latest_lateness(
    grace: float, schedule: CronSchedule | IntervalSchedule, start: datetime, downtime: timedelta
) -> None:
    due = first_run_at(schedule, start)
    plan = plan_run(schedule, due, due + downtime, grace)
    assert plan.run == (plan.late_by.total_seconds() <= grace)
    assert plan.next_run_at is not None
    assert plan.next_run_at > due + downtime
