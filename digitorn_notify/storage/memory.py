"""``MemoryStore``: every storage protocol in process memory (the default).

Nothing survives a restart and nothing is shared between processes; within one
process it has the same semantics as the persistent stores (the conformance suite
runs against it too): records' data go through JSON on the way in and out, so data
SQLite would refuse is refused here too, and a caller mutating a record it saved or
loaded does not change what is stored.
"""

from __future__ import annotations

import bisect
import heapq
import json
from datetime import datetime, timedelta
from typing import Any

import attrs

from digitorn_notify.errors import StoreError
from digitorn_notify.storage.protocols import BufferedNotification, JobRecord, WatcherRecord

__all__ = ["MemoryStore"]


def _visible_to(entry: BufferedNotification, session_id: str | None) -> bool:
    return session_id is None or entry.session_id is None or entry.session_id == session_id


def _frozen(data: dict[str, Any]) -> str:
    try:
        return json.dumps(data, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"record data is not JSON-serialisable: {exc}") from None


def _thaw(text: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(text)
    return data


#: The data of a stored job record (the real data is kept as JSON text beside it).
_EMPTY: dict[str, Any] = {}


class MemoryStore:
    """In-memory :class:`JobStore`, :class:`WatcherStore` and :class:`NotificationBuffer`."""

    def __init__(self) -> None:
        # Jobs are kept without their data, which lives beside them as JSON text
        # (see the module docstring).
        self._jobs: dict[str, JobRecord] = {}
        self._job_data: dict[str, str] = {}
        # (next_run_at, job_id) of every due-able job, so acquiring k due jobs costs
        # O(k log n), not a sort of every job. Entries go stale when a job's due time
        # changes or it is deleted; they are dropped when they reach the top. Every
        # job with a next_run_at has an entry for that time.
        self._due: list[tuple[datetime, str]] = []
        self._watchers: dict[str, tuple[WatcherRecord, str]] = {}
        # Per app, sorted by creation time: entries put back keep their place.
        self._buffers: dict[str, list[tuple[BufferedNotification, str]]] = {}

    async def __aenter__(self) -> MemoryStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Nothing to release; present so every store closes the same way."""

    # -- jobs --------------------------------------------------------------------------

    def _out(self, job: JobRecord) -> JobRecord:
        # Built directly: attrs.evolve costs twice as much, once per job handed out.
        return JobRecord(
            job.job_id,
            job.app_id,
            _thaw(self._job_data[job.job_id]),
            job.next_run_at,
            job.lease_owner,
            job.lease_expires_at,
        )

    def _put(self, job: JobRecord) -> None:
        text = _frozen(job.data)  # first: non-JSON data must change nothing
        previous = self._jobs.get(job.job_id)
        self._jobs[job.job_id] = JobRecord(
            job.job_id, job.app_id, _EMPTY, job.next_run_at, job.lease_owner, job.lease_expires_at
        )
        self._job_data[job.job_id] = text
        due = job.next_run_at
        if due is not None and (previous is None or previous.next_run_at != due):
            heapq.heappush(self._due, (due, job.job_id))
            if len(self._due) > 2 * len(self._jobs) + 64:
                # Mostly stale entries (due times that keep changing): rebuild.
                self._due = [
                    (j.next_run_at, i) for i, j in self._jobs.items() if j.next_run_at is not None
                ]
                heapq.heapify(self._due)

    async def save_job(self, job: JobRecord) -> None:
        """Insert or replace."""
        self._put(job)

    async def get_job(self, job_id: str) -> JobRecord | None:
        """The job, or ``None``."""
        job = self._jobs.get(job_id)
        return None if job is None else self._out(job)

    async def list_jobs(self, app_id: str | None = None) -> list[JobRecord]:
        """Jobs of ``app_id`` (all when ``None``), by id."""
        return [
            self._out(job)
            for _, job in sorted(self._jobs.items())
            if app_id is None or job.app_id == app_id
        ]

    async def delete_job(self, job_id: str) -> bool:
        """Remove; ``True`` when it existed (its heap entry goes stale)."""
        self._job_data.pop(job_id, None)
        return self._jobs.pop(job_id, None) is not None

    async def acquire_due_jobs(
        self,
        now: datetime,
        *,
        owner: str,
        lease_seconds: float,
        limit: int = 100,
        app_id: str | None = None,
    ) -> list[JobRecord]:
        """Lease due, free jobs (no await inside: atomic within the event loop)."""
        heap = self._due
        expires = now + timedelta(seconds=lease_seconds)
        leased: list[JobRecord] = []
        kept: dict[str, datetime] = {}
        while heap and heap[0][0] <= now and len(leased) < limit:
            due, job_id = heapq.heappop(heap)
            job = self._jobs.get(job_id)
            if job is None or job.next_run_at != due or job_id in kept:
                continue  # stale, or a duplicate of an entry already seen
            # Still due after this call, leased or not: a lease can expire.
            kept[job_id] = due
            if app_id is not None and job.app_id != app_id:
                continue
            if job.lease_expires_at is not None and job.lease_expires_at > now:
                continue
            held = JobRecord(job.job_id, job.app_id, _EMPTY, job.next_run_at, owner, expires)
            self._jobs[job_id] = held
            leased.append(self._out(held))
        for job_id, due in kept.items():
            heapq.heappush(heap, (due, job_id))
        return leased

    async def release_job(self, job: JobRecord, *, owner: str) -> bool:
        """Save and unlease, if ``owner`` holds the lease."""
        current = self._jobs.get(job.job_id)
        if current is None or current.lease_owner != owner:
            return False
        self._put(JobRecord(job.job_id, job.app_id, job.data, job.next_run_at))
        return True

    async def next_due_at(self, app_id: str | None = None) -> datetime | None:
        """Earliest ``next_run_at``."""
        if app_id is None:
            heap = self._due
            while heap:
                due, job_id = heap[0]
                job = self._jobs.get(job_id)
                if job is not None and job.next_run_at == due:
                    return due
                heapq.heappop(heap)
            return None
        times = [
            j.next_run_at
            for j in self._jobs.values()
            if j.next_run_at is not None and j.app_id == app_id
        ]
        return min(times, default=None)

    # -- watchers ----------------------------------------------------------------------

    async def save_watcher(self, watcher: WatcherRecord) -> None:
        """Insert or replace."""
        self._watchers[watcher.watcher_id] = (watcher, _frozen(watcher.data))

    async def get_watcher(self, watcher_id: str) -> WatcherRecord | None:
        """The watcher, or ``None``."""
        stored = self._watchers.get(watcher_id)
        return None if stored is None else attrs.evolve(stored[0], data=_thaw(stored[1]))

    async def list_watchers(self, app_id: str | None = None) -> list[WatcherRecord]:
        """Watchers of ``app_id`` (all when ``None``), by id."""
        return [
            attrs.evolve(watcher, data=_thaw(text))
            for _, (watcher, text) in sorted(self._watchers.items())
            if app_id is None or watcher.app_id == app_id
        ]

    async def delete_watcher(self, watcher_id: str) -> bool:
        """Remove; ``True`` when it existed."""
        return self._watchers.pop(watcher_id, None) is not None

    # -- notification buffer --------------------------------------------------------------

    async def push_notification(self, entry: BufferedNotification, *, max_per_app: int) -> int:
        """Insert in creation order; drop the oldest beyond ``max_per_app``."""
        entries = self._buffers.setdefault(entry.app_id, [])
        bisect.insort_right(entries, (entry, _frozen(entry.data)), key=lambda e: e[0].created_at)
        dropped = max(0, len(entries) - max_per_app)
        del entries[:dropped]
        return dropped

    async def drain_notifications(
        self, app_id: str, *, session_id: str | None, now: datetime
    ) -> list[BufferedNotification]:
        """Remove and return the consumer's unexpired entries, oldest first."""
        entries = self._buffers.get(app_id)
        if not entries:
            return []
        taken: list[BufferedNotification] = []
        kept: list[tuple[BufferedNotification, str]] = []
        for entry, text in entries:
            if entry.expires_at <= now:
                continue
            if _visible_to(entry, session_id):
                taken.append(attrs.evolve(entry, data=_thaw(text)))
            else:
                kept.append((entry, text))
        if kept:
            self._buffers[app_id] = kept
        else:
            del self._buffers[app_id]
        return taken

    async def count_notifications(self, app_id: str, *, now: datetime) -> int:
        """Unexpired entries waiting for ``app_id``."""
        return sum(1 for e, _ in self._buffers.get(app_id, ()) if e.expires_at > now)

    def __repr__(self) -> str:
        return (
            f"MemoryStore(jobs={len(self._jobs)}, watchers={len(self._watchers)}, "
            f"buffered={sum(map(len, self._buffers.values()))})"
        )
