"""The scheduler's engine: sleep until the earliest due job, lease what is due, fire it.

No tick. The runner keeps a :class:`DueIndex` of when each job it knows is next due
and sleeps on the injected clock until the earliest, inside a cancel scope that
:meth:`Runner.expect` cancels when an earlier job arrives. With nothing due it
sleeps without a deadline at all.

When it wakes, the *store* says what is due and leases it (``acquire_due_jobs``),
at most as many jobs as there are free run slots; the leased jobs run concurrently
(a helper task is spent only on a run that waits, see ``_fanout.py``). A job the
index expected but the store did not hand out is looked up: another process holds
it (look again when its lease expires), moved it, or finished it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Final

import anyio
import anyio.abc
import anyio.lowlevel
import attrs

from digitorn_notify._fanout import fan_out
from digitorn_notify.clock import Clock
from digitorn_notify.errors import StoreError
from digitorn_notify.scheduler._book import JobBook
from digitorn_notify.scheduler._firing import Firer, lease_margin, mark_unreadable
from digitorn_notify.scheduler._index import DueIndex
from digitorn_notify.scheduler._outcome import describe_error
from digitorn_notify.scheduler.jobs import JobStatus, ScheduledJob, UnreadableJob, job_from_record
from digitorn_notify.storage.protocols import JobRecord, JobStore

__all__ = ["Runner"]

logger = logging.getLogger("digitorn_notify.scheduler")

#: The index entry for "look at the store again" (never a valid job id).
_SYNC: Final = ""
_PURGE_EVERY: Final = timedelta(hours=1)
_BACKOFF_FIRST: Final = 1.0
_BACKOFF_MAX: Final = 60.0
_RESTORE_CHUNK: Final = 500
_FINISHED: Final = frozenset(status.value for status in JobStatus if status.finished)


@attrs.define
class Runner:
    """The loop behind a :class:`~digitorn_notify.scheduler.Scheduler`."""

    store: JobStore
    clock: Clock
    firer: Firer
    book: JobBook
    owner: str
    lease_seconds: float
    max_concurrent: int
    retention: timedelta | None
    sync_interval: float | None
    index: DueIndex = attrs.field(factory=DueIndex)
    #: Jobs this process has leased and is running.
    firing: set[str] = attrs.field(factory=set)
    _group: anyio.abc.TaskGroup | None = None
    _slot_freed: anyio.Event | None = None
    _sleep_scope: anyio.CancelScope | None = None
    _sleep_deadline: datetime | None = None
    _next_purge: datetime | None = None
    _next_sync: datetime | None = None

    # -- what the scheduler's API calls ---------------------------------------------------

    def expect(self, job_id: str, due: datetime) -> None:
        """Index ``job_id`` at ``due``, waking the loop if that is earlier than its sleep."""
        self.index.add(job_id, due)
        scope = self._sleep_scope
        if scope is not None and (self._sleep_deadline is None or due < self._sleep_deadline):
            scope.cancel()

    def forget(self, job_id: str) -> None:
        """Stop expecting ``job_id`` (re-planning the sleep if it was for this job)."""
        due = self.index.discard(job_id)
        scope = self._sleep_scope
        if scope is not None and due is not None and due == self._sleep_deadline:
            scope.cancel()

    def expired(self, job: ScheduledJob | UnreadableJob, now: datetime) -> bool:
        """Whether ``job`` finished longer than ``retention`` ago."""
        # A job that cannot be restored is never removed on its own: someone must look.
        return (
            self.retention is not None
            and isinstance(job, ScheduledJob)
            and job.status.finished
            and job.finished_at is not None
            and job.finished_at + self.retention <= now
        )

    async def purge_one(self, job_id: str, now: datetime) -> None:
        """Delete ``job_id`` if it is (still) expired."""
        # Checked again under the lock: the job may have been replaced since it was listed.
        await self.book.delete_if(job_id, lambda job: self.expired(job, now))

    # -- start -----------------------------------------------------------------------------

    async def restore(self) -> None:
        """Index every active job in the store; mark the unreadable ones failed.

        Jobs whose due time passed while nothing ran are indexed in the past, so the
        loop runs each of them at once, once.
        """
        self.index.clear()
        self.firing.clear()
        now = self.clock.now()
        self._next_purge = now + _PURGE_EVERY
        self._next_sync = None if self.sync_interval is None else now
        records = await self.store.list_jobs()
        for count, record in enumerate(records, 1):
            job = job_from_record(record)
            if isinstance(job, UnreadableJob):
                if record.next_run_at is not None or record.data.get("status") != "failed":
                    logger.error(
                        "job %s cannot be restored and is marked failed: %s",
                        record.job_id,
                        job.reason,
                        extra={"app_id": record.app_id, "job_id": record.job_id},
                    )
                    async with self.book.locks.hold(record.job_id):
                        await self.store.save_job(mark_unreadable(record, job))
            elif record.next_run_at is not None:
                # Whatever its status says: the store hands out what is due, and a run
                # of a job that is not active only makes it not due.
                self.index.add(record.job_id, record.next_run_at)
            elif self.expired(job, now):
                await self.purge_one(record.job_id, now)
            if count % _RESTORE_CHUNK == 0:
                await anyio.lowlevel.checkpoint()
        logger.info(
            "scheduler %s restored %d job(s), %d active",
            self.owner,
            len(records),
            len(self.index),
        )

    # -- the loop --------------------------------------------------------------------------

    async def run(self, group: anyio.abc.TaskGroup) -> None:
        """Fire due jobs until cancelled; runs are started in ``group``."""
        self._group = group
        self._slot_freed = anyio.Event()
        backoff = _BACKOFF_FIRST
        while True:
            if len(self.firing) >= self.max_concurrent:
                self._slot_freed = anyio.Event()
                await self._slot_freed.wait()
                continue
            now = self.clock.now()
            # Read before acquiring, so the guard is never later than the lease's end.
            guard = anyio.current_time() + self.lease_seconds - lease_margin(self.lease_seconds)
            free = self.max_concurrent - len(self.firing)
            try:
                records = await self.store.acquire_due_jobs(
                    now, owner=self.owner, lease_seconds=self.lease_seconds, limit=free
                )
                if records:
                    self._start(records, guard)
                if len(records) == free:
                    await anyio.lowlevel.checkpoint()
                    continue  # there may be more due: take them as slots allow
                await self._reconcile(now)
                if self._next_sync is not None and now >= self._next_sync:
                    await self._sync(now)
            except Exception as exc:  # neither a store outage nor a bug may stop the scheduler
                if isinstance(exc, StoreError | OSError):
                    # Not logger.exception: an outage is not a bug; its message says enough.
                    logger.error(  # noqa: TRY400
                        "scheduler store error (%s); retrying in %g s", describe_error(exc), backoff
                    )
                else:
                    logger.exception("scheduler loop error; retrying in %g s", backoff)
                await self.clock.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)
                continue
            backoff = _BACKOFF_FIRST
            if self._next_purge is not None and now >= self._next_purge:
                # Piggybacks on a wake-up that happened anyway: purging never wakes us.
                self._next_purge = now + _PURGE_EVERY
                group.start_soon(self._purge, name="digitorn_notify scheduler purge")
            await self._sleep()

    def _start(self, records: list[JobRecord], guard: float) -> None:
        for record in records:
            self.index.discard(record.job_id)
            self.firing.add(record.job_id)
        assert self._group is not None
        self._group.start_soon(self._run_batch, records, guard, name="digitorn_notify runs")

    async def _run_batch(self, records: list[JobRecord], guard: float) -> None:
        # The records were leased together, so their leases end together: one scope
        # stops them all in time (one per run would cost as much as a local delivery).
        with anyio.CancelScope(deadline=guard):
            await fan_out(records, lambda record: self._fire_one(record, guard))

    async def _fire_one(self, record: JobRecord, guard: float) -> None:
        job_id = record.job_id
        due: datetime | None = None
        try:
            due = await self.firer.fire(record, guard)
        except Exception:  # a bug or a store outage: the lease expires, the run is made again
            logger.exception("job %s: the scheduler failed to run it", job_id)
            # Look again when the lease expires, or nothing would wake an idle loop for it.
            due = record.lease_expires_at
        finally:
            self.firing.discard(job_id)
            if self._slot_freed is not None:
                self._slot_freed.set()
        if due is not None:
            self.expect(job_id, due)

    async def _reconcile(self, now: datetime) -> None:
        """Due jobs the store did not hand out: learn what became of them."""
        for job_id in self.index.pop_due(now):
            if job_id == _SYNC or job_id in self.firing:
                continue
            record = await self.store.get_job(job_id)
            if record is None or record.next_run_at is None:
                continue  # deleted, finished or paused elsewhere
            due = record.next_run_at
            if record.lease_expires_at is not None and record.lease_expires_at > now:
                # Another process runs it; look again when its lease would expire.
                due = max(due, record.lease_expires_at)
            self.index.add(job_id, due)

    async def _sync(self, now: datetime) -> None:
        """Learn the earliest due time in the store, which other processes may have set."""
        assert self.sync_interval is not None
        self._next_sync = now + timedelta(seconds=self.sync_interval)
        due = await self.store.next_due_at()
        if due is not None and due > now:
            self.index.add(_SYNC, due)

    async def _sleep(self) -> None:
        deadline = self.index.earliest()
        if self._next_sync is not None and (deadline is None or self._next_sync < deadline):
            deadline = self._next_sync
        # No await between reading the index and entering the scope: a job added
        # before this point is in the deadline, one added after cancels the scope.
        with anyio.CancelScope() as scope:
            self._sleep_scope, self._sleep_deadline = scope, deadline
            try:
                if deadline is None:
                    await anyio.sleep_forever()
                else:
                    await self.clock.sleep_until(deadline)
            finally:
                self._sleep_scope = self._sleep_deadline = None

    async def _purge(self) -> None:
        try:
            now = self.clock.now()
            for record in await self.store.list_jobs():
                # Most jobs are active: look at the raw status before reading the job.
                if record.next_run_at is None and record.data.get("status") in _FINISHED:
                    await self.purge_one(record.job_id, now)
        except Exception as exc:  # housekeeping: tried again an hour later
            logger.error("purging finished jobs failed: %s", describe_error(exc))  # noqa: TRY400
