"""``MemoryStore``: every storage protocol in process memory (the default).

Nothing survives a restart and nothing is shared between processes; within one
process it has the same semantics as the persistent stores (the conformance suite
runs against it too): records' data go through JSON on the way in and out, so data
SQLite would refuse is refused here too, and a caller mutating a record it saved or
loaded does not change what is stored.
"""

from __future__ import annotations

import bisect
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


class MemoryStore:
    """In-memory :class:`JobStore`, :class:`WatcherStore` and :class:`NotificationBuffer`."""

    def __init__(self) -> None:
        # Records are kept with their data as JSON text (see the module docstring).
        self._jobs: dict[str, tuple[JobRecord, str]] = {}
        self._watchers: dict[str, tuple[WatcherRecord, str]] = {}
        # Per app, sorted by creation time: entries put back keep their place.
        self._buffers: dict[str, list[tuple[BufferedNotification, str]]] = {}

    @staticmethod
    def _job(stored: tuple[JobRecord, str]) -> JobRecord:
        return attrs.evolve(stored[0], data=_thaw(stored[1]))

    async def __aenter__(self) -> MemoryStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Nothing to release; present so every store closes the same way."""

    # -- jobs --------------------------------------------------------------------------

    async def save_job(self, job: JobRecord) -> None:
        """Insert or replace."""
        self._jobs[job.job_id] = (job, _frozen(job.data))

    async def get_job(self, job_id: str) -> JobRecord | None:
        """The job, or ``None``."""
        stored = self._jobs.get(job_id)
        return None if stored is None else self._job(stored)

    async def list_jobs(self, app_id: str | None = None) -> list[JobRecord]:
        """Jobs of ``app_id`` (all when ``None``), by id."""
        return [
            self._job(stored)
            for _, stored in sorted(self._jobs.items())
            if app_id is None or stored[0].app_id == app_id
        ]

    async def delete_job(self, job_id: str) -> bool:
        """Remove; ``True`` when it existed."""
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
        due = sorted(
            (
                job
                for job, _ in self._jobs.values()
                if job.next_run_at is not None
                and job.next_run_at <= now
                and (app_id is None or job.app_id == app_id)
                and (job.lease_expires_at is None or job.lease_expires_at <= now)
            ),
            key=lambda j: (j.next_run_at, j.job_id),
        )[:limit]
        expires = now + timedelta(seconds=lease_seconds)
        leased = []
        for job in due:
            held = attrs.evolve(job, lease_owner=owner, lease_expires_at=expires)
            text = self._jobs[job.job_id][1]
            self._jobs[job.job_id] = (held, text)
            leased.append(attrs.evolve(held, data=_thaw(text)))
        return leased

    async def release_job(self, job: JobRecord, *, owner: str) -> bool:
        """Save and unlease, if ``owner`` holds the lease."""
        current = self._jobs.get(job.job_id)
        if current is None or current[0].lease_owner != owner:
            return False
        released = attrs.evolve(job, lease_owner=None, lease_expires_at=None)
        self._jobs[job.job_id] = (released, _frozen(job.data))
        return True

    async def next_due_at(self, app_id: str | None = None) -> datetime | None:
        """Earliest ``next_run_at``."""
        times = [
            j.next_run_at
            for j, _ in self._jobs.values()
            if j.next_run_at is not None and (app_id is None or j.app_id == app_id)
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
