"""SQLiteStore on its batching executor: real threads, writes grouped in transactions.

The executor's own rules (queueing, leading, cancellation at every step) are tested
on their own in test_batching.py; here they are checked end to end with SQLite.

Each call must still behave as if it ran alone: its own result, its own error, in
order; a cancelled call that had not started does not happen, one that had started
completes.
"""

from __future__ import annotations

import random
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from digitorn_notify import JobRecord, SQLiteStore, StoreError

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class CountingStore(SQLiteStore):
    """Records the size of every batch (the only thing looked at from inside)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.batches: list[int] = []

    def _execute(self, batch: list[Any]) -> None:
        self.batches.append(len(batch))
        super()._execute(batch)


def job(job_id: str, minutes: int | None = 0, **data: Any) -> JobRecord:
    due = None if minutes is None else T0 + timedelta(minutes=minutes)
    return JobRecord(job_id, "app", data, next_run_at=due)


async def test_concurrent_writes_share_batches_and_each_gets_its_result(tmp_path: Path) -> None:
    async with CountingStore(tmp_path / "s.db") as store:
        for n in range(50):
            await store.save_job(job(f"j{n:02}"))
        leased = await store.acquire_due_jobs(T0, owner="me", lease_seconds=60, limit=50)
        store.batches.clear()
        outcomes: dict[str, bool] = {}

        async def release(record: JobRecord, owner: str) -> None:
            outcomes[record.job_id] = await store.release_job(record, owner=owner)

        async with anyio.create_task_group() as group:
            for n, record in enumerate(leased):
                # Every fifth is released by someone who does not hold the lease.
                group.start_soon(release, record, "me" if n % 5 else "someone else")
        assert len(store.batches) < 10  # 50 calls, not 50 thread hops
        assert sum(store.batches) == 50
        assert outcomes == {f"j{n:02}": bool(n % 5) for n in range(50)}
        still_leased = [r.job_id for r in await store.list_jobs() if r.lease_owner == "me"]
        assert still_leased == [f"j{n:02}" for n in range(0, 50, 5)]


async def test_a_failing_statement_fails_alone(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.db") as store:
        errors: dict[str, str] = {}

        async def save(record: JobRecord) -> None:
            try:
                await store.save_job(record)
            except StoreError as exc:
                errors[record.job_id] = str(exc)

        async with anyio.create_task_group() as group:
            for n in range(20):
                # app_id is NOT NULL: this one record is refused by SQLite itself.
                bad = JobRecord("bad", None, {}) if n == 7 else None  # type: ignore[arg-type]
                group.start_soon(save, bad or job(f"j{n:02}"))
        assert list(errors) == ["bad"]
        assert "NOT NULL constraint failed: jobs.app_id" in errors["bad"]
        assert len(await store.list_jobs()) == 19


async def test_queued_calls_run_in_the_order_they_were_made(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.db") as store:
        reads: dict[int, str] = {}

        async def read_after(n: int) -> None:
            record = await store.get_job("shared")
            assert record is not None
            reads[n] = record.data["label"]

        async with anyio.create_task_group() as group:
            group.start_soon(store._run, slow(0.1, "SELECT 1"), "read")
            await anyio.wait_all_tasks_blocked()
            for n in range(5):
                # Queued one at a time behind the slow call: a write, then a read.
                group.start_soon(store.save_job, job("shared", label=f"v{n}"))
                await anyio.wait_all_tasks_blocked()
                group.start_soon(read_after, n)
                await anyio.wait_all_tasks_blocked()
        assert reads == {n: f"v{n}" for n in range(5)}


def slow(seconds: float, statement: str) -> Any:
    """A call that keeps its worker thread busy, then runs ``statement``."""

    def run(conn: sqlite3.Connection) -> None:
        time.sleep(seconds)
        conn.execute(statement)

    return run


async def test_a_call_cancelled_while_queued_does_not_happen(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.db") as store:
        await store.save_job(job("a"))
        async with anyio.create_task_group() as group:
            group.start_soon(store._run, slow(0.2, "SELECT 1"), "write")
            await anyio.sleep(0.05)  # the slow call is in its thread
            with anyio.move_on_after(0.05) as scope:
                await store.delete_job("a")  # queued behind it, then cancelled
            assert scope.cancelled_caught
            group.start_soon(store.save_job, job("b"))
        assert [r.job_id for r in await store.list_jobs()] == ["a", "b"]


async def test_a_call_cancelled_inside_its_batch_still_completes(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.db") as store:
        await store.save_job(job("a"))
        start = time.monotonic()
        with anyio.move_on_after(0.05):
            await store._run(slow(0.3, "DELETE FROM jobs WHERE job_id = 'a'"), "write")
        # The cancellation waited for the statement, which ran: nothing is half-done.
        assert time.monotonic() - start >= 0.3
        assert await store.get_job("a") is None


async def test_many_cancelled_waiters_do_not_stall_the_others(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.db") as store:
        done: list[str] = []

        async def save(job_id: str) -> None:
            await store.save_job(job(job_id))
            done.append(job_id)

        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                for n in range(30):
                    group.start_soon(save, f"kept{n:02}")
                    with anyio.CancelScope() as scope:
                        scope.cancel()
                        await store.save_job(job(f"dropped{n:02}"))
        assert sorted(done) == [f"kept{n:02}" for n in range(30)]
        ids = {r.job_id for r in await store.list_jobs()}
        assert {f"kept{n:02}" for n in range(30)} <= ids


async def test_a_cancelled_caller_whose_call_ran_gets_its_result(tmp_path: Path) -> None:
    # A lease taken (or a buffer drained) must reach the caller, as it did when each
    # call was its own thread hop: the cancellation lands at the caller's next wait.
    async with SQLiteStore(tmp_path / "s.db") as store:
        await store.save_job(job("due"))
        leased: list[JobRecord] = []

        async def acquire() -> None:
            with anyio.move_on_after(0.35):  # while its batch is under way
                leased.extend(await store.acquire_due_jobs(T0, owner="me", lease_seconds=60))

        async with anyio.create_task_group() as group:
            group.start_soon(store._run, slow(0.2, "SELECT 1"), "read")
            await anyio.sleep(0.05)
            group.start_soon(store._run, slow(0.3, "SELECT 1"), "read")
            group.start_soon(acquire)  # same batch as the second slow call
        assert [r.job_id for r in leased] == ["due"]


async def test_aclose_waits_for_the_calls_made_before_it(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    async with anyio.create_task_group() as group:
        for n in range(10):
            group.start_soon(store.save_job, job(f"j{n}"))
        await anyio.lowlevel.checkpoint()
        group.start_soon(store.aclose)
    assert store._conn is None  # closed after the saves, not reopened by them
    async with SQLiteStore(tmp_path / "s.db") as again:
        assert len(await again.list_jobs()) == 10


@pytest.mark.parametrize("seed", range(40))
async def test_cancelling_callers_at_any_moment_never_stalls_the_store(
    tmp_path: Path, seed: int
) -> None:
    rnd = random.Random(seed)
    async with SQLiteStore(tmp_path / "s.db") as store:
        with anyio.fail_after(5):
            async with anyio.create_task_group() as group:
                for n in range(rnd.randint(3, 40)):
                    if rnd.random() < 0.5:
                        group.start_soon(store.save_job, job(f"j{n}"))
                    else:
                        group.start_soon(store.get_job, f"j{n}")
                    if rnd.random() < 0.3:
                        await anyio.lowlevel.checkpoint()
                for _ in range(rnd.randint(0, 6)):
                    await anyio.lowlevel.checkpoint()
                group.cancel_scope.cancel()
            # Whatever was dropped or ran, the store still answers at once.
            await store.save_job(job("after"))
            assert await store.get_job("after") is not None
            assert store._executor.pending == 0
