"""Storage protocols: small, one per need.

- :class:`JobStore` keeps scheduler jobs and hands due ones out under a *lease*, so
  that several processes sharing one store fire a due job once, not once each.
- :class:`WatcherStore` keeps watcher state for restore after a restart.
- :class:`NotificationBuffer` holds ``llm_notification`` deliveries while nobody is
  connected: capped per app (oldest dropped), with a TTL, drained in order.

Records carry their owner's state as ``data``, a JSON-compatible mapping the owner
(un)structures itself; stores never interpret it. Times are aware UTC datetimes.

A store that finds a record it cannot decode (a torn write, a hand edit) does not
fail the call that reads it: it returns the record with :func:`unreadable_data` as
its ``data``, and the owner reports it (:func:`unreadable_reason`) and keeps it for
inspection, while every other record is read and run as usual.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import attrs

__all__ = [
    "UNREADABLE_KEY",
    "BufferedNotification",
    "JobRecord",
    "JobStore",
    "NotificationBuffer",
    "WatcherRecord",
    "WatcherStore",
    "unreadable_data",
    "unreadable_reason",
]

#: The one key of the ``data`` of a record its store could not decode.
UNREADABLE_KEY = "__unreadable__"


def unreadable_data(reason: str, raw: str) -> dict[str, Any]:
    """The ``data`` of a record its store could not decode.

    ``reason`` says what is wrong ("stored data is not valid JSON (...)") and must
    quote none of it; ``raw`` is what was stored, kept for whoever inspects the
    record. The result is JSON-compatible: an owner that saves the record back (a
    job marked failed) keeps both.
    """
    return {UNREADABLE_KEY: {"reason": reason, "raw": raw}}


def unreadable_reason(data: Mapping[str, Any]) -> str | None:
    """Why ``data`` could not be decoded (see :func:`unreadable_data`); ``None`` if it was."""
    marker = data.get(UNREADABLE_KEY)
    if not isinstance(marker, Mapping):
        return None
    reason = marker.get("reason")
    return reason if isinstance(reason, str) and reason else "stored data cannot be decoded"


def _copy_dict(value: Mapping[str, Any]) -> dict[str, Any]:
    return dict(value)


@attrs.frozen
class JobRecord:
    """A stored job.

    ``next_run_at`` is when the job is next due (``None``: not due, e.g. paused or
    finished). ``lease_owner``/``lease_expires_at`` are set by
    :meth:`JobStore.acquire_due_jobs` while a process fires the job.
    """

    job_id: str
    app_id: str
    data: dict[str, Any] = attrs.field(converter=_copy_dict)
    next_run_at: datetime | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None


@attrs.frozen
class WatcherRecord:
    """A stored watcher's state."""

    watcher_id: str
    app_id: str
    data: dict[str, Any] = attrs.field(converter=_copy_dict)


@attrs.frozen
class BufferedNotification:
    """One ``llm_notification`` delivery waiting for a consumer.

    ``session_id`` is the session it was meant for, ``None`` for the whole app.
    """

    entry_id: str
    app_id: str
    session_id: str | None
    created_at: datetime
    expires_at: datetime
    data: dict[str, Any] = attrs.field(converter=_copy_dict)


@runtime_checkable
class JobStore(Protocol):
    """Persistent scheduler jobs with an atomic acquire-due-jobs step."""

    async def save_job(self, job: JobRecord) -> None:
        """Insert or replace ``job`` (its lease fields are kept as given)."""
        ...

    async def get_job(self, job_id: str) -> JobRecord | None:
        """The job, or ``None``."""
        ...

    async def list_jobs(self, app_id: str | None = None) -> list[JobRecord]:
        """Jobs of ``app_id`` (every app when ``None``), ordered by ``job_id``."""
        ...

    async def delete_job(self, job_id: str) -> bool:
        """Remove the job; ``True`` when it existed."""
        ...

    async def acquire_due_jobs(
        self,
        now: datetime,
        *,
        owner: str,
        lease_seconds: float,
        limit: int = 100,
        app_id: str | None = None,
    ) -> list[JobRecord]:
        """Atomically lease up to ``limit`` jobs due at ``now`` and not leased by anyone.

        A job is due when ``next_run_at <= now``; it is free when it has no lease or its
        lease expired (a process that crashed mid-fire loses its lease after
        ``lease_seconds``). Returned records carry the new lease. Earliest first.
        """
        ...

    async def release_job(self, job: JobRecord, *, owner: str) -> bool:
        """Save ``job`` and clear its lease, if ``owner`` still holds it.

        Returns ``False`` (and saves nothing) when the lease was lost to another owner
        or the job was deleted meanwhile.
        """
        ...

    async def next_due_at(self, app_id: str | None = None) -> datetime | None:
        """The earliest ``next_run_at`` among jobs, leased or not, or ``None``."""
        ...


@runtime_checkable
class WatcherStore(Protocol):
    """Persistent watcher state."""

    async def save_watcher(self, watcher: WatcherRecord) -> None:
        """Insert or replace."""
        ...

    async def get_watcher(self, watcher_id: str) -> WatcherRecord | None:
        """The watcher, or ``None``."""
        ...

    async def list_watchers(self, app_id: str | None = None) -> list[WatcherRecord]:
        """Watchers of ``app_id`` (every app when ``None``), ordered by ``watcher_id``."""
        ...

    async def delete_watcher(self, watcher_id: str) -> bool:
        """Remove; ``True`` when it existed."""
        ...


@runtime_checkable
class NotificationBuffer(Protocol):
    """Undelivered ``llm_notification`` entries, per app, capped and expiring."""

    async def push_notification(self, entry: BufferedNotification, *, max_per_app: int) -> int:
        """Append ``entry``; drop the app's oldest entries beyond ``max_per_app``.

        Returns how many entries were dropped.
        """
        ...

    async def drain_notifications(
        self, app_id: str, *, session_id: str | None, now: datetime
    ) -> list[BufferedNotification]:
        """Remove and return, oldest first, the unexpired entries a consumer should get.

        A consumer of ``session_id`` gets that session's entries and the app-wide ones
        (``session_id=None`` entries); an app-wide consumer (``session_id=None``) gets
        all of the app's entries. Expired entries are discarded.
        """
        ...

    async def count_notifications(self, app_id: str, *, now: datetime) -> int:
        """How many unexpired entries the app has waiting."""
        ...
