"""The scheduler's in-process index of when each known job is next due.

A heap of ``(due, job_id)`` with lazy deletion: changing or forgetting a job only
updates a dict, and heap entries that no longer match it are dropped when they
surface. It is a hint, never the truth: the store decides what is due (and who
runs it) when the scheduler wakes up; the index only says *when* to wake up.
"""

from __future__ import annotations

import heapq
from datetime import datetime

__all__ = ["DueIndex"]


class DueIndex:
    """When each known job is next due, earliest first."""

    __slots__ = ("_due", "_heap")

    def __init__(self) -> None:
        self._heap: list[tuple[datetime, str]] = []
        self._due: dict[str, datetime] = {}

    def __len__(self) -> int:
        return len(self._due)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._due

    def add(self, job_id: str, due: datetime) -> None:
        """Expect ``job_id`` at ``due`` (replacing what was known of it)."""
        if self._due.get(job_id) == due:
            return
        self._due[job_id] = due
        heapq.heappush(self._heap, (due, job_id))
        if len(self._heap) > 2 * len(self._due) + 64:
            self._compact()

    def discard(self, job_id: str) -> datetime | None:
        """Forget ``job_id``; return when it was expected (``None``: it was not)."""
        return self._due.pop(job_id, None)

    def clear(self) -> None:
        """Forget everything."""
        self._heap.clear()
        self._due.clear()

    def earliest(self) -> datetime | None:
        """The earliest due time known, or ``None``."""
        heap, due = self._heap, self._due
        while heap:
            when, job_id = heap[0]
            if due.get(job_id) == when:
                return when
            heapq.heappop(heap)
        return None

    def pop_due(self, now: datetime) -> list[str]:
        """Forget and return the jobs due at ``now``, earliest first."""
        heap, due = self._heap, self._due
        popped: list[str] = []
        while heap and heap[0][0] <= now:
            when, job_id = heapq.heappop(heap)
            if due.get(job_id) == when:
                del due[job_id]
                popped.append(job_id)
        return popped

    def _compact(self) -> None:
        # Stale entries pile up when due times change often; rebuild from the dict.
        self._heap = [(when, job_id) for job_id, when in self._due.items()]
        heapq.heapify(self._heap)
