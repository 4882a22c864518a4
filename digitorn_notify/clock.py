"""Time, injectable: the :class:`Clock` protocol, the system clock and a fake clock.

Every time-dependent component takes a ``clock``. Production code uses
:class:`SystemClock`; tests (ours and our users') use :class:`FakeClock` and move
time forward explicitly, so nothing waits on a real sleep.
"""

from __future__ import annotations

import heapq
import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

import anyio
import anyio.lowlevel

__all__ = ["Clock", "FakeClock", "SystemClock", "iso", "utc"]


def iso(value: datetime) -> str:
    """``value`` in UTC as ISO 8601 with a ``Z``: how every response shows a time.

    The spec's responses write times this way (``"2026-03-13T15:35:00Z"``).
    """
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat()[:-6] + "Z"  # a UTC time's isoformat() ends with +00:00


def utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime; naive values are refused."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} has no timezone; pass an aware one")
    return value.astimezone(UTC)


@runtime_checkable
class Clock(Protocol):
    """What every time-dependent component needs from time."""

    def now(self) -> datetime:
        """The current time, an aware UTC datetime."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin that never goes backwards (for latencies)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Sleep for ``seconds`` (cancellable)."""
        ...

    async def sleep_until(self, deadline: datetime) -> None:
        """Sleep until ``deadline`` (an aware datetime), returning at once if it has passed."""
        ...


class SystemClock:
    """The real clock: wall time from the OS, sleeps through anyio."""

    __slots__ = ()

    def now(self) -> datetime:
        """The current UTC time."""
        return datetime.now(UTC)

    def monotonic(self) -> float:
        """``time.perf_counter()``."""
        return time.perf_counter()

    async def sleep(self, seconds: float) -> None:
        """``anyio.sleep``; negative values sleep zero."""
        await anyio.sleep(max(0.0, seconds))

    async def sleep_until(self, deadline: datetime) -> None:
        """Sleep until ``deadline``; re-checks the wall clock to absorb early wake-ups."""
        while True:
            remaining = (deadline - self.now()).total_seconds()
            if remaining <= 0:
                return
            await anyio.sleep(remaining)

    def __repr__(self) -> str:
        return "SystemClock()"


class FakeClock:
    """A deterministic clock that moves only when told to.

    ``await clock.advance(seconds)`` moves time forward, waking every sleeper whose
    deadline is reached, in deadline order, and lets them run before returning.
    With ``autojump=True`` a sleep moves the clock to its own deadline at once, which
    suits code that sleeps sequentially (retry backoff) and is checked afterwards
    through :attr:`sleeps`.
    """

    def __init__(
        self,
        start: datetime | None = None,
        *,
        autojump: bool = False,
    ) -> None:
        self._now = utc(start) if start is not None else datetime(2026, 1, 1, tzinfo=UTC)
        self._origin = self._now
        self.autojump = autojump
        #: Every sleep requested, in seconds, in the order requested.
        self.sleeps: list[float] = []
        self._sleepers: list[tuple[datetime, int, anyio.Event]] = []
        self._seq = itertools.count()

    def now(self) -> datetime:
        """The fake current time."""
        return self._now

    def monotonic(self) -> float:
        """Seconds since the fake clock's start."""
        return (self._now - self._origin).total_seconds()

    @property
    def pending_sleepers(self) -> int:
        """How many tasks are currently sleeping on this clock."""
        return sum(1 for _, _, event in self._sleepers if not event.is_set())

    def next_deadline(self) -> datetime | None:
        """The earliest deadline a task is sleeping until, or ``None``."""
        for deadline, _, event in sorted(self._sleepers):
            if not event.is_set():
                return deadline
        return None

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of fake time."""
        seconds = max(0.0, seconds)
        self.sleeps.append(seconds)
        await self._sleep_until(self._now + timedelta(seconds=seconds))

    async def sleep_until(self, deadline: datetime) -> None:
        """Sleep until ``deadline`` in fake time."""
        deadline = utc(deadline)
        self.sleeps.append(max(0.0, (deadline - self._now).total_seconds()))
        await self._sleep_until(deadline)

    async def _sleep_until(self, deadline: datetime) -> None:
        if deadline <= self._now:
            await anyio.lowlevel.checkpoint()
            return
        if self.autojump:
            self._now = deadline
            self._wake_due()
            await anyio.lowlevel.checkpoint()
            return
        event = anyio.Event()
        entry = (deadline, next(self._seq), event)
        heapq.heappush(self._sleepers, entry)
        try:
            await event.wait()
        finally:
            if not event.is_set():
                # Cancelled while asleep: forget the sleeper so it never counts as pending.
                self._sleepers.remove(entry)
                heapq.heapify(self._sleepers)

    def _wake_due(self) -> None:
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, event = heapq.heappop(self._sleepers)
            event.set()

    async def advance(self, seconds: float | timedelta) -> None:
        """Move time forward by ``seconds``, waking sleepers step by step in order."""
        delta = seconds if isinstance(seconds, timedelta) else timedelta(seconds=seconds)
        if delta < timedelta(0):
            raise ValueError("a clock cannot go backwards")
        await self.advance_to(self._now + delta)

    async def advance_to(self, target: datetime) -> None:
        """Move time forward to ``target``, waking sleepers step by step in order."""
        target = utc(target)
        if target < self._now:
            raise ValueError("a clock cannot go backwards")
        await anyio.wait_all_tasks_blocked()
        while self._sleepers and self._sleepers[0][0] <= target:
            self._now = max(self._now, self._sleepers[0][0])
            self._wake_due()
            # Let the woken tasks run (and possibly sleep again) before going further.
            await anyio.wait_all_tasks_blocked()
        # max(): a woken task may have moved the clock past target with set().
        self._now = max(self._now, target)
        await anyio.wait_all_tasks_blocked()

    def set(self, value: datetime) -> None:
        """Jump to ``value`` without waking anyone (simulates a wall-clock change)."""
        self._now = utc(value)

    def __repr__(self) -> str:
        return f"FakeClock(now={self._now.isoformat()}, autojump={self.autojump})"
