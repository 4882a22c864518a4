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


_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
_DECODE = json.JSONDecoder().decode


def _frozen(data: dict[str, Any]) -> str:
    try:
        return _ENCODER.encode(data)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"record data is not JSON-serialisable: {exc}") from None


def _thaw(text: str) -> dict[str, Any]:
    data: dict[str, Any] = _DECODE(text)
    return data


class _Job:
    """A stored job: its data as JSON text, its due time and lease as they are, and
    the due time of its live entry in the store's heap (``None``: it has none)."""

    __slots__ = ("app_id", "heap_at", "lease_expires_at", "lease_owner", "next_run_at", "text")

    def __init__(self, app_id: str, text: str) -> None:
        self.app_id = app_id
        self.text = text
        self.next_run_at: datetime | None = None
        self.lease_owner: str | None = None
        self.lease_expires_at: datetime | None = None
        self.heap_at: datetime | None = None


class MemoryStore:
    """In-memory :class:`JobStore`, :class:`WatcherStore` and :class:`NotificationBuffer`."""

    def __init__(self) -> None:
        # Jobs are kept with their data as JSON text (see the module docstring).
        self._jobs: dict[str, _Job] = {}
        # (next_run_at, job_id) of every unleased due-able job, so acquiring k due
        # jobs costs O(k log n), not a sort of every job. An entry is live while it
        # matches its job's heap_at; others are stale (the job's due time changed, it
        # was leased or deleted) and are dropped when they reach the top.
        self._due: list[tuple[datetime, str]] = []
        # Jobs with a lease (possibly expired), kept out of the heap so that a run in
        # progress is not looked at again by every acquire; an expired lease puts its
        # job back in the heap.
        self._leased: dict[str, _Job] = {}
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

    def _out(self, job_id: str, job: _Job) -> JobRecord:
        return JobRecord(
            job_id,
            job.app_id,
            _thaw(job.text),
            job.next_run_at,
            job.lease_owner,
            job.lease_expires_at,
        )

    def _set(
        self,
        job_id: str,
        app_id: str,
        text: str,
        due: datetime | None,
        lease_owner: str | None,
        lease_expires_at: datetime | None,
    ) -> None:
        job = self._jobs.get(job_id)
        if job is None:
            job = self._jobs[job_id] = _Job(app_id, text)
        job.app_id, job.text, job.next_run_at = app_id, text, due
        job.lease_owner, job.lease_expires_at = lease_owner, lease_expires_at
        if lease_expires_at is None:
            self._leased.pop(job_id, None)
            self._arm(job_id, job)
        else:
            self._leased[job_id] = job
            job.heap_at = None

    def _arm(self, job_id: str, job: _Job) -> None:
        """Give ``job`` a live heap entry at its due time (if it has none there)."""
        due = job.next_run_at
        if due == job.heap_at:
            return
        job.heap_at = due
        if due is not None:
            heapq.heappush(self._due, (due, job_id))
            if len(self._due) > 2 * len(self._jobs) + 64:
                # Mostly stale entries (due times that keep changing): rebuild.
                self._due = [(j.heap_at, i) for i, j in self._jobs.items() if j.heap_at is not None]
                heapq.heapify(self._due)

    async def save_job(self, job: JobRecord) -> None:
        """Insert or replace."""
        text = _frozen(job.data)  # first: non-JSON data must change nothing
        self._set(
            job.job_id,
            job.app_id,
            text,
            job.next_run_at,
            job.lease_owner,
            job.lease_expires_at,
        )

    async def get_job(self, job_id: str) -> JobRecord | None:
        """The job, or ``None``."""
        job = self._jobs.get(job_id)
        return None if job is None else self._out(job_id, job)

    async def list_jobs(self, app_id: str | None = None) -> list[JobRecord]:
        """Jobs of ``app_id`` (all when ``None``), by id."""
        return [
            self._out(job_id, job)
            for job_id, job in sorted(self._jobs.items())
            if app_id is None or job.app_id == app_id
        ]

    async def delete_job(self, job_id: str) -> bool:
        """Remove; ``True`` when it existed (its heap entry goes stale)."""
        self._leased.pop(job_id, None)
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
        if self._leased:
            for job_id, job in list(self._leased.items()):
                if job.lease_expires_at is None or job.lease_expires_at <= now:
                    del self._leased[job_id]  # the lease expired: due again
                    self._arm(job_id, job)
        heap = self._due
        expires = now + timedelta(seconds=lease_seconds)
        leased: list[JobRecord] = []
        other_apps: list[tuple[datetime, str]] = []
        while heap and heap[0][0] <= now and len(leased) < limit:
            entry = heapq.heappop(heap)
            job_id = entry[1]
            found = self._jobs.get(job_id)
            if found is None or found.heap_at != entry[0]:
                continue  # stale
            job = found
            if app_id is not None and job.app_id != app_id:
                other_apps.append(entry)
                continue
            job.heap_at = None
            job.lease_owner, job.lease_expires_at = owner, expires
            self._leased[job_id] = job
            leased.append(self._out(job_id, job))
        for entry in other_apps:
            heapq.heappush(heap, entry)
        return leased

    async def release_job(self, job: JobRecord, *, owner: str) -> bool:
        """Save and unlease, if ``owner`` holds the lease."""
        current = self._jobs.get(job.job_id)
        if current is None or current.lease_owner != owner:
            return False
        text = _frozen(job.data)  # first: non-JSON data must change nothing
        self._set(job.job_id, job.app_id, text, job.next_run_at, None, None)
        return True

    async def next_due_at(self, app_id: str | None = None) -> datetime | None:
        """Earliest ``next_run_at``."""
        if app_id is None:
            heap = self._due
            while heap:
                due, job_id = heap[0]
                job = self._jobs.get(job_id)
                if job is not None and job.heap_at == due:
                    break
                heapq.heappop(heap)
            # Leased jobs are still due (a lease can expire) but not in the heap.
            times = [j.next_run_at for j in self._leased.values() if j.next_run_at is not None]
            if heap:
                times.append(heap[0][0])
        else:
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
