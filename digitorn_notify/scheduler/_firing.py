"""Firing one leased job: plan the run, act, deliver, and save what happened.

The scheduler hands :meth:`Firer.fire` a record it has leased from the store (the
lease is the saved "this process is running it" state). The run is planned
(catch-up, misfire grace), the action runs under ``fire_timeout``, its outcome is
delivered through the job's output channel, and the updated job is saved as the
lease is released. A change someone made meanwhile (a cancel, a pause, a
replacement) is merged rather than overwritten. If the run is cancelled (the
scheduler is shutting down) the lease is released with the job unchanged, so the
run is made again at the next start rather than lost.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Final

import anyio
import attrs

from digitorn_notify.channels.context import delivery_key, run_key
from digitorn_notify.channels.registry import ChannelRegistry
from digitorn_notify.clock import Clock
from digitorn_notify.host import ActionInvoker, PromptSink
from digitorn_notify.payload import ChannelPayload, DeliveryResult
from digitorn_notify.scheduler._locks import CHANGED_WHILE_RUNNING, JobLocks
from digitorn_notify.scheduler._outcome import (
    Outcome,
    build_payload,
    describe_error,
    run_action,
    run_metadata,
)
from digitorn_notify.scheduler._timing import RunPlan, plan_run
from digitorn_notify.scheduler.jobs import (
    ActionType,
    JobStatus,
    ScheduledJob,
    UnreadableJob,
    iso,
    job_from_record,
    job_to_record,
    patch_record,
)
from digitorn_notify.storage.protocols import JobRecord, JobStore

__all__ = ["READY_WINDOW", "Firer", "ReadyJobs", "lease_margin", "mark_unreadable"]

logger = logging.getLogger("digitorn_notify.scheduler")

_MAX_LEASE_MARGIN: Final = 5.0
#: Jobs due within this are kept ready to run (see :class:`ReadyJobs`).
READY_WINDOW: Final = timedelta(seconds=60)
_READY_MAX: Final = 50_000
#: The outcome of a ``notification`` job's action: there is none.
_NOTHING_RUN: Final = Outcome()


def lease_margin(lease_seconds: float) -> float:
    """How long before its lease ends a run is stopped: 5 s, or a tenth of a short lease."""
    return min(_MAX_LEASE_MARGIN, lease_seconds / 10)


def mark_unreadable(record: JobRecord, job: UnreadableJob) -> JobRecord:
    """``record`` marked failed with the reason, never due again, data otherwise kept."""
    data = dict(record.data)
    data["status"] = JobStatus.FAILED.value
    data["last_error"] = job.last_error
    return attrs.evolve(record, data=data, next_run_at=None)


class ReadyJobs:
    """Jobs about to run, kept as built so a run need not read them back.

    Reading a job back from its record is a sixth of a run's cost. A job created
    (or re-armed) due within :data:`READY_WINDOW` is kept here with the data and
    due time it was saved with, and a run uses it only if the record it leased still
    has exactly that data and due time (another writer, another process, a change:
    all make it read the record instead). Jobs due later are not kept, so idle jobs
    cost no memory here; the number kept is bounded.
    """

    __slots__ = ("_jobs",)

    def __init__(self) -> None:
        self._jobs: dict[str, tuple[dict[str, Any], datetime | None, ScheduledJob]] = {}

    def keep(self, record: JobRecord, job: ScheduledJob, now: datetime) -> None:
        """Keep ``job``, saved as ``record``, if it is due soon."""
        due = record.next_run_at
        if due is None or due - now > READY_WINDOW:
            return
        if len(self._jobs) >= _READY_MAX:
            self._jobs.clear()  # a flood of near-due jobs: start over rather than grow
        self._jobs[record.job_id] = (record.data, due, job)

    def forget(self, job_id: str) -> None:
        """Drop ``job_id`` (changed or deleted)."""
        self._jobs.pop(job_id, None)

    def take(self, record: JobRecord) -> ScheduledJob | UnreadableJob:
        """The job ``record`` holds: the kept one if it still matches, else read back."""
        kept = self._jobs.pop(record.job_id, None)
        if kept is not None and kept[1] == record.next_run_at and kept[0] == record.data:
            return kept[2]
        return job_from_record(record)


@attrs.define
class Firer:
    """Everything a run needs; :meth:`fire` makes one."""

    store: JobStore
    registry: ChannelRegistry
    clock: Clock
    locks: JobLocks
    owner: str
    invoker: ActionInvoker | None
    prompt_sink: PromptSink | None
    fire_timeout: float
    ready: ReadyJobs = attrs.field(factory=ReadyJobs)

    async def fire(self, record: JobRecord, guard: float) -> datetime | None:
        """Run the leased ``record``; return when it is next due (``None``: not due).

        ``guard`` is the ``anyio.current_time()`` at which the caller's cancel scope
        stops the run because the lease is about to expire (a run must never outlive
        its lease, or another process could take the job over and run it again).
        """
        now = self.clock.now()
        job = self.ready.take(record)
        if isinstance(job, UnreadableJob):
            logger.error(
                "job %s cannot be restored and is marked failed: %s",
                record.job_id,
                job.reason,
                extra={"app_id": record.app_id, "job_id": record.job_id},
            )
            await self._release_as_is(mark_unreadable(record, job))
            return None
        if job.status is not JobStatus.ACTIVE or record.next_run_at is None:
            # Due but not active: a writer left next_run_at set; make it not due.
            return await self.release(record, job, {"next_run_at": None})
        plan = plan_run(job.schedule, record.next_run_at, now, job.misfire_grace)
        if not plan.run:
            return await self.release(record, job, _skipped(job, plan, now))
        metadata = run_metadata(job, plan, now)
        outcome: Outcome | None = None
        try:
            if job.action_type is ActionType.NOTIFICATION:
                outcome = _NOTHING_RUN  # nothing to run, time out, or pay a scope for
            else:
                outcome = await self._run_action(job, metadata)
            # Keyed by the run (job and due time), not at random: a run repeated after
            # a crash (its lease expired before it was saved) carries the same key.
            with delivery_key(run_key(job.app_id, job.job_id, plan.scheduled_for)):
                delivery = await self.registry.deliver(
                    job.output_channel,
                    job.app_id,
                    self._report(job, outcome, metadata),
                    job.output_config,
                    session_id=job.session_id,
                )
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                if outcome is not None and anyio.current_time() >= guard:
                    # The lease guard cut the delivery short: the action ran, so the
                    # run is recorded (and not made again elsewhere).
                    await self.release(record, job, _after_run(job, plan, now, outcome, None))
                else:
                    # Shutting down mid-run: give the job back unchanged, so the run is
                    # made again at the next start rather than after the lease expires.
                    await self._release_as_is(record)
            raise
        return await self.release(record, job, _after_run(job, plan, now, outcome, delivery))

    async def _run_action(self, job: ScheduledJob, metadata: dict[str, Any]) -> Outcome:
        with anyio.move_on_after(self.fire_timeout) as scope:
            return await run_action(
                job, invoker=self.invoker, prompt_sink=self.prompt_sink, metadata=metadata
            )
        assert scope.cancelled_caught
        return Outcome(error=f"the action did not finish within {self.fire_timeout:g} s")

    @staticmethod
    def _report(job: ScheduledJob, outcome: Outcome, metadata: dict[str, Any]) -> ChannelPayload:
        """The payload reporting ``outcome`` (a failed action is logged too)."""
        if outcome.error is not None:
            logger.warning(
                "job %s: %s action failed (%s); reporting through %s",
                job.job_id,
                job.action_type.value,
                outcome.error.partition(":")[0],  # the exception type only: no secrets
                job.output_channel,
                extra={"app_id": job.app_id, "job_id": job.job_id},
            )
        return build_payload(job, outcome, metadata)

    async def release(
        self, acquired: JobRecord, job: ScheduledJob, changes: dict[str, Any]
    ) -> datetime | None:
        """Save ``job`` with ``changes`` and drop the lease; return when it is next due.

        One store call when nobody changed the job during the run. A change made
        meanwhile (a cancel, a pause, a replacement, here or in another process) has
        marked the lease, so the release fails; the job is then read and the change
        merged rather than overwritten.
        """
        job_id = acquired.job_id
        async with self.locks.hold(job_id):
            if await self.store.release_job(patch_record(acquired, changes), owner=self.owner):
                status = changes.get("status", job.status)
                due = changes.get("next_run_at", acquired.next_run_at)
                return due if status is JobStatus.ACTIVE else None
            current = await self.store.get_job(job_id)
            if current is None:
                logger.info("job %s was deleted while it ran", job_id, extra={"job_id": job_id})
                return None
            if current.lease_owner != CHANGED_WHILE_RUNNING + self.owner:
                logger.warning(
                    "job %s: lease lost while it ran (taken by another process after"
                    " lease_seconds); its result is not saved",
                    job_id,
                    extra={"job_id": job_id},
                )
                return None
            final, record = _merge(attrs.evolve(job, **changes), current)
            await self.store.save_job(record)  # unleased: the run is over
        if final is None or final.status is not JobStatus.ACTIVE:
            return None
        return final.next_run_at

    async def _release_as_is(self, record: JobRecord) -> None:
        try:
            if await self.store.release_job(record, owner=self.owner):
                return
            async with self.locks.hold(record.job_id):
                # Changed while running: the change stands, only the lease goes.
                current = await self.store.get_job(record.job_id)
                if (
                    current is not None
                    and current.lease_owner == CHANGED_WHILE_RUNNING + self.owner
                ):
                    await self.store.save_job(
                        attrs.evolve(current, lease_owner=None, lease_expires_at=None)
                    )
        except Exception as exc:  # the lease then expires; the job is not lost
            logger.error(  # noqa: TRY400 - an outage is not a bug; its message says enough
                "job %s: could not release its lease (%s)",
                record.job_id,
                describe_error(exc),
                extra={"job_id": record.job_id},
            )


def _skipped(job: ScheduledJob, plan: RunPlan, now: datetime) -> dict[str, Any]:
    late = plan.late_by.total_seconds()
    error = (
        f"run due at {iso(plan.scheduled_for)} skipped: {late:g} s late, more than"
        f" misfire_grace ({job.misfire_grace:g} s)"
    )
    logger.warning(
        "job %s: %s", job.job_id, error, extra={"app_id": job.app_id, "job_id": job.job_id}
    )
    changes: dict[str, Any] = {
        "skipped_runs": job.skipped_runs + 1 + plan.coalesced,
        "last_error": error,
        "next_run_at": plan.next_run_at,
    }
    if plan.next_run_at is None:
        changes.update(status=JobStatus.FAILED, finished_at=now)
    return changes


def _after_run(
    job: ScheduledJob,
    plan: RunPlan,
    now: datetime,
    outcome: Outcome,
    delivery: DeliveryResult | None,
) -> dict[str, Any]:
    """The changes a run makes to its job."""
    run_count = job.run_count + 1
    failed = outcome.error is not None
    last_error = outcome.error
    if delivery is None or not delivery.success:
        # Recorded, but not counted as the job failing: the channel's health (and its
        # fallback to llm_notification) is where delivery trouble is handled.
        reason = "it did not finish within the lease" if delivery is None else delivery.error
        logger.warning(
            "job %s: delivery through %s failed (%s)",
            job.job_id,
            job.output_channel,
            reason,
            extra={"app_id": job.app_id, "job_id": job.job_id},
        )
        last_error = last_error or f"delivery through {job.output_channel} failed: {reason}"
    changes: dict[str, Any] = {
        "run_count": run_count,
        "last_run_at": now,
        "last_error": last_error,
        "coalesced_runs": job.coalesced_runs + plan.coalesced,
        "failure_count": job.failure_count + failed,
        "consecutive_failures": job.consecutive_failures + 1 if failed else 0,
        "next_run_at": plan.next_run_at,
    }
    if plan.next_run_at is None:
        changes.update(status=JobStatus.FAILED if failed else JobStatus.COMPLETED, finished_at=now)
    elif job.max_runs and run_count >= job.max_runs:
        changes.update(status=JobStatus.COMPLETED, finished_at=now, next_run_at=None)
    return changes


def _merge(ours: ScheduledJob, current: JobRecord) -> tuple[ScheduledJob | None, JobRecord]:
    """Our run's result combined with what was saved while it ran."""
    theirs = job_from_record(current)
    if isinstance(theirs, UnreadableJob) or theirs.created_at != ours.created_at:
        # Replaced (replace_existing) while running: the new job stands as it is.
        unleased = attrs.evolve(current, lease_owner=None, lease_expires_at=None)
        return (None if isinstance(theirs, UnreadableJob) else theirs), unleased
    if theirs.status is JobStatus.CANCELLED:
        ours = attrs.evolve(
            ours, status=JobStatus.CANCELLED, next_run_at=None, finished_at=theirs.finished_at
        )
    elif theirs.status is JobStatus.PAUSED and ours.status is JobStatus.ACTIVE:
        ours = attrs.evolve(ours, status=JobStatus.PAUSED, next_run_at=None)
    elif (
        theirs.status is JobStatus.ACTIVE
        and ours.status is JobStatus.ACTIVE
        and theirs.next_run_at is not None
        and ours.next_run_at is not None
    ):
        # Paused and resumed during the run: keep the due time the resume chose if later.
        ours = attrs.evolve(ours, next_run_at=max(ours.next_run_at, theirs.next_run_at))
    return ours, job_to_record(ours)
