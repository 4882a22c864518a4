"""Reading and changing jobs in the store, one change at a time per job.

The store has no compare-and-swap, so every read-change-save of a job by this
process happens under the job's lock (:class:`JobLocks`). A change to a job that
is running (here or in another process) keeps the lease but marks its owner as
"changed while running": the run's release, which checks the owner, then fails,
and the run reads the job and merges the change instead of overwriting it. Runs
that nobody disturbed save their result in one store call. The state transitions themselves
(:func:`cancelled`, :func:`paused`, :func:`resumed`) are pure functions.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime

import attrs

from digitorn_notify.errors import InvalidJobError, JobNotFoundError, SchedulerError
from digitorn_notify.scheduler._locks import JobLocks, changed_mark
from digitorn_notify.scheduler._timing import first_run_at
from digitorn_notify.scheduler.jobs import (
    JobStatus,
    ScheduledJob,
    UnreadableJob,
    job_from_record,
    job_to_record,
)
from digitorn_notify.storage.protocols import JobRecord, JobStore

__all__ = ["JobBook", "cancelled", "new_job_id", "paused", "resumed"]


def new_job_id() -> str:
    """12 random hex digits, the spec's job id shape."""
    return secrets.token_hex(6)


def _refuse_finished(job: ScheduledJob, verb: str) -> None:
    if job.status.finished:
        raise SchedulerError(
            f"job {job.job_id!r} is {job.status.value}; only active or paused jobs can be {verb}"
        )


def cancelled(job: ScheduledJob, now: datetime) -> ScheduledJob:
    """``job`` cancelled (unchanged if it already is)."""
    if job.status is JobStatus.CANCELLED:
        return job
    _refuse_finished(job, "cancelled")
    return attrs.evolve(job, status=JobStatus.CANCELLED, next_run_at=None, finished_at=now)


def paused(job: ScheduledJob, now: datetime) -> ScheduledJob:
    """``job`` paused (unchanged if it already is)."""
    if job.status is JobStatus.PAUSED:
        return job
    _refuse_finished(job, "paused")
    return attrs.evolve(job, status=JobStatus.PAUSED, next_run_at=None)


def resumed(job: ScheduledJob, now: datetime) -> ScheduledJob:
    """``job`` active again, due next from ``now`` (unchanged if it is active)."""
    if job.status is JobStatus.ACTIVE:
        return job
    _refuse_finished(job, "resumed")
    return attrs.evolve(job, status=JobStatus.ACTIVE, next_run_at=first_run_at(job.schedule, now))


@attrs.define
class JobBook:
    """The store's jobs, changed under per-job locks."""

    store: JobStore
    locks: JobLocks

    async def record(self, job_id: str, app_id: str | None) -> JobRecord:
        """The record of ``job_id`` (in ``app_id`` when given), or JobNotFoundError."""
        record = await self.store.get_job(job_id) if isinstance(job_id, str) else None
        if record is None or (app_id is not None and record.app_id != app_id):
            where = f" in app {app_id!r}" if app_id is not None else ""
            raise JobNotFoundError(f"no scheduled job {job_id!r}{where}")
        return record

    async def create(
        self, job: ScheduledJob, *, id_given: bool, replace_existing: bool
    ) -> tuple[ScheduledJob, JobRecord]:
        """Save the new ``job`` (and return it with its record); a generated id that is
        taken is drawn again."""
        async with self.locks.hold(job.job_id):
            existing = await self.store.get_job(job.job_id)
            while existing is not None and not id_given:
                # 48 random bits make this rare, not impossible.
                job = attrs.evolve(job, job_id=new_job_id())
                existing = await self.store.get_job(job.job_id)
            record = job_to_record(job)
            if existing is not None:
                if not replace_existing:
                    raise InvalidJobError(
                        f"a job with id {job.job_id!r} already exists; pass"
                        " replace_existing=True to replace it",
                        path="job_id",
                    )
                if existing.app_id != job.app_id:
                    raise InvalidJobError(
                        f"job id {job.job_id!r} belongs to another app; choose another id",
                        path="job_id",
                    )
                # A run in progress keeps its lease, marked: it finds the replacement
                # when it saves its result, and leaves it as it is.
                record = attrs.evolve(
                    record,
                    lease_owner=changed_mark(existing.lease_owner),
                    lease_expires_at=existing.lease_expires_at,
                )
            await self.store.save_job(record)
        return job, record

    async def change(
        self,
        job_id: str,
        app_id: str | None,
        change: Callable[[ScheduledJob, datetime], ScheduledJob],
        now: datetime,
    ) -> ScheduledJob:
        """Apply ``change`` to the stored job and save the result (if it differs)."""
        async with self.locks.hold(job_id):
            record = await self.record(job_id, app_id)
            job = job_from_record(record)
            if isinstance(job, UnreadableJob):
                raise SchedulerError(
                    f"job {job_id!r} cannot be restored ({job.reason}); delete() it"
                )
            updated = change(job, now)
            if updated is not job:
                # A run in progress keeps its lease, marked: it merges this change when
                # it saves its result.
                await self.store.save_job(
                    job_to_record(
                        updated,
                        lease_owner=changed_mark(record.lease_owner),
                        lease_expires_at=record.lease_expires_at,
                    )
                )
        return updated

    async def delete(self, job_id: str, app_id: str | None) -> None:
        """Remove the job, or JobNotFoundError."""
        async with self.locks.hold(job_id):
            await self.record(job_id, app_id)
            await self.store.delete_job(job_id)

    async def delete_if(
        self, job_id: str, condition: Callable[[ScheduledJob | UnreadableJob], bool]
    ) -> None:
        """Remove the job if ``condition`` holds for it as it is now stored."""
        async with self.locks.hold(job_id):
            record = await self.store.get_job(job_id)
            if record is not None and condition(job_from_record(record)):
                await self.store.delete_job(job_id)
