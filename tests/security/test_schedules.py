"""Schedules: strict cron, croniter's floor, and one idempotency key per run."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from croniter import CroniterError

from digitorn_notify import (
    ChannelRegistry,
    CronSchedule,
    FakeClock,
    JobRecord,
    MemoryStore,
    TimeExpressionError,
    current_delivery,
    parse_time_expression,
    run_key,
)
from digitorn_notify.errors import NotifyError
from digitorn_notify.scheduler import Scheduler
from tests.helpers import RecordingChannel

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).parent.parent.parent


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# -- the examples croniter 6 got wrong: they pass at the floor (make test-floor) ----------


def test_step_from_a_start_value_fires_at_that_value() -> None:
    assert CronSchedule("59/15 * * * *", "UTC").next_after(at(2026, 3, 3, 10, 7)) == at(
        2026, 3, 3, 10, 59
    )


def test_every_tenth_day_does_not_skip_the_first_of_march() -> None:
    assert CronSchedule("0 0 */10 * *", "UTC").next_after(at(2026, 2, 22)) == at(2026, 3, 1)


def test_day_31_of_february_or_sunday_fires_on_the_sundays_of_february() -> None:
    # Day-of-month and day-of-week both set: cron fires when either matches (the
    # standard OR), and February has no 31st, so: every Sunday of February.
    schedule = CronSchedule("0 0 31 2 0", "UTC")
    fired, moment = [], at(2026, 1, 1)
    for _ in range(6):
        moment = schedule.next_after(moment)
        fired.append(moment)
    assert all(d.month == 2 and d.weekday() == 6 for d in fired)
    assert [d.day for d in fired] == [1, 8, 15, 22, 7, 14]


def test_the_runtime_dependencies_all_have_a_floor_that_ci_installs() -> None:
    pins = subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "floor_constraints.py")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert sorted(pin.partition("==")[0] for pin in pins) == sorted(
        ["attrs", "cattrs", "anyio", "httpx", "python-dateutil", "croniter"]
    )
    assert "croniter==7.0.0" in pins
    assert "make test-floor" in (ROOT / ".ci" / "run").read_text()


# -- exactly the standard syntax -----------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        "0 9 R R *",  # croniter's random value: a different schedule on every call
        "R 9 * * *",
        "0 9 L * *",
        "0 9 1W * *",
        "0 9 * * mon#2",
        "0 9 * * 5L",
        "0 9 ? * *",
        "H 9 * * *",
        "0 9 * * * 2026",  # a sixth field (years or seconds)
        "5-2 * * * *",  # a range that goes backwards
        "* * * * fri-mon",
        "*/0 * * * *",
        "60 * * * *",
    ],
)
def test_extensions_are_refused_with_the_accepted_forms(expression: str) -> None:
    with pytest.raises(TimeExpressionError) as caught:
        CronSchedule(expression, "UTC")
    assert "'*/5 * * * *'" in str(caught.value)  # the accepted forms are listed
    with pytest.raises(TimeExpressionError):
        parse_time_expression(expression, now=at(2026, 1, 1), tz="UTC")


@pytest.mark.parametrize(
    "expression",
    ["*/5 * * * *", "0 9 * * 1-5", "0 9 * * MON-FRI", "0 0 1 jan,jul *", "0 9 * * 7", "@daily"],
)
def test_the_standard_forms_and_documented_extensions_are_accepted(expression: str) -> None:
    first = CronSchedule(expression, "UTC").next_after(at(2026, 1, 1))
    # Deterministic: the same question always gets the same answer.
    assert CronSchedule(expression, "UTC").next_after(at(2026, 1, 1)) == first


def test_no_croniter_error_escapes_at_the_end_of_the_calendar() -> None:
    with pytest.raises(TimeExpressionError) as caught:
        CronSchedule("0 0 * * *", "UTC").next_after(at(9999, 12, 31, 12))
    assert not isinstance(caught.value, CroniterError)


async def test_schedule_cron_refuses_random_fields_with_its_own_error() -> None:
    async with ChannelRegistry(load_plugins=False) as registry, Scheduler(registry) as scheduler:
        with pytest.raises(NotifyError) as caught:
            await scheduler.schedule_cron("0 9 R R *", app_id="app", prompt="x")
    assert not isinstance(caught.value, CroniterError)
    assert "'R'" in str(caught.value)


# -- a repeated run carries the key of the first attempt ------------------------------------


def test_a_run_key_depends_on_the_app_the_job_and_the_due_time_only() -> None:
    due = at(2026, 3, 13, 15, 35)
    key = run_key("app", "job-1", due)
    assert key == run_key("app", "job-1", due.astimezone())  # the same instant
    assert len(key) == 32
    assert key.isalnum()
    assert key != run_key("app", "job-1", due + timedelta(minutes=1))
    assert key != run_key("app", "job-2", due)
    assert key != run_key("other", "job-1", due)


class CrashAfterDelivery(MemoryStore):
    """A store whose first release fails: the process 'died' between delivering a run
    and saving it, so the job stays leased until the lease expires."""

    def __init__(self) -> None:
        super().__init__()
        self.crashed = False

    async def release_job(self, job: JobRecord, *, owner: str) -> bool:
        if not self.crashed:
            self.crashed = True
            raise ConnectionError("the process died here")
        return await super().release_job(job, owner=owner)


class KeyRecorder(RecordingChannel):
    CHANNEL_ID = "keys"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.keys: list[str] = []

    async def deliver(self, app_id: str, payload: Any, config: dict[str, Any]) -> Any:
        delivery = current_delivery()
        assert delivery is not None
        self.keys.append(delivery.key)
        return await super().deliver(app_id, payload, config)


async def test_a_run_repeated_after_its_lease_expired_carries_the_same_key() -> None:
    clock = FakeClock(at(2026, 3, 13, 15, 30))
    store = CrashAfterDelivery()
    async with ChannelRegistry(clock=clock, load_plugins=False) as registry:
        registry.register_type(KeyRecorder)
        await registry.deploy_app("app", {"out": {"type": "keys"}})
        channel = registry.instances("app")["out"]
        assert isinstance(channel, KeyRecorder)
        async with Scheduler(registry, store=store, fire_timeout=10, lease_seconds=60) as scheduler:
            job = await scheduler.schedule_cron(
                "*/5 * * * *", app_id="app", prompt="report", output_channel="out"
            )
            await clock.advance(5 * 60)  # 15:35: delivered, then the "crash"
            assert store.crashed
            assert len(channel.keys) == 1
            await clock.advance(61)  # the lease expired: the run is made again
            assert len(channel.keys) == 2
            await clock.advance(4 * 60)  # 15:40: the next run, a new key
            assert len(channel.keys) == 3
    first, repeat, following = channel.keys
    assert first == repeat == run_key("app", job.job_id, at(2026, 3, 13, 15, 35))
    assert following == run_key("app", job.job_id, at(2026, 3, 13, 15, 40)) != first
