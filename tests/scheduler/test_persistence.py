"""Persistence and recovery with a real SQLite file: restart, catch-up, unreadable jobs."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest

from digitorn_notify import (
    ChannelRegistry,
    FakeClock,
    JobRecord,
    MemoryStore,
    SQLiteStore,
    StoreError,
)
from digitorn_notify.errors import SchedulerError
from digitorn_notify.scheduler import JobStatus, ScheduledJob, Scheduler, UnreadableJob
from tests.scheduler.conftest import APP, T0, Tools, eventually, recorded

pytestmark = pytest.mark.anyio


async def settle(scheduler: Scheduler) -> None:
    """Wait until the loop sleeps with no run in progress (SQLite work runs in threads)."""
    runner = scheduler._runner
    await eventually(lambda: runner._sleep_scope is not None and not runner.firing)
    await anyio.wait_all_tasks_blocked()


async def stored(path: Path, job_id: str) -> ScheduledJob:
    async with SQLiteStore(path) as store:
        job = await Scheduler(ChannelRegistry(load_plugins=False), store=store).status(
            job_id, app_id=APP
        )
    assert isinstance(job, ScheduledJob)
    return job


async def test_every_change_is_saved_before_the_call_returns(
    registry: ChannelRegistry, tmp_path: Path
) -> None:
    path = tmp_path / "notify.db"
    async with SQLiteStore(path) as store:
        scheduler = Scheduler(registry, store=store)
        job = await scheduler.schedule_cron("0 9 * * *", app_id=APP, prompt="p", label="daily")
        assert await stored(path, job.job_id) == job
        paused = await scheduler.pause(job.job_id, app_id=APP)
        assert await stored(path, job.job_id) == paused
        cancelled = await scheduler.cancel(job.job_id, app_id=APP)
        assert await stored(path, job.job_id) == cancelled


async def test_jobs_survive_a_restart_and_fire_on_time(
    registry: ChannelRegistry, clock: FakeClock, tmp_path: Path
) -> None:
    path = tmp_path / "notify.db"
    async with SQLiteStore(path) as store:
        scheduler = Scheduler(registry, store=store)
        once = await scheduler.schedule_once(
            "in 2h", app_id=APP, prompt="once", output_channel="rec"
        )
        daily = await scheduler.schedule_cron(
            "0 17 * * *", app_id=APP, prompt="daily", output_channel="rec"
        )
    await clock.advance(3600)  # nothing runs: no scheduler
    async with SQLiteStore(path) as store, Scheduler(registry, store=store) as scheduler:
        await settle(scheduler)
        assert clock.next_deadline() == T0 + timedelta(hours=1, minutes=30)  # 17:00
        # Step exactly to each due time: FakeClock.advance cannot see the work
        # SQLite does in threads, so one long step could run a job late (in fake time).
        await clock.advance(timedelta(minutes=30))
        await settle(scheduler)
        await clock.advance(timedelta(minutes=30))
        await settle(scheduler)
    assert [(p.message, p.metadata["timestamp"]) for p in recorded(registry)] == [
        ("daily", "2026-03-13T17:00:00Z"),
        ("once", "2026-03-13T17:30:00Z"),
    ]
    assert (await stored(path, once.job_id)).status is JobStatus.COMPLETED
    assert (await stored(path, daily.job_id)).next_run_at == datetime(2026, 3, 14, 17, tzinfo=UTC)


async def test_fifty_missed_runs_are_caught_up_once(
    registry: ChannelRegistry, clock: FakeClock, tmp_path: Path
) -> None:
    path = tmp_path / "notify.db"
    async with SQLiteStore(path) as store:
        job = await Scheduler(registry, store=store).schedule_cron(
            "0 * * * *", app_id=APP, prompt="hourly", output_channel="rec"
        )
    await clock.advance(timedelta(hours=50))  # down from 15:30 to 17:30 two days later
    async with SQLiteStore(path) as store, Scheduler(registry, store=store) as scheduler:
        await settle(scheduler)
        [payload] = recorded(registry)
        after = await scheduler.status(job.job_id, app_id=APP)
    assert payload.metadata["coalesced_runs"] == 49
    assert payload.metadata["scheduled_for"] == "2026-03-15T17:00:00Z"
    assert payload.metadata["timestamp"] == "2026-03-15T17:30:00Z"
    assert isinstance(after, ScheduledJob)
    assert (after.run_count, after.coalesced_runs) == (1, 49)
    assert after.next_run_at == datetime(2026, 3, 15, 18, tzinfo=UTC)


async def test_misfire_grace_skips_runs_that_are_too_late(
    registry: ChannelRegistry, clock: FakeClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "notify.db"
    async with SQLiteStore(path) as store:
        scheduler = Scheduler(registry, store=store)
        hourly = await scheduler.schedule_cron(
            "0 * * * *", app_id=APP, prompt="h", misfire_grace=600, output_channel="rec"
        )
        once = await scheduler.schedule_once(
            "in 5m", app_id=APP, prompt="o", misfire_grace=60, output_channel="rec"
        )
        tolerant = await scheduler.schedule_once(
            "in 5m", app_id=APP, prompt="t", output_channel="rec"
        )
    await clock.advance(timedelta(hours=3, minutes=20))
    with caplog.at_level(logging.WARNING, "digitorn_notify.scheduler"):
        async with SQLiteStore(path) as store, Scheduler(registry, store=store) as scheduler:
            await settle(scheduler)
            states = {
                job.job_id: await scheduler.status(job.job_id, app_id=APP)
                for job in (hourly, once, tolerant)
            }
    assert [p.message for p in recorded(registry)] == ["t"]  # no grace: run however late
    skipped_hourly = states[hourly.job_id]
    skipped_once = states[once.job_id]
    assert isinstance(skipped_hourly, ScheduledJob)
    assert isinstance(skipped_once, ScheduledJob)
    assert (skipped_hourly.status, skipped_hourly.run_count, skipped_hourly.skipped_runs) == (
        JobStatus.ACTIVE,
        0,
        3,
    )
    assert skipped_hourly.next_run_at == datetime(2026, 3, 13, 19, tzinfo=UTC)
    assert skipped_hourly.last_error == (
        "run due at 2026-03-13T18:00:00Z skipped: 3000 s late, more than misfire_grace (600 s)"
    )
    assert (skipped_once.status, skipped_once.skipped_runs) == (JobStatus.FAILED, 1)
    assert "skipped" in caplog.text


async def test_unreadable_jobs_are_marked_failed_never_deleted(
    registry: ChannelRegistry, clock: FakeClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "notify.db"
    async with SQLiteStore(path) as store:
        scheduler = Scheduler(registry, store=store)
        await scheduler.schedule_once("in 5m", app_id=APP, prompt="good", output_channel="rec")
        bad = await scheduler.schedule_once("in 5m", app_id=APP, prompt="bad", output_channel="rec")
    conn = sqlite3.connect(path)
    data = json.loads(
        conn.execute("SELECT data FROM jobs WHERE job_id = ?", (bad.job_id,)).fetchone()[0]
    )
    data["schedule"]["at"] = "not a time"
    conn.execute("UPDATE jobs SET data = ? WHERE job_id = ?", (json.dumps(data), bad.job_id))
    conn.commit()
    conn.close()
    with caplog.at_level(logging.ERROR, "digitorn_notify.scheduler"):
        async with SQLiteStore(path) as store, Scheduler(registry, store=store) as scheduler:
            await settle(scheduler)
            await clock.advance(300)
            await settle(scheduler)
            [failed] = await scheduler.list(status="failed", app_id=APP)
            raw = await store.get_job(bad.job_id)
    assert [p.message for p in recorded(registry)] == ["good"]
    assert isinstance(failed, UnreadableJob)
    assert failed.job_id == bad.job_id
    assert "Invalid isoformat string: 'not a time'" in failed.reason
    assert f"job {bad.job_id} cannot be restored and is marked failed" in caplog.text
    assert raw is not None
    assert raw.next_run_at is None  # never due again
    assert raw.data["schedule"]["at"] == "not a time"  # the data is kept as it was
    assert raw.data["status"] == "failed"
    assert raw.data["last_error"] == failed.last_error


async def test_a_job_acquired_in_a_newer_format_is_failed_not_run(
    registry: ChannelRegistry, clock: FakeClock
) -> None:
    store = MemoryStore()
    async with Scheduler(registry, store=store) as scheduler:
        await store.save_job(
            JobRecord("future", APP, {"v": 99}, next_run_at=T0 + timedelta(minutes=1))
        )
        await scheduler.remember("wake up", "in 1m", app_id=APP, output_channel="rec")
        await clock.advance(60)
        [failed] = await scheduler.list(status="failed", app_id=APP)
    assert isinstance(failed, UnreadableJob)
    assert "a newer version of digitorn_notify wrote it" in failed.reason
    assert (await store.get_job("future")).next_run_at is None  # type: ignore[union-attr]
    assert [p.message for p in recorded(registry)] == ["wake up"]


async def test_a_run_cut_short_by_shutdown_is_made_again_at_the_next_start(
    registry: ChannelRegistry, clock: FakeClock, tools: Tools, tmp_path: Path
) -> None:
    path = tmp_path / "notify.db"
    started = anyio.Event()

    async def slow(params: Mapping[str, Any]) -> str:
        started.set()
        await anyio.sleep_forever()
        return "never"

    tools.behaviour["report"] = slow
    async with SQLiteStore(path) as store:
        async with Scheduler(registry, store=store, invoker=tools) as scheduler:
            job = await scheduler.schedule_once(
                "in 1m",
                app_id=APP,
                action_type="tool_call",
                tool_name="report",
                output_channel="rec",
            )
            await clock.advance(60)
            await started.wait()
        record = await store.get_job(job.job_id)
    assert record is not None
    assert (record.lease_owner, record.next_run_at) == (None, T0 + timedelta(minutes=1))
    assert (await stored(path, job.job_id)).run_count == 0
    tools.behaviour.clear()
    async with (
        SQLiteStore(path) as store,
        Scheduler(registry, store=store, invoker=tools) as scheduler,
    ):
        await settle(scheduler)
    assert [name for name, _ in tools.calls] == ["report", "report"]
    done = await stored(path, job.job_id)
    assert (done.status, done.run_count) == (JobStatus.COMPLETED, 1)


class FlakyStore(MemoryStore):
    """A MemoryStore whose acquire fails the first ``failures`` times."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def acquire_due_jobs(self, now: datetime, **kwargs: Any) -> list[JobRecord]:
        if self.failures:
            self.failures -= 1
            raise StoreError("database is locked")
        return await super().acquire_due_jobs(now, **kwargs)


async def test_a_store_outage_is_retried_with_backoff(
    registry: ChannelRegistry, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    store = FlakyStore(failures=3)
    with caplog.at_level(logging.ERROR, "digitorn_notify.scheduler"):
        async with Scheduler(registry, store=store) as scheduler:
            await scheduler.remember("x", "in 1m", app_id=APP, output_channel="rec")
            await clock.advance(60)
    # Failed at start-up, retried after 1, 2 and 4 s, then slept until the job.
    assert clock.sleeps == [1.0, 2.0, 4.0, 53.0]
    assert [p.message for p in recorded(registry)] == ["x"]
    assert caplog.text.count("scheduler store error (StoreError: database is locked)") == 3


class BuggyStore(MemoryStore):
    """A store whose get_job has a bug (a KeyError, not a StoreError) once."""

    def __init__(self) -> None:
        super().__init__()
        self.bugs = 1

    async def get_job(self, job_id: str) -> JobRecord | None:
        if self.bugs and job_id == "probe":
            self.bugs -= 1
            raise KeyError("oops")
        return await super().get_job(job_id)


async def test_a_bug_is_logged_as_one_and_the_loop_goes_on(
    registry: ChannelRegistry, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    store = BuggyStore()
    async with Scheduler(registry, store=store) as scheduler:
        # A job the index expects but another writer finished: reconciling reads it.
        await scheduler.remember("probe", "in 1m", app_id=APP, output_channel="rec")
        probe = (await store.list_jobs())[0]
        await store.delete_job(probe.job_id)
        await store.save_job(attrs.evolve(probe, job_id="probe"))
        scheduler._runner.expect("probe", T0 + timedelta(seconds=30))
        with caplog.at_level(logging.ERROR, "digitorn_notify.scheduler"):
            await clock.advance(30)
            await clock.advance(1)
        await clock.advance(60)
    assert "scheduler loop error; retrying in 1 s" in caplog.text
    assert "KeyError" in caplog.text  # with the traceback: it is a bug
    assert [p.message for p in recorded(registry)] == ["probe"]


async def test_an_exception_in_the_host_body_propagates_unchanged(
    registry: ChannelRegistry,
) -> None:
    scheduler = Scheduler(registry)

    async def body() -> None:
        async with scheduler:
            assert scheduler.running
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        await body()
    assert not scheduler.running
    with pytest.raises(SchedulerError, match="not running"):
        await scheduler.__aexit__(None, None, None)
