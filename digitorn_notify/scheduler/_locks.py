"""Who may change a job: per-job locks in this process, and leases across processes.

The store has no compare-and-swap, so within a process every read-change-save of
a job takes the job's :class:`JobLocks` lock. Across processes, a running job is
leased to the process running it; a change made to it meanwhile (in any process)
keeps the lease but marks its owner with :data:`CHANGED_WHILE_RUNNING`, so that
the runner's release (which checks the owner) fails and it merges the change
rather than overwriting it.
"""

from __future__ import annotations

from collections import deque
from typing import Final

import anyio

__all__ = ["CHANGED_WHILE_RUNNING", "JobLocks", "changed_mark"]

#: The prefix a lease owner gets when its job is changed while it runs.
CHANGED_WHILE_RUNNING: Final = "changed-while-running:"


def changed_mark(lease_owner: str | None) -> str | None:
    """The lease owner to save with a change: the holder's name, marked as changed."""
    if lease_owner is None or lease_owner.startswith(CHANGED_WHILE_RUNNING):
        return lease_owner
    return CHANGED_WHILE_RUNNING + lease_owner


class JobLocks:
    """One mutex per job id, held while this process reads, changes and saves a job.

    The store has no compare-and-swap, so two coroutines of one process changing
    the same job (a cancel while a run is being saved) take turns here. Taking a
    free lock costs a dict insert and no checkpoint; only a contended one waits.
    """

    __slots__ = ("_held",)

    def __init__(self) -> None:
        # job id -> the events of the tasks waiting for it, in arrival order (None
        # until someone waits: most holds are never contended).
        self._held: dict[str, deque[anyio.Event] | None] = {}

    def hold(self, job_id: str) -> _Hold:
        """``async with locks.hold(job_id):`` the job is ours until the block ends."""
        return _Hold(self, job_id)

    async def _wait(self, job_id: str) -> None:
        waiters = self._held[job_id]
        if waiters is None:
            waiters = self._held[job_id] = deque()
        event = anyio.Event()
        waiters.append(event)
        try:
            await event.wait()
        except BaseException:
            if event.is_set():
                self._release(job_id)  # handed over just as we were cancelled: pass it on
            else:
                waiters.remove(event)
            raise

    def _release(self, job_id: str) -> None:
        waiters = self._held[job_id]
        if waiters:
            waiters.popleft().set()  # ownership passes straight to the next waiter
        else:
            del self._held[job_id]


class _Hold:
    __slots__ = ("_job_id", "_locks")

    def __init__(self, locks: JobLocks, job_id: str) -> None:
        self._locks = locks
        self._job_id = job_id

    async def __aenter__(self) -> None:
        held = self._locks._held
        if self._job_id in held:
            await self._locks._wait(self._job_id)
        else:
            held[self._job_id] = None  # free: taken without a checkpoint

    async def __aexit__(self, *exc_info: object) -> None:
        self._locks._release(self._job_id)
