"""The less travelled paths: locks, leases cut or lost, other writers, other processes."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, ClassVar

import anyio
import attrs
import pytest

from digitorn_notify import (
    BaseOutputChannel,
    ChannelPayload,
    ChannelRegistry,
    DeliveryResult,
    FakeClock,
    MemoryStore,
)
from digitorn_notify.scheduler import JobStatus, ScheduledJob, Scheduler
from digitorn_notify.scheduler._locks import JobLocks
from digitorn_notify.scheduler.jobs import job_to_record
from tests.scheduler.conftest import APP, T0, Tools, eventually, recorded

pytestmark = pytest.mark.anyio


async def test_job_locks_take_turns_and_survive_a_cancelled_waiter() -> None:
    locks = JobLocks()
    order: list[str] = []

    async def hold(name: str, wait: anyio.Event | None = None) -> None:
        async with locks.hold("job"):
            order.append(f"{name} in")
            if wait is not None:
                await wait.wait()
            order.append(f"{name} out")

    gate = anyio.Event()
    async with anyio.create_task_group() as group:
        group.start_soon(hold, "first", gate)
        await anyio.wait_all_tasks_blocked()
        with anyio.CancelScope() as doomed:
            group.start_soon(hold, "second")
            await anyio.wait_all_tasks_blocked()
            doomed.cancel()
        cancelled = anyio.CancelScope()

        async def impatient() -> None:
            with cancelled:
                await hold("impatient")

        group.start_soon(impatient)
        await anyio.wait_all_tasks_blocked()
        cancelled.cancel()  # gives up while waiting
        await anyio.wait_all_tasks_blocked()
        group.start_soon(hold, "third")
        await anyio.wait_all_tasks_blocked()
        gate.set()
    assert order == ["first in", "first out", "second in", "second out", "third in", "third out"]
    assert locks._held == {}  # nothing left behind
    async with locks.hold("job"):  # and free again
        pass


class Hangs(BaseOutputChannel):
    CHANNEL_ID: ClassVar[str] = "hangs"
    CHANNEL_NAME: ClassVar[str] = "Hangs"
    CHANNEL_VERSION: ClassVar[str] = "1.0.0"

    async def deliver(
        self, app_id: str, payload: ChannelPayload, config: dict[str, Any]
    ) -> DeliveryResult:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")


async def test_a_delivery_that_would_outlive_the_lease_is_cut_and_the_run_recorded(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    async with ChannelRegistry(clock=clock, load_plugins=False) as registry:
        registry.register_type(Hangs)
        await registry.deploy_app(APP, {"stuck": {"type": "hangs", "delivery_timeout": 60}})
        store = MemoryStore()
        # The lease (1 s) ends long before the channel's own timeout (60 s).
        async with Scheduler(
            registry, store=store, fire_timeout=0.5, lease_seconds=1.0
        ) as scheduler:
            job = await scheduler.remember("x", "in 1m", app_id=APP, output_channel="stuck")
            with caplog.at_level(logging.WARNING, "digitorn_notify.scheduler"):
                await clock.advance(60)
                await eventually(lambda: not scheduler._runner.firing)
            done = await scheduler.status(job.job_id, app_id=APP)
        record = await store.get_job(job.job_id)
    assert isinstance(done, ScheduledJob)
    # Recorded as run (the action happened), not handed back to be run again.
    assert (done.status, done.run_count) == (JobStatus.COMPLETED, 1)
    assert done.last_error == "delivery through stuck failed: it did not finish within the lease"
    assert record is not None
    assert record.lease_owner is None


async def test_a_job_deleted_during_its_run_stays_deleted(
    registry: ChannelRegistry, clock: FakeClock, tools: Tools
) -> None:
    started, finish = anyio.Event(), anyio.Event()

    async def slow(params: Mapping[str, Any]) -> str:
        started.set()
        await finish.wait()
        return "done"

    tools.behaviour["slow"] = slow
    store = MemoryStore()
    async with Scheduler(registry, store=store, invoker=tools) as scheduler:
        job = await scheduler.schedule_cron(
            "* * * * *", app_id=APP, action_type="tool_call", tool_name="slow", output_channel="rec"
        )
        await clock.advance(60)
        await started.wait()
        await scheduler.delete(job.job_id, app_id=APP)
        finish.set()
        await eventually(lambda: not scheduler._runner.firing)
        await clock.advance(600)
    assert await store.list_jobs() == []
    assert len(tools.calls) == 1


async def test_a_lease_taken_over_during_a_run_keeps_the_other_processs_result(
    registry: ChannelRegistry, clock: FakeClock, tools: Tools, caplog: pytest.LogCaptureFixture
) -> None:
    started, finish = anyio.Event(), anyio.Event()

    async def slow(params: Mapping[str, Any]) -> str:
        started.set()
        await finish.wait()
        return "done"

    tools.behaviour["slow"] = slow
    store = MemoryStore()
    async with Scheduler(registry, store=store, invoker=tools) as scheduler:
        job = await scheduler.schedule_once(
            "in 1m", app_id=APP, action_type="tool_call", tool_name="slow", output_channel="rec"
        )
        await clock.advance(60)
        await started.wait()
        held = await store.get_job(job.job_id)
        assert held is not None
        await store.save_job(attrs.evolve(held, lease_owner="another-process"))
        with caplog.at_level(logging.WARNING, "digitorn_notify.scheduler"):
            finish.set()
            await eventually(lambda: not scheduler._runner.firing)
    assert f"job {job.job_id}: lease lost while it ran" in caplog.text
    after = await store.get_job(job.job_id)
    assert after is not None
    assert after.lease_owner == "another-process"
    assert "run_count" not in after.data  # this process's result was not saved


async def test_a_due_job_that_is_not_active_is_made_not_due(
    registry: ChannelRegistry, clock: FakeClock
) -> None:
    store = MemoryStore()
    scheduler = Scheduler(registry, store=store)
    job = await scheduler.remember("x", "in 1m", app_id=APP, output_channel="rec")
    # A writer (an old version, a hand edit) paused it but left it due.
    paused = attrs.evolve(job, status=JobStatus.PAUSED)
    await store.save_job(job_to_record(paused))
    async with scheduler:
        await clock.advance(120)
        assert recorded(registry) == []
    record = await store.get_job(job.job_id)
    assert record is not None
    assert (record.next_run_at, record.data["status"]) == (None, "paused")


async def test_pause_and_resume_during_a_run_keep_the_later_due_time(
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
        await clock.advance(300)  # 15:35
        await started.wait()
        await scheduler.pause(job.job_id, app_id=APP)
        await clock.advance(600)  # 15:45, still running
        resumed = await scheduler.resume(job.job_id, app_id=APP)
        assert resumed.next_run_at == T0 + timedelta(minutes=20)
        finish.set()
        await eventually(lambda: not scheduler._runner.firing)
        after = await scheduler.status(job.job_id, app_id=APP)
    assert isinstance(after, ScheduledJob)
    assert (after.status, after.run_count) == (JobStatus.ACTIVE, 1)
    assert after.next_run_at == T0 + timedelta(minutes=20)  # not 15:40, which had passed


async def test_sync_interval_finds_jobs_other_processes_added(
    registry: ChannelRegistry, clock: FakeClock
) -> None:
    store = MemoryStore()
    other_process = Scheduler(registry, store=store)  # not running: only writes the store
    async with Scheduler(registry, store=store, sync_interval=60) as scheduler:
        await clock.advance(0)
        await other_process.remember(
            "from elsewhere", "in 90 seconds", app_id=APP, output_channel="rec"
        )
        await clock.advance(60)  # the sync: learns the job is due at 15:31:30
        assert clock.next_deadline() == T0 + timedelta(seconds=90)
        await clock.advance(30)
        assert [p.message for p in recorded(registry)] == ["from elsewhere"]
        assert scheduler.sync_interval == 60


async def test_without_sync_interval_a_job_added_elsewhere_waits_for_a_wake_up(
    registry: ChannelRegistry, clock: FakeClock
) -> None:
    store = MemoryStore()
    other_process = Scheduler(registry, store=store)
    async with Scheduler(registry, store=store) as scheduler:
        await scheduler.remember("mine", "in 5m", app_id=APP, output_channel="rec")
        await other_process.remember("theirs", "in 90 seconds", app_id=APP, output_channel="rec")
        await clock.advance(300)
    # Found when the scheduler woke for its own job: late, but run, and run once.
    assert sorted((p.message, p.metadata["timestamp"]) for p in recorded(registry)) == [
        ("mine", "2026-03-13T15:35:00Z"),
        ("theirs", "2026-03-13T15:35:00Z"),
    ]


async def test_a_job_leased_elsewhere_is_looked_at_again_when_the_lease_ends(
    registry: ChannelRegistry, clock: FakeClock
) -> None:
    store = MemoryStore()
    async with Scheduler(registry, store=store) as scheduler:
        job = await scheduler.remember("x", "in 1m", app_id=APP, output_channel="rec")
        await clock.advance(0)
        # Another process takes the job at its due time, then dies holding the lease.
        await clock.advance_to(T0 + timedelta(seconds=59))
        taken = await store.acquire_due_jobs(
            T0 + timedelta(minutes=1), owner="crashed", lease_seconds=30
        )
        assert [r.job_id for r in taken] == [job.job_id]
        await clock.advance(1)
        assert recorded(registry) == []
        assert clock.next_deadline() == T0 + timedelta(minutes=1, seconds=30)
        await clock.advance(30)
    [payload] = recorded(registry)
    assert payload.metadata["timestamp"] == "2026-03-13T15:31:30Z"
    assert payload.metadata["scheduled_for"] == "2026-03-13T15:31:00Z"


async def test_a_job_due_soon_is_kept_ready_but_the_store_has_the_last_word(
    registry: ChannelRegistry, clock: FakeClock
) -> None:
    store = MemoryStore()
    async with Scheduler(registry, store=store) as scheduler:
        soon = await scheduler.remember("soon", "in 30 seconds", app_id=APP, output_channel="rec")
        edited = await scheduler.remember(
            "edited", "in 30 seconds", app_id=APP, output_channel="rec"
        )
        later = await scheduler.remember("later", "in 2 hours", app_id=APP, output_channel="rec")
        kept = scheduler._ready._jobs
        assert set(kept) == {soon.job_id, edited.job_id}  # a job due in 2 hours is not kept
        # Another writer changes one behind this process's back: the run must see it.
        record = await store.get_job(edited.job_id)
        assert record is not None
        await store.save_job(
            attrs.evolve(record, data={**record.data, "prompt": "changed elsewhere"})
        )
        await clock.advance(30)
        assert sorted(p.message for p in recorded(registry)) == ["changed elsewhere", "soon"]
        assert kept == {}
        await scheduler.cancel(later.job_id, app_id=APP)


async def test_kept_jobs_are_bounded_and_forgotten_on_change(
    registry: ChannelRegistry, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from digitorn_notify.scheduler import _firing

    monkeypatch.setattr(_firing, "_READY_MAX", 3)
    scheduler = Scheduler(registry)
    jobs = [await scheduler.remember(f"r{n}", "in 10 seconds", app_id=APP) for n in range(4)]
    assert list(scheduler._ready._jobs) == [jobs[3].job_id]  # full at the 4th: started over
    await scheduler.pause(jobs[3].job_id, app_id=APP)
    assert scheduler._ready._jobs == {}


class CountingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    async def get_job(self, job_id: str) -> Any:
        self.calls.append("get_job")
        return await super().get_job(job_id)

    async def release_job(self, job: Any, *, owner: str) -> bool:
        self.calls.append("release_job")
        return await super().release_job(job, owner=owner)

    async def save_job(self, job: Any) -> None:
        self.calls.append("save_job")
        await super().save_job(job)


async def test_an_undisturbed_run_is_saved_in_one_store_call(
    registry: ChannelRegistry, clock: FakeClock
) -> None:
    store = CountingStore()
    async with Scheduler(registry, store=store) as scheduler:
        await scheduler.remember("x", "in 1m", app_id=APP, output_channel="rec")
        await clock.advance(0)
        store.calls.clear()
        await clock.advance(60)
    assert store.calls == ["release_job"]


async def test_a_cancel_from_another_process_during_a_run_stands(
    registry: ChannelRegistry, clock: FakeClock, tools: Tools
) -> None:
    started, finish = anyio.Event(), anyio.Event()

    async def slow(params: Mapping[str, Any]) -> str:
        started.set()
        await finish.wait()
        return "done"

    tools.behaviour["slow"] = slow
    store = MemoryStore()
    other_process = Scheduler(registry, store=store)  # another owner on the same store
    async with Scheduler(registry, store=store, invoker=tools) as scheduler:
        job = await scheduler.schedule_cron(
            "*/5 * * * *",
            app_id=APP,
            action_type="tool_call",
            tool_name="slow",
            output_channel="rec",
        )
        await clock.advance(300)
        await started.wait()
        await other_process.cancel(job.job_id, app_id=APP)
        held = await store.get_job(job.job_id)
        assert held is not None
        assert held.lease_owner == f"changed-while-running:{scheduler.owner}"
        finish.set()
        await eventually(lambda: not scheduler._runner.firing)
        after = await scheduler.status(job.job_id, app_id=APP)
        await clock.advance(3600)
    assert isinstance(after, ScheduledJob)
    assert (after.status, after.run_count, after.next_run_at) == (JobStatus.CANCELLED, 1, None)
    record = await store.get_job(job.job_id)
    assert record is not None
    assert (record.lease_owner, record.lease_expires_at) == (None, None)
    assert len(recorded(registry)) == 1


async def test_shutdown_after_a_change_during_a_run_leaves_the_change_unleased(
    registry: ChannelRegistry, clock: FakeClock, tools: Tools
) -> None:
    started = anyio.Event()

    async def hangs(params: Mapping[str, Any]) -> None:
        started.set()
        await anyio.sleep_forever()

    tools.behaviour["hangs"] = hangs
    store = MemoryStore()
    async with Scheduler(registry, store=store, invoker=tools) as scheduler:
        job = await scheduler.schedule_once(
            "in 1m", app_id=APP, action_type="tool_call", tool_name="hangs", job_id="report"
        )
        await clock.advance(60)
        await started.wait()
        replacement = await scheduler.schedule_cron(
            "0 9 * * *", app_id=APP, prompt="new", job_id="report", replace_existing=True
        )
    record = await store.get_job(job.job_id)
    assert record is not None
    assert (record.lease_owner, record.next_run_at) == (None, replacement.next_run_at)
