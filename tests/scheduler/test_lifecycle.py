"""Managing jobs: cancel, pause, resume, status, list, delete, retention."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import anyio
import pytest

from digitorn_notify import ChannelRegistry, FakeClock, JobRecord, MemoryStore
from digitorn_notify.errors import InvalidJobError, JobNotFoundError, SchedulerError
from digitorn_notify.scheduler import (
    JobStatus,
    ScheduledJob,
    Scheduler,
    UnreadableJob,
    jobs_response,
)
from tests.scheduler.conftest import APP, T0, Tools, eventually, recorded

pytestmark = pytest.mark.anyio


async def test_cancel_stops_future_runs_and_is_idempotent(
    registry: ChannelRegistry, clock: FakeClock
) -> None:
    async with Scheduler(registry) as scheduler:
        job = await scheduler.schedule_cron(
            "*/5 * * * *", app_id=APP, prompt="p", output_channel="rec"
        )
        await clock.advance(300)
        cancelled = await scheduler.cancel(job.job_id, app_id=APP)
        assert (cancelled.status, cancelled.next_run_at) == (JobStatus.CANCELLED, None)
        assert cancelled.finished_at == T0 + timedelta(minutes=5)
        assert cancelled.run_count == 1
        assert await scheduler.cancel(job.job_id, app_id=APP) == cancelled
        assert await scheduler.status(job.job_id, app_id=APP) == cancelled
        await clock.advance(3600)
    assert len(recorded(registry)) == 1


async def test_pause_and_resume(registry: ChannelRegistry, clock: FakeClock) -> None:
    async with Scheduler(registry) as scheduler:
        job = await scheduler.schedule_cron(
            "0 * * * *", app_id=APP, prompt="p", output_channel="rec"
        )
        paused = await scheduler.pause(job.job_id, app_id=APP)
        assert (paused.status, paused.next_run_at) == (JobStatus.PAUSED, None)
        assert await scheduler.pause(job.job_id, app_id=APP) == paused
        await clock.advance(timedelta(hours=3, minutes=10))
        assert recorded(registry) == []
        resumed = await scheduler.resume(job.job_id, app_id=APP)
        # Runs that fell while paused are not made: the next is the next from now.
        assert resumed.status is JobStatus.ACTIVE
        assert resumed.next_run_at == T0.replace(hour=19, minute=0)
        assert await scheduler.resume(job.job_id, app_id=APP) == resumed
        await clock.advance(timedelta(hours=1))
    assert [p.metadata["timestamp"] for p in recorded(registry)] == ["2026-03-13T19:00:00Z"]


async def test_resumed_one_shot_that_passed_runs_at_once(
    registry: ChannelRegistry, clock: FakeClock
) -> None:
    async with Scheduler(registry) as scheduler:
        job = await scheduler.schedule_once("in 5m", app_id=APP, prompt="p", output_channel="rec")
        await scheduler.pause(job.job_id, app_id=APP)
        await clock.advance(600)
        await scheduler.resume(job.job_id, app_id=APP)
        await clock.advance(0)
    [payload] = recorded(registry)
    assert payload.metadata["scheduled_for"] == "2026-03-13T15:35:00Z"
    assert payload.metadata["timestamp"] == "2026-03-13T15:40:00Z"


async def test_finished_jobs_cannot_be_changed(registry: ChannelRegistry, clock: FakeClock) -> None:
    async with Scheduler(registry) as scheduler:
        job = await scheduler.schedule_once("in 1m", app_id=APP, prompt="p", output_channel="rec")
        await clock.advance(60)
        for action in (scheduler.cancel, scheduler.pause, scheduler.resume):
            with pytest.raises(
                SchedulerError, match=f"job '{job.job_id}' is completed; only active or paused"
            ):
                await action(job.job_id, app_id=APP)
        cancelled = await scheduler.schedule_once("in 1m", app_id=APP, prompt="p")
        await scheduler.cancel(cancelled.job_id, app_id=APP)
        with pytest.raises(SchedulerError, match="is cancelled"):
            await scheduler.resume(cancelled.job_id, app_id=APP)


async def test_unknown_jobs_and_other_apps_jobs_are_not_found(registry: ChannelRegistry) -> None:
    scheduler = Scheduler(registry)
    job = await scheduler.remember("x", "in 5m", app_id=APP)
    for action in (
        scheduler.cancel,
        scheduler.pause,
        scheduler.resume,
        scheduler.status,
        scheduler.delete,
    ):
        with pytest.raises(JobNotFoundError, match="no scheduled job 'nope'"):
            await action("nope", app_id=APP)
        with pytest.raises(
            JobNotFoundError, match=f"no scheduled job '{job.job_id}' in app 'other'"
        ):
            await action(job.job_id, app_id="other")
    assert (await scheduler.status(job.job_id, app_id=APP)).status is JobStatus.ACTIVE
    assert isinstance(JobNotFoundError("x"), LookupError)


async def test_list_filters_and_orders(registry: ChannelRegistry, clock: FakeClock) -> None:
    scheduler = Scheduler(registry)
    first = await scheduler.remember("first", "in 5m", app_id=APP, session_id="s1")
    await clock.advance(1)
    second = await scheduler.remember("second", "every day at 9am", app_id=APP, session_id="s2")
    await clock.advance(1)
    other = await scheduler.remember("other app", "in 5m", app_id="other")
    await scheduler.pause(second.job_id, app_id=APP)
    assert [j.job_id for j in await scheduler.list(app_id=APP)] == [first.job_id, second.job_id]
    assert [j.job_id for j in await scheduler.list(app_id="other")] == [other.job_id]
    assert [j.job_id for j in await scheduler.list(status="paused", app_id=APP)] == [second.job_id]
    assert [j.job_id for j in await scheduler.list(status=JobStatus.ACTIVE, app_id=APP)] == [
        first.job_id
    ]
    assert [j.job_id for j in await scheduler.list(session_id="s1", app_id=APP)] == [first.job_id]
    with pytest.raises(InvalidJobError) as caught:
        await scheduler.list(status="done", app_id=APP)
    assert caught.value.path == "status"
    assert caught.value.reason.startswith("unknown status 'done' (accepted: active, paused")
    listing = await scheduler.list(app_id=APP)
    assert (listing.total, len(listing), listing.count("active"), listing.count("paused")) == (
        2,
        2,
        1,
        1,
    )
    response = listing.to_dict()
    assert response == jobs_response(listing)
    assert (response["total"], response["active"], response["paused"]) == (2, 1, 1)
    assert response["jobs"] == [first.to_summary(), listing[1].to_summary()]


async def test_delete_removes_any_job(registry: ChannelRegistry, clock: FakeClock) -> None:
    store = MemoryStore()
    async with Scheduler(registry, store=store) as scheduler:
        job = await scheduler.schedule_once("in 5m", app_id=APP, prompt="p", output_channel="rec")
        await clock.advance(0)
        await scheduler.delete(job.job_id, app_id=APP)
        await clock.advance(0)
        assert clock.pending_sleepers == 0
        await clock.advance(600)
    assert await store.list_jobs() == []
    assert recorded(registry) == []


async def test_finished_jobs_are_kept_for_the_retention_period(
    registry: ChannelRegistry, clock: FakeClock
) -> None:
    store = MemoryStore()
    async with Scheduler(registry, store=store, retention=timedelta(days=2)) as scheduler:
        done = await scheduler.schedule_once("in 1m", app_id=APP, prompt="p", output_channel="rec")
        cancelled = await scheduler.schedule_cron("0 9 * * *", app_id=APP, prompt="p")
        await scheduler.cancel(cancelled.job_id, app_id=APP)
        daily = await scheduler.schedule_cron(
            "0 9 * * *", app_id=APP, prompt="p", output_channel="rec"
        )
        await clock.advance(60)
        await clock.advance(timedelta(days=1))
        listed = {j.job_id: j.status for j in await scheduler.list(app_id=APP)}
        assert listed == {
            done.job_id: JobStatus.COMPLETED,
            cancelled.job_id: JobStatus.CANCELLED,
            daily.job_id: JobStatus.ACTIVE,
        }
        await clock.advance(timedelta(days=1))
        assert [j.job_id for j in await scheduler.list(app_id=APP)] == [daily.job_id]
    assert [r.job_id for r in await store.list_jobs()] == [daily.job_id]


async def test_retention_is_also_applied_by_the_running_scheduler(
    registry: ChannelRegistry, clock: FakeClock
) -> None:
    store = MemoryStore()
    async with Scheduler(registry, store=store, retention=timedelta(hours=1)) as scheduler:
        await scheduler.schedule_once("in 1m", app_id=APP, prompt="p", output_channel="rec")
        await scheduler.schedule_cron(
            "*/30 * * * *", app_id=APP, prompt="keep", output_channel="rec"
        )
        # The hourly purge piggybacks on wake-ups that happen anyway (the cron job's).
        await clock.advance(timedelta(hours=3))
        await eventually(lambda: len(store._jobs) == 1)


async def test_retention_none_keeps_everything(registry: ChannelRegistry, clock: FakeClock) -> None:
    async with Scheduler(registry, retention=None) as scheduler:
        await scheduler.schedule_once("in 1m", app_id=APP, prompt="p", output_channel="rec")
        await clock.advance(timedelta(days=365))
        assert len(await scheduler.list(status="completed", app_id=APP)) == 1


async def test_cancel_during_a_run_wins_over_the_runs_result(
    registry: ChannelRegistry, clock: FakeClock, tools: Tools
) -> None:
    started, finish = anyio.Event(), anyio.Event()

    async def slow(params: Mapping[str, Any]) -> str:
        started.set()
        await finish.wait()
        return "done"

    tools.behaviour["slow"] = slow
    async with Scheduler(registry, invoker=tools) as scheduler:
        job = await scheduler.schedule_cron(
            "*/5 * * * *",
            app_id=APP,
            action_type="tool_call",
            tool_name="slow",
            output_channel="rec",
        )
        paused_job = await scheduler.schedule_cron(
            "*/5 * * * *",
            app_id=APP,
            action_type="tool_call",
            tool_name="slow",
            output_channel="rec",
        )
        await clock.advance(300)
        await started.wait()
        assert (await scheduler.cancel(job.job_id, app_id=APP)).status is JobStatus.CANCELLED
        assert (await scheduler.pause(paused_job.job_id, app_id=APP)).status is JobStatus.PAUSED
        finish.set()
        await eventually(lambda: not scheduler._runner.firing)
        final = await scheduler.status(job.job_id, app_id=APP)
        final_paused = await scheduler.status(paused_job.job_id, app_id=APP)
        await clock.advance(3600)
    assert isinstance(final, ScheduledJob)
    assert isinstance(final_paused, ScheduledJob)
    # The run finished and counts; the cancel and the pause made meanwhile stand.
    assert (final.status, final.run_count, final.next_run_at) == (JobStatus.CANCELLED, 1, None)
    assert (final_paused.status, final_paused.run_count, final_paused.next_run_at) == (
        JobStatus.PAUSED,
        1,
        None,
    )
    assert len(recorded(registry)) == 2


async def test_replacing_a_job_during_its_run_keeps_the_replacement(
    registry: ChannelRegistry, clock: FakeClock, tools: Tools
) -> None:
    started, finish = anyio.Event(), anyio.Event()

    async def slow(params: Mapping[str, Any]) -> str:
        started.set()
        await finish.wait()
        return "old"

    tools.behaviour["slow"] = slow
    async with Scheduler(registry, invoker=tools) as scheduler:
        await scheduler.schedule_once(
            "in 1m",
            app_id=APP,
            action_type="tool_call",
            tool_name="slow",
            job_id="report",
            output_channel="rec",
        )
        await clock.advance(60)
        await started.wait()
        new = await scheduler.schedule_cron(
            "0 9 * * *",
            app_id=APP,
            prompt="new",
            job_id="report",
            replace_existing=True,
            output_channel="rec",
        )
        finish.set()
        await eventually(lambda: not scheduler._runner.firing)
        assert await scheduler.status("report", app_id=APP) == new
        await clock.advance_to(T0.replace(day=14, hour=9))
    assert [p.message for p in recorded(registry)] == ["old", "new"]


async def test_a_job_that_cannot_be_restored_is_shown_failed_and_can_be_deleted(
    registry: ChannelRegistry,
) -> None:
    store = MemoryStore()
    await store.save_job(
        JobRecord("broken", APP, {"v": 1, "schedule": {"kind": "lunar"}}, next_run_at=T0)
    )
    scheduler = Scheduler(registry, store=store)
    [listed] = await scheduler.list(status="failed", app_id=APP)
    assert isinstance(listed, UnreadableJob)
    assert "schedule kind 'lunar'" in listed.last_error
    with pytest.raises(SchedulerError, match=r"cannot be restored .*; delete\(\) it"):
        await scheduler.cancel("broken", app_id=APP)
    await scheduler.delete("broken", app_id=APP)
    assert await store.list_jobs() == []
