"""A job row whose data is not JSON at all (a torn write, a hand edit) costs only itself.

It is marked failed with the reason, kept with what was stored, and never stops the
scheduler from starting, listing, or running the jobs due with it. The rows are
corrupted by hand, through ``sqlite3``, in real files.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import anyio
import pytest

from digitorn_notify import (
    UNREADABLE_KEY,
    ChannelRegistry,
    FakeClock,
    JobRecord,
    MemoryStore,
    SQLiteStore,
    unreadable_data,
)
from digitorn_notify.scheduler import JobStatus, Scheduler, UnreadableJob
from tests.scheduler.conftest import APP, eventually, recorded

pytestmark = pytest.mark.anyio

TORN = '{"v": 1, "schedule": {"kind": "once", "at": "2026-03-13T15:35:00Z"'


def tear(path: Path, job_id: str) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute("UPDATE jobs SET data = ? WHERE job_id = ?", (TORN, job_id))
        conn.commit()
    finally:
        conn.close()


async def settle(scheduler: Scheduler) -> None:
    runner = scheduler._runner
    await eventually(lambda: runner._sleep_scope is not None and not runner.firing)
    await anyio.wait_all_tasks_blocked()


async def test_a_torn_row_does_not_stop_the_scheduler_from_starting_or_listing(
    registry: ChannelRegistry, clock: FakeClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "notify.db"
    async with SQLiteStore(path) as store:
        scheduler = Scheduler(registry, store=store)
        await scheduler.schedule_once("in 5m", app_id=APP, prompt="good", output_channel="rec")
        bad = await scheduler.schedule_once("in 5m", app_id=APP, prompt="bad", output_channel="rec")
    tear(path, bad.job_id)
    with caplog.at_level(logging.ERROR, "digitorn_notify.scheduler"):
        async with SQLiteStore(path) as store, Scheduler(registry, store=store) as scheduler:
            await settle(scheduler)
            listed = await scheduler.list(app_id=APP)
            status = await scheduler.status(bad.job_id, app_id=APP)
            await clock.advance(300)
            await settle(scheduler)
            raw = await store.get_job(bad.job_id)
    assert [p.message for p in recorded(registry)] == ["good"]
    assert len(listed) == 2
    assert isinstance(status, UnreadableJob)
    assert status.status is JobStatus.FAILED
    assert status.reason.startswith("stored data is not valid JSON (")
    assert status.to_summary()["last_error"] == f"cannot be restored: {status.reason}"
    assert f"job {bad.job_id} cannot be restored and is marked failed" in caplog.text
    # Kept for inspection, as stored, and never due again.
    assert raw is not None
    assert raw.next_run_at is None
    assert raw.data[UNREADABLE_KEY]["raw"] == TORN
    assert raw.data["status"] == "failed"
    # Marked once: the next start finds it failed already and says nothing.
    caplog.clear()
    with caplog.at_level(logging.ERROR, "digitorn_notify.scheduler"):
        async with SQLiteStore(path) as store, Scheduler(registry, store=store) as scheduler:
            await settle(scheduler)
            again = await scheduler.status(bad.job_id, app_id=APP)
            assert await store.get_job(bad.job_id) == raw
    assert isinstance(again, UnreadableJob)
    assert again.reason == status.reason
    assert "cannot be restored" not in caplog.text


async def test_a_torn_row_in_a_due_batch_never_holds_back_the_others(
    registry: ChannelRegistry, clock: FakeClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "notify.db"
    with caplog.at_level(logging.ERROR, "digitorn_notify.scheduler"):
        async with SQLiteStore(path) as store, Scheduler(registry, store=store) as scheduler:
            jobs = [
                await scheduler.schedule_once(
                    "in 5m", app_id=APP, prompt=f"p{n}", output_channel="rec"
                )
                for n in range(5)
            ]
            await settle(scheduler)
            tear(path, jobs[2].job_id)  # while it runs, as another process might
            await clock.advance(300)
            await settle(scheduler)
            statuses = [await scheduler.status(job.job_id, app_id=APP) for job in jobs]
            raw = await store.get_job(jobs[2].job_id)
            assert await store.next_due_at() is None  # nothing left due: the loop sleeps
    assert sorted(p.message for p in recorded(registry)) == ["p0", "p1", "p3", "p4"]
    assert [s.status for s in statuses] == [JobStatus.COMPLETED] * 2 + [JobStatus.FAILED] + [
        JobStatus.COMPLETED
    ] * 2
    assert isinstance(statuses[2], UnreadableJob)
    assert raw is not None
    assert (raw.lease_owner, raw.next_run_at) == (None, None)
    assert raw.data[UNREADABLE_KEY]["raw"] == TORN
    assert caplog.text.count("cannot be restored and is marked failed") == 1


async def test_the_same_rule_on_the_memory_store(
    registry: ChannelRegistry, clock: FakeClock
) -> None:
    # A memory store holds no JSON, but a record copied from another store may be
    # unreadable already: it is treated the same way.
    store = MemoryStore()
    async with Scheduler(registry, store=store) as scheduler:
        good = await scheduler.schedule_once("in 1m", app_id=APP, prompt="good", output_channel="rec")
        due = good.next_run_at
        await store.save_job(
            JobRecord("torn", APP, unreadable_data("stored data is not valid JSON (x)", TORN), due)
        )
        await clock.advance(60)
        [failed] = await scheduler.list(app_id=APP, status="failed")
        done = await scheduler.status(good.job_id, app_id=APP)
    assert isinstance(failed, UnreadableJob)
    assert failed.reason == "stored data is not valid JSON (x)"
    assert done.status is JobStatus.COMPLETED
    assert [p.message for p in recorded(registry)] == ["good"]
    kept = await store.get_job("torn")
    assert kept is not None
    assert kept.next_run_at is None
